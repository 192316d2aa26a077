//! Routing kerbsasl's log records to the host's logger.

use super::boundary::{c_string, guard, invalid_argument};
use super::result::kerbsasl_result;
use std::ffi::{c_char, c_void};
use std::sync::{Once, PoisonError, RwLock};

/// Log levels, as passed to a kerbsasl_log_callback. Lower is more severe.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kerbsasl_log_level {
    /// Logging off (only as max_level).
    KERBSASL_LOG_OFF = 0,
    KERBSASL_LOG_ERROR = 1,
    /// Configuration problems (replay cache off, keytab unreadable on reload).
    KERBSASL_LOG_WARN = 2,
    /// Server creation and keytab reloads.
    KERBSASL_LOG_INFO = 3,
    /// Every handshake's outcome.
    KERBSASL_LOG_DEBUG = 4,
    KERBSASL_LOG_TRACE = 5,
}

/// Receives one log record. `level` is a kerbsasl_log_level value;
/// `target` (the module, e.g. "kerbsasl::acceptor") and `message` are
/// NUL-terminated and valid only during the call. Called on whichever
/// thread is inside kerbsasl: it must be thread-safe, and must not call
/// kerbsasl_set_log_callback.
#[allow(non_camel_case_types)]
pub type kerbsasl_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

#[derive(Clone, Copy)]
struct HostSink {
    callback: unsafe extern "C" fn(*mut c_void, u32, *const c_char, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: the host promises (see kerbsasl_log_callback) that the callback
// and its userdata may be used from any thread.
unsafe impl Send for HostSink {}
// SAFETY: as for Send.
unsafe impl Sync for HostSink {}

static SINK: RwLock<Option<HostSink>> = RwLock::new(None);
static INSTALL: Once = Once::new();

struct HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Copy the sink out so the lock isn't held during the callback.
        let sink = *SINK.read().unwrap_or_else(PoisonError::into_inner);
        let Some(sink) = sink else { return };
        let target = c_string(record.target());
        let message = c_string(&record.args().to_string());
        // SAFETY: the host registered this callback for exactly this use;
        // the strings outlive the call.
        unsafe {
            (sink.callback)(
                sink.userdata,
                record.level() as u32,
                target.as_ptr(),
                message.as_ptr(),
            )
        };
    }

    fn flush(&self) {}
}

/// Routes kerbsasl's log records to `callback` (process-wide). By default
/// nothing is logged anywhere.
///
/// @param callback  receives records at `max_level` or more severe; NULL
///        stops logging.
/// @param userdata  passed to every call of `callback`; kerbsasl never
///        dereferences it.
/// @param max_level  a kerbsasl_log_level value, KERBSASL_LOG_OFF (0) to
///        KERBSASL_LOG_TRACE (5).
/// @return KERBSASL_OK; KERBSASL_INVALID_ARGUMENT for a level above 5.
/// Thread-safe, but records being logged on other threads during the call
/// may still reach the previous callback.
#[unsafe(no_mangle)]
pub extern "C" fn kerbsasl_set_log_callback(
    callback: kerbsasl_log_callback,
    userdata: *mut c_void,
    max_level: u32,
) -> kerbsasl_result {
    const NAME: &str = "kerbsasl_set_log_callback";
    guard(NAME, || {
        let filter = match max_level {
            0 => log::LevelFilter::Off,
            1 => log::LevelFilter::Error,
            2 => log::LevelFilter::Warn,
            3 => log::LevelFilter::Info,
            4 => log::LevelFilter::Debug,
            5 => log::LevelFilter::Trace,
            _ => return invalid_argument(NAME, "max_level must be 0 (off) to 5 (trace)"),
        };
        INSTALL.call_once(|| {
            // Fails only if this library's own logger is already set; this
            // copy of the `log` crate is private to kerbsasl.
            let _ = log::set_logger(&HostLogger);
        });
        let sink = callback.map(|callback| HostSink { callback, userdata });
        *SINK.write().unwrap_or_else(PoisonError::into_inner) = sink;
        log::set_max_level(if sink.is_some() {
            filter
        } else {
            log::LevelFilter::Off
        });
        kerbsasl_result::KERBSASL_OK
    })
}
