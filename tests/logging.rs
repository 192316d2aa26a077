//! Logging as hosts see it: a Rust host keeps its own logger and level and
//! receives kerbsasl's records; a C log callback may call back into
//! kerbsasl, even while a keytab reload is being logged; a callback cannot
//! replace itself (it would wait for itself).

mod support;

use kerbsasl::ffi::*;
use std::ffi::{c_char, c_void};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError, mpsc};
use std::time::Duration;
use support::cabi::{new_server, start, text};
use support::{
    HOST, REALM, Realm, RealmOptions, SERVICE, alice, fresh_client, handshake, service_keytab,
    test, unique,
};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test(
                "rust_host_keeps_its_logger_and_level",
                rust_host_keeps_its_logger_and_level,
            ),
            test(
                "callback_calls_back_during_a_keytab_reload",
                callback_calls_back_during_a_keytab_reload,
            ),
            test(
                "callback_cannot_replace_itself",
                callback_cannot_replace_itself,
            ),
        ]
    })
}

/// The log callback is process-wide: the tests take turns.
fn take_turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---- the host's own logger ------------------------------------------------

/// What the host's logger received: level, target, message.
static HOST_RECORDS: Mutex<Vec<(log::Level, String, String)>> = Mutex::new(Vec::new());

struct HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        HOST_RECORDS.lock().unwrap().push((
            record.level(),
            record.target().to_string(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

/// Installs the host's logger at WARN, as a Rust program would at startup.
fn install_host_logger() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&HostLogger).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
    });
}

fn host_records(needle: &str) -> Vec<(log::Level, String, String)> {
    HOST_RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, message)| message.contains(needle))
        .cloned()
        .collect()
}

// ---- C callbacks ----------------------------------------------------------

fn set_callback(callback: kerbsasl_log_callback, userdata: *mut c_void, level: u32) {
    assert_eq!(
        kerbsasl_set_log_callback(callback, userdata, level),
        kerbsasl_result::KERBSASL_OK
    );
}

const DEBUG: u32 = kerbsasl_log_level::KERBSASL_LOG_DEBUG as u32;

/// Keeps (level, message) in the Mutex<Vec<...>> userdata points at.
unsafe extern "C" fn collect(
    userdata: *mut c_void,
    level: u32,
    _target: *const c_char,
    message: *const c_char,
) {
    // SAFETY: the tests register this callback with such a Mutex, alive
    // until they clear the callback.
    let records = unsafe { &*(userdata as *const Mutex<Vec<(u32, String)>>) };
    records
        .lock()
        .unwrap()
        .push((level, text(message).unwrap_or_default()));
}

/// A server whose creation logs a WARN record: replay detection is off.
fn noisy_server(realm: &Realm) -> kerbsasl::Server {
    support::default_server(realm, &[("replay_cache", "none:")])
}

/// A Rust host that set up `log` itself keeps its logger and level, gets
/// kerbsasl's records at that level, and a C callback gets them as well.
fn rust_host_keeps_its_logger_and_level(realm: &Realm) {
    let _turn = take_turn();
    install_host_logger();
    let warning = "replay detection is off";
    let before = host_records(warning).len();
    let server = noisy_server(realm);
    let warnings = host_records(warning);
    assert_eq!(
        warnings.len(),
        before + 1,
        "the host's logger got the warning"
    );
    let (level, target, _) = &warnings[before];
    assert_eq!(*level, log::Level::Warn);
    assert!(target.starts_with("kerbsasl::"), "{target}");
    assert!(
        host_records("kerbsasl server ready").is_empty(),
        "INFO is above the host's level"
    );

    let c_records: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());
    let userdata = &c_records as *const _ as *mut c_void;
    set_callback(Some(collect), userdata, DEBUG);
    assert_eq!(log::max_level(), log::LevelFilter::Warn, "host level kept");
    handshake(&server, &mut alice(realm, SERVICE)).expect("handshake");
    set_callback(None, null_mut(), 0);
    assert_eq!(log::max_level(), log::LevelFilter::Warn, "host level kept");

    let outcome = "authenticated alice@";
    assert!(
        c_records
            .lock()
            .unwrap()
            .iter()
            .any(|(level, message)| *level == DEBUG && message.contains(outcome)),
        "the C callback got the DEBUG record: {c_records:?}"
    );
    assert!(
        host_records(outcome).is_empty(),
        "DEBUG is above the host's level"
    );
    noisy_server(realm);
    assert_eq!(host_records(warning).len(), before + 2, "still receiving");
}

/// What a callback that calls back into the server needs, and what it got.
struct Reentry {
    server: *const kerbsasl_server,
    token: Vec<u8>,
    /// The record that triggers the call back in.
    trigger: String,
    fired: AtomicBool,
    result: Mutex<Option<kerbsasl_result>>,
}

/// On the trigger record, starts a handshake on the same server.
unsafe extern "C" fn call_back_in(
    userdata: *mut c_void,
    _level: u32,
    _target: *const c_char,
    message: *const c_char,
) {
    // SAFETY: registered with a leaked Reentry.
    let reentry = unsafe { &*(userdata as *const Reentry) };
    let message = text(message).unwrap_or_default();
    if !message.contains(&reentry.trigger) || reentry.fired.swap(true, Ordering::SeqCst) {
        return;
    }
    let (code, session, _) = start(reentry.server, &reentry.token);
    // SAFETY: a session from start (or NULL), disposed once.
    unsafe { kerbsasl_dispose(session) };
    *reentry.result.lock().unwrap() = Some(code);
}

/// A callback that starts a handshake on the same server while a keytab
/// reload is being logged. Were kerbsasl to log while holding the keytab
/// watcher's lock, the inner start (which needs the new keys, so reloads
/// too) would wait for that lock forever.
fn callback_calls_back_during_a_keytab_reload(realm: &Realm) {
    let _turn = take_turn();
    install_host_logger();
    let principal = format!("{}/{HOST}@{REALM}", unique("reentry"));
    let keytab = service_keytab(realm, &principal);
    let keytab_text = keytab.display().to_string();
    let server = new_server(&[("principal", &principal), ("keytab", &keytab_text)]).unwrap();

    // A new key at the KDC and in the file: both tokens below need it.
    realm.kadmin(&[format!("cpw -randkey {principal}")]);
    let staged = keytab.with_extension("new");
    realm.export_keytab(&staged, &[&principal]);
    std::fs::rename(&staged, &keytab).unwrap();
    let token = |_| {
        fresh_client(realm, "alice", &principal)
            .initial_token()
            .unwrap()
    };
    let (outer, inner) = (token(1), token(2));

    // Leaked: if kerbsasl deadlocks, a stuck thread still uses it.
    let reentry: &'static Reentry = Box::leak(Box::new(Reentry {
        server,
        token: inner,
        trigger: keytab_text,
        fired: AtomicBool::new(false),
        result: Mutex::new(None),
    }));
    set_callback(
        Some(call_back_in),
        reentry as *const Reentry as *mut c_void,
        DEBUG,
    );
    let (done, finished) = mpsc::channel();
    let server_address = server as usize;
    std::thread::spawn(move || {
        let (code, session, _) = start(server_address as *const kerbsasl_server, &outer);
        // SAFETY: a session from start (or NULL), disposed once.
        unsafe { kerbsasl_dispose(session) };
        let _ = done.send(code);
    });
    let outer = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("deadlock: the outer start never returned");
    set_callback(None, null_mut(), 0);
    assert_eq!(outer, kerbsasl_result::KERBSASL_CONTINUE);
    assert_eq!(
        *reentry.result.lock().unwrap(),
        Some(kerbsasl_result::KERBSASL_CONTINUE),
        "the callback saw the reload and its own start succeeded"
    );
    // SAFETY: freed once, after the callback that used it was cleared.
    unsafe { kerbsasl_server_free(server) };
}

/// Tries to clear the callback from inside it; keeps the first result.
unsafe extern "C" fn replace_from_inside(
    userdata: *mut c_void,
    _level: u32,
    _target: *const c_char,
    _message: *const c_char,
) {
    // SAFETY: registered with a Mutex<Vec<kerbsasl_result>> that outlives
    // the registration.
    let results = unsafe { &*(userdata as *const Mutex<Vec<kerbsasl_result>>) };
    let code = kerbsasl_set_log_callback(None, null_mut(), 0);
    results.lock().unwrap().push(code);
}

/// kerbsasl_set_log_callback from inside the callback is refused with
/// KERBSASL_BAD_STATE (it would wait for itself) and changes nothing.
fn callback_cannot_replace_itself(realm: &Realm) {
    let _turn = take_turn();
    install_host_logger();
    let results: Mutex<Vec<kerbsasl_result>> = Mutex::new(Vec::new());
    let userdata = &results as *const _ as *mut c_void;
    set_callback(
        Some(replace_from_inside),
        userdata,
        kerbsasl_log_level::KERBSASL_LOG_WARN as u32,
    );
    noisy_server(realm);
    noisy_server(realm);
    set_callback(None, null_mut(), 0);
    assert_eq!(
        *results.lock().unwrap(),
        [kerbsasl_result::KERBSASL_BAD_STATE; 2],
        "refused, and the callback stayed installed for the second warning"
    );
}
