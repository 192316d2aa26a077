//! Time-dependent failures, in a realm whose krb5.conf allows only 3 s of
//! clock skew so that tickets and authenticators age in seconds.

mod support;

use kerbsasl::ErrorKind;
use kerbsasl::testing::http::NegotiateClient;
use std::time::Duration;
use support::{
    HOST, REALM, Realm, RealmOptions, alice, assert_error, default_server, test, unique,
};

const SKEW_SECONDS: u32 = 3;

fn main() {
    let options = RealmOptions {
        clockskew: Some(SKEW_SECONDS),
        ..RealmOptions::default()
    };
    support::run(options, || {
        vec![
            test(
                "authenticator_older_than_the_skew",
                authenticator_older_than_the_skew,
            ),
            test("expired_ticket", expired_ticket),
            test("http_expired_ticket", http_expired_ticket),
        ]
    })
}

fn authenticator_older_than_the_skew(realm: &Realm) {
    let server = default_server(realm, &[]);
    let token = alice(realm, support::SERVICE).initial_token().unwrap();
    std::thread::sleep(Duration::from_secs(u64::from(SKEW_SECONDS) + 2));
    let error = server.start(&token).unwrap_err();
    assert_error(
        &error,
        ErrorKind::AuthFailed,
        &["Clock skew too great", "NTP"],
    );
}

/// A server for a new service whose tickets live one second.
fn brief_service(realm: &Realm, principal: &str) -> kerbsasl::Server {
    let keytab = support::service_keytab(realm, principal);
    realm.kadmin(&[format!("modprinc -maxlife \"1 second\" {principal}")]);
    let keytab = keytab.display().to_string();
    support::server(&[("principal", principal), ("keytab", &keytab)])
}

/// Waits until a one-second ticket is expired: past its end time plus the
/// allowed skew.
fn wait_for_expiry() {
    std::thread::sleep(Duration::from_secs(1 + u64::from(SKEW_SECONDS) + 2));
}

fn expired_ticket(realm: &Realm) {
    let principal = format!("{}/{HOST}@{REALM}", unique("brief"));
    let server = brief_service(realm, &principal);
    let token = support::fresh_client(realm, "alice", &principal)
        .initial_token()
        .unwrap();
    wait_for_expiry();
    let error = server.start(&token).unwrap_err();
    assert_error(
        &error,
        ErrorKind::AuthFailed,
        &["Ticket expired", "fresh ticket"],
    );
}

fn http_expired_ticket(realm: &Realm) {
    let principal = format!("HTTP/{}.kerbsasl.test@{REALM}", unique("brief"));
    let server = brief_service(realm, &principal);
    let header = NegotiateClient::spnego(&support::fresh_ccache(realm, "alice"), &principal, true)
        .unwrap()
        .authorization()
        .unwrap();
    wait_for_expiry();
    let error = server
        .http_authenticate(Some(header.as_bytes()))
        .unwrap_err();
    assert_error(
        &error,
        ErrorKind::AuthFailed,
        &["Ticket expired", "fresh ticket"],
    );
}
