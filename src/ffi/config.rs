//! `hf_config`: the optimizer's options behind documented string keys.
//!
//! Every option has a key, a type, a default (the reference code's), a valid
//! range and a one-line description; `hf_config_key_count` and
//! `hf_config_key_info` enumerate them so bindings can generate their option
//! lists instead of copying them. A config is copied into a session when the
//! session is created, so changing or freeing it afterwards does not affect
//! running sessions.

use std::ffi::{c_char, CString};
use std::os::raw::c_int;

use once_cell::sync::Lazy;

use super::args::{c_str, copy_text, out};
use super::error::{FfiError, FfiResult};
use super::guard::guard;
use super::handle::{self, hf_config, HandleKind, Kind, Locked};
use super::status::hf_status;
use crate::hf::{HfConfig, KeyType};
use crate::presets::Preset;

/// The object behind an `hf_config` handle.
pub struct ConfigObj {
    cfg: Locked<HfConfig>,
}

impl HandleKind for ConfigObj {
    type C = hf_config;
    const KIND: Kind = Kind::Config;
}

impl ConfigObj {
    fn new(cfg: HfConfig) -> Self {
        ConfigObj {
            cfg: Locked::new(cfg),
        }
    }
}

/// A copy of the options behind `cfg` (argument name `arg`), or the
/// reference defaults when `cfg` is NULL.
pub(crate) fn config_or_default(cfg: *const hf_config, arg: &str) -> FfiResult<HfConfig> {
    if cfg.is_null() {
        return Ok(HfConfig::default());
    }
    config_copy(cfg, arg)
}

/// A copy of the options behind the (non-NULL) handle `cfg`.
pub(crate) fn config_copy(cfg: *const hf_config, arg: &str) -> FfiResult<HfConfig> {
    handle::get::<ConfigObj>(cfg, arg)?
        .cfg
        .with(arg, |c| Ok(c.clone()))
}

/// Registers `cfg` as a new handle and writes it to `result`.
pub(crate) fn register_config(
    cfg: HfConfig,
    result: super::args::Out<'_, *mut hf_config>,
) -> FfiResult<()> {
    result.write(handle::register(ConfigObj::new(cfg))?);
    Ok(())
}

/// The type of a configuration key's value (see `hf_config_key_info`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hf_key_type {
    /// A double: use `hf_config_set_f64` / `hf_config_get_f64`.
    HF_KEY_F64 = 0,
    /// A 64-bit integer: use `hf_config_set_i64` / `hf_config_get_i64`.
    HF_KEY_I64 = 1,
    /// A boolean: use `hf_config_set_bool` / `hf_config_get_bool`.
    HF_KEY_BOOL = 2,
    /// One of a fixed list of strings: use `hf_config_set_str` / `hf_config_get_str`.
    HF_KEY_STRING = 3,
}

impl From<KeyType> for hf_key_type {
    fn from(ty: KeyType) -> Self {
        match ty {
            KeyType::F64 => hf_key_type::HF_KEY_F64,
            KeyType::I64 => hf_key_type::HF_KEY_I64,
            KeyType::Bool => hf_key_type::HF_KEY_BOOL,
            KeyType::Enum => hf_key_type::HF_KEY_STRING,
        }
    }
}

/// One key's description as NUL-terminated strings that live as long as the
/// process (so `hf_config_key_info` can hand out static pointers).
struct KeyText {
    name: CString,
    ty: hf_key_type,
    default: CString,
    range: CString,
    doc: CString,
}

/// A C string of `s`; the key tables contain no NUL bytes, and if one ever
/// did, the text is cut there rather than failing.
fn c_string(s: &str) -> CString {
    let end = s.find('\0').unwrap_or(s.len());
    CString::new(&s[..end]).unwrap_or_default()
}

static KEY_TEXTS: Lazy<Vec<KeyText>> = Lazy::new(|| {
    HfConfig::keys()
        .iter()
        .map(|k| KeyText {
            name: c_string(k.name),
            ty: k.ty.into(),
            default: c_string(&k.default.to_string()),
            range: c_string(&k.range_text()),
            doc: c_string(k.doc),
        })
        .collect()
});

/// Creates a configuration holding the reference defaults (HFDemo's values;
/// the curvature chunk is the whole training set). Free it with
/// `hf_config_free`.
///
/// # Safety
/// `out` must be NULL or point to a writable `hf_config *`.
#[no_mangle]
pub unsafe extern "C" fn hf_config_new(out: *mut *mut hf_config) -> hf_status {
    guard("hf_config_new", || {
        // SAFETY: the caller's contract on `out`.
        let result = unsafe { out_handle(out)? };
        register_config(HfConfig::default(), result)
    })
}

/// Checks the `out` argument of a constructor.
///
/// # Safety
/// `ptr` must be NULL or point to a writable handle pointer.
unsafe fn out_handle<'a>(
    ptr: *mut *mut hf_config,
) -> FfiResult<super::args::Out<'a, *mut hf_config>> {
    // SAFETY: forwarded caller contract.
    unsafe { out(ptr, "out") }
}

/// Creates the configuration of one of the paper's experiments: `"curves"`,
/// `"mnist"` or `"faces"` (any case): the reference defaults with the
/// preset's curvature chunk size and weight cost. An unknown name is
/// `HF_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string; `out` must be NULL or
/// point to a writable `hf_config *`.
#[no_mangle]
pub unsafe extern "C" fn hf_config_preset(
    name: *const c_char,
    out: *mut *mut hf_config,
) -> hf_status {
    guard("hf_config_preset", || {
        // SAFETY: the caller's contracts.
        let (name, result) = unsafe { (c_str(name, "name")?, out_handle(out)?) };
        let preset = Preset::parse(name)?;
        register_config(preset.config(), result)
    })
}

/// Creates an independent copy of `cfg`.
///
/// # Safety
/// `out` must be NULL or point to a writable `hf_config *`.
#[no_mangle]
pub unsafe extern "C" fn hf_config_clone(
    cfg: *const hf_config,
    out: *mut *mut hf_config,
) -> hf_status {
    guard("hf_config_clone", || {
        let copy = config_copy(cfg, "cfg")?;
        // SAFETY: the caller's contract on `out`.
        let result = unsafe { out_handle(out)? };
        register_config(copy, result)
    })
}

/// Releases a configuration. NULL and an already freed `hf_config` are
/// harmless; a handle of another kind is `HF_ERR_INVALID_HANDLE` and frees
/// nothing. Sessions created from it keep their own copy.
#[no_mangle]
pub extern "C" fn hf_config_free(cfg: *mut hf_config) -> hf_status {
    guard("hf_config_free", || handle::free::<ConfigObj>(cfg, "cfg"))
}

/// Runs `f` on the options behind `cfg` with the key decoded.
///
/// # Safety
/// `key` must be NULL or a NUL-terminated string.
unsafe fn with_key<R>(
    cfg: *const hf_config,
    key: *const c_char,
    f: impl FnOnce(&mut HfConfig, &str) -> FfiResult<R>,
) -> FfiResult<R> {
    let obj = handle::get::<ConfigObj>(cfg, "cfg")?;
    // SAFETY: the caller's contract on `key`.
    let key = unsafe { c_str(key, "key")? };
    obj.cfg.with("cfg", |c| f(c, key))
}

/// Sets the float option `key` (e.g. `"initial_lambda"`).
///
/// Errors: `HF_ERR_UNKNOWN_KEY` (the message suggests the nearest key),
/// `HF_ERR_WRONG_TYPE` (the key is not a float key; the message gives its
/// type), `HF_ERR_OUT_OF_RANGE` (the message gives the valid range). On error
/// the configuration is unchanged.
///
/// # Safety
/// `key` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hf_config_set_f64(
    cfg: *mut hf_config,
    key: *const c_char,
    value: f64,
) -> hf_status {
    guard("hf_config_set_f64", || unsafe {
        with_key(cfg, key, |c, k| Ok(c.set_f64(k, value)?))
    })
}

/// Sets the integer option `key` (e.g. `"cg_max_iters"`); errors as for
/// `hf_config_set_f64`.
///
/// # Safety
/// `key` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hf_config_set_i64(
    cfg: *mut hf_config,
    key: *const c_char,
    value: i64,
) -> hf_status {
    guard("hf_config_set_i64", || unsafe {
        with_key(cfg, key, |c, k| Ok(c.set_i64(k, value)?))
    })
}

/// Sets the boolean option `key` (e.g. `"backtrack"`): zero is false, any
/// other value true. Errors as for `hf_config_set_f64`.
///
/// # Safety
/// `key` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hf_config_set_bool(
    cfg: *mut hf_config,
    key: *const c_char,
    value: c_int,
) -> hf_status {
    guard("hf_config_set_bool", || unsafe {
        with_key(cfg, key, |c, k| Ok(c.set_bool(k, value != 0)?))
    })
}

/// Sets the string option `key` (e.g. `"curvature"` to `"hessian"`). A value
/// that is not one of the key's choices is `HF_ERR_OUT_OF_RANGE` listing the
/// choices; other errors as for `hf_config_set_f64`.
///
/// # Safety
/// `key` and `value` must be NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn hf_config_set_str(
    cfg: *mut hf_config,
    key: *const c_char,
    value: *const c_char,
) -> hf_status {
    guard("hf_config_set_str", || unsafe {
        let value = c_str(value, "value")?;
        with_key(cfg, key, |c, k| Ok(c.set_str(k, value)?))
    })
}

/// Sets one option from text of the form `"key=value"`, the value parsed by
/// the key's type (floats accept `inf` and `NaN`; booleans
/// `true/false/1/0/yes/no/on/off`). Text without `=` is
/// `HF_ERR_INVALID_ARGUMENT`; a value that does not parse is
/// `HF_ERR_WRONG_TYPE`; other errors as for `hf_config_set_f64`.
///
/// # Safety
/// `assignment` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hf_config_set_from_string(
    cfg: *mut hf_config,
    assignment: *const c_char,
) -> hf_status {
    guard("hf_config_set_from_string", || {
        let obj = handle::get::<ConfigObj>(cfg, "cfg")?;
        // SAFETY: the caller's contract.
        let text = unsafe { c_str(assignment, "assignment")? };
        obj.cfg.with("cfg", |c| Ok(c.set_assignment(text)?))
    })
}

/// Writes the float option `key` to `*value`. Errors: `HF_ERR_UNKNOWN_KEY`,
/// `HF_ERR_WRONG_TYPE`, `HF_ERR_NULL_POINTER`.
///
/// # Safety
/// `key` must be NULL or a NUL-terminated string; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_config_get_f64(
    cfg: *const hf_config,
    key: *const c_char,
    value: *mut f64,
) -> hf_status {
    guard("hf_config_get_f64", || unsafe {
        let result = out(value, "value")?;
        let v = with_key(cfg, key, |c, k| Ok(c.get_f64(k)?))?;
        result.write(v);
        Ok(())
    })
}

/// Writes the integer option `key` to `*value`; errors as for
/// `hf_config_get_f64`.
///
/// # Safety
/// `key` must be NULL or a NUL-terminated string; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_config_get_i64(
    cfg: *const hf_config,
    key: *const c_char,
    value: *mut i64,
) -> hf_status {
    guard("hf_config_get_i64", || unsafe {
        let result = out(value, "value")?;
        let v = with_key(cfg, key, |c, k| Ok(c.get_i64(k)?))?;
        result.write(v);
        Ok(())
    })
}

/// Writes the boolean option `key` to `*value` as 1 (true) or 0 (false);
/// errors as for `hf_config_get_f64`.
///
/// # Safety
/// `key` must be NULL or a NUL-terminated string; `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_config_get_bool(
    cfg: *const hf_config,
    key: *const c_char,
    value: *mut c_int,
) -> hf_status {
    guard("hf_config_get_bool", || unsafe {
        let result = out(value, "value")?;
        let v = with_key(cfg, key, |c, k| Ok(c.get_bool(k)?))?;
        result.write(c_int::from(v));
        Ok(())
    })
}

/// Copies the string option `key` (e.g. `"gauss_newton"`) with its NUL into
/// `buf` (`len` bytes). If it does not fit, nothing is written and the status
/// is `HF_ERR_BUFFER_TOO_SMALL` (the message gives the size needed; 32 bytes
/// always suffice for the current keys). Other errors as for
/// `hf_config_get_f64`.
///
/// # Safety
/// `key` must be NULL or a NUL-terminated string; `buf` NULL or `len`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn hf_config_get_str(
    cfg: *const hf_config,
    key: *const c_char,
    buf: *mut c_char,
    len: usize,
) -> hf_status {
    guard("hf_config_get_str", || unsafe {
        let v = with_key(cfg, key, |c, k| Ok(c.get_str(k)?))?;
        copy_text(v, buf, len, "buf")
    })
}

/// Checks every option against its range and the cross-key rules
/// (`rho_low <= rho_high`, `lambda_min <= lambda_max`,
/// `cg_min_iters <= cg_max_iters`); `HF_ERR_OUT_OF_RANGE` names the problem.
/// Sessions run the same check when they are created.
#[no_mangle]
pub extern "C" fn hf_config_validate(cfg: *const hf_config) -> hf_status {
    guard("hf_config_validate", || {
        handle::get::<ConfigObj>(cfg, "cfg")?
            .cfg
            .with("cfg", |c| Ok(c.validate()?))
    })
}

/// Copies every option as `key=value` lines (the text
/// `hf_config_set_from_string` accepts line by line; floats round-trip
/// exactly) into `buf`. If the text does not fit, nothing is written and the
/// status is `HF_ERR_BUFFER_TOO_SMALL` (the message gives the size needed;
/// 4096 bytes suffice for the current keys).
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn hf_config_to_text(
    cfg: *const hf_config,
    buf: *mut c_char,
    len: usize,
) -> hf_status {
    guard("hf_config_to_text", || {
        let text = handle::get::<ConfigObj>(cfg, "cfg")?
            .cfg
            .with("cfg", |c| Ok(c.to_text()))?;
        // SAFETY: the caller's contract on `buf`.
        unsafe { copy_text(&text, buf, len, "buf") }
    })
}

/// Writes the number of configuration keys (for `hf_config_key_info`).
///
/// # Safety
/// `count` must be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_config_key_count(count: *mut usize) -> hf_status {
    guard("hf_config_key_count", || {
        // SAFETY: the caller's contract.
        unsafe { out(count, "count")? }.write(KEY_TEXTS.len());
        Ok(())
    })
}

/// Describes key number `index` (0 .. count-1): its name, value type,
/// default value as text (as `hf_config_set_from_string` would accept it),
/// valid range as text (e.g. `"[0, inf)"` or `"one of cyclic, random"`) and a
/// one-line description. The strings are static: valid for the life of the
/// process, never to be freed. Every out-pointer is required
/// (`HF_ERR_NULL_POINTER`); an index past the end is `HF_ERR_OUT_OF_RANGE`.
///
/// # Safety
/// Each out-pointer must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_config_key_info(
    index: usize,
    name: *mut *const c_char,
    key_type: *mut hf_key_type,
    default_value: *mut *const c_char,
    range: *mut *const c_char,
    doc: *mut *const c_char,
) -> hf_status {
    guard("hf_config_key_info", || {
        // SAFETY: the caller's contracts.
        let outs = unsafe {
            (
                out(name, "name")?,
                out(key_type, "key_type")?,
                out(default_value, "default_value")?,
                out(range, "range")?,
                out(doc, "doc")?,
            )
        };
        let texts = &*KEY_TEXTS;
        let info = texts.get(index).ok_or_else(|| {
            FfiError::new(
                hf_status::HF_ERR_OUT_OF_RANGE,
                format!(
                    "key index {index} is out of range: there are {} keys (0 .. {})",
                    texts.len(),
                    texts.len().saturating_sub(1)
                ),
            )
        })?;
        outs.0.write(info.name.as_ptr());
        outs.1.write(info.ty);
        outs.2.write(info.default.as_ptr());
        outs.3.write(info.range.as_ptr());
        outs.4.write(info.doc.as_ptr());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::last_error;
    use std::ffi::CStr;
    use std::ptr::null_mut;

    #[test]
    fn set_get_and_errors() {
        let mut c = null_mut();
        assert_eq!(unsafe { hf_config_new(&mut c) }, hf_status::HF_OK);
        let st = unsafe { hf_config_set_f64(c, c"inital_lambda".as_ptr(), 1.0) };
        assert_eq!(st, hf_status::HF_ERR_UNKNOWN_KEY);
        assert!(last_error().contains("did you mean 'initial_lambda'"));
        let st = unsafe { hf_config_set_i64(c, c"initial_lambda".as_ptr(), 1) };
        assert_eq!(st, hf_status::HF_ERR_WRONG_TYPE);
        let st = unsafe { hf_config_set_f64(c, c"ls_shrink".as_ptr(), 2.0) };
        assert_eq!(st, hf_status::HF_ERR_OUT_OF_RANGE);
        assert!(last_error().contains("(0, 1)"), "{}", last_error());
        let mut v = 0.0;
        assert_eq!(
            unsafe { hf_config_get_f64(c, c"ls_shrink".as_ptr(), &mut v) },
            hf_status::HF_OK
        );
        assert_eq!(v, 0.8);
        let mut buf = [0 as c_char; 8];
        let st = unsafe { hf_config_get_str(c, c"curvature".as_ptr(), buf.as_mut_ptr(), 8) };
        assert_eq!(st, hf_status::HF_ERR_BUFFER_TOO_SMALL);
        assert!(last_error().contains("needs 13"), "{}", last_error());
        assert_eq!(buf[0], 0, "nothing written");
        let mut big = [0 as c_char; 32];
        let st = unsafe { hf_config_get_str(c, c"curvature".as_ptr(), big.as_mut_ptr(), 32) };
        assert_eq!(st, hf_status::HF_OK);
        let s = unsafe { CStr::from_ptr(big.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "gauss_newton");
        assert_eq!(hf_config_free(c), hf_status::HF_OK);
    }

    #[test]
    fn key_info_is_static_and_complete() {
        let mut n = 0;
        assert_eq!(unsafe { hf_config_key_count(&mut n) }, hf_status::HF_OK);
        assert_eq!(n, HfConfig::keys().len());
        let (mut name, mut ty, mut def, mut range, mut doc) = (
            std::ptr::null(),
            hf_key_type::HF_KEY_BOOL,
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
        );
        let st =
            unsafe { hf_config_key_info(0, &mut name, &mut ty, &mut def, &mut range, &mut doc) };
        assert_eq!(st, hf_status::HF_OK);
        assert_eq!(
            unsafe { CStr::from_ptr(name) }.to_str().unwrap(),
            "initial_lambda"
        );
        assert_eq!(ty, hf_key_type::HF_KEY_F64);
        assert_eq!(unsafe { CStr::from_ptr(def) }.to_str().unwrap(), "45.0");
        let st =
            unsafe { hf_config_key_info(n, &mut name, &mut ty, &mut def, &mut range, &mut doc) };
        assert_eq!(st, hf_status::HF_ERR_OUT_OF_RANGE);
    }
}
