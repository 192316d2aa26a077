//! Test harness shared by the integration tests.
//!
//! Each test binary runs twice: the first process starts a throwaway realm
//! and re-runs itself with the realm's environment (KRB5_CONFIG and
//! friends must be set before any thread starts, and setenv in a running
//! process is unsound); the child runs the tests, and the parent tears the
//! realm down whatever happens to the child.

#![allow(dead_code)]

pub mod cabi;
pub mod realm;

use kerbsasl::testing::SaslClient;
use kerbsasl::{Error, Server, Session, Step};
use libtest_mimic::{Arguments, Trial};
#[allow(unused_imports)] // each test binary uses a different subset
pub use realm::{HOST, REALM, Realm, RealmOptions, SERVICE};
use std::process::Command;

/// Runs the trials inside a realm made with `options`.
pub fn run(options: RealmOptions, trials: fn() -> Vec<Trial>) -> ! {
    let args = Arguments::from_args();
    if Realm::attach().is_some() || args.list {
        libtest_mimic::run(&args, trials()).exit();
    }
    let realm = Realm::start(&options);
    let exe = std::env::current_exe().expect("current test binary");
    let status = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(realm.env())
        .status()
        .expect("re-run the test binary inside the realm");
    drop(realm);
    std::process::exit(status.code().unwrap_or(101));
}

/// A trial whose body gets the attached realm.
pub fn test(name: &str, body: fn(&Realm)) -> Trial {
    Trial::test(name, move || {
        let realm = Realm::attach().expect("tests run inside a realm");
        body(&realm);
        Ok(())
    })
}

/// A process-unique suffix for principals and files made by one test.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The server most tests use: mqtt/HOST from the realm's keytab.
pub fn default_server(realm: &Realm, extra: &[(&str, &str)]) -> Server {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let mut options = vec![("principal", SERVICE), ("keytab", keytab.as_str())];
    options.extend_from_slice(extra);
    Server::from_options(options).unwrap_or_else(|e| panic!("server: {e}"))
}

/// Drives a whole handshake; returns the finished session or the first
/// server error.
pub fn handshake(server: &Server, client: &mut SaslClient) -> Result<Session, Error> {
    let token = client.initial_token().expect("client initial token");
    let (mut session, mut step) = server.start(&token)?;
    for _ in 0..4 {
        match step {
            Step::Authenticated => return Ok(session),
            Step::Continue(challenge) => {
                let reply = client.respond(&challenge).expect("client reply");
                step = session.step(&reply)?;
            }
        }
    }
    panic!("handshake did not finish in 4 round trips");
}

/// A client for `target` with alice's tickets.
pub fn alice(realm: &Realm, target: &str) -> SaslClient {
    SaslClient::new(&realm.ccache_for("alice"), target, true).expect("client")
}

/// A ccache name (`FILE:...`) with a new TGT for `user`, of its own so that
/// no service ticket cached by another test is reused.
pub fn fresh_ccache(realm: &Realm, user: &str) -> String {
    let ccache = realm.path(&format!("{}.ccache", unique("fresh")));
    realm.kinit(user, &ccache);
    format!("FILE:{}", ccache.display())
}

/// A client for `target` as `user`, with a ccache of its own.
pub fn fresh_client(realm: &Realm, user: &str, target: &str) -> SaslClient {
    SaslClient::new(&fresh_ccache(realm, user), target, true).expect("client")
}

/// Adds service principal `name` (e.g. "amqp/broker.kerbsasl.test") and
/// returns a new keytab holding its key.
pub fn service_keytab(realm: &Realm, name: &str) -> std::path::PathBuf {
    realm.add_service(name);
    let keytab = realm.path(&format!("{}.keytab", unique("svc")));
    realm.export_keytab(&keytab, &[name]);
    keytab
}

/// A server from options, failing the test on error.
pub fn server(options: &[(&str, &str)]) -> Server {
    Server::from_options(options.iter().copied()).unwrap_or_else(|e| panic!("server: {e}"))
}

/// The error a configuration fails with.
pub fn server_error(options: &[(&str, &str)]) -> Error {
    match Server::from_options(options.iter().copied()) {
        Ok(_) => panic!("server created with {options:?}"),
        Err(e) => e,
    }
}

/// Asserts an error's kind and that its message contains every fragment.
#[track_caller]
pub fn assert_error(error: &Error, kind: kerbsasl::ErrorKind, fragments: &[&str]) {
    assert_eq!(error.kind(), kind, "unexpected kind for: {error}");
    for fragment in fragments {
        assert!(
            error.message().contains(fragment),
            "message lacks {fragment:?}: {error}"
        );
    }
}
