//! Routing kerbsasl's log records to the host's logger.

use super::boundary::{c_string, guard, invalid_argument, set_last_error};
use super::result::kerbsasl_result;
use crate::logging;
use std::ffi::{c_char, c_void};

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

impl kerbsasl_log_level {
    /// Every level, in value order.
    const ALL: [kerbsasl_log_level; 6] = [
        kerbsasl_log_level::KERBSASL_LOG_OFF,
        kerbsasl_log_level::KERBSASL_LOG_ERROR,
        kerbsasl_log_level::KERBSASL_LOG_WARN,
        kerbsasl_log_level::KERBSASL_LOG_INFO,
        kerbsasl_log_level::KERBSASL_LOG_DEBUG,
        kerbsasl_log_level::KERBSASL_LOG_TRACE,
    ];

    /// The one mapping between kerbsasl's levels and the `log` crate's.
    pub(crate) fn filter(self) -> log::LevelFilter {
        match self {
            kerbsasl_log_level::KERBSASL_LOG_OFF => log::LevelFilter::Off,
            kerbsasl_log_level::KERBSASL_LOG_ERROR => log::LevelFilter::Error,
            kerbsasl_log_level::KERBSASL_LOG_WARN => log::LevelFilter::Warn,
            kerbsasl_log_level::KERBSASL_LOG_INFO => log::LevelFilter::Info,
            kerbsasl_log_level::KERBSASL_LOG_DEBUG => log::LevelFilter::Debug,
            kerbsasl_log_level::KERBSASL_LOG_TRACE => log::LevelFilter::Trace,
        }
    }

    /// The level of a value from C, if it is one.
    pub(crate) fn from_u32(value: u32) -> Option<kerbsasl_log_level> {
        Self::ALL.into_iter().find(|level| *level as u32 == value)
    }
}

impl From<log::Level> for kerbsasl_log_level {
    fn from(level: log::Level) -> kerbsasl_log_level {
        Self::ALL
            .into_iter()
            .find(|ours| ours.filter() == level.to_level_filter())
            .unwrap_or(kerbsasl_log_level::KERBSASL_LOG_TRACE)
    }
}

/// Receives one log record. `level` is a kerbsasl_log_level value;
/// `target` (the module, e.g. "kerbsasl::acceptor") and `message` are
/// NUL-terminated and valid only during the call. Called on whichever
/// thread is inside kerbsasl, with no kerbsasl lock held: it must be
/// thread-safe, and may call kerbsasl functions (records those calls log
/// are not passed to it again); kerbsasl_set_log_callback called from it
/// fails with KERBSASL_BAD_STATE.
#[allow(non_camel_case_types)]
pub type kerbsasl_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The host's userdata pointer.
struct UserData(*mut c_void);

impl UserData {
    // A method, so that closures capture the whole (Send) struct.
    fn get(&self) -> *mut c_void {
        self.0
    }
}

// SAFETY: kerbsasl never dereferences it; the host promises (see
// kerbsasl_log_callback) that its callback may use it from any thread.
unsafe impl Send for UserData {}
// SAFETY: as for Send.
unsafe impl Sync for UserData {}

/// Routes kerbsasl's log records to `callback` (process-wide). By default
/// nothing is logged anywhere. (A Rust program linking kerbsasl as a crate
/// also gets every record through the `log` crate, under its own logger
/// and level; kerbsasl never changes those.)
///
/// @param callback  receives records at `max_level` or more severe; NULL
///        stops logging.
/// @param userdata  passed to every call of `callback`; kerbsasl never
///        dereferences it.
/// @param max_level  a kerbsasl_log_level value, KERBSASL_LOG_OFF (0) to
///        KERBSASL_LOG_TRACE (5).
/// @return KERBSASL_OK; KERBSASL_INVALID_ARGUMENT for a level above 5;
///         KERBSASL_BAD_STATE when called from inside a log callback (it
///         would wait for itself; nothing is changed).
/// Thread-safe. Once it returns, the previous callback is never called
/// again, so its userdata may be freed: it waits for calls of the previous
/// callback still running on other threads. So do not call it while
/// holding a lock that the callback takes.
#[unsafe(no_mangle)]
pub extern "C" fn kerbsasl_set_log_callback(
    callback: kerbsasl_log_callback,
    userdata: *mut c_void,
    max_level: u32,
) -> kerbsasl_result {
    const NAME: &str = "kerbsasl_set_log_callback";
    guard(NAME, || {
        let Some(max_level) = kerbsasl_log_level::from_u32(max_level) else {
            return invalid_argument(NAME, "max_level must be 0 (off) to 5 (trace)");
        };
        let sink = callback.map(|callback| {
            let userdata = UserData(userdata);
            let sink: logging::Sink = Box::new(move |level, target, message| {
                let (target, message) = (c_string(target), c_string(message));
                // SAFETY: the host registered this callback for exactly this
                // use; the strings outlive the call.
                unsafe {
                    callback(
                        userdata.get(),
                        kerbsasl_log_level::from(level) as u32,
                        target.as_ptr(),
                        message.as_ptr(),
                    )
                };
            });
            (sink, max_level.filter())
        });
        match logging::set_sink(sink) {
            Ok(()) => kerbsasl_result::KERBSASL_OK,
            Err(logging::CalledFromSink) => {
                set_last_error(&format!(
                    "{NAME}: called from inside a log callback; the callback is unchanged"
                ));
                kerbsasl_result::KERBSASL_BAD_STATE
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ALL lists exactly the header's levels.
    #[test]
    fn every_level_in_value_order() {
        let ours = kerbsasl_log_level::ALL.map(|level| (format!("{level:?}"), level as u32));
        assert_eq!(
            ours.to_vec(),
            super::super::header_enum("kerbsasl_log_level")
        );
    }

    #[test]
    fn levels_map_both_ways() {
        for level in kerbsasl_log_level::ALL {
            assert_eq!(kerbsasl_log_level::from_u32(level as u32), Some(level));
        }
        assert_eq!(kerbsasl_log_level::from_u32(6), None);
        for level in log::Level::iter() {
            assert_eq!(
                kerbsasl_log_level::from(level).filter(),
                level.to_level_filter()
            );
        }
    }
}
