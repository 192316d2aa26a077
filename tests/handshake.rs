//! Full handshakes through the safe Rust API against a real KDC: every
//! principal form, every mapping option, authzids, concurrency, and keytab
//! rotation while a server is live.

mod support;

use kerbsasl::testing::SaslClient;
use kerbsasl::{ErrorKind, Step};
use std::sync::Arc;
use support::{
    HOST, REALM, Realm, RealmOptions, SERVICE, alice, assert_error, default_server, fresh_client,
    handshake, server, service_keytab, test, unique,
};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("authenticates_alice", authenticates_alice),
            test(
                "sends_offer_at_once_without_mutual_auth",
                sends_offer_at_once_without_mutual_auth,
            ),
            test(
                "accepts_an_authzid_equal_to_the_principal",
                accepts_own_authzid,
            ),
            test(
                "accepts_an_authzid_equal_to_the_username",
                accepts_username_authzid,
            ),
            test(
                "any_principal_accepts_two_services_in_one_keytab",
                any_principal_two_services,
            ),
            test("accepts_the_host_based_form", host_based_form),
            test("accepts_the_default_realm_form", default_realm_form),
            test("uses_the_default_keytab_without_the_option", default_keytab),
            test("strip_realm_maps_to_the_short_name", strip_realm),
            test("auth_to_local_maps_with_krb5_conf_rules", auth_to_local),
            test(
                "auth_to_local_denies_unmappable_principals",
                auth_to_local_unmappable,
            ),
            test(
                "allowed_realms_accepts_listed_realms",
                allowed_realms_listed,
            ),
            test(
                "eight_threads_share_one_server",
                eight_threads_share_one_server,
            ),
            test(
                "picks_up_a_keytab_appended_with_a_new_kvno",
                keytab_appended,
            ),
            test("picks_up_a_keytab_replaced_atomically", keytab_replaced),
            test(
                "sessions_outlive_their_server",
                sessions_outlive_their_server,
            ),
        ]
    })
}

fn authenticates_alice(realm: &Realm) {
    let server = default_server(realm, &[]);
    let session = handshake(&server, &mut alice(realm, SERVICE)).expect("handshake");
    let id = session.identity().expect("identity");
    assert_eq!(id.principal, format!("alice@{REALM}"));
    assert_eq!(id.username, format!("alice@{REALM}"));
    assert_eq!(id.realm, REALM);
    assert_eq!(id.authzid, None);
}

fn sends_offer_at_once_without_mutual_auth(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client = SaslClient::new(&realm.ccache_for("alice"), SERVICE, false).unwrap();
    let (mut session, step) = server.start(&client.initial_token().unwrap()).unwrap();
    let Step::Continue(offer) = step else {
        panic!("expected the offer")
    };
    let reply = client.respond(&offer).unwrap();
    assert_eq!(session.step(&reply).unwrap(), Step::Authenticated);
}

fn accepts_own_authzid(realm: &Realm) {
    let server = default_server(realm, &[]);
    let own = format!("alice@{REALM}");
    let mut client = alice(realm, SERVICE).with_authzid(&own);
    let session = handshake(&server, &mut client).unwrap();
    assert_eq!(
        session.identity().unwrap().authzid.as_deref(),
        Some(own.as_str())
    );
}

fn accepts_username_authzid(realm: &Realm) {
    let server = default_server(realm, &[("strip_realm", "true")]);
    let mut client = alice(realm, SERVICE).with_authzid("alice");
    let session = handshake(&server, &mut client).unwrap();
    let id = session.identity().unwrap();
    assert_eq!(id.username, "alice");
    assert_eq!(id.authzid.as_deref(), Some("alice"));
}

fn any_principal_two_services(realm: &Realm) {
    let amqp = format!("amqp/{HOST}@{REALM}");
    let keytab = service_keytab(realm, &amqp);
    realm.export_keytab(&keytab, &[SERVICE]);
    let keytab = keytab.display().to_string();
    let server = server(&[("principal", "*"), ("keytab", &keytab)]);
    for target in [SERVICE, amqp.as_str()] {
        let session = handshake(&server, &mut alice(realm, target)).expect(target);
        assert_eq!(
            session.identity().unwrap().principal,
            format!("alice@{REALM}")
        );
    }
}

fn host_based_form(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let host_based = format!("mqtt@{HOST}");
    let server = server(&[("principal", &host_based), ("keytab", &keytab)]);
    handshake(&server, &mut alice(realm, SERVICE)).expect("host-based name accepts");
}

fn default_realm_form(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let without_realm = format!("mqtt/{HOST}");
    let server = server(&[("principal", &without_realm), ("keytab", &keytab)]);
    handshake(&server, &mut alice(realm, SERVICE)).expect("default realm form accepts");
}

fn default_keytab(realm: &Realm) {
    // The realm sets KRB5_KTNAME to its mqtt.keytab.
    let server = server(&[("principal", SERVICE)]);
    handshake(&server, &mut alice(realm, SERVICE)).expect("default keytab");
}

fn strip_realm(realm: &Realm) {
    let server = default_server(realm, &[("strip_realm", "yes")]);
    let session = handshake(&server, &mut alice(realm, SERVICE)).unwrap();
    let id = session.identity().unwrap();
    assert_eq!(id.username, "alice");
    assert_eq!(id.principal, format!("alice@{REALM}"));
    assert_eq!(id.realm, REALM);
}

fn auth_to_local(realm: &Realm) {
    let server = default_server(realm, &[("auth_to_local", "true")]);
    let session = handshake(&server, &mut alice(realm, SERVICE)).unwrap();
    assert_eq!(session.identity().unwrap().username, "alice");
    // krb5.conf's rule maps x/admin@REALM to x.
    let admin = unique("ops") + "/admin";
    realm.add_user(&admin);
    let session = handshake(&server, &mut fresh_client(realm, &admin, SERVICE)).unwrap();
    let id = session.identity().unwrap();
    assert_eq!(id.username, admin.trim_end_matches("/admin"));
    assert_eq!(id.principal, format!("{admin}@{REALM}"));
}

fn auth_to_local_unmappable(realm: &Realm) {
    let server = default_server(realm, &[("auth_to_local", "true")]);
    let user = unique("eve") + "/ops";
    realm.add_user(&user);
    let error = handshake(&server, &mut fresh_client(realm, &user, SERVICE)).unwrap_err();
    assert_error(&error, ErrorKind::AuthzDenied, &[&user, "auth_to_local"]);
}

fn allowed_realms_listed(realm: &Realm) {
    let listed = format!("OTHER.TEST,{REALM}");
    let server = default_server(realm, &[("allowed_realms", &listed)]);
    let session = handshake(&server, &mut alice(realm, SERVICE)).unwrap();
    assert_eq!(session.identity().unwrap().realm, REALM);
}

fn eight_threads_share_one_server(realm: &Realm) {
    let server = Arc::new(default_server(realm, &[("strip_realm", "true")]));
    let ccache = realm.ccache_for("alice");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let server = Arc::clone(&server);
            let ccache = ccache.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let mut client = SaslClient::new(&ccache, SERVICE, true).unwrap();
                    let session = handshake(&server, &mut client).expect("handshake");
                    assert_eq!(session.identity().unwrap().username, "alice");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no thread failed");
    }
}

/// A service whose key changes at the KDC (kvno + 1) while a server runs:
/// the keytab on disk is updated and the next handshake must use it.
fn rotation_fixture(realm: &Realm) -> (String, std::path::PathBuf, kerbsasl::Server) {
    let principal = format!("{}/{HOST}@{REALM}", unique("rotating"));
    let keytab = service_keytab(realm, &principal);
    let keytab_text = keytab.display().to_string();
    let server = server(&[("principal", &principal), ("keytab", &keytab_text)]);
    handshake(&server, &mut fresh_client(realm, "alice", &principal)).expect("before rotation");
    realm.kadmin(&[format!("cpw -randkey {principal}")]);
    let error = handshake(&server, &mut fresh_client(realm, "alice", &principal)).unwrap_err();
    assert_error(&error, ErrorKind::AuthFailed, &["kvno"]);
    (principal, keytab, server)
}

fn keytab_appended(realm: &Realm) {
    let (principal, keytab, server) = rotation_fixture(realm);
    // ktadd appends the new kvno to the existing file.
    realm.export_keytab(&keytab, &[&principal]);
    handshake(&server, &mut fresh_client(realm, "alice", &principal)).expect("after append");
}

fn keytab_replaced(realm: &Realm) {
    let (principal, keytab, server) = rotation_fixture(realm);
    let staged = keytab.with_extension("new");
    realm.export_keytab(&staged, &[&principal]);
    std::fs::rename(&staged, &keytab).unwrap();
    handshake(&server, &mut fresh_client(realm, "alice", &principal)).expect("after replace");
}

fn sessions_outlive_their_server(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client = alice(realm, SERVICE);
    let (mut session, mut step) = server.start(&client.initial_token().unwrap()).unwrap();
    drop(server);
    while let Step::Continue(challenge) = step {
        step = session.step(&client.respond(&challenge).unwrap()).unwrap();
    }
    assert!(session.identity().is_some());
}
