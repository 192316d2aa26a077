//! What the plugin uses of libsasl2's `sasl_utils_t`: options, error text
//! and logging; and the routing of kerbsasl's own log records (keytab
//! reloads, warnings) to the host's log.

use super::sys::{
    SASL_LOG_DEBUG, SASL_LOG_ERR, SASL_LOG_NOTE, SASL_LOG_TRACE, SASL_LOG_WARN, SaslUtils,
};
use crate::ffi::c_string;
use crate::logging::{self, SinkId};
use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The plugin name passed to getopt callbacks, as gssapiv2 passes it.
const PLUGIN_NAME: &CStr = c"GSSAPI";

/// libsasl2's utilities for a connection (or, from plug_init, global).
#[derive(Clone, Copy)]
pub struct Host(*const SaslUtils);

impl Host {
    /// # Safety
    /// `utils` is NULL or a `sasl_utils_t` from libsasl2 that stays valid
    /// while the returned value is used.
    pub unsafe fn new(utils: *const SaslUtils) -> Option<Host> {
        (!utils.is_null()).then_some(Host(utils))
    }

    fn utils(&self) -> &SaslUtils {
        // SAFETY: non-NULL and valid, as promised to `new`.
        unsafe { &*self.0 }
    }

    /// The value of `option` from the application's getopt callback or its
    /// `<app>.conf`.
    pub fn getopt(&self, option: &str) -> Option<String> {
        let utils = self.utils();
        let getopt = utils.getopt?;
        let option = c_string(option);
        let mut value: *const c_char = std::ptr::null();
        let mut len = 0;
        // SAFETY: libsasl2's getopt with its own context; the out-pointers
        // are valid; the value it returns stays valid during this call.
        let code = unsafe {
            getopt(
                utils.getopt_context,
                PLUGIN_NAME.as_ptr(),
                option.as_ptr(),
                &mut value,
                &mut len,
            )
        };
        if code != 0 || value.is_null() {
            return None;
        }
        // SAFETY: getopt returns a NUL-terminated string on success.
        Some(
            unsafe { CStr::from_ptr(value) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// Sets the connection's error text (sasl_errdetail), which libsasl2
    /// also logs as a failure.
    pub fn set_error(&self, message: &str) {
        let utils = self.utils();
        let Some(seterror) = utils.seterror else {
            return;
        };
        let message = c_string(&format!("kerbsasl: {message}"));
        // SAFETY: printf-style call with a "%s" format and a C string.
        unsafe { seterror(utils.conn, 0, c"%s".as_ptr(), message.as_ptr()) };
    }

    /// Logs one line through the host's SASL log callback.
    pub fn log(&self, level: c_int, message: &str) {
        let utils = self.utils();
        let Some(log) = utils.log else {
            return;
        };
        let message = if message.starts_with("kerbsasl") {
            c_string(message)
        } else {
            c_string(&format!("kerbsasl: {message}"))
        };
        // SAFETY: printf-style call with a "%s" format and a C string.
        unsafe { log(utils.conn, level, c"%s".as_ptr(), message.as_ptr()) };
    }
}

/// The global utilities from plug_init, for records outside a connection
/// call; libsasl2 frees them after mech_free.
static GLOBAL: AtomicPtr<SaslUtils> = AtomicPtr::new(std::ptr::null_mut());

/// The plugin's sink, while it is installed.
static ROUTING: Mutex<Option<SinkId>> = Mutex::new(None);

thread_local! {
    /// The utilities of the connection this thread is serving.
    static CURRENT: Cell<*const SaslUtils> = const { Cell::new(std::ptr::null()) };
}

/// While alive, kerbsasl's records on this thread go to `host`'s
/// connection log (the application's SASL log callback).
pub struct CallScope {
    previous: *const SaslUtils,
}

impl CallScope {
    pub fn enter(host: Host) -> CallScope {
        CallScope {
            previous: CURRENT.with(|current| current.replace(host.0)),
        }
    }
}

impl Drop for CallScope {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// Routes kerbsasl's log records, at info level and above, to libsasl2's
/// log (the application's SASL_CB_LOG callback), unless the process has a
/// sink of its own (kerbsasl_set_log_callback), which stays.
pub fn route_logs(global: Host) {
    GLOBAL.store(global.0.cast_mut(), Ordering::Release);
    let mut routing = routing();
    if routing.is_some() {
        // Already ours (libsasl2 initialised again without mech_free).
        return;
    }
    let sink: logging::Sink = Box::new(|level, _target, message| forward(level, message));
    // plug_init never runs inside a sink call.
    *routing = logging::set_default_sink(sink, log::LevelFilter::Info)
        .ok()
        .flatten();
}

/// Stops the routing before libsasl2 frees its utilities; a sink the host
/// installed since is left alone.
pub fn stop_routing_logs() {
    let ours = routing().take();
    if let Some(id) = ours {
        // Waits for records in flight, which may use GLOBAL.
        let _ = logging::remove_sink(id);
    }
    GLOBAL.store(std::ptr::null_mut(), Ordering::Release);
}

fn routing() -> MutexGuard<'static, Option<SinkId>> {
    ROUTING.lock().unwrap_or_else(PoisonError::into_inner)
}

fn forward(level: log::Level, message: &str) {
    let current = CURRENT.with(Cell::get);
    let utils = if current.is_null() {
        GLOBAL.load(Ordering::Acquire).cast_const()
    } else {
        current
    };
    // SAFETY: a connection's utilities are valid during the call that set
    // CURRENT; the global ones between plug_init and mech_free.
    let Some(host) = (unsafe { Host::new(utils) }) else {
        return;
    };
    host.log(sasl_log_level(level), message);
}

/// libsasl2's log level for one of kerbsasl's records.
fn sasl_log_level(level: log::Level) -> c_int {
    match level {
        log::Level::Error => SASL_LOG_ERR,
        log::Level::Warn => SASL_LOG_WARN,
        log::Level::Info => SASL_LOG_NOTE,
        log::Level::Debug => SASL_LOG_DEBUG,
        log::Level::Trace => SASL_LOG_TRACE,
    }
}
