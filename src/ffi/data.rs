//! `hf_data`: a data set copied in from host arrays.
//!
//! Matrices are NxD row-major: example `i`, component `j` is at `i*D + j`.
//! That is the same memory as a DxN column-major array (MATLAB, Julia,
//! Fortran), so those hosts pass their arrays as they are, with one example
//! per column. A data set is immutable once created, so one `hf_data` may be
//! used by several threads and several sessions at once.

use std::ffi::c_char;
use std::fmt::Display;
use std::path::Path;

use super::args::{c_str, out, slice_in, slice_out, Out};
use super::error::{FfiError, FfiResult};
use super::guard::guard;
use super::handle::{self, hf_data, HandleKind, Kind};
use super::status::hf_status;
use crate::data::Dataset;

impl HandleKind for Dataset {
    type C = hf_data;
    const KIND: Kind = Kind::Data;
}

/// Checks that a `len`-element array can be an `n x dim` matrix named `what`
/// (`dims` names n and dim for the message), before anything is copied.
fn check_shape(n: usize, dim: usize, len: usize, what: &str, dims: &str) -> FfiResult<()> {
    if n == 0 || dim == 0 {
        return Err(FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            format!("{what}: {dims} is {n} x {dim}; need at least one example and one dimension"),
        ));
    }
    let want = n.checked_mul(dim).ok_or_else(|| {
        FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            format!("{what}: {dims} = {n} x {dim} overflows size_t"),
        )
    })?;
    if len != want {
        return Err(FfiError::new(
            hf_status::HF_ERR_SHAPE_MISMATCH,
            format!("{what}: {what}_len is {len}, expected {dims} = {n} x {dim} = {want}"),
        ));
    }
    Ok(())
}

/// An empty vector with room for `len` values, or `HF_ERR_RESOURCE_LIMIT`
/// (allocation failure must not abort the host process).
fn alloc<T>(len: usize, what: &str) -> FfiResult<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        FfiError::new(
            hf_status::HF_ERR_RESOURCE_LIMIT,
            format!(
                "{what}: cannot allocate {len} values ({} bytes)",
                len.saturating_mul(std::mem::size_of::<T>())
            ),
        )
    })?;
    Ok(v)
}

/// Host values that can be copied into an `f32` data set.
trait HostValue: Copy + Display {
    /// The value as `f32`, or `None` if it is finite but beyond `f32`'s range.
    fn to_f32(self) -> Option<f32>;
    fn is_finite(self) -> bool;
}

impl HostValue for f32 {
    fn to_f32(self) -> Option<f32> {
        Some(self)
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl HostValue for f64 {
    fn to_f32(self) -> Option<f32> {
        // `as` saturates to ±inf beyond f32's range; catch that instead.
        let x = self as f32;
        x.is_finite().then_some(x)
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

/// Copies an `n x dim` host matrix to `f32`, rejecting NaN/Inf and values
/// outside `f32`'s range with the example and component index.
fn copy_matrix<T: HostValue>(
    values: &[T],
    n: usize,
    dim: usize,
    what: &str,
    dims: &str,
) -> FfiResult<Vec<f32>> {
    check_shape(n, dim, values.len(), what, dims)?;
    let mut copy = alloc::<f32>(values.len(), what)?;
    for (i, &x) in values.iter().enumerate() {
        let at = || format!("value {x} at example {}, component {}", i / dim, i % dim);
        if !x.is_finite() {
            return Err(FfiError::new(
                hf_status::HF_ERR_NON_FINITE,
                format!("{what}: {} is not finite", at()),
            ));
        }
        let y = x.to_f32().ok_or_else(|| {
            FfiError::new(
                hf_status::HF_ERR_OUT_OF_RANGE,
                format!("{what}: {} is outside the range of float (±3.4e38)", at()),
            )
        })?;
        copy.push(y);
    }
    Ok(copy)
}

/// Shared body of `hf_data_new` and `hf_data_new_f64`.
///
/// # Safety
/// The pointer contracts of `hf_data_new`.
#[allow(clippy::too_many_arguments)]
unsafe fn data_new<T: HostValue>(
    n: usize,
    input_dim: usize,
    inputs: *const T,
    inputs_len: usize,
    target_dim: usize,
    targets: *const T,
    targets_len: usize,
    out_data: *mut *mut hf_data,
) -> FfiResult<()> {
    // SAFETY: forwarded caller contracts.
    let (result, inputs, targets) = unsafe {
        (
            out(out_data, "out")?,
            slice_in(inputs, inputs_len, "inputs")?,
            slice_in(targets, targets_len, "targets")?,
        )
    };
    let inputs = copy_matrix(inputs, n, input_dim, "inputs", "n x input_dim")?;
    let targets = copy_matrix(targets, n, target_dim, "targets", "n x target_dim")?;
    let data = Dataset::new(n, input_dim, inputs, target_dim, targets)?;
    result.write(handle::register(data)?);
    Ok(())
}

/// Shared body of the autoencoder constructors.
///
/// # Safety
/// The pointer contracts of `hf_data_new_autoencoder`.
unsafe fn autoencoder_new<T: HostValue>(
    n: usize,
    dim: usize,
    inputs: *const T,
    inputs_len: usize,
    out_data: *mut *mut hf_data,
) -> FfiResult<()> {
    // SAFETY: forwarded caller contracts.
    let (result, inputs) = unsafe {
        (
            out(out_data, "out")?,
            slice_in(inputs, inputs_len, "inputs")?,
        )
    };
    let inputs = copy_matrix(inputs, n, dim, "inputs", "n x dim")?;
    let data = Dataset::autoencoder(n, dim, inputs)?;
    result.write(handle::register(data)?);
    Ok(())
}

/// Creates a supervised data set of `n` examples by copying `inputs`
/// (`n x input_dim` floats, row-major, `inputs_len` of them) and `targets`
/// (`n x target_dim`, `targets_len`). The host may free its arrays afterwards.
/// On success `*out` receives a new handle, to be released with `hf_data_free`.
///
/// Errors: `HF_ERR_NULL_POINTER` (`out`, or an array that is NULL with a
/// nonzero length); `HF_ERR_INVALID_ARGUMENT` (a zero size, or `n x dim`
/// overflowing `size_t`); `HF_ERR_SHAPE_MISMATCH` (a length other than
/// `n x dim`); `HF_ERR_NON_FINITE` (NaN or infinity; the message gives the
/// example and component); `HF_ERR_RESOURCE_LIMIT` (out of memory).
///
/// # Safety
/// `inputs`/`targets` must be NULL or point to `inputs_len`/`targets_len`
/// floats; `out` must be NULL or point to a writable `hf_data *`.
#[no_mangle]
pub unsafe extern "C" fn hf_data_new(
    n: usize,
    input_dim: usize,
    inputs: *const f32,
    inputs_len: usize,
    target_dim: usize,
    targets: *const f32,
    targets_len: usize,
    out: *mut *mut hf_data,
) -> hf_status {
    guard("hf_data_new", || unsafe {
        data_new(
            n,
            input_dim,
            inputs,
            inputs_len,
            target_dim,
            targets,
            targets_len,
            out,
        )
    })
}

/// As `hf_data_new`, from doubles (MATLAB's default type), converted to
/// float. A finite value beyond float's range (about +/-3.4e38) is
/// `HF_ERR_OUT_OF_RANGE` with its example and component.
///
/// # Safety
/// As `hf_data_new`, with arrays of doubles.
#[no_mangle]
pub unsafe extern "C" fn hf_data_new_f64(
    n: usize,
    input_dim: usize,
    inputs: *const f64,
    inputs_len: usize,
    target_dim: usize,
    targets: *const f64,
    targets_len: usize,
    out: *mut *mut hf_data,
) -> hf_status {
    guard("hf_data_new_f64", || unsafe {
        data_new(
            n,
            input_dim,
            inputs,
            inputs_len,
            target_dim,
            targets,
            targets_len,
            out,
        )
    })
}

/// Creates an autoencoder data set: `n x dim` inputs (row-major,
/// `inputs_len` floats) that are also the targets (stored once). Errors as
/// for `hf_data_new`.
///
/// # Safety
/// `inputs` must be NULL or point to `inputs_len` floats; `out` must be NULL
/// or point to a writable `hf_data *`.
#[no_mangle]
pub unsafe extern "C" fn hf_data_new_autoencoder(
    n: usize,
    dim: usize,
    inputs: *const f32,
    inputs_len: usize,
    out: *mut *mut hf_data,
) -> hf_status {
    guard("hf_data_new_autoencoder", || unsafe {
        autoencoder_new(n, dim, inputs, inputs_len, out)
    })
}

/// As `hf_data_new_autoencoder`, from doubles converted to float (see
/// `hf_data_new_f64`).
///
/// # Safety
/// As `hf_data_new_autoencoder`, with an array of doubles.
#[no_mangle]
pub unsafe extern "C" fn hf_data_new_autoencoder_f64(
    n: usize,
    dim: usize,
    inputs: *const f64,
    inputs_len: usize,
    out: *mut *mut hf_data,
) -> hf_status {
    guard("hf_data_new_autoencoder_f64", || unsafe {
        autoencoder_new(n, dim, inputs, inputs_len, out)
    })
}

/// Releases a data set. NULL and an already freed `hf_data` are harmless
/// (`HF_OK`); a handle of another kind or one never created by hessfree is
/// `HF_ERR_INVALID_HANDLE` and frees nothing. Sessions that use the data keep
/// their own reference, so it may be freed while they run.
#[no_mangle]
pub extern "C" fn hf_data_free(data: *mut hf_data) -> hf_status {
    guard("hf_data_free", || handle::free::<Dataset>(data, "data"))
}

/// Writes the number of examples and the input and target dimensions.
/// All pointers are required; nothing is written on failure.
///
/// # Safety
/// Each out pointer must be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_data_size(
    data: *const hf_data,
    n: *mut usize,
    input_dim: *mut usize,
    target_dim: *mut usize,
) -> hf_status {
    guard("hf_data_size", || {
        let set = handle::get::<Dataset>(data, "data")?;
        // SAFETY: the caller's contract on each pointer.
        let (n, input_dim, target_dim) = unsafe {
            (
                out(n, "n")?,
                out(input_dim, "input_dim")?,
                out(target_dim, "target_dim")?,
            )
        };
        n.write(set.len());
        input_dim.write(set.input_dim());
        target_dim.write(set.target_dim());
        Ok(())
    })
}

/// Copies `values` (the inputs or targets of `set`) into the host buffer.
///
/// # Safety
/// `dest` must be NULL or point to `dest_len` writable floats.
unsafe fn copy_out(values: &[f32], dest: *mut f32, dest_len: usize, dims: &str) -> FfiResult<()> {
    // SAFETY: the caller's contract.
    let dest = unsafe { slice_out(dest, dest_len, "out")? };
    if dest.len() < values.len() {
        return Err(FfiError::new(
            hf_status::HF_ERR_BUFFER_TOO_SMALL,
            format!(
                "out_len is {dest_len}, need {dims} = {} floats",
                values.len()
            ),
        ));
    }
    dest[..values.len()].copy_from_slice(values);
    Ok(())
}

/// Copies the `n x input_dim` inputs (row-major) into `out`, which must hold
/// at least that many floats (`HF_ERR_BUFFER_TOO_SMALL` otherwise, with
/// nothing written); elements beyond are left untouched.
///
/// # Safety
/// `out` must be NULL or point to `out_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn hf_data_copy_inputs(
    data: *const hf_data,
    out: *mut f32,
    out_len: usize,
) -> hf_status {
    guard("hf_data_copy_inputs", || {
        let set = handle::get::<Dataset>(data, "data")?;
        // SAFETY: forwarded caller contract.
        unsafe { copy_out(set.inputs(), out, out_len, "n x input_dim") }
    })
}

/// Copies the `n x target_dim` targets (row-major) into `out`; as
/// `hf_data_copy_inputs`.
///
/// # Safety
/// `out` must be NULL or point to `out_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn hf_data_copy_targets(
    data: *const hf_data,
    out: *mut f32,
    out_len: usize,
) -> hf_status {
    guard("hf_data_copy_targets", || {
        let set = handle::get::<Dataset>(data, "data")?;
        // SAFETY: forwarded caller contract.
        unsafe { copy_out(set.targets(), out, out_len, "n x target_dim") }
    })
}

/// Registers `train` and `test` and writes both handles, or neither: if
/// the second registration fails the first handle is released again.
fn register_pair(
    train: Dataset,
    test: Dataset,
    out_train: Out<'_, *mut hf_data>,
    out_test: Out<'_, *mut hf_data>,
) -> FfiResult<()> {
    let a = handle::register(train)?;
    let b = match handle::register(test) {
        Ok(b) => b,
        Err(e) => {
            let _ = handle::free::<Dataset>(a, "train");
            return Err(e);
        }
    };
    out_train.write(a);
    out_test.write(b);
    Ok(())
}

/// A path argument: a NUL-terminated UTF-8 string.
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn path_arg<'a>(ptr: *const c_char, arg: &str) -> FfiResult<&'a Path> {
    // SAFETY: the caller's contract.
    let text = unsafe { c_str(ptr, arg)? };
    if text.is_empty() {
        return Err(FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            format!("argument '{arg}' is an empty path"),
        ));
    }
    Ok(Path::new(text))
}

/// Loads MNIST from the folder `dir`, which holds `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
/// `t10k-labels-idx1-ubyte` (each plain or `.gz`): 60000 training and 10000
/// test images of 784 pixels in [0, 1], as autoencoder sets (targets =
/// inputs). Both handles are written on success, neither on failure.
///
/// Errors: `HF_ERR_IO` (a file is missing or unreadable; the message names
/// it), `HF_ERR_FORMAT` (a malformed or truncated file), `HF_ERR_NULL_POINTER`.
///
/// # Safety
/// `dir` must be NULL or a NUL-terminated string; `train`/`test` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn hf_data_load_mnist(
    dir: *const c_char,
    train: *mut *mut hf_data,
    test: *mut *mut hf_data,
) -> hf_status {
    guard("hf_data_load_mnist", || {
        // SAFETY: the caller's contracts.
        let (dir, out_train, out_test) = unsafe {
            (
                path_arg(dir, "dir")?,
                out(train, "train")?,
                out(test, "test")?,
            )
        };
        let mnist = crate::data::load_mnist(dir)?;
        register_pair(mnist.train, mnist.test, out_train, out_test)
    })
}

/// Generates `n` CURVES-like images (28x28 = 784 pixels in [0, 1], an
/// autoencoder set) from the random stream seeded by `seed`; the same
/// `(n, seed)` always gives the same data.
///
/// Errors: `HF_ERR_NULL_POINTER` (`out`); `HF_ERR_INVALID_ARGUMENT` (`n` = 0,
/// or `n x 784` overflowing `size_t`, as for `hf_data_new`);
/// `HF_ERR_RESOURCE_LIMIT` (a size that fits `size_t` but cannot be
/// allocated).
///
/// # Safety
/// `out` must be NULL or point to a writable `hf_data *`.
#[no_mangle]
pub unsafe extern "C" fn hf_data_curves(n: usize, seed: u64, out: *mut *mut hf_data) -> hf_status {
    guard("hf_data_curves", || {
        // SAFETY: the caller's contract.
        let result = unsafe { super::args::out(out, "out")? };
        let data = crate::data::curves(n, seed)?;
        result.write(handle::register(data)?);
        Ok(())
    })
}

/// Generates the FACES-like sets from the Olivetti file `olivetti_npy`
/// (`olivetti_faces_uint8_400x4096.npy`): `per_image` randomly rotated,
/// scaled and shifted 25x25 views of each source image (the paper: 414),
/// 250*`per_image` training images from people 0-24 and 100*`per_image`
/// test images from people 30-39, pixels in [0, 1] (not standardised; see
/// `hf_data_preset` for the paper's standardised sets). Both handles are
/// written on success, neither on failure.
///
/// Errors: `HF_ERR_NULL_POINTER` (`olivetti_npy`, `train`, `test`);
/// `HF_ERR_INVALID_ARGUMENT` (`per_image` = 0, or a set size
/// `250 x per_image x 625` overflowing `size_t`, as for `hf_data_new`);
/// `HF_ERR_RESOURCE_LIMIT` (a size that fits `size_t` but cannot be
/// allocated); `HF_ERR_IO` (the file cannot be read; names the path);
/// `HF_ERR_FORMAT` (not a `.npy` file); `HF_ERR_UNSUPPORTED` (elements
/// other than unsigned bytes); `HF_ERR_SHAPE_MISMATCH` (a shape other than
/// 400x4096).
///
/// # Safety
/// `olivetti_npy` must be NULL or a NUL-terminated string; `train`/`test`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_data_faces(
    olivetti_npy: *const c_char,
    per_image: usize,
    seed: u64,
    train: *mut *mut hf_data,
    test: *mut *mut hf_data,
) -> hf_status {
    guard("hf_data_faces", || {
        // SAFETY: the caller's contracts.
        let (path, out_train, out_test) = unsafe {
            (
                path_arg(olivetti_npy, "olivetti_npy")?,
                out(train, "train")?,
                out(test, "test")?,
            )
        };
        // Checked before the (large) file is read.
        if per_image == 0 {
            return Err(FfiError::new(
                hf_status::HF_ERR_INVALID_ARGUMENT,
                "per_image must be at least 1",
            ));
        }
        let (a, b) = crate::data::faces(path, per_image, seed)?;
        register_pair(a, b, out_train, out_test)
    })
}

/// The training and test sets of one of the paper's experiments, exactly as
/// the presets use them: `"curves"` (20000 + 10000 generated images),
/// `"mnist"` (read from `data_dir/mnist/`) or `"faces"` (generated from
/// `data_dir/olivetti/olivetti_faces_uint8_400x4096.npy` with the paper's
/// 414 views per image and standardised per pixel with the training set's
/// statistics). `data_dir` is required but not read for `"curves"`. Both
/// handles are written on success, neither on failure.
///
/// # Safety
/// `preset` and `data_dir` must be NULL or NUL-terminated strings;
/// `train`/`test` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_data_preset(
    preset: *const c_char,
    data_dir: *const c_char,
    seed: u64,
    train: *mut *mut hf_data,
    test: *mut *mut hf_data,
) -> hf_status {
    guard("hf_data_preset", || {
        // SAFETY: the caller's contracts.
        let (name, dir, out_train, out_test) = unsafe {
            (
                c_str(preset, "preset")?,
                path_arg(data_dir, "data_dir")?,
                out(train, "train")?,
                out(test, "test")?,
            )
        };
        let preset = crate::presets::Preset::parse(name)?;
        let (a, b) = preset.load_data(dir, seed, None)?;
        register_pair(a, b, out_train, out_test)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::last_error;
    use std::ptr::{null, null_mut};

    #[test]
    fn round_trip_and_errors() {
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let t = [0.5f32, 1.5];
        let mut d = null_mut();
        let st = unsafe { hf_data_new(2, 3, x.as_ptr(), 6, 1, t.as_ptr(), 2, &mut d) };
        assert_eq!(st, hf_status::HF_OK);
        let (mut n, mut di, mut dt) = (0, 0, 0);
        assert_eq!(
            unsafe { hf_data_size(d, &mut n, &mut di, &mut dt) },
            hf_status::HF_OK
        );
        assert_eq!((n, di, dt), (2, 3, 1));
        let mut back = [0.0f32; 7];
        assert_eq!(
            unsafe { hf_data_copy_inputs(d, back.as_mut_ptr(), 7) },
            hf_status::HF_OK
        );
        assert_eq!(&back[..6], &x);
        assert_eq!(
            unsafe { hf_data_copy_targets(d, back.as_mut_ptr(), 1) },
            hf_status::HF_ERR_BUFFER_TOO_SMALL
        );
        assert!(
            last_error().contains("need n x target_dim = 2"),
            "{}",
            last_error()
        );

        let mut bad = x;
        bad[4] = f32::NAN;
        let mut e = null_mut();
        let st = unsafe { hf_data_new(2, 3, bad.as_ptr(), 6, 1, t.as_ptr(), 2, &mut e) };
        assert_eq!(st, hf_status::HF_ERR_NON_FINITE);
        assert!(
            last_error().contains("example 1, component 1"),
            "{}",
            last_error()
        );
        assert!(e.is_null(), "out written on failure");

        let st = unsafe { hf_data_new(usize::MAX / 2, 3, x.as_ptr(), 6, 1, t.as_ptr(), 2, &mut e) };
        assert_eq!(st, hf_status::HF_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("overflows"), "{}", last_error());

        assert_eq!(hf_data_free(d), hf_status::HF_OK);
        assert_eq!(hf_data_free(d), hf_status::HF_OK);
        assert_eq!(
            unsafe { hf_data_size(d, &mut n, &mut di, &mut dt) },
            hf_status::HF_ERR_INVALID_HANDLE
        );
    }

    #[test]
    fn f64_range_and_autoencoder() {
        let x = [0.0f64, 1.0, 1e300, 2.0];
        let mut d = null_mut();
        let st = unsafe { hf_data_new_autoencoder_f64(2, 2, x.as_ptr(), 4, &mut d) };
        assert_eq!(st, hf_status::HF_ERR_OUT_OF_RANGE);
        assert!(
            last_error().contains("example 1, component 0"),
            "{}",
            last_error()
        );
        let x = [0.0f64, 1.0, 1e30, 2.0];
        let st = unsafe { hf_data_new_autoencoder_f64(2, 2, x.as_ptr(), 4, &mut d) };
        assert_eq!(st, hf_status::HF_OK);
        let mut back = [0.0f32; 4];
        let st = unsafe { hf_data_copy_targets(d, back.as_mut_ptr(), 4) };
        assert_eq!(st, hf_status::HF_OK);
        assert_eq!(back, [0.0, 1.0, 1e30, 2.0]);
        let st = unsafe { hf_data_new_autoencoder(1, 1, null(), 1, &mut d) };
        assert_eq!(st, hf_status::HF_ERR_NULL_POINTER);
        assert_eq!(
            last_error(),
            "hf_data_new_autoencoder: argument 'inputs' is NULL"
        );
        assert_eq!(hf_data_free(d), hf_status::HF_OK);
    }
}
