//! The library version, which always equals the crate version in Cargo.toml
//! (and the header's `HF_VERSION_*` macros, generated from it).

use std::ffi::c_char;
use std::os::raw::c_int;

use super::args::out;
use super::guard::guard;
use super::status::hf_status;

const VERSION_WITH_NUL: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, e.g. `"0.1.0"`: a static NUL-terminated string
/// that must not be freed. Compare with `HF_VERSION_STRING` to detect a
/// header that does not match the loaded library. Never NULL.
#[no_mangle]
pub extern "C" fn hf_version() -> *const c_char {
    VERSION_WITH_NUL.as_ptr().cast()
}

/// Parses one numeric version component from Cargo's environment.
fn component(text: &str) -> c_int {
    text.parse().unwrap_or(-1)
}

/// Writes the library's major, minor and patch version numbers. All three
/// pointers are required (`HF_ERR_NULL_POINTER` otherwise); nothing is
/// written on failure.
///
/// # Safety
/// Each pointer must be NULL or point to a writable `int`.
#[no_mangle]
pub unsafe extern "C" fn hf_version_numbers(
    major: *mut c_int,
    minor: *mut c_int,
    patch: *mut c_int,
) -> hf_status {
    guard("hf_version_numbers", || {
        // SAFETY: the caller's contract on each pointer.
        let (major, minor, patch) = unsafe {
            (
                out(major, "major")?,
                out(minor, "minor")?,
                out(patch, "patch")?,
            )
        };
        major.write(component(env!("CARGO_PKG_VERSION_MAJOR")));
        minor.write(component(env!("CARGO_PKG_VERSION_MINOR")));
        patch.write(component(env!("CARGO_PKG_VERSION_PATCH")));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn matches_cargo() {
        let v = unsafe { CStr::from_ptr(hf_version()) }.to_str().unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
        let (mut a, mut b, mut c) = (-9, -9, -9);
        let st = unsafe { hf_version_numbers(&mut a, &mut b, &mut c) };
        assert_eq!(st, hf_status::HF_OK);
        assert_eq!(format!("{a}.{b}.{c}"), v.split('-').next().unwrap());
        let st = unsafe { hf_version_numbers(&mut a, std::ptr::null_mut(), &mut c) };
        assert_eq!(st, hf_status::HF_ERR_NULL_POINTER);
        assert!(crate::ffi::error::last_error().contains("'minor'"));
    }
}
