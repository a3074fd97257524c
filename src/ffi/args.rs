//! Checked conversions of C arguments: NULL checks that name the argument,
//! slices from (pointer, length) pairs, C strings, and out-parameters that are
//! written only on success.

use std::ffi::{c_char, CStr};
use std::marker::PhantomData;

use super::error::{FfiError, FfiResult};
use super::status::hf_status;

/// `HF_ERR_NULL_POINTER` naming the argument.
pub fn null_error(arg: &str) -> FfiError {
    FfiError::new(
        hf_status::HF_ERR_NULL_POINTER,
        format!("argument '{arg}' is NULL"),
    )
}

/// Fails with `HF_ERR_NULL_POINTER` ("argument 'inputs' is NULL") if `ptr` is NULL.
pub fn non_null<T>(ptr: *const T, arg: &str) -> FfiResult<()> {
    if ptr.is_null() {
        Err(null_error(arg))
    } else {
        Ok(())
    }
}

/// Checks that `len` elements of `T` starting at non-NULL `ptr` could form a
/// Rust slice: aligned, and at most `isize::MAX` bytes.
fn check_span<T>(ptr: *const T, len: usize, arg: &str) -> FfiResult<()> {
    if (ptr as usize) % std::mem::align_of::<T>() != 0 {
        return Err(FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            format!(
                "argument '{arg}' ({ptr:p}) is not aligned to {} bytes",
                std::mem::align_of::<T>()
            ),
        ));
    }
    let too_long = len
        .checked_mul(std::mem::size_of::<T>())
        .map_or(true, |bytes| bytes > isize::MAX as usize);
    if too_long {
        return Err(FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            format!("length {len} of argument '{arg}' overflows the address space"),
        ));
    }
    Ok(())
}

/// The slice of `len` elements at `ptr`. A NULL `ptr` is accepted when `len`
/// is 0 (an empty slice) and is `HF_ERR_NULL_POINTER` otherwise; a length whose
/// byte size overflows or a misaligned pointer is `HF_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// If non-NULL, `ptr` must point to `len` initialised elements that stay
/// valid and unmodified for `'a`.
pub unsafe fn slice_in<'a, T>(ptr: *const T, len: usize, arg: &str) -> FfiResult<&'a [T]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(null_error(arg))
        };
    }
    check_span(ptr, len, arg)?;
    // SAFETY: non-NULL, aligned, size fits isize; validity is the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A writable slice of `len` elements at `ptr`; the rules of [`slice_in`] apply.
///
/// # Safety
/// If non-NULL, `ptr` must point to `len` writable elements, not aliased
/// elsewhere for `'a`.
pub unsafe fn slice_out<'a, T>(ptr: *mut T, len: usize, arg: &str) -> FfiResult<&'a mut [T]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&mut [])
        } else {
            Err(null_error(arg))
        };
    }
    check_span(ptr, len, arg)?;
    // SAFETY: as for `slice_in`, plus exclusivity from the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// A validated out-parameter: check it first, do the work, then [`Out::write`]
/// it last, so nothing is written when the call fails.
pub struct Out<'a, T> {
    ptr: *mut T,
    _life: PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    /// Stores the result. `T` is a plain C value; the old contents are not dropped.
    pub fn write(self, value: T) {
        // SAFETY: checked non-NULL and aligned by `out`, writable by its contract.
        unsafe { self.ptr.write(value) }
    }
}

/// Checks out-parameter `ptr` (non-NULL, aligned) for a later [`Out::write`].
///
/// # Safety
/// If non-NULL, `ptr` must be valid for writing one `T` for `'a`.
pub unsafe fn out<'a, T>(ptr: *mut T, arg: &str) -> FfiResult<Out<'a, T>> {
    non_null(ptr, arg)?;
    check_span(ptr.cast_const(), 1, arg)?;
    Ok(Out {
        ptr,
        _life: PhantomData,
    })
}

/// The NUL-terminated UTF-8 string at `ptr`. NULL is `HF_ERR_NULL_POINTER`;
/// invalid UTF-8 is `HF_ERR_INVALID_ARGUMENT` naming the byte offset.
///
/// # Safety
/// If non-NULL, `ptr` must point to a NUL-terminated string valid for `'a`.
pub unsafe fn c_str<'a>(ptr: *const c_char, arg: &str) -> FfiResult<&'a str> {
    non_null(ptr, arg)?;
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            format!(
                "argument '{arg}' is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Copies `text` and a terminating NUL into the caller's buffer `buf` of
/// `len` bytes. If it does not fit, nothing is written and the error
/// (`HF_ERR_BUFFER_TOO_SMALL`) says how many bytes are needed; a NULL `buf`
/// with `len` 0 is thus a size query.
///
/// # Safety
/// If non-NULL, `buf` must point to `len` writable bytes.
pub unsafe fn copy_text(text: &str, buf: *mut c_char, len: usize, arg: &str) -> FfiResult<()> {
    let need = text.len() + 1;
    if len < need {
        return Err(FfiError::new(
            hf_status::HF_ERR_BUFFER_TOO_SMALL,
            format!("buffer '{arg}' holds {len} bytes, the text needs {need} (including the NUL)"),
        ));
    }
    // SAFETY: the caller's contract; `len >= need > 0` so NULL is an error here.
    let dest = unsafe { slice_out(buf.cast::<u8>(), len, arg)? };
    dest[..text.len()].copy_from_slice(text.as_bytes());
    dest[text.len()] = 0;
    Ok(())
}

/// Fails with `HF_ERR_NON_FINITE` naming `what` and the first index holding
/// NaN or infinity.
pub fn check_finite(values: &[f32], what: &str) -> FfiResult<()> {
    match values.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(FfiError::new(
            hf_status::HF_ERR_NON_FINITE,
            format!("{what}[{i}] = {} is not finite", values[i]),
        )),
    }
}

/// Fails with `HF_ERR_SHAPE_MISMATCH` unless array `arg` has exactly `want`
/// elements (`what` says what `want` is, e.g. "the network's parameter count").
pub fn check_len(len: usize, want: usize, arg: &str, what: &str) -> FfiResult<()> {
    if len == want {
        Ok(())
    } else {
        Err(FfiError::new(
            hf_status::HF_ERR_SHAPE_MISMATCH,
            format!("{arg}_len is {len}, expected {what} = {want}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn slices() {
        let v = [1.0f32, 2.0, 3.0];
        let s = unsafe { slice_in(v.as_ptr(), 3, "v") }.unwrap();
        assert_eq!(s, &v);
        assert!(unsafe { slice_in::<f32>(ptr::null(), 0, "v") }
            .unwrap()
            .is_empty());
        let e = unsafe { slice_in::<f32>(ptr::null(), 2, "inputs") }.unwrap_err();
        assert_eq!(e.status, hf_status::HF_ERR_NULL_POINTER);
        assert_eq!(e.message, "argument 'inputs' is NULL");
        let e = unsafe { slice_in(v.as_ptr(), usize::MAX / 2, "v") }.unwrap_err();
        assert_eq!(e.status, hf_status::HF_ERR_INVALID_ARGUMENT);
        assert!(e.message.contains("overflows"), "{}", e.message);
        let misaligned = (v.as_ptr() as usize + 1) as *const f32;
        let e = unsafe { slice_in(misaligned, 1, "v") }.unwrap_err();
        assert!(e.message.contains("aligned"), "{}", e.message);
        let mut w = [0.0f64; 2];
        unsafe { slice_out(w.as_mut_ptr(), 2, "w") }.unwrap()[1] = 5.0;
        assert_eq!(w, [0.0, 5.0]);
    }

    #[test]
    fn out_params_and_strings() {
        let mut x = 0usize;
        let o = unsafe { out(&mut x as *mut usize, "n") }.unwrap();
        o.write(9);
        assert_eq!(x, 9);
        let e = unsafe { out::<usize>(ptr::null_mut(), "n") }.err().unwrap();
        assert_eq!(e.message, "argument 'n' is NULL");

        let ok = c"initial_lambda";
        assert_eq!(
            unsafe { c_str(ok.as_ptr(), "key") }.unwrap(),
            "initial_lambda"
        );
        let bad = b"ab\xffc\0";
        let e = unsafe { c_str(bad.as_ptr().cast(), "key") }.unwrap_err();
        assert_eq!(e.status, hf_status::HF_ERR_INVALID_ARGUMENT);
        assert!(e.message.contains("offset 2"), "{}", e.message);
        let e = unsafe { c_str(ptr::null(), "key") }.unwrap_err();
        assert_eq!(e.status, hf_status::HF_ERR_NULL_POINTER);
    }
}
