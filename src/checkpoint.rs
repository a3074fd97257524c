//! Versioned, checksummed save and load of networks and sessions.
//!
//! Every file is one [`Container`]: a kind tag and named sections of bytes,
//! laid out little-endian as
//!
//! ```text
//! magic      8 bytes  "HESSFREE"
//! version    u32      FORMAT_VERSION
//! length     u64      total file length in bytes (detects truncation)
//! kind       u16 length + UTF-8 bytes, e.g. "hf-session"
//! count      u32      number of sections
//! section    u16 name length + UTF-8 name, u64 data length + data   (× count)
//! crc        u32      CRC-32 (IEEE) of every byte before it
//! ```
//!
//! [`decode`] is a pure function that never panics and never allocates more
//! than the input's size, whatever the bytes; [`write_atomic`] replaces a
//! file so that a crash leaves either the old or the new file, never a mix.

use crate::error::{Error, ErrorKind, Result};
use std::io::Write;
use std::path::Path;

/// The first eight bytes of every hessfree file.
pub const MAGIC: [u8; 8] = *b"HESSFREE";

/// The container format version this library writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Bytes before the kind tag: magic, version, length.
const HEADER_LEN: usize = 8 + 4 + 8;

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3, as zlib and PNG) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

/// A named section of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The section's name (unique within its container).
    pub name: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// A decoded (or to-be-encoded) file: a kind tag and named sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// What the file holds, e.g. `"hf-session"` or `"net"`.
    pub kind: String,
    /// The sections in file order.
    pub sections: Vec<Section>,
}

impl Container {
    /// An empty container of the given kind.
    pub fn new(kind: &str) -> Self {
        Container {
            kind: kind.to_string(),
            sections: Vec::new(),
        }
    }

    /// Appends a section (replacing one of the same name).
    pub fn add(&mut self, name: &str, data: Vec<u8>) {
        self.sections.retain(|s| s.name != name);
        self.sections.push(Section {
            name: name.to_string(),
            data,
        });
    }

    /// The bytes of section `name`, if present.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.sections
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.data.as_slice())
    }

    /// The bytes of section `name`, or a [`ErrorKind::Format`] error naming it.
    pub fn require(&self, name: &str) -> Result<&[u8]> {
        self.get(name)
            .ok_or_else(|| Error::format(format!("{} file has no '{name}' section", self.kind)))
    }

    /// Checks the kind tag, with an error naming both kinds.
    pub fn expect_kind(&self, kind: &str) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(Error::format(format!(
                "file holds a '{}', expected a '{kind}'",
                self.kind
            )))
        }
    }

    /// The file bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::new();
        w.bytes(&MAGIC);
        w.u32(FORMAT_VERSION);
        w.u64(0); // total length, patched below
        w.short_str(&self.kind);
        w.u32(self.sections.len() as u32);
        for s in &self.sections {
            w.short_str(&s.name);
            w.u64(s.data.len() as u64);
            w.bytes(&s.data);
        }
        let mut out = w.into_bytes();
        let total = (out.len() + 4) as u64;
        out[12..20].copy_from_slice(&total.to_le_bytes());
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Encodes and writes the container to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.encode())
    }

    /// Reads and decodes the file at `path`.
    pub fn load(path: &Path) -> Result<Container> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
        decode(&bytes).map_err(|e| e.context(format!("'{}'", path.display())))
    }
}

/// Decodes file bytes into a [`Container`], checking magic, version, length
/// and checksum. Never panics; errors are [`ErrorKind::Format`] (not a
/// hessfree file, truncated, malformed), [`ErrorKind::Version`] (a newer
/// format) or [`ErrorKind::Checksum`].
pub fn decode(bytes: &[u8]) -> Result<Container> {
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(Error::format("not a hessfree file (bad magic bytes)"));
    }
    let mut r = ByteReader::new(&bytes[MAGIC.len()..]);
    let version = r
        .u32()
        .map_err(|_| truncated(bytes.len(), HEADER_LEN + 4))?;
    if version > FORMAT_VERSION {
        return Err(Error::new(
            ErrorKind::Version,
            format!(
                "file has format version {version}, this library reads versions 1 to {FORMAT_VERSION}: upgrade hessfree"
            ),
        ));
    }
    if version == 0 {
        return Err(Error::format("file has invalid format version 0"));
    }
    let total = r
        .u64()
        .map_err(|_| truncated(bytes.len(), HEADER_LEN + 4))?;
    if total != bytes.len() as u64 {
        return Err(if total > bytes.len() as u64 {
            Error::format(format!(
                "file is truncated: {} bytes, header says {total}",
                bytes.len()
            ))
        } else {
            Error::format(format!(
                "file has {} bytes, header says {total} (trailing data or corruption)",
                bytes.len()
            ))
        });
    }
    if bytes.len() < HEADER_LEN + 4 {
        return Err(truncated(bytes.len(), HEADER_LEN + 4));
    }
    let body_len = bytes.len() - 4;
    let stored = u32::from_le_bytes([
        bytes[body_len],
        bytes[body_len + 1],
        bytes[body_len + 2],
        bytes[body_len + 3],
    ]);
    let actual = crc32(&bytes[..body_len]);
    if stored != actual {
        return Err(Error::new(
            ErrorKind::Checksum,
            format!("checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is corrupted"),
        ));
    }
    parse_body(&bytes[HEADER_LEN..body_len])
}

fn truncated(len: usize, need: usize) -> Error {
    Error::format(format!(
        "file is truncated: {len} bytes, need at least {need}"
    ))
}

fn parse_body(body: &[u8]) -> Result<Container> {
    let mut r = ByteReader::new(body);
    let kind = r.short_str()?;
    let count = r.u32()? as usize;
    // Each section takes at least 10 bytes: bound the count by the input.
    if count > r.remaining() / 10 {
        return Err(Error::format(format!(
            "section count {count} exceeds what {} bytes can hold",
            r.remaining()
        )));
    }
    let mut c = Container::new(&kind);
    for _ in 0..count {
        let name = r.short_str()?;
        let len = r.u64()?;
        let data = r.take(len)?.to_vec();
        if c.get(&name).is_some() {
            return Err(Error::format(format!("duplicate section '{name}'")));
        }
        c.sections.push(Section { name, data });
    }
    r.finish()?;
    Ok(c)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory is written and synced, renamed over `path`, and the directory
/// is synced (on Unix) so the rename survives a crash.
///
/// The temporary file is named `.<name>.tmp-<pid>-<n>`, unique per process
/// and per call, so concurrent writers (threads or processes) never share
/// one. A writer killed mid-write leaves its temporary file behind; each
/// write first removes those of `path` whose process is gone (Unix), so
/// they never pile up.
///
/// Errors are `ErrorKind::Io` and name `path` (a failure to create, write or
/// sync the temporary file also names that file, after `path`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("'{}' is not a file path", path.display())))?;
    let prefix = temp_prefix(&name.to_string_lossy());
    remove_stale_temps(&dir, &prefix);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("{prefix}{}-{n}", std::process::id()));
    let result = write_and_sync(path, &tmp, bytes).and_then(|()| {
        std::fs::rename(&tmp, path)
            .map_err(|e| Error::io(path, "cannot rename temporary file onto", e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    sync_dir(&dir);
    Ok(())
}

/// The start of the temporary file names [`write_atomic`] uses for `name`;
/// the writer's process id and a counter follow.
pub fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

/// Best effort: removes `dir/<prefix><pid>-<n>` files left by processes that
/// no longer exist. Files of live processes (this one included) are kept,
/// since they may be writes in progress.
fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|f| f.strip_prefix(prefix)) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` exists. Conservative: true unless the system says
/// there is no such process (and always true off Unix).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        if pid == std::process::id() {
            return true;
        }
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        if pid <= 0 {
            return true;
        }
        // Signal 0 checks existence without sending anything.
        // SAFETY: kill(2) with signal 0 has no side effects.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Writes `bytes` to the temporary file `tmp` and syncs it. Errors name
/// `path`, the file the caller asked for (the temporary name alone would not
/// tell them which save failed), and mention `tmp` after it.
fn write_and_sync(path: &Path, tmp: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |what: &str, e: std::io::Error| {
        Error::new(
            ErrorKind::Io,
            format!(
                "{what} '{}' (writing temporary file '{}'): {e}",
                path.display(),
                tmp.display()
            ),
        )
    };
    let mut f = std::fs::File::create(tmp).map_err(|e| fail("cannot create", e))?;
    f.write_all(bytes).map_err(|e| fail("cannot write", e))?;
    f.sync_all().map_err(|e| fail("cannot sync", e))
}

/// Best effort: some platforms and file systems cannot sync directories.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Little-endian encoder for section contents.
#[derive(Clone, Debug, Default)]
pub struct ByteWriter {
    buf: Vec<u8>,
}

impl ByteWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// Appends a u32.
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    /// Appends a u64.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    /// Appends an f64 (bit-exact).
    pub fn f64(&mut self, v: f64) {
        self.bytes(&v.to_le_bytes());
    }
    /// Appends a string of at most 65535 bytes with a u16 length (longer is cut).
    pub fn short_str(&mut self, s: &str) {
        let mut end = s.len().min(u16::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes(&(end as u16).to_le_bytes());
        self.bytes(&s.as_bytes()[..end]);
    }
    /// Appends an f32 array with a u64 element count (bit-exact).
    pub fn f32s(&mut self, v: &[f32]) {
        self.u64(v.len() as u64);
        self.buf.reserve(v.len() * 4);
        for x in v {
            self.bytes(&x.to_le_bytes());
        }
    }
    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Little-endian decoder for section contents; every read checks bounds and
/// fails with [`ErrorKind::Format`].
#[derive(Clone, Debug)]
pub struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        ByteReader { buf, pos: 0 }
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(Error::format(format!(
                "truncated data: need {n} bytes at offset {}, have {}",
                self.pos,
                self.remaining()
            )));
        }
        let n = n as usize;
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N as u64)?);
        Ok(a)
    }
    /// Reads a u32.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// Reads a u64.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// Reads an f64.
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    /// Reads a u16-length-prefixed UTF-8 string.
    pub fn short_str(&mut self) -> Result<String> {
        let len = u16::from_le_bytes(self.array()?);
        let bytes = self.take(len as u64)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::format("a name in the file is not valid UTF-8"))
    }
    /// Reads a u64-count-prefixed f32 array (the count is checked against the
    /// remaining bytes before allocating).
    pub fn f32s(&mut self) -> Result<Vec<f32>> {
        let count = self.u64()?;
        let bytes = self.take(count.saturating_mul(4))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(Error::format(format!(
                "{} unexpected trailing bytes at offset {}",
                self.remaining(),
                self.pos
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_errors_name_the_callers_path() {
        let dir = std::env::temp_dir().join(format!("hessfree-wa-{}", std::process::id()));
        let path = dir.join("no").join("such").join("x");
        let e = write_atomic(&path, b"data").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        let quoted = format!("'{}'", path.display());
        assert!(
            e.message().starts_with(&format!("cannot create {quoted} ")),
            "{}",
            e.message()
        );
    }

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn roundtrip_and_no_panic_on_prefixes() {
        let mut c = Container::new("test");
        c.add("a", vec![1, 2, 3]);
        c.add("b", Vec::new());
        let bytes = c.encode();
        assert_eq!(decode(&bytes).unwrap(), c);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err());
        }
    }
}
