//! The FFI layer's error type (a status plus a message) and the per-thread
//! last error message that hosts read with `hf_last_error_message`.

use std::cell::RefCell;
use std::ffi::c_char;

use super::status::hf_status;
use crate::error::Error;

/// An error on its way to the C caller: the status to return and the message
/// to store as the thread's last error.
#[derive(Clone, Debug, PartialEq)]
pub struct FfiError {
    /// The status the exported function returns.
    pub status: hf_status,
    /// The detailed message (without the function-name prefix the guard adds).
    pub message: String,
}

/// Result type of the bodies of exported functions.
pub type FfiResult<T> = std::result::Result<T, FfiError>;

impl FfiError {
    /// An error with an explicit status.
    pub fn new(status: hf_status, message: impl Into<String>) -> Self {
        FfiError {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for FfiError {
    fn from(err: Error) -> Self {
        FfiError::new(err.kind().into(), err.message())
    }
}

thread_local! {
    /// The calling thread's last error message, kept NUL-free so it can be
    /// copied out as one C string.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Stores `message` as the calling thread's last error. Interior NUL bytes
/// (possible in panic messages) are shown as `\0` so C sees the whole text.
pub(crate) fn set_last_error(message: &str) {
    let clean = message.replace('\0', "\\0");
    // `try_with` fails only while the thread is being torn down; then there
    // is nobody left to read the message.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = clean);
}

/// The calling thread's last error message ("" if none).
pub(crate) fn last_error() -> String {
    LAST_ERROR
        .try_with(|slot| slot.borrow().clone())
        .unwrap_or_default()
}

/// The longest prefix of `s` that fits in `max` bytes without splitting a
/// UTF-8 character.
fn utf8_prefix(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Copies the calling thread's last error message into `buf` (capacity `len`
/// bytes) as a NUL-terminated UTF-8 string.
///
/// Each thread has its own message. It is set by every call that returns an
/// error and is NOT cleared by successful calls (like `errno`): read it only
/// after a call returned a status other than `HF_OK`. Before any error it is
/// the empty string.
///
/// Returns `HF_OK` when the whole message fit. Returns
/// `HF_ERR_BUFFER_TOO_SMALL` when it did not: `buf` (if `len > 0`) then holds
/// the longest prefix that fits, still NUL-terminated and never cutting a
/// UTF-8 character; `hf_last_error_length` gives the size needed. `buf` may be
/// NULL only when `len` is 0 (a size query); NULL with `len > 0` returns
/// `HF_ERR_NULL_POINTER`. This function never changes the stored message.
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn hf_last_error_message(buf: *mut c_char, len: usize) -> hf_status {
    // Deliberately not run through the guard: reading the message must never
    // replace it, even when this call fails.
    let message = last_error();
    if len == 0 {
        return if message.is_empty() {
            hf_status::HF_OK
        } else {
            hf_status::HF_ERR_BUFFER_TOO_SMALL
        };
    }
    if buf.is_null() {
        return hf_status::HF_ERR_NULL_POINTER;
    }
    let fits = utf8_prefix(&message, len - 1);
    // SAFETY: the caller guarantees `len` writable bytes at `buf`, and
    // `fits.len() + 1 <= len`.
    unsafe {
        std::ptr::copy_nonoverlapping(fits.as_ptr(), buf.cast::<u8>(), fits.len());
        *buf.add(fits.len()) = 0;
    }
    if fits.len() == message.len() {
        hf_status::HF_OK
    } else {
        hf_status::HF_ERR_BUFFER_TOO_SMALL
    }
}

/// Writes to `*out` the length in bytes of the calling thread's last error
/// message, not counting the terminating NUL (so a buffer of `*out + 1` bytes
/// holds it). Returns `HF_ERR_NULL_POINTER` if `out` is NULL. Never changes
/// the stored message.
///
/// # Safety
/// `out` must be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_last_error_length(out: *mut usize) -> hf_status {
    if out.is_null() {
        return hf_status::HF_ERR_NULL_POINTER;
    }
    let n = last_error().len();
    // SAFETY: checked non-NULL; the caller guarantees it is writable.
    unsafe { out.write(n) };
    hf_status::HF_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn read(len: usize) -> (hf_status, String) {
        let mut buf = vec![0x55 as c_char; len.max(1)];
        let st = unsafe { hf_last_error_message(buf.as_mut_ptr(), len) };
        let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
        (st, s.to_string_lossy().into_owned())
    }

    #[test]
    fn copies_and_truncates_on_char_boundaries() {
        set_last_error("größe falsch");
        let mut n = 0usize;
        assert_eq!(unsafe { hf_last_error_length(&mut n) }, hf_status::HF_OK);
        assert_eq!(n, "größe falsch".len());
        assert_eq!(read(n + 1), (hf_status::HF_OK, "größe falsch".into()));
        assert_eq!(read(n).0, hf_status::HF_ERR_BUFFER_TOO_SMALL);
        // "gr" + 'ö' (2 bytes): a 4-byte buffer holds 3 bytes, so 'ö' is dropped whole.
        assert_eq!(read(4), (hf_status::HF_ERR_BUFFER_TOO_SMALL, "gr".into()));
        assert_eq!(read(1), (hf_status::HF_ERR_BUFFER_TOO_SMALL, "".into()));
        // Reading never changes the message.
        assert_eq!(last_error(), "größe falsch");
    }

    #[test]
    fn null_buffer_rules() {
        set_last_error("x");
        let st = unsafe { hf_last_error_message(std::ptr::null_mut(), 0) };
        assert_eq!(st, hf_status::HF_ERR_BUFFER_TOO_SMALL);
        let st = unsafe { hf_last_error_message(std::ptr::null_mut(), 8) };
        assert_eq!(st, hf_status::HF_ERR_NULL_POINTER);
        set_last_error("");
        let st = unsafe { hf_last_error_message(std::ptr::null_mut(), 0) };
        assert_eq!(st, hf_status::HF_OK);
        assert_eq!(
            unsafe { hf_last_error_length(std::ptr::null_mut()) },
            hf_status::HF_ERR_NULL_POINTER
        );
    }

    #[test]
    fn interior_nul_is_escaped_and_threads_are_separate() {
        set_last_error("a\0b");
        assert_eq!(last_error(), "a\\0b");
        std::thread::spawn(|| assert_eq!(last_error(), ""))
            .join()
            .unwrap();
        assert_eq!(last_error(), "a\\0b");
    }
}
