//! The IDX format of the MNIST files (plain or gzip-compressed) and the MNIST
//! loader.
//!
//! IDX layout: a 4-byte big-endian magic `0x0000TTNN` (`TT` the element type,
//! `NN` the number of dimensions), then `NN` big-endian `u32` dimensions, then
//! the elements in row-major order. MNIST images are `0x00000803`
//! (unsigned bytes, 3 dimensions), labels `0x00000801`. Only unsigned-byte
//! elements (type `0x08`) are supported.
//!
//! The byte parser [`parse_idx`] is pure and never panics on any input, so it
//! can be fuzzed; [`read_idx`] adds file reading, gzip detection (by the magic
//! bytes `1f 8b`, not by the file name) and the file name in error messages.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::Dataset;
use crate::error::{Error, Result};

/// IDX magic number of the MNIST image files: unsigned bytes, 3 dimensions.
pub const IDX_MAGIC_IMAGES: u32 = 0x0000_0803;
/// IDX magic number of the MNIST label files: unsigned bytes, 1 dimension.
pub const IDX_MAGIC_LABELS: u32 = 0x0000_0801;
/// The IDX element type code of unsigned bytes, the only one supported.
pub const IDX_TYPE_U8: u8 = 0x08;

/// Side length of an MNIST image in pixels.
pub const MNIST_SIDE: usize = 28;
/// Dimension of a flattened MNIST image (28 × 28).
pub const MNIST_DIM: usize = MNIST_SIDE * MNIST_SIDE;

/// An IDX array of unsigned bytes: its dimensions and its elements in
/// row-major order (`data.len()` is the product of `dims`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// The gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Name of an IDX element type code, for error messages.
fn type_name(code: u8) -> Option<&'static str> {
    match code {
        0x08 => Some("unsigned byte"),
        0x09 => Some("signed byte"),
        0x0B => Some("i16"),
        0x0C => Some("i32"),
        0x0D => Some("f32"),
        0x0E => Some("f64"),
        _ => None,
    }
}

/// What the header announces: dimensions, header length and payload length.
struct IdxHeader {
    dims: Vec<usize>,
    header_len: usize,
    payload_len: usize,
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// Parses and checks the header at the start of `bytes` (magic, element type,
/// dimension count, dimensions, overflow of their product). Does not look at
/// the payload.
fn parse_header(bytes: &[u8]) -> Result<IdxHeader> {
    if bytes.is_empty() {
        return Err(Error::format("empty file (no IDX header)"));
    }
    if bytes.len() < 4 {
        return Err(Error::format(format!(
            "truncated header: {} bytes, the IDX magic number alone needs 4",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        return Err(Error::format(format!(
            "bad magic number 0x{magic:08X}: an IDX file starts with two zero bytes \
             (MNIST: 0x{IDX_MAGIC_IMAGES:08X} images, 0x{IDX_MAGIC_LABELS:08X} labels)"
        )));
    }
    let type_code = bytes[2];
    if type_code != IDX_TYPE_U8 {
        return Err(match type_name(type_code) {
            Some(name) => Error::unsupported(format!(
                "IDX element type 0x{type_code:02X} ({name}) is not supported; \
                 only unsigned bytes (0x08) are"
            )),
            None => Error::format(format!(
                "bad magic number: unknown IDX element type 0x{type_code:02X} \
                 (expected 0x08, unsigned bytes)"
            )),
        });
    }
    let ndims = usize::from(bytes[3]);
    if ndims == 0 {
        return Err(Error::format(
            "bad magic number: IDX header declares 0 dimensions",
        ));
    }
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(Error::format(format!(
            "truncated header: {ndims} dimensions need a {header_len}-byte header, file has {} bytes",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let payload_len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Error::format(format!(
                "dimensions {} overflow: their product does not fit in memory addresses",
                dims_text(&dims)
            ))
        })?;
    Ok(IdxHeader {
        dims,
        header_len,
        payload_len,
    })
}

/// Parses a complete IDX file held in memory (already decompressed).
///
/// Checks the magic number (two zero bytes, element type `0x08`, at least one
/// dimension), that the header is complete, that the product of the
/// dimensions does not overflow, and that exactly that many bytes follow the
/// header (a truncated payload or trailing bytes are errors). The size a
/// header announces is compared with the bytes actually present before
/// anything is allocated. Never panics.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray> {
    let h = parse_header(bytes)?;
    let have = bytes.len() - h.header_len;
    if have < h.payload_len {
        return Err(Error::format(format!(
            "truncated: header says {} = {} data bytes, file has {have} after the {}-byte header",
            dims_text(&h.dims),
            h.payload_len,
            h.header_len
        )));
    }
    if have > h.payload_len {
        return Err(Error::format(format!(
            "{} trailing bytes: header says {} = {} data bytes, file has {have} after the {}-byte header",
            have - h.payload_len,
            dims_text(&h.dims),
            h.payload_len,
            h.header_len
        )));
    }
    Ok(IdxArray {
        dims: h.dims,
        data: bytes[h.header_len..].to_vec(),
    })
}

/// Reads up to `limit` more bytes from `reader` onto `buf`; a gzip decoding
/// failure becomes a format error.
fn read_more(reader: &mut impl Read, limit: u64, buf: &mut Vec<u8>) -> Result<()> {
    reader
        .take(limit)
        .read_to_end(buf)
        .map(|_| ())
        .map_err(|e| Error::format(format!("truncated or corrupt gzip stream: {e}")))
}

/// Decompresses a gzip-compressed IDX file. The header is decompressed first
/// and the rest is read only up to the announced size plus one byte, so a
/// lying header or a "gzip bomb" cannot make us allocate more than the header
/// claims, and one extra byte is enough to detect trailing data. When the
/// payload is exactly as announced, the decoder reaches the end of the stream,
/// which verifies the gzip checksum.
fn gunzip_idx(compressed: &[u8]) -> Result<Vec<u8>> {
    let mut dec = MultiGzDecoder::new(compressed);
    let mut buf = Vec::new();
    read_more(&mut dec, 4, &mut buf)?;
    if buf.len() < 4 || buf[0] != 0 || buf[1] != 0 {
        return Ok(buf); // parse_idx reports the short or bad header
    }
    read_more(&mut dec, 4 * u64::from(buf[3]), &mut buf)?;
    let h = match parse_header(&buf) {
        Ok(h) => h,
        Err(_) => return Ok(buf), // parse_idx reports it
    };
    let rest = (h.payload_len as u64).saturating_add(1);
    read_more(&mut dec, rest, &mut buf)?;
    Ok(buf)
}

/// The bytes of an IDX file, decompressed if they start with the gzip magic.
fn decode_bytes(raw: &[u8]) -> Result<Vec<u8>> {
    if raw.starts_with(&GZIP_MAGIC) {
        gunzip_idx(raw)
    } else {
        Ok(raw.to_vec())
    }
}

/// Parses an IDX file's raw bytes, gzip-compressed (detected by the magic
/// bytes `1f 8b`) or plain. Pure and panic-free, for fuzzing the whole path.
pub fn parse_idx_maybe_gzip(raw: &[u8]) -> Result<IdxArray> {
    if raw.starts_with(&GZIP_MAGIC) {
        parse_idx(&gunzip_idx(raw)?)
    } else {
        parse_idx(raw)
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(|e| Error::io(path, "cannot read IDX file", e))?;
    Ok(raw)
}

/// Reads an IDX file, plain or gzip-compressed (detected by content, not by
/// name). Errors name the file and what was wrong, e.g.
/// `…/train-images-idx3-ubyte.gz: truncated: header says 60000×28×28 =
/// 47040000 data bytes, file has 1234 after the 16-byte header`.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let raw = read_file(path)?;
    decode_bytes(&raw)
        .and_then(|bytes| parse_idx(&bytes))
        .map_err(|e| e.context(path.display()))
}

/// MNIST loaded as two autoencoder data sets (targets = inputs; 784-dim
/// pixels scaled to [0, 1] by /255) and the digit labels.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// The 60000 training images.
    pub train: Dataset,
    /// The 10000 test images.
    pub test: Dataset,
    /// The training labels (digits 0–9), one per training image.
    pub train_labels: Vec<u8>,
    /// The test labels (digits 0–9), one per test image.
    pub test_labels: Vec<u8>,
}

/// Finds `<dir>/<stem>` or `<dir>/<stem>.gz`, preferring the plain file when
/// both exist (it is faster to read).
fn find_mnist_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    let plain = dir.join(stem);
    let gz = dir.join(format!("{stem}.gz"));
    if plain.is_file() {
        Ok(plain)
    } else if gz.is_file() {
        Ok(gz)
    } else {
        Err(Error::new(
            crate::error::ErrorKind::Io,
            format!(
                "MNIST file not found: neither '{}' nor '{}' exists",
                plain.display(),
                gz.display()
            ),
        ))
    }
}

/// Reads an MNIST image file: must be N×28×28.
fn read_images(path: &Path) -> Result<IdxArray> {
    let arr = read_idx(path)?;
    if arr.dims.len() != 3 || arr.dims[1] != MNIST_SIDE || arr.dims[2] != MNIST_SIDE {
        return Err(Error::format(format!(
            "{}: expected images of shape N×28×28, found {}",
            path.display(),
            dims_text(&arr.dims)
        )));
    }
    if arr.dims[0] == 0 {
        return Err(Error::format(format!(
            "{}: the file holds no images",
            path.display()
        )));
    }
    Ok(arr)
}

/// Reads an MNIST label file: one dimension, digits 0–9.
fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let arr = read_idx(path)?;
    if arr.dims.len() != 1 {
        return Err(Error::format(format!(
            "{}: expected a 1-dimensional label array, found {}",
            path.display(),
            dims_text(&arr.dims)
        )));
    }
    if let Some(i) = arr.data.iter().position(|&l| l > 9) {
        return Err(Error::format(format!(
            "{}: label {} at index {i} is not a digit 0–9",
            path.display(),
            arr.data[i]
        )));
    }
    Ok(arr.data)
}

/// Pixels as `f32` in [0, 1] (/255).
fn scale_pixels(data: &[u8]) -> Vec<f32> {
    let lut: Vec<f32> = (0..=255u8).map(|b| f32::from(b) / 255.0).collect();
    data.iter().map(|&b| lut[usize::from(b)]).collect()
}

/// Loads one MNIST split (`train` or `t10k`): images as an autoencoder data
/// set and the labels, checking that their counts agree.
fn load_split(dir: &Path, prefix: &str) -> Result<(Dataset, Vec<u8>)> {
    let image_path = find_mnist_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let label_path = find_mnist_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_images(&image_path)?;
    let labels = read_labels(&label_path)?;
    let n = images.dims[0];
    if labels.len() != n {
        return Err(Error::shape(format!(
            "'{}' holds {n} images but '{}' holds {} labels",
            image_path.display(),
            label_path.display(),
            labels.len()
        )));
    }
    let set = Dataset::autoencoder(n, MNIST_DIM, scale_pixels(&images.data))
        .map_err(|e| e.context(image_path.display()))?;
    Ok((set, labels))
}

/// Loads MNIST from `dir`, which holds `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
/// `t10k-labels-idx1-ubyte`, each plain or with a `.gz` suffix (the plain
/// file is used when both exist; compression is detected by content).
/// Checks that images are 28×28, labels are digits and the counts agree.
pub fn load_mnist(dir: &Path) -> Result<Mnist> {
    let (train, train_labels) = load_split(dir, "train")?;
    let (test, test_labels) = load_split(dir, "t10k")?;
    Ok(Mnist {
        train,
        test,
        train_labels,
        test_labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(type_code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, type_code, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(payload);
        b
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn parses_a_small_array() {
        let a = parse_idx(&idx(8, &[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
        let g = parse_idx_maybe_gzip(&gzip(&idx(8, &[2, 3], &[1, 2, 3, 4, 5, 6]))).unwrap();
        assert_eq!(g, a);
    }

    #[test]
    fn rejects_bad_headers_with_messages() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (vec![0, 0, 8], "truncated header"),
            (vec![1, 0, 8, 1, 0, 0, 0, 0], "bad magic"),
            (idx(0x0D, &[1], &[0, 0, 0, 0]), "not supported"),
            (idx(0x42, &[1], &[0]), "unknown IDX element type"),
            (vec![0, 0, 8, 0], "0 dimensions"),
            (vec![0, 0, 8, 2, 0, 0, 0, 1], "truncated header"),
            (
                idx(8, &[2, 2], &[1, 2, 3]),
                "truncated: header says 2×2 = 4",
            ),
            (idx(8, &[2], &[1, 2, 3]), "1 trailing bytes"),
        ];
        for (bytes, want) in cases {
            let err = parse_idx(&bytes).unwrap_err();
            assert!(err.message().contains(want), "{want:?} not in {err}");
        }
    }

    #[test]
    fn lying_dimensions_do_not_allocate_or_overflow() {
        // 2^32-1 to the 8th power overflows any usize.
        let huge = idx(8, &[u32::MAX; 8], &[]);
        assert!(parse_idx(&huge).unwrap_err().message().contains("overflow"));
        let big = idx(8, &[u32::MAX, u32::MAX], &[1, 2]);
        let err = parse_idx_maybe_gzip(&gzip(&big)).unwrap_err();
        assert!(err.message().contains("truncated"), "{err}");
    }

    #[test]
    fn gzip_trailing_and_truncated_streams_are_errors() {
        let g = gzip(&idx(8, &[3], &[1, 2, 3, 4]));
        assert!(parse_idx_maybe_gzip(&g)
            .unwrap_err()
            .message()
            .contains("trailing"));
        let g = gzip(&idx(8, &[3], &[1, 2, 3]));
        let err = parse_idx_maybe_gzip(&g[..g.len() - 6]).unwrap_err();
        assert!(err.message().contains("gzip"), "{err}");
    }

    #[test]
    fn never_panics_on_prefixes_and_bit_flips() {
        let good = idx(8, &[2, 2, 2], &[9; 8]);
        let gz = gzip(&good);
        for src in [&good, &gz] {
            for cut in 0..src.len() {
                let _ = parse_idx_maybe_gzip(&src[..cut]);
            }
            for i in 0..src.len() {
                for bit in 0..8 {
                    let mut b = src.clone();
                    b[i] ^= 1 << bit;
                    let _ = parse_idx_maybe_gzip(&b);
                }
            }
        }
    }
}
