//! kerbsasl's own log records (keytab reloads, warnings, handshake
//! outcomes). Library code logs with the macros below; each record goes
//!
//! - to the `log` crate, so that a Rust host's logger receives it under its
//!   own level filter. kerbsasl never calls `log::set_logger` or
//!   `log::set_max_level`: that configuration belongs to the host;
//! - to the sink a host installed with [`set_sink`] (the C ABI's
//!   `kerbsasl_set_log_callback`, the Mosquitto plugin's broker log), if any.
//!
//! The sink is called with no kerbsasl lock held, so it may call back into
//! kerbsasl. Replacing it waits until every call of the old one has
//! returned, so that the host may free what the old one used as soon as
//! [`set_sink`] returns.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// Receives one record: its level, target (the module, e.g.
/// `kerbsasl::acceptor`) and message.
pub type Sink = Box<dyn Fn(log::Level, &str, &str) + Send + Sync>;

struct Installed {
    sink: Sink,
    max_level: log::LevelFilter,
}

static INSTALLED: RwLock<Option<Arc<Installed>>> = RwLock::new(None);
/// The installed sink's level, checked before taking the lock.
static MAX_LEVEL: AtomicUsize = AtomicUsize::new(log::LevelFilter::Off as usize);

thread_local! {
    /// Whether this thread is inside a sink call.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// [`set_sink`] was called from inside a sink call: waiting for the old
/// sink's calls to return would wait for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalledFromSink;

/// Installs `sink` for records at `max_level` or more severe (None, or a
/// level of Off, removes it). Once this returns, the previous sink is never
/// called again: calls of it in progress on other threads are waited for.
pub fn set_sink(sink: Option<(Sink, log::LevelFilter)>) -> Result<(), CalledFromSink> {
    if IN_SINK.get() {
        return Err(CalledFromSink);
    }
    let new = sink
        .filter(|(_, max_level)| *max_level != log::LevelFilter::Off)
        .map(|(sink, max_level)| Arc::new(Installed { sink, max_level }));
    let old = {
        let mut slot = INSTALLED.write().unwrap_or_else(PoisonError::into_inner);
        let level = new.as_ref().map_or(log::LevelFilter::Off, |i| i.max_level);
        MAX_LEVEL.store(level as usize, Ordering::Relaxed);
        std::mem::replace(&mut *slot, new)
    };
    // Nobody can take a new reference to `old` now: every call still using
    // it took one before the swap.
    if let Some(old) = old {
        wait_until_unused(old);
    }
    Ok(())
}

/// Drops `old` once this is its last reference. The sink's calls are
/// short (a host's log line), so polling with a growing pause is enough.
fn wait_until_unused(mut old: Arc<Installed>) {
    let mut pause = Duration::from_micros(10);
    loop {
        // try_unwrap synchronises with the other references' drops, so the
        // calls they made happen before our return.
        match Arc::try_unwrap(old) {
            Ok(_) => return,
            Err(still_used) => old = still_used,
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// Sends one record to the `log` crate and to the sink. Records logged by
/// kerbsasl calls a sink makes (on its thread) go to the `log` crate only,
/// so a sink is never re-entered.
pub fn emit(level: log::Level, target: &str, args: fmt::Arguments<'_>) {
    log::log!(target: target, level, "{args}");
    if level as usize > MAX_LEVEL.load(Ordering::Relaxed) || IN_SINK.get() {
        return;
    }
    let installed = INSTALLED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let Some(installed) = installed.filter(|i| level <= i.max_level) else {
        return;
    };
    let message = args.to_string();
    let _inside = InSink::enter();
    (installed.sink)(level, target, &message);
}

/// Marks this thread as inside a sink call until dropped (also on unwind).
struct InSink;

impl InSink {
    fn enter() -> InSink {
        IN_SINK.set(true);
        InSink
    }
}

impl Drop for InSink {
    fn drop(&mut self) {
        IN_SINK.set(false);
    }
}

/// `logging::info!(...)` and friends: format arguments as for `format!`.
macro_rules! log_at {
    ($level:expr, $($arg:tt)+) => {
        $crate::logging::emit($level, module_path!(), format_args!($($arg)+))
    };
}

// Not `warn`: that name is taken by the built-in attribute.
macro_rules! warning {
    ($($arg:tt)+) => { $crate::logging::log_at!(log::Level::Warn, $($arg)+) };
}

macro_rules! info {
    ($($arg:tt)+) => { $crate::logging::log_at!(log::Level::Info, $($arg)+) };
}

macro_rules! debug {
    ($($arg:tt)+) => { $crate::logging::log_at!(log::Level::Debug, $($arg)+) };
}

pub(crate) use {debug, info, log_at, warning};

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    // The sink is process-wide: these tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn collecting(into: &'static Mutex<Vec<String>>) -> Sink {
        Box::new(move |level, _, message| into.lock().unwrap().push(format!("{level} {message}")))
    }

    #[test]
    fn sink_gets_records_up_to_its_level() {
        let _serial = SERIAL.lock().unwrap();
        static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
        set_sink(Some((collecting(&SEEN), log::LevelFilter::Info))).unwrap();
        info!("one {}", 1);
        debug!("too verbose");
        warning!("two");
        set_sink(None).unwrap();
        warning!("after removal");
        assert_eq!(*SEEN.lock().unwrap(), ["INFO one 1", "WARN two"]);
    }

    #[test]
    fn a_sink_is_not_reentered_and_cannot_replace_itself() {
        let _serial = SERIAL.lock().unwrap();
        static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
        static REPLACED: Mutex<Option<Result<(), CalledFromSink>>> = Mutex::new(None);
        let sink: Sink = Box::new(|_, _, message| {
            SEEN.lock().unwrap().push(message.to_string());
            warning!("logged from inside the sink");
            *REPLACED.lock().unwrap() = Some(set_sink(None));
        });
        set_sink(Some((sink, log::LevelFilter::Trace))).unwrap();
        warning!("outer");
        set_sink(None).unwrap();
        assert_eq!(*SEEN.lock().unwrap(), ["outer"]);
        assert_eq!(*REPLACED.lock().unwrap(), Some(Err(CalledFromSink)));
    }

    #[test]
    fn replacing_waits_for_calls_in_progress() {
        let _serial = SERIAL.lock().unwrap();
        static INSIDE: AtomicBool = AtomicBool::new(false);
        static FINISHED: AtomicBool = AtomicBool::new(false);
        let slow: Sink = Box::new(|_, _, _| {
            INSIDE.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(200));
            FINISHED.store(true, Ordering::SeqCst);
        });
        set_sink(Some((slow, log::LevelFilter::Warn))).unwrap();
        let logger = std::thread::spawn(|| warning!("slow"));
        while !INSIDE.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        set_sink(None).unwrap();
        assert!(
            FINISHED.load(Ordering::SeqCst),
            "set_sink returned mid-call"
        );
        logger.join().unwrap();
    }
}
