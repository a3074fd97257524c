//! The `hf_status` codes every exported function returns, and their names.

use std::ffi::c_char;
use std::os::raw::c_int;

use crate::error::ErrorKind;

/// The result of every hessfree call. `HF_OK` is zero; every other code is an
/// error whose detailed message is available from `hf_last_error_message`.
///
/// The numeric values are part of the ABI and are never renumbered; new codes
/// are only ever appended.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum hf_status {
    /// Success.
    HF_OK = 0,
    /// A required pointer argument is NULL.
    HF_ERR_NULL_POINTER = 1,
    /// An argument is invalid in a way not covered by a more specific code.
    HF_ERR_INVALID_ARGUMENT = 2,
    /// A handle is freed, forged, or of the wrong kind.
    HF_ERR_INVALID_HANDLE = 3,
    /// Array sizes or shapes do not agree.
    HF_ERR_SHAPE_MISMATCH = 4,
    /// Data or parameters contain NaN or infinity.
    HF_ERR_NON_FINITE = 5,
    /// A configuration key is not known.
    HF_ERR_UNKNOWN_KEY = 6,
    /// A value lies outside its documented range.
    HF_ERR_OUT_OF_RANGE = 7,
    /// A value has the wrong type for its key.
    HF_ERR_WRONG_TYPE = 8,
    /// A file could not be read or written.
    HF_ERR_IO = 9,
    /// A file's contents are malformed or truncated.
    HF_ERR_FORMAT = 10,
    /// A file was written by an incompatible format version.
    HF_ERR_VERSION = 11,
    /// A file's checksum does not match its contents.
    HF_ERR_CHECKSUM = 12,
    /// The request needs more memory (or another resource) than allowed.
    HF_ERR_RESOURCE_LIMIT = 13,
    /// The requested compute backend is not available in this build or machine.
    HF_ERR_BACKEND_UNAVAILABLE = 14,
    /// A host-supplied callback reported failure.
    HF_ERR_CALLBACK = 15,
    /// A numerical failure that could not be recovered from.
    HF_ERR_NUMERICAL = 16,
    /// The operation is not supported by this object.
    HF_ERR_UNSUPPORTED = 17,
    /// An output buffer is too small; nothing (or a truncated, NUL-terminated
    /// text) was written, and the message says how much is needed.
    HF_ERR_BUFFER_TOO_SMALL = 18,
    /// hessfree panicked (a bug); the panic was caught at the boundary. An
    /// object that was in use during the panic refuses further use; free it.
    HF_ERR_PANIC = 19,
    /// A bug in hessfree itself.
    HF_ERR_INTERNAL = 20,
}

/// Every status in numeric order; `ALL[i] as i32 == i`.
pub(crate) const ALL: [hf_status; 21] = {
    use hf_status::*;
    [
        HF_OK,
        HF_ERR_NULL_POINTER,
        HF_ERR_INVALID_ARGUMENT,
        HF_ERR_INVALID_HANDLE,
        HF_ERR_SHAPE_MISMATCH,
        HF_ERR_NON_FINITE,
        HF_ERR_UNKNOWN_KEY,
        HF_ERR_OUT_OF_RANGE,
        HF_ERR_WRONG_TYPE,
        HF_ERR_IO,
        HF_ERR_FORMAT,
        HF_ERR_VERSION,
        HF_ERR_CHECKSUM,
        HF_ERR_RESOURCE_LIMIT,
        HF_ERR_BACKEND_UNAVAILABLE,
        HF_ERR_CALLBACK,
        HF_ERR_NUMERICAL,
        HF_ERR_UNSUPPORTED,
        HF_ERR_BUFFER_TOO_SMALL,
        HF_ERR_PANIC,
        HF_ERR_INTERNAL,
    ]
};

impl hf_status {
    /// The status's C name as a NUL-terminated static string.
    fn name_with_nul(self) -> &'static str {
        use hf_status::*;
        match self {
            HF_OK => "HF_OK\0",
            HF_ERR_NULL_POINTER => "HF_ERR_NULL_POINTER\0",
            HF_ERR_INVALID_ARGUMENT => "HF_ERR_INVALID_ARGUMENT\0",
            HF_ERR_INVALID_HANDLE => "HF_ERR_INVALID_HANDLE\0",
            HF_ERR_SHAPE_MISMATCH => "HF_ERR_SHAPE_MISMATCH\0",
            HF_ERR_NON_FINITE => "HF_ERR_NON_FINITE\0",
            HF_ERR_UNKNOWN_KEY => "HF_ERR_UNKNOWN_KEY\0",
            HF_ERR_OUT_OF_RANGE => "HF_ERR_OUT_OF_RANGE\0",
            HF_ERR_WRONG_TYPE => "HF_ERR_WRONG_TYPE\0",
            HF_ERR_IO => "HF_ERR_IO\0",
            HF_ERR_FORMAT => "HF_ERR_FORMAT\0",
            HF_ERR_VERSION => "HF_ERR_VERSION\0",
            HF_ERR_CHECKSUM => "HF_ERR_CHECKSUM\0",
            HF_ERR_RESOURCE_LIMIT => "HF_ERR_RESOURCE_LIMIT\0",
            HF_ERR_BACKEND_UNAVAILABLE => "HF_ERR_BACKEND_UNAVAILABLE\0",
            HF_ERR_CALLBACK => "HF_ERR_CALLBACK\0",
            HF_ERR_NUMERICAL => "HF_ERR_NUMERICAL\0",
            HF_ERR_UNSUPPORTED => "HF_ERR_UNSUPPORTED\0",
            HF_ERR_BUFFER_TOO_SMALL => "HF_ERR_BUFFER_TOO_SMALL\0",
            HF_ERR_PANIC => "HF_ERR_PANIC\0",
            HF_ERR_INTERNAL => "HF_ERR_INTERNAL\0",
        }
    }

    /// The status's C name, e.g. `"HF_ERR_NON_FINITE"`.
    pub fn name(self) -> &'static str {
        let with_nul = self.name_with_nul();
        &with_nul[..with_nul.len() - 1]
    }

    /// The status with numeric value `code`, if there is one.
    pub fn from_code(code: i64) -> Option<hf_status> {
        usize::try_from(code).ok().and_then(|i| ALL.get(i).copied())
    }
}

impl From<ErrorKind> for hf_status {
    fn from(kind: ErrorKind) -> Self {
        use hf_status::*;
        // Exhaustive on purpose: a new ErrorKind must be given a code here.
        match kind {
            ErrorKind::InvalidArgument => HF_ERR_INVALID_ARGUMENT,
            ErrorKind::ShapeMismatch => HF_ERR_SHAPE_MISMATCH,
            ErrorKind::NonFinite => HF_ERR_NON_FINITE,
            ErrorKind::UnknownKey => HF_ERR_UNKNOWN_KEY,
            ErrorKind::OutOfRange => HF_ERR_OUT_OF_RANGE,
            ErrorKind::WrongType => HF_ERR_WRONG_TYPE,
            ErrorKind::Io => HF_ERR_IO,
            ErrorKind::Format => HF_ERR_FORMAT,
            ErrorKind::Version => HF_ERR_VERSION,
            ErrorKind::Checksum => HF_ERR_CHECKSUM,
            ErrorKind::ResourceLimit => HF_ERR_RESOURCE_LIMIT,
            ErrorKind::BackendUnavailable => HF_ERR_BACKEND_UNAVAILABLE,
            ErrorKind::Callback => HF_ERR_CALLBACK,
            ErrorKind::Numerical => HF_ERR_NUMERICAL,
            ErrorKind::Unsupported => HF_ERR_UNSUPPORTED,
            ErrorKind::Internal => HF_ERR_INTERNAL,
        }
    }
}

const UNKNOWN_STATUS: &str = "HF_ERR_UNKNOWN_STATUS\0";

/// The name of status `code` (e.g. `"HF_ERR_NON_FINITE"`) as a static,
/// NUL-terminated string that must not be freed. A code that is not an
/// `hf_status` gives `"HF_ERR_UNKNOWN_STATUS"`. Never fails, never NULL.
#[no_mangle]
pub extern "C" fn hf_status_str(code: c_int) -> *const c_char {
    let name = hf_status::from_code(i64::from(code))
        .map(hf_status::name_with_nul)
        .unwrap_or(UNKNOWN_STATUS);
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn codes_are_stable_and_dense() {
        for (i, s) in ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "{s:?}");
            assert_eq!(hf_status::from_code(i as i64), Some(*s));
        }
        assert_eq!(hf_status::HF_ERR_INTERNAL as i32, 20);
        assert_eq!(hf_status::HF_ERR_PANIC as i32, 19);
        assert_eq!(hf_status::from_code(21), None);
        assert_eq!(hf_status::from_code(-1), None);
    }

    #[test]
    fn names_match_the_enum() {
        for s in ALL {
            let c = unsafe { CStr::from_ptr(hf_status_str(s as c_int)) };
            assert_eq!(c.to_str().unwrap(), format!("{s:?}"));
            assert_eq!(s.name(), format!("{s:?}"));
        }
        for bad in [-1, 21, c_int::MAX, c_int::MIN] {
            let c = unsafe { CStr::from_ptr(hf_status_str(bad)) };
            assert_eq!(c.to_str().unwrap(), "HF_ERR_UNKNOWN_STATUS");
        }
    }

    #[test]
    fn every_error_kind_has_its_own_code() {
        use ErrorKind::*;
        let kinds = [
            InvalidArgument,
            ShapeMismatch,
            NonFinite,
            UnknownKey,
            OutOfRange,
            WrongType,
            Io,
            Format,
            Version,
            Checksum,
            ResourceLimit,
            BackendUnavailable,
            Callback,
            Numerical,
            Unsupported,
            Internal,
        ];
        let mut codes: Vec<i32> = kinds.iter().map(|&k| hf_status::from(k) as i32).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0));
    }
}
