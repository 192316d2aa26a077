//! Anonymous Kerberos clients are refused. The realm issues anonymous
//! tickets through anonymous PKINIT (`kinit -n`), as any MIT KDC with a
//! PKINIT certificate and WELLKNOWN/ANONYMOUS does unless
//! restrict_anonymous_to_tgt is set; such a client gets real service
//! tickets, and MIT's acceptor accepts them without GSS_C_ANON_FLAG. It
//! must never become a user: over SASL (the C ABI), HTTP Negotiate (the
//! Rust API), whatever the username mapping and realm rules, while alice of
//! the same realm still gets in.

mod support;

use kerbsasl::ffi::kerbsasl_result;
use kerbsasl::testing::SaslClient;
use kerbsasl::testing::http::NegotiateClient;
use kerbsasl::{ErrorKind, HttpAuth};
use support::cabi::c_handshake;
use support::realm::{ANONYMOUS, ANONYMOUS_REALM};
use support::{REALM, Realm, RealmOptions, SERVICE, assert_error, fresh_ccache, test, unique};

fn main() {
    support::run(
        RealmOptions {
            anonymous: true,
            ..RealmOptions::default()
        },
        || {
            vec![
                test("the_kdc_issues_anonymous_tickets", kdc_issues_anonymous),
                test("sasl_refuses_anonymous_clients", sasl_refuses_anonymous),
                test(
                    "sasl_refuses_a_realm_anonymous_request",
                    sasl_refuses_realm_anonymous,
                ),
                test("http_refuses_anonymous_clients", http_refuses_anonymous),
                test("alice_still_gets_in", alice_still_gets_in),
            ]
        },
    )
}

/// The fully anonymous principal `kinit -n` gets.
fn anonymous_principal() -> String {
    format!("{ANONYMOUS}@{ANONYMOUS_REALM}")
}

/// A ccache of its own with an anonymous TGT (`kinit -n [@realm]`).
fn anonymous_ccache(realm: &Realm, realm_name: Option<&str>) -> String {
    let ccache = realm.path(&format!("{}.ccache", unique("anonymous")));
    realm.kinit_anonymous(realm_name, &ccache);
    format!("FILE:{}", ccache.display())
}

/// What every refusal says, whichever layer reports it.
fn assert_anonymity_message(message: &str, principal: &str) {
    for fragment in [
        "authenticated anonymously",
        principal,
        "kerbsasl never accepts anonymous clients",
        "kinit as themselves",
        "restrict_anonymous_to_tgt = true",
    ] {
        assert!(message.contains(fragment), "lacks {fragment:?}: {message}");
    }
}

/// The mappings and realm rules an operator might have: none lets the
/// anonymous client in, not even allowed_realms naming its realm.
fn server_options(keytab: &str) -> Vec<Vec<(&str, &str)>> {
    let base = [("principal", SERVICE), ("keytab", keytab)];
    let extra: [&[(&str, &str)]; 6] = [
        &[],
        &[("strip_realm", "true")],
        &[("strip_realm", "true"), ("local_realms", ANONYMOUS_REALM)],
        &[("auth_to_local", "true")],
        &[("allowed_realms", ANONYMOUS_REALM)],
        &[("authzid", "any")],
    ];
    extra
        .iter()
        .map(|extra| base.iter().chain(extra.iter()).copied().collect())
        .collect()
}

/// Proof that the fixture is real: the KDC hands an anonymous client a
/// ticket for the service, so only kerbsasl stands in the way.
fn kdc_issues_anonymous(realm: &Realm) {
    let ccache = anonymous_ccache(realm, None);
    let output = realm
        .command("kvno")
        .args(["-c", &ccache, SERVICE])
        .output()
        .expect("kvno runs");
    assert!(
        output.status.success(),
        "no service ticket for the anonymous client: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let klist = realm
        .command("klist")
        .args(["-c", &ccache])
        .output()
        .expect("klist runs");
    let listing = String::from_utf8_lossy(&klist.stdout);
    assert!(
        listing.contains(&format!("Default principal: {}", anonymous_principal())),
        "{listing}"
    );
    assert!(listing.contains(SERVICE), "{listing}");
}

fn sasl_refuses_anonymous(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let ccache = anonymous_ccache(realm, None);
    for options in server_options(&keytab) {
        let mut client = SaslClient::new(&ccache, SERVICE, true).expect("anonymous client");
        let (code, message) = c_handshake(&options, &mut client)
            .map(|id| panic!("{options:?} accepted the anonymous client as {id:?}"))
            .unwrap_err();
        assert_eq!(code, kerbsasl_result::KERBSASL_AUTHZ_DENIED, "{message}");
        assert_anonymity_message(&message, &anonymous_principal());
    }
}

/// `kinit -n @REALM` asks for an anonymous principal of the realm itself
/// (WELLKNOWN/ANONYMOUS@KERBSASL.TEST, which strip_realm would shorten to
/// WELLKNOWN/ANONYMOUS); MIT 1.20's KDC answers with the fully anonymous
/// realm. Either way it is refused.
fn sasl_refuses_realm_anonymous(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let ccache = anonymous_ccache(realm, Some(REALM));
    let options = [
        ("principal", SERVICE),
        ("keytab", keytab.as_str()),
        ("strip_realm", "true"),
    ];
    let mut client = SaslClient::new(&ccache, SERVICE, true).expect("anonymous client");
    let (code, message) = c_handshake(&options, &mut client).unwrap_err();
    assert_eq!(code, kerbsasl_result::KERBSASL_AUTHZ_DENIED, "{message}");
    assert_anonymity_message(&message, &format!("{ANONYMOUS}@"));
}

fn http_refuses_anonymous(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let ccache = anonymous_ccache(realm, None);
    for options in server_options(&keytab) {
        let server = support::server(&options);
        for spnego in [true, false] {
            let mut client = if spnego {
                NegotiateClient::spnego(&ccache, SERVICE, true)
            } else {
                NegotiateClient::krb5(&ccache, SERVICE, true)
            }
            .expect("anonymous Negotiate client");
            let header = client.authorization().expect("Negotiate header");
            match server.http_authenticate(Some(header.as_bytes())) {
                Err(error) => {
                    assert_error(&error, ErrorKind::AuthzDenied, &[]);
                    assert_anonymity_message(error.message(), &anonymous_principal());
                }
                Ok(outcome) => panic!("{options:?} (spnego {spnego}): {outcome:?}"),
            }
        }
    }
}

/// The same servers take a real user of the same realm.
fn alice_still_gets_in(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let options = [
        ("principal", SERVICE),
        ("keytab", keytab.as_str()),
        ("strip_realm", "true"),
    ];
    let ccache = fresh_ccache(realm, "alice");
    let mut client = SaslClient::new(&ccache, SERVICE, true).expect("alice's client");
    let id = c_handshake(&options, &mut client).expect("alice over SASL");
    assert_eq!(id.username, "alice");
    assert_eq!(id.principal, format!("alice@{REALM}"));

    let server = support::server(&options);
    let header = NegotiateClient::spnego(&ccache, SERVICE, true)
        .and_then(|mut client| client.authorization())
        .expect("alice's Negotiate header");
    match server.http_authenticate(Some(header.as_bytes())) {
        Ok(HttpAuth::Authenticated { identity, .. }) => assert_eq!(identity.username, "alice"),
        other => panic!("alice over HTTP: {other:?}"),
    }
}
