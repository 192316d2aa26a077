//! The C ABI called from Rust: result codes, borrowed outputs, ownership
//! and the thread-local error, the log callback, and NULL arguments.

mod support;

use kerbsasl::ffi::*;
use kerbsasl::testing::SaslClient;
use std::ffi::{c_char, c_void};
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use support::cabi::{last_error, new_server, read, start, step, text};
use support::{Realm, RealmOptions, SERVICE, alice, test};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("handshake_through_the_c_abi", handshake_through_the_c_abi),
            test(
                "start_failure_leaves_no_session",
                start_failure_leaves_no_session,
            ),
            test(
                "failed_step_keeps_the_session_readable",
                failed_step_keeps_the_session_readable,
            ),
            test(
                "panic_in_a_step_leaves_the_session_failed",
                panic_in_a_step_leaves_the_session_failed,
            ),
            test(
                "server_free_with_live_sessions",
                server_free_with_live_sessions,
            ),
            test("config_errors_name_the_key", config_errors_name_the_key),
            test("null_arguments", null_arguments),
            test("last_error_is_per_thread", last_error_is_per_thread),
            test("log_callback_routes_records", log_callback_routes_records),
        ]
    })
}

fn default_server(realm: &Realm) -> *mut kerbsasl_server {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    new_server(&[("principal", SERVICE), ("keytab", &keytab)]).expect("server")
}

/// Runs the client against a started session until it finishes.
fn finish(
    session: *mut kerbsasl_session,
    client: &mut SaslClient,
    mut code: kerbsasl_result,
    mut out: Vec<u8>,
) -> kerbsasl_result {
    while code == kerbsasl_result::KERBSASL_CONTINUE {
        (code, out) = step(session, &client.respond(&out).unwrap());
    }
    code
}

fn handshake_through_the_c_abi(realm: &Realm) {
    let server = default_server(realm);
    let mut client = alice(realm, SERVICE).with_authzid("alice@KERBSASL.TEST");
    let (code, session, ap_rep) = start(server, &client.initial_token().unwrap());
    assert_eq!(code, kerbsasl_result::KERBSASL_CONTINUE);
    assert!(!ap_rep.is_empty());
    assert_eq!(
        read(kerbsasl_session_principal, session),
        None,
        "no identity before OK"
    );
    let code = finish(session, &mut client, code, ap_rep);
    assert_eq!(code, kerbsasl_result::KERBSASL_OK);
    assert_eq!(
        read(kerbsasl_session_principal, session).as_deref(),
        Some("alice@KERBSASL.TEST")
    );
    assert_eq!(
        read(kerbsasl_session_username, session).as_deref(),
        Some("alice@KERBSASL.TEST")
    );
    assert_eq!(
        read(kerbsasl_session_realm, session).as_deref(),
        Some("KERBSASL.TEST")
    );
    assert_eq!(
        read(kerbsasl_session_authzid, session).as_deref(),
        Some("alice@KERBSASL.TEST")
    );
    assert_eq!(read(kerbsasl_session_error, session), None);
    // SAFETY: handles from kerbsasl, each freed once.
    unsafe {
        kerbsasl_dispose(session);
        kerbsasl_server_free(server);
    }
}

fn start_failure_leaves_no_session(realm: &Realm) {
    let server = default_server(realm);
    let mut session = std::ptr::dangling_mut::<kerbsasl_session>();
    let sentinel = std::ptr::dangling::<u8>();
    let (mut output, mut output_len) = (sentinel, 77usize);
    // SAFETY: valid server and out-pointers; the token is garbage on purpose.
    let code = unsafe {
        kerbsasl_server_start(
            server,
            b"junk".as_ptr(),
            4,
            &mut session,
            &mut output,
            &mut output_len,
        )
    };
    assert_eq!(code, kerbsasl_result::KERBSASL_BAD_TOKEN);
    assert!(session.is_null(), "session_out is NULL on failure");
    assert_eq!(
        (output, output_len),
        (sentinel, 77),
        "outputs untouched on failure"
    );
    assert!(
        last_error().contains("not a GSSAPI token"),
        "{}",
        last_error()
    );
    // SAFETY: freed once.
    unsafe { kerbsasl_server_free(server) };
}

fn failed_step_keeps_the_session_readable(realm: &Realm) {
    let server = default_server(realm);
    let mut client = alice(realm, SERVICE);
    let (code, session, _) = start(server, &client.initial_token().unwrap());
    assert_eq!(code, kerbsasl_result::KERBSASL_CONTINUE);
    let (code, _) = step(session, b"not empty");
    assert_eq!(code, kerbsasl_result::KERBSASL_BAD_TOKEN);
    let error = read(kerbsasl_session_error, session).expect("session error");
    assert!(error.contains("AP-REP"), "{error}");
    assert_eq!(last_error(), error);
    let (code, _) = step(session, &[]);
    assert_eq!(code, kerbsasl_result::KERBSASL_BAD_STATE);
    assert!(
        read(kerbsasl_session_error, session)
            .unwrap()
            .contains("already failed")
    );
    assert_eq!(read(kerbsasl_session_username, session), None);
    // SAFETY: freed once.
    unsafe {
        kerbsasl_dispose(session);
        kerbsasl_server_free(server);
    }
}

/// A panic inside a step comes out as KERBSASL_INTERNAL, and the session
/// is failed from then on: it does not accept the step it was in again.
fn panic_in_a_step_leaves_the_session_failed(realm: &Realm) {
    let server = default_server(realm);
    let mut client = alice(realm, SERVICE);
    let (code, session, ap_rep) = start(server, &client.initial_token().unwrap());
    assert_eq!(code, kerbsasl_result::KERBSASL_CONTINUE);
    let empty = client.respond(&ap_rep).unwrap();
    kerbsasl::testing::failpoint::arm("session step");
    let (code, _) = step(session, &empty);
    assert_eq!(code, kerbsasl_result::KERBSASL_INTERNAL);
    assert!(last_error().contains("internal error"), "{}", last_error());
    let (code, out) = step(session, &empty);
    assert_eq!(
        code,
        kerbsasl_result::KERBSASL_BAD_STATE,
        "the same step again"
    );
    assert!(out.is_empty());
    let error = read(kerbsasl_session_error, session).unwrap();
    assert!(
        error.contains("already failed") && error.contains("interrupted"),
        "{error}"
    );
    assert_eq!(read(kerbsasl_session_username, session), None);
    // SAFETY: freed once.
    unsafe {
        kerbsasl_dispose(session);
        kerbsasl_server_free(server);
    }
}

fn server_free_with_live_sessions(realm: &Realm) {
    let server = default_server(realm);
    let mut client = alice(realm, SERVICE);
    let (code, session, out) = start(server, &client.initial_token().unwrap());
    // SAFETY: freed once; the session keeps what it needs alive.
    unsafe { kerbsasl_server_free(server) };
    assert_eq!(
        finish(session, &mut client, code, out),
        kerbsasl_result::KERBSASL_OK
    );
    // SAFETY: disposed once.
    unsafe { kerbsasl_dispose(session) };
}

fn config_errors_name_the_key(_realm: &Realm) {
    let (code, message) = new_server(&[("principal", "mqtt")]).unwrap_err();
    assert_eq!(code, kerbsasl_result::KERBSASL_CONFIG);
    assert!(
        message.contains("service/SERVER-FQDN@REALM.NAME"),
        "{message}"
    );
    let (code, message) = new_server(&[("keytab_path", "/x")]).unwrap_err();
    assert_eq!(code, kerbsasl_result::KERBSASL_CONFIG);
    assert!(message.contains("\"keytab_path\""), "{message}");
}

fn null_arguments(realm: &Realm) {
    use kerbsasl_result::KERBSASL_INVALID_ARGUMENT as INVALID;
    let server = default_server(realm);
    let (mut session, mut output, mut len) = (null_mut(), null(), 0usize);
    let key = c"principal".as_ptr();
    // SAFETY: every call passes NULL where kerbsasl must reject it.
    unsafe {
        assert_eq!(
            kerbsasl_server_new(null(), null(), 1, &mut null_mut()),
            INVALID
        );
        assert_eq!(
            kerbsasl_server_new(&key, &null(), 1, &mut null_mut()),
            INVALID
        );
        assert_eq!(kerbsasl_server_new(null(), null(), 0, null_mut()), INVALID);
        assert_eq!(
            kerbsasl_server_start(
                null(),
                b"x".as_ptr(),
                1,
                &mut session,
                &mut output,
                &mut len
            ),
            INVALID
        );
        assert_eq!(
            kerbsasl_server_start(server, null(), 1, &mut session, &mut output, &mut len),
            INVALID
        );
        assert_eq!(
            kerbsasl_server_start(server, b"x".as_ptr(), 1, null_mut(), &mut output, &mut len),
            INVALID
        );
        assert_eq!(
            kerbsasl_server_start(server, b"x".as_ptr(), 1, &mut session, null_mut(), &mut len),
            INVALID
        );
        assert_eq!(
            kerbsasl_server_start(
                server,
                b"x".as_ptr(),
                1,
                &mut session,
                &mut output,
                null_mut()
            ),
            INVALID
        );
        assert_eq!(
            kerbsasl_server_step(null_mut(), null(), 0, &mut output, &mut len),
            INVALID
        );
        assert!(last_error().contains("session is NULL"), "{}", last_error());
        assert!(kerbsasl_session_principal(null()).is_null());
        assert!(kerbsasl_session_username(null()).is_null());
        assert!(kerbsasl_session_realm(null()).is_null());
        assert!(kerbsasl_session_authzid(null()).is_null());
        assert!(kerbsasl_session_error(null()).is_null());
        kerbsasl_dispose(null_mut());
        kerbsasl_server_free(null_mut());
        kerbsasl_server_free(server);
    }
    assert_eq!(
        text(kerbsasl_result_str(3)).as_deref(),
        Some("KERBSASL_AUTH_FAILED")
    );
    assert_eq!(
        text(kerbsasl_result_str(4000)).as_deref(),
        Some("KERBSASL_UNKNOWN_RESULT")
    );
    assert_eq!(
        text(kerbsasl_version()).as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
}

fn last_error_is_per_thread(_realm: &Realm) {
    let (code, _) = new_server(&[("colour", "blue")]).unwrap_err();
    assert_eq!(code, kerbsasl_result::KERBSASL_CONFIG);
    let other = std::thread::spawn(|| text(kerbsasl_last_error()))
        .join()
        .unwrap();
    assert_eq!(other, None, "another thread has no error");
    assert!(last_error().contains("colour"));
}

static RECORDS: Mutex<Vec<(usize, u32, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn record(
    userdata: *mut c_void,
    level: u32,
    _target: *const c_char,
    message: *const c_char,
) {
    let message = text(message).unwrap_or_default();
    RECORDS
        .lock()
        .unwrap()
        .push((userdata as usize, level, message));
}

fn log_callback_routes_records(realm: &Realm) {
    let level = kerbsasl_log_level::KERBSASL_LOG_DEBUG as u32;
    assert_eq!(
        kerbsasl_set_log_callback(Some(record), 42 as *mut c_void, level),
        kerbsasl_result::KERBSASL_OK
    );
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let server = new_server(&[
        ("principal", SERVICE),
        ("keytab", &keytab),
        ("replay_cache", "none:"),
    ])
    .unwrap();
    // An HTTP Negotiate round logs its outcome at debug level, as a SASL
    // handshake does.
    let (mut session, mut header, mut header_len) = (null_mut(), null(), 0usize);
    // SAFETY: a live server; no Authorization header; valid out-pointers.
    let code = unsafe {
        kerbsasl_http_authenticate(
            server,
            null(),
            0,
            &mut session,
            &mut header,
            &mut header_len,
        )
    };
    assert_eq!(code, kerbsasl_result::KERBSASL_CONTINUE);
    assert_eq!(
        kerbsasl_set_log_callback(None, null_mut(), level),
        kerbsasl_result::KERBSASL_OK
    );
    // SAFETY: freed once.
    unsafe { kerbsasl_server_free(server) };
    let records = RECORDS.lock().unwrap().clone();
    assert!(
        records.iter().any(|(_, level, message)| *level
            == kerbsasl_log_level::KERBSASL_LOG_DEBUG as u32
            && message.contains("HTTP Negotiate")),
        "the HTTP outcome reaches the callback: {records:?}"
    );
    let warning = records
        .iter()
        .find(|(_, _, message)| message.contains("replay detection is off"))
        .expect("the none: replay cache is logged");
    assert_eq!(warning.0, 42, "userdata is passed through");
    assert_eq!(warning.1, kerbsasl_log_level::KERBSASL_LOG_WARN as u32);
    let count = records.len();
    new_server(&[
        ("principal", SERVICE),
        ("keytab", &keytab),
        ("replay_cache", "none:"),
    ])
    .map(|s| {
        // SAFETY: freed once.
        unsafe { kerbsasl_server_free(s) }
    })
    .unwrap();
    assert_eq!(
        RECORDS.lock().unwrap().len(),
        count,
        "nothing logged after NULL"
    );
    assert_eq!(
        kerbsasl_set_log_callback(None, null_mut(), 6),
        kerbsasl_result::KERBSASL_INVALID_ARGUMENT
    );
}
