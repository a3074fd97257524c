//! The guard every exported function body runs in: it turns `Err` into a
//! status plus the thread's last error message, and a panic into
//! `HF_ERR_PANIC`, so no unwinding ever crosses the C boundary.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::error::{set_last_error, FfiResult};
use super::status::hf_status;

/// Runs `body` for the exported function `function` (its C name, used as the
/// prefix of any error message) and converts the outcome into a status.
///
/// - `Ok(())` gives `HF_OK` and leaves the last error message unchanged.
/// - `Err(e)` gives `e.status`, storing `"<function>: <message>"`.
/// - A panic gives `HF_ERR_PANIC`, storing `"<function>: panic: <message>"`.
///
/// Objects touched by a panicking body are marked unusable by
/// [`super::handle::Locked`], which is why `AssertUnwindSafe` is sound here.
pub fn guard<F>(function: &'static str, body: F) -> hf_status
where
    F: FnOnce() -> FfiResult<()>,
{
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => hf_status::HF_OK,
        Ok(Err(err)) => {
            set_last_error(&format!("{function}: {}", err.message));
            err.status
        }
        Err(payload) => {
            let what = panic_message(payload.as_ref());
            set_last_error(&format!("{function}: panic: {what}"));
            drop_payload(payload);
            hf_status::HF_ERR_PANIC
        }
    }
}

/// The text of a panic payload (`panic!` gives `&str` or `String`).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-text panic payload)".to_owned()
    }
}

/// Drops a panic payload; a payload whose destructor itself panics is
/// leaked rather than allowed to unwind into C.
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::{last_error, FfiError};

    #[test]
    fn ok_error_and_panic() {
        set_last_error("before");
        assert_eq!(guard("hf_t", || Ok(())), hf_status::HF_OK);
        assert_eq!(last_error(), "before", "success must not clear the message");

        let st = guard("hf_t", || {
            Err(FfiError::new(hf_status::HF_ERR_OUT_OF_RANGE, "x too big"))
        });
        assert_eq!(st, hf_status::HF_ERR_OUT_OF_RANGE);
        assert_eq!(last_error(), "hf_t: x too big");

        let st = guard("hf_t", || Err(crate::Error::non_finite("NaN at 3").into()));
        assert_eq!(st, hf_status::HF_ERR_NON_FINITE);
        assert_eq!(last_error(), "hf_t: NaN at 3");

        let n = 7;
        let st = guard("hf_p", || panic!("boom {n}"));
        assert_eq!(st, hf_status::HF_ERR_PANIC);
        assert_eq!(last_error(), "hf_p: panic: boom 7");

        let st = guard("hf_p", || panic!("static"));
        assert_eq!(st, hf_status::HF_ERR_PANIC);
        assert_eq!(last_error(), "hf_p: panic: static");

        let st = guard("hf_p", || std::panic::panic_any(42_u8));
        assert_eq!(st, hf_status::HF_ERR_PANIC);
        assert!(last_error().contains("non-text"));
    }
}
