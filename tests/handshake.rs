//! Full handshakes through the safe Rust API against a real KDC.

mod support;

use kerbsasl::{ErrorKind, Server, Step};
use support::{HOST, REALM, Realm, RealmOptions, SERVICE, alice, default_server, handshake, test};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("authenticates_alice", authenticates_alice),
            test(
                "sends_offer_without_mutual_auth",
                sends_offer_without_mutual_auth,
            ),
        ]
    })
}

fn authenticates_alice(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client = alice(realm, SERVICE);
    let session = handshake(&server, &mut client).expect("handshake");
    let id = session.identity().expect("identity");
    assert_eq!(id.principal, format!("alice@{REALM}"));
    assert_eq!(id.username, format!("alice@{REALM}"));
    assert_eq!(id.realm, REALM);
    assert_eq!(id.authzid, None);
}

fn sends_offer_without_mutual_auth(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client =
        kerbsasl::testing::SaslClient::new(&realm.ccache_for("alice"), SERVICE, false).unwrap();
    let token = client.initial_token().unwrap();
    let (mut session, step) = server.start(&token).unwrap();
    let Step::Continue(offer) = step else {
        panic!("expected the offer")
    };
    let reply = client.respond(&offer).unwrap();
    assert_eq!(session.step(&reply).unwrap(), Step::Authenticated);
    let _ = (HOST, ErrorKind::Config, Server::start);
}
