//! The panic boundary and the thread-local last error.

use super::result::kerbsasl_result;
use crate::error::Error;
use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Converts text for C; interior NULs (impossible in our messages, but
/// cheap to rule out) become U+FFFD.
pub fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_default()
}

pub fn set_last_error(message: &str) {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(c_string(message)));
}

/// Records a failure for kerbsasl_last_error and returns its code.
pub fn fail(error: &Error) -> kerbsasl_result {
    set_last_error(error.message());
    error.kind().into()
}

/// Records an argument error naming the function and parameter.
pub fn invalid_argument(function: &str, what: &str) -> kerbsasl_result {
    set_last_error(&format!("{function}: {what}"));
    kerbsasl_result::KERBSASL_INVALID_ARGUMENT
}

/// Runs `body`, turning a panic into KERBSASL_INTERNAL so that it never
/// unwinds into the host.
pub fn guard(function: &str, body: impl FnOnce() -> kerbsasl_result) -> kerbsasl_result {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        set_last_error(&format!(
            "{function}: internal error (a bug in kerbsasl): {reason}"
        ));
        kerbsasl_result::KERBSASL_INTERNAL
    })
}

/// As [`guard`] for functions returning a pointer: NULL on panic.
pub fn guard_ptr<T>(body: impl FnOnce() -> *const T) -> *const T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(std::ptr::null())
}

/// Why the last failing kerbsasl call on this thread failed.
///
/// @return a NUL-terminated message, or NULL if no call on this thread has
///         failed yet. Owned by kerbsasl: valid until the next failing
///         kerbsasl call on the same thread; do not free.
/// Thread-safe: each thread has its own last error.
#[unsafe(no_mangle)]
pub extern "C" fn kerbsasl_last_error() -> *const c_char {
    guard_ptr(|| {
        LAST_ERROR.with(|slot| {
            slot.borrow()
                .as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr())
        })
    })
}
