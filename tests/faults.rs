//! The fault matrix: what an operator's environment can do to a live
//! server, and the result code and message each gives.

mod support;

use kerbsasl::testing::SaslClient;
use kerbsasl::{ErrorKind, Step};
use std::sync::{Mutex, Once};
use support::{
    HOST, REALM, Realm, RealmOptions, SERVICE, alice, assert_error, default_server, fresh_client,
    handshake, server, service_keytab, test, unique,
};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("keytab_deleted_while_live", keytab_deleted_while_live),
            test(
                "keytab_replaced_by_garbage_while_live",
                keytab_garbage_while_live,
            ),
            test(
                "keytab_replaced_by_a_directory_while_live",
                keytab_directory_while_live,
            ),
            test("keytab_rotated_while_live", keytab_rotated_while_live),
            test("replay_cache_unusable", replay_cache_unusable),
            test(
                "same_ap_req_to_two_servers_sharing_a_replay_cache",
                replay_across_servers,
            ),
            test("replay_detection_off_only_when_asked", replay_detection_off),
            test(
                "thousands_of_abandoned_sessions",
                thousands_of_abandoned_sessions,
            ),
        ]
    })
}

static LOGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LOGS.lock()
            .unwrap()
            .push(format!("{} {}", record.level(), record.args()));
    }
    fn flush(&self) {}
}

/// Log lines mentioning `needle`, captured from kerbsasl.
fn logged(needle: &str) -> Vec<String> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Debug);
    });
    LOGS.lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(needle))
        .cloned()
        .collect()
}

/// A service with its own keytab and a live server for it.
fn live_service(realm: &Realm) -> (String, std::path::PathBuf, kerbsasl::Server) {
    logged("");
    let principal = format!("{}/{HOST}@{REALM}", unique("live"));
    let keytab = service_keytab(realm, &principal);
    let keytab_text = keytab.display().to_string();
    let server = server(&[("principal", &principal), ("keytab", &keytab_text)]);
    handshake(&server, &mut fresh_client(realm, "alice", &principal)).expect("healthy");
    (principal, keytab, server)
}

/// The server keeps accepting with the keys it loaded, and warns once.
fn assert_still_accepting(
    realm: &Realm,
    principal: &str,
    keytab: &std::path::Path,
    server: &kerbsasl::Server,
    warning: &str,
) {
    // The file is looked at once a second while the keys it had work.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for _ in 0..3 {
        handshake(server, &mut fresh_client(realm, "alice", principal))
            .expect("keys in memory still work");
    }
    let lines = logged(&keytab.display().to_string());
    let warnings: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("WARN") && l.contains(warning))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning naming the keytab: {lines:#?}"
    );
    assert!(
        warnings[0].contains("still accepting with the keys loaded before"),
        "{}",
        warnings[0]
    );
}

fn keytab_deleted_while_live(realm: &Realm) {
    let (principal, keytab, server) = live_service(realm);
    std::fs::remove_file(&keytab).unwrap();
    assert_still_accepting(realm, &principal, &keytab, &server, "No such file");
}

fn keytab_garbage_while_live(realm: &Realm) {
    let (principal, keytab, server) = live_service(realm);
    std::fs::write(&keytab, b"\x05\x02\x00\x00\x00\x10garbage").unwrap();
    assert_still_accepting(realm, &principal, &keytab, &server, "cannot be used");
}

fn keytab_directory_while_live(realm: &Realm) {
    // Root reads any file, so a directory stands in for an unreadable one.
    let (principal, keytab, server) = live_service(realm);
    std::fs::remove_file(&keytab).unwrap();
    std::fs::create_dir(&keytab).unwrap();
    assert_still_accepting(realm, &principal, &keytab, &server, "cannot be used");
}

fn keytab_rotated_while_live(realm: &Realm) {
    let (principal, keytab, server) = live_service(realm);
    realm.kadmin(&[format!("cpw -randkey {principal}")]);
    let staged = keytab.with_extension("new");
    realm.export_keytab(&staged, &[&principal]);
    std::fs::rename(&staged, &keytab).unwrap();
    handshake(&server, &mut fresh_client(realm, "alice", &principal)).expect("new kvno accepted");
    let reloads = logged(&keytab.display().to_string());
    assert!(
        reloads
            .iter()
            .any(|l| l.starts_with("INFO") && l.contains("reloaded")),
        "{reloads:#?}"
    );
}

fn replay_cache_unusable(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let missing_dir = realm.path("no-such-dir/replay");
    let replay_cache = format!("file2:{}", missing_dir.display());
    let server = server(&[
        ("principal", SERVICE),
        ("keytab", &keytab),
        ("replay_cache", &replay_cache),
    ]);
    let error = handshake(&server, &mut alice(realm, SERVICE)).unwrap_err();
    assert_error(
        &error,
        ErrorKind::Config,
        &[
            "replay cache is unusable",
            &missing_dir.display().to_string(),
            "writable",
        ],
    );
}

fn replay_across_servers(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let shared = format!("file2:{}", realm.path(&unique("shared-rcache")).display());
    let options = [
        ("principal", SERVICE),
        ("keytab", keytab.as_str()),
        ("replay_cache", shared.as_str()),
    ];
    let (first, second) = (server(&options), server(&options));
    let token = alice(realm, SERVICE).initial_token().unwrap();
    first.start(&token).expect("first use");
    let error = second.start(&token).unwrap_err();
    assert_error(&error, ErrorKind::AuthFailed, &["Request is a replay"]);
    let error = first.start(&token).unwrap_err();
    assert_error(&error, ErrorKind::AuthFailed, &["Request is a replay"]);
}

fn replay_detection_off(realm: &Realm) {
    let server = default_server(realm, &[("replay_cache", "none:")]);
    let token = alice(realm, SERVICE).initial_token().unwrap();
    server.start(&token).unwrap();
    server
        .start(&token)
        .expect("with none: the same AP-REQ is accepted twice");
    assert!(
        !logged("replay detection is off").is_empty(),
        "none: is logged as a warning"
    );
}

fn thousands_of_abandoned_sessions(realm: &Realm) {
    let server = default_server(realm, &[]);
    let ccache = realm.ccache_for("alice");
    let mut sessions = Vec::new();
    for i in 0..3000 {
        let mut client = SaslClient::new(&ccache, SERVICE, true).unwrap();
        let (mut session, step) = server.start(&client.initial_token().unwrap()).unwrap();
        // Abandon a third after the AP-REP, a third after the offer, and
        // a third in the failed state.
        if i % 3 > 0 {
            let Step::Continue(ap_rep) = step else {
                panic!()
            };
            client.respond(&ap_rep).unwrap();
            let offer = session.step(&[]).unwrap();
            if i % 3 == 2 {
                assert!(matches!(offer, Step::Continue(_)));
                session.step(b"junk").unwrap_err();
            }
        }
        sessions.push(session);
    }
    drop(sessions);
    handshake(&server, &mut alice(realm, SERVICE)).expect("the server still works");
}
