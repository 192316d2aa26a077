//! strip_realm across a realm trust (issue 15): PARTNER.TEST's alice must
//! never get KERBSASL.TEST's alice's username, unless the operator lists
//! both realms as local. Through the C ABI, with two real realms.

mod support;

use kerbsasl::ffi::kerbsasl_result;
use support::cabi::{CIdentity, c_handshake};
use support::realm::PARTNER_REALM;
use support::{REALM, Realm, RealmOptions, SERVICE, fresh_client, test};

fn main() {
    support::run(
        RealmOptions {
            partner: true,
            ..RealmOptions::default()
        },
        || {
            vec![
                test("partner_user_keeps_her_realm", partner_user_keeps_her_realm),
                test("local_user_loses_the_realm", local_user_loses_the_realm),
                test("local_realms_lists_both", local_realms_lists_both),
                test(
                    "allowed_realms_refuses_the_partner",
                    allowed_realms_refuses_the_partner,
                ),
                test(
                    "default_realm_is_local_for_any_principal",
                    default_realm_is_local_for_any_principal,
                ),
                test(
                    "bad_local_realms_is_a_config_error",
                    bad_local_realms_is_a_config_error,
                ),
                test("http_partner_user_keeps_her_realm", http_partner_user),
            ]
        },
    )
}

fn partner_alice() -> String {
    format!("alice@{PARTNER_REALM}")
}

/// alice of `realm` through the C ABI, with `extra` options on top of the
/// realm's service principal and keytab.
fn login(
    realm: &Realm,
    user: &str,
    extra: &[(&str, &str)],
) -> Result<CIdentity, (kerbsasl_result, String)> {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let mut options = vec![("principal", SERVICE), ("keytab", keytab.as_str())];
    options.extend_from_slice(extra);
    c_handshake(&options, &mut fresh_client(realm, user, SERVICE))
}

fn partner_user_keeps_her_realm(realm: &Realm) {
    let id = login(realm, &partner_alice(), &[("strip_realm", "true")]).expect("partner alice");
    assert_eq!(
        id,
        CIdentity {
            principal: partner_alice(),
            username: partner_alice(),
            realm: PARTNER_REALM.into(),
        }
    );
}

fn local_user_loses_the_realm(realm: &Realm) {
    let id = login(realm, "alice", &[("strip_realm", "true")]).expect("alice");
    assert_eq!(id.username, "alice");
    assert_eq!(id.principal, format!("alice@{REALM}"));
}

fn local_realms_lists_both(realm: &Realm) {
    let both = format!("{REALM},{PARTNER_REALM}");
    let options = [("strip_realm", "true"), ("local_realms", both.as_str())];
    assert_eq!(
        login(realm, &partner_alice(), &options).unwrap().username,
        "alice"
    );
    assert_eq!(login(realm, "alice", &options).unwrap().username, "alice");
}

fn allowed_realms_refuses_the_partner(realm: &Realm) {
    let (code, message) = login(
        realm,
        &partner_alice(),
        &[("strip_realm", "true"), ("allowed_realms", REALM)],
    )
    .unwrap_err();
    assert_eq!(code, kerbsasl_result::KERBSASL_AUTHZ_DENIED);
    assert!(message.contains("not in allowed_realms"), "{message}");
}

/// With principal `*` the local realm is krb5.conf's default realm.
fn default_realm_is_local_for_any_principal(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let options = [
        ("principal", "*"),
        ("keytab", keytab.as_str()),
        ("strip_realm", "true"),
    ];
    let local = c_handshake(&options, &mut fresh_client(realm, "alice", SERVICE)).unwrap();
    assert_eq!(local.username, "alice");
    let partner = c_handshake(
        &options,
        &mut fresh_client(realm, &partner_alice(), SERVICE),
    )
    .unwrap();
    assert_eq!(partner.username, partner_alice());
}

fn bad_local_realms_is_a_config_error(realm: &Realm) {
    let (code, message) = login(realm, "alice", &[("local_realms", "A,,B")]).unwrap_err();
    assert_eq!(code, kerbsasl_result::KERBSASL_CONFIG);
    assert!(message.contains("\"local_realms\""), "{message}");
}

/// HTTP Negotiate applies the same rules: the partner's alice keeps her
/// realm in the username, and the realm is there for role mapping.
fn http_partner_user(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let server = support::server(&[
        ("principal", SERVICE),
        ("keytab", &keytab),
        ("strip_realm", "true"),
    ]);
    let ccache = support::fresh_ccache(realm, &partner_alice());
    let header = kerbsasl::testing::http::NegotiateClient::spnego(&ccache, SERVICE, true)
        .unwrap()
        .authorization()
        .unwrap();
    match server.http_authenticate(Some(header.as_bytes())) {
        Ok(kerbsasl::HttpAuth::Authenticated { identity, .. }) => {
            assert_eq!(identity.username, partner_alice());
            assert_eq!(identity.realm, PARTNER_REALM);
        }
        other => panic!("partner alice over HTTP: {other:?}"),
    }
}
