//! A reader for NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
//!
//! Supported: element types `|u1` (unsigned bytes), `<f4` and `<f8`
//! (little-endian floats), C (row-major) order, 1-D or 2-D shapes. Anything
//! else (big-endian data, other types, Fortran order, structured types,
//! other ranks) is rejected with a message saying what was found.
//!
//! The byte parser [`parse_npy`] is pure and never panics on any input, so it
//! can be fuzzed; [`read_npy`] adds file reading and the file name in errors.
//! A header's announced size is compared with the bytes actually present
//! before anything is allocated.

use std::path::Path;

use crate::error::{Error, Result};

/// The `.npy` magic string.
const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The elements of an `.npy` array, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    /// `|u1`: unsigned bytes.
    U8(Vec<u8>),
    /// `<f4`: little-endian 32-bit floats.
    F32(Vec<f32>),
    /// `<f8`: little-endian 64-bit floats.
    F64(Vec<f64>),
}

/// A 1-D or 2-D `.npy` array in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The shape: one or two dimensions.
    pub shape: Vec<usize>,
    /// The elements, row-major; their count is the product of `shape`.
    pub data: NpyData,
}

impl NpyArray {
    /// Number of rows: the first dimension.
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }
    /// Number of columns: the second dimension, or 1 for a 1-D array.
    pub fn cols(&self) -> usize {
        self.shape.get(1).copied().unwrap_or(1)
    }
    /// The NumPy type string of the elements (`|u1`, `<f4` or `<f8`).
    pub fn descr(&self) -> &'static str {
        match self.data {
            NpyData::U8(_) => "|u1",
            NpyData::F32(_) => "<f4",
            NpyData::F64(_) => "<f8",
        }
    }
    /// The elements converted to `f32` (bytes keep their values 0–255).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            NpyData::U8(v) => v.iter().map(|&b| f32::from(b)).collect(),
            NpyData::F32(v) => v.clone(),
            NpyData::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
}

/// Element types we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    U8,
    F32,
    F64,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    fn from_descr(descr: &str) -> Result<Self> {
        match descr {
            "|u1" | "<u1" | "u1" => Ok(Dtype::U8),
            "<f4" => Ok(Dtype::F32),
            "<f8" => Ok(Dtype::F64),
            d if d.starts_with('>') => Err(Error::unsupported(format!(
                "big-endian element type '{d}' is not supported; \
                 supported: '|u1', '<f4', '<f8'"
            ))),
            d => Err(Error::unsupported(format!(
                "element type '{d}' is not supported; supported: '|u1', '<f4', '<f8'"
            ))),
        }
    }
}

/// A value in the header dictionary (the subset of Python literals that
/// `.npy` headers use).
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

/// A tiny recursive-descent parser over the header's Python dict literal.
struct HeaderParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> HeaderParser<'a> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn fail(&self, what: &str) -> Error {
        Error::format(format!(
            "malformed header dictionary at character {}: {what}",
            self.pos
        ))
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.fail(&format!("expected '{}'", c as char)))
        }
    }

    fn string(&mut self) -> Result<String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.fail("expected a quoted string")),
        };
        self.pos += 1;
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos] != quote {
            if self.s[self.pos] == b'\\' {
                return Err(self.fail("escape sequences in strings are not supported"));
            }
            self.pos += 1;
        }
        if self.pos >= self.s.len() {
            return Err(self.fail("unterminated string"));
        }
        let text = std::str::from_utf8(&self.s[start..self.pos])
            .map_err(|_| self.fail("string is not valid UTF-8"))?
            .to_string();
        self.pos += 1;
        Ok(text)
    }

    fn word(&mut self) -> &'a [u8] {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_alphanumeric() {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn integer(&mut self) -> Result<u64> {
        let w = self.word();
        // Python 2 headers may write longs as `400L`.
        let digits = w.strip_suffix(b"L").unwrap_or(w);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(self.fail("expected a non-negative integer in the shape"));
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| self.fail("shape dimension does not fit in 64 bits"))
    }

    fn tuple(&mut self) -> Result<Vec<u64>> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(items);
            }
            if items.len() >= 32 {
                return Err(self.fail("shape has more than 32 dimensions"));
            }
            items.push(self.integer()?);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {}
                _ => return Err(self.fail("expected ',' or ')' in the shape")),
            }
        }
    }

    fn value(&mut self) -> Result<Value> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => Ok(Value::Tuple(self.tuple()?)),
            Some(b'[') => Err(Error::unsupported(
                "structured (record) element types are not supported",
            )),
            _ => match self.word() {
                b"True" => Ok(Value::Bool(true)),
                b"False" => Ok(Value::Bool(false)),
                _ => Err(self.fail("expected a string, True/False or a tuple")),
            },
        }
    }

    fn dict(&mut self) -> Result<Vec<(String, Value)>> {
        self.expect(b'{')?;
        let mut entries: Vec<(String, Value)> = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let key = self.string()?;
            self.expect(b':')?;
            let value = self.value()?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(self.fail(&format!("key '{key}' appears twice")));
            }
            entries.push((key, value));
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.fail("expected ',' or '}'")),
            }
        }
        if self.peek().is_some() {
            return Err(self.fail("unexpected text after the dictionary"));
        }
        Ok(entries)
    }
}

/// What the header dictionary says.
struct NpyHeader {
    dtype: Dtype,
    shape: Vec<usize>,
}

fn interpret_header(entries: Vec<(String, Value)>) -> Result<NpyHeader> {
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (key, value) in entries {
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("fortran_order", Value::Bool(b)) => fortran = Some(b),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            ("descr" | "fortran_order" | "shape", v) => {
                return Err(Error::format(format!(
                    "header key '{key}' has a value of the wrong kind: {v:?}"
                )))
            }
            (other, _) => {
                return Err(Error::format(format!(
                    "unknown header key '{other}' (expected descr, fortran_order, shape)"
                )))
            }
        }
    }
    let missing = |k: &str| Error::format(format!("header lacks the key '{k}'"));
    let dtype = Dtype::from_descr(&descr.ok_or_else(|| missing("descr"))?)?;
    if fortran.ok_or_else(|| missing("fortran_order"))? {
        return Err(Error::unsupported(
            "Fortran-order (column-major) arrays are not supported; save with C order",
        ));
    }
    let shape = shape.ok_or_else(|| missing("shape"))?;
    if shape.is_empty() || shape.len() > 2 {
        return Err(Error::unsupported(format!(
            "shape {shape:?} has {} dimensions; only 1-D and 2-D arrays are supported",
            shape.len()
        )));
    }
    let shape = shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| Error::format(format!("shape {shape:?} does not fit in memory addresses")))?;
    Ok(NpyHeader { dtype, shape })
}

/// Splits off the magic, version and header; returns the header text and the
/// offset of the data.
fn split_preamble(bytes: &[u8]) -> Result<(&[u8], usize)> {
    if bytes.is_empty() {
        return Err(Error::format("empty file (no .npy header)"));
    }
    if bytes.len() < 8 {
        return Err(Error::format(format!(
            "truncated header: {} bytes, the .npy preamble needs at least 10",
            bytes.len()
        )));
    }
    if &bytes[..6] != NPY_MAGIC {
        return Err(Error::format(
            "bad magic: a .npy file starts with \\x93NUMPY",
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let len_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => {
            return Err(Error::new(
                crate::error::ErrorKind::Version,
                format!(".npy format version {major}.{minor} is not supported (1.0, 2.0, 3.0 are)"),
            ))
        }
    };
    let start = 8 + len_bytes;
    if bytes.len() < start {
        return Err(Error::format(format!(
            "truncated header: version {major}.{minor} needs a {start}-byte preamble, file has {}",
            bytes.len()
        )));
    }
    let header_len = if len_bytes == 2 {
        usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))
    } else {
        u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            Error::format(format!(
                "truncated header: it announces {header_len} bytes, file has {} after the preamble",
                bytes.len() - start
            ))
        })?;
    let header = &bytes[start..end];
    if major < 3 && !header.is_ascii() {
        return Err(Error::format(format!(
            "version {major}.{minor} header is not ASCII"
        )));
    }
    if major == 3 && std::str::from_utf8(header).is_err() {
        return Err(Error::format("version 3.0 header is not valid UTF-8"));
    }
    Ok((header, end))
}

fn decode_data(dtype: Dtype, payload: &[u8]) -> NpyData {
    match dtype {
        Dtype::U8 => NpyData::U8(payload.to_vec()),
        Dtype::F32 => NpyData::F32(
            payload
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Dtype::F64 => NpyData::F64(
            payload
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
    }
}

/// Parses a complete `.npy` file held in memory.
///
/// Checks the magic and version, the header's length and dictionary
/// (`descr`, `fortran_order`, `shape`, nothing else), the element type, C
/// order, the rank (1 or 2), overflow of the size, and that exactly the
/// announced number of data bytes follows the header (truncation and
/// trailing bytes are errors). Never panics.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray> {
    let (header, data_start) = split_preamble(bytes)?;
    let entries = HeaderParser { s: header, pos: 0 }.dict()?;
    let h = interpret_header(entries)?;
    let count = h.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let want = count
        .and_then(|c| c.checked_mul(h.dtype.size()))
        .ok_or_else(|| {
            Error::format(format!(
                "shape {:?} overflows: its size does not fit in memory addresses",
                h.shape
            ))
        })?;
    let have = bytes.len() - data_start;
    if have != want {
        let what = if have < want {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(Error::format(format!(
            "{what}: header says shape {:?} of {}-byte elements = {want} data bytes, \
             file has {have} after the header",
            h.shape,
            h.dtype.size()
        )));
    }
    Ok(NpyArray {
        shape: h.shape,
        data: decode_data(h.dtype, &bytes[data_start..]),
    })
}

/// Reads a `.npy` file. Errors name the file and what was wrong.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read .npy file", e))?;
    parse_npy(&bytes).map_err(|e| e.context(path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(major: u8, dict: &str, payload: &[u8]) -> Vec<u8> {
        let mut b = NPY_MAGIC.to_vec();
        b.push(major);
        b.push(0);
        let mut h = dict.as_bytes().to_vec();
        h.push(b'\n');
        if major == 1 {
            b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(h.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(&h);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn reads_all_versions_and_types() {
        let d = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
        for v in 1..=3 {
            let a = parse_npy(&npy(v, d, &[1, 2, 3, 4, 5, 6])).unwrap();
            assert_eq!(a.shape, vec![2, 3]);
            assert_eq!(a.data, NpyData::U8(vec![1, 2, 3, 4, 5, 6]));
            assert_eq!((a.rows(), a.cols()), (2, 3));
        }
        let f4: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let a = parse_npy(&npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
            &f4,
        ))
        .unwrap();
        assert_eq!(a.data, NpyData::F32(vec![1.5, -2.0]));
        assert_eq!(a.cols(), 1);
        let f8: Vec<u8> = 0.25f64.to_le_bytes().to_vec();
        let a = parse_npy(&npy(
            2,
            "{\"shape\": (1, 1), \"fortran_order\": False, \"descr\": \"<f8\"}",
            &f8,
        ))
        .unwrap();
        assert_eq!(a.data, NpyData::F64(vec![0.25]));
        assert_eq!(a.to_f32(), vec![0.25f32]);
    }

    #[test]
    fn rejects_with_clear_messages() {
        let ok = |descr: &str, fo: &str, shape: &str| {
            format!("{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {shape}, }}")
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (b"\x93NUM".to_vec(), "truncated header"),
            (b"\x93NUMPZ\x01\x00\x00\x00".to_vec(), "bad magic"),
            (npy(4, &ok("|u1", "False", "(1,)"), &[0]), "version 4.0"),
            (npy(1, &ok(">f4", "False", "(1,)"), &[0; 4]), "big-endian"),
            (
                npy(1, &ok("<i8", "False", "(1,)"), &[0; 8]),
                "'<i8' is not supported",
            ),
            (npy(1, &ok("|u1", "True", "(1,)"), &[0]), "Fortran"),
            (
                npy(1, &ok("|u1", "False", "(1, 1, 1)"), &[0]),
                "only 1-D and 2-D",
            ),
            (npy(1, &ok("|u1", "False", "()"), &[0]), "only 1-D and 2-D"),
            (npy(1, &ok("|u1", "False", "(2, 2)"), &[0; 3]), "truncated"),
            (
                npy(1, &ok("|u1", "False", "(2, 2)"), &[0; 5]),
                "trailing bytes",
            ),
            (
                npy(1, &ok("<f8", "False", "(4294967295, 4294967295)"), &[]),
                "overflows",
            ),
            (
                npy(1, &ok("|u1", "False", "(99999999999999999999,)"), &[]),
                "64 bits",
            ),
            (
                npy(1, "{'descr': '|u1', 'shape': (1,)}", &[0]),
                "fortran_order",
            ),
            (npy(1, "{'descr': [('a', '<f4')]}", &[0]), "structured"),
            (npy(1, "{'descr': '|u1'", &[0]), "malformed"),
            (npy(1, "{'descr': '|u1', 'x': 1}", &[0]), "malformed"),
        ];
        for (bytes, want) in cases {
            let err = parse_npy(&bytes).unwrap_err();
            assert!(err.message().contains(want), "{want:?} not in {err}");
        }
    }

    #[test]
    fn lying_header_length_is_caught() {
        let mut b = NPY_MAGIC.to_vec();
        b.extend_from_slice(&[2, 0, 0xff, 0xff, 0xff, 0xff, b'{']);
        assert!(parse_npy(&b).unwrap_err().message().contains("announces"));
    }

    #[test]
    fn never_panics_on_prefixes_and_bit_flips() {
        let good = npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }",
            &[0; 8],
        );
        for cut in 0..good.len() {
            let _ = parse_npy(&good[..cut]);
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                let _ = parse_npy(&b);
            }
        }
    }
}
