//! Every failure a client or an operator can cause, with its exact kind and
//! a message that says what happened.

mod support;

use kerbsasl::testing::SaslClient;
use kerbsasl::{ErrorKind, Server, Session, Step};
use support::{
    HOST, REALM, Realm, RealmOptions, SERVICE, alice, assert_error, default_server, fresh_client,
    handshake, server_error, service_keytab, test, unique,
};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("ticket_for_another_service", ticket_for_another_service),
            test(
                "any_principal_without_the_ticket_s_key",
                any_principal_without_key,
            ),
            test("missing_keytab", missing_keytab),
            test("keytab_without_the_principal", keytab_without_the_principal),
            test("empty_or_corrupt_keytab", empty_or_corrupt_keytab),
            test("stale_kvno", stale_kvno),
            test("replayed_ap_req", replayed_ap_req),
            test("garbage_token", garbage_token),
            test("truncated_token", truncated_token),
            test("empty_token", empty_token),
            test("spnego_token", spnego_token),
            test("tampered_ap_req", tampered_ap_req),
            test("bad_layer_choices", bad_layer_choices),
            test("non_empty_reply_after_ap_rep", non_empty_reply_after_ap_rep),
            test(
                "reply_not_wrapped_by_this_session",
                reply_not_wrapped_by_this_session,
            ),
            test("authzid_mismatch", authzid_mismatch),
            test("authzid_reject_policy", authzid_reject_policy),
            test("realm_not_allowed", realm_not_allowed),
            test("step_after_ok", step_after_ok),
            test("step_after_failure", step_after_failure),
            test("step_after_panic", step_after_panic),
        ]
    })
}

/// Runs the exchange until the server's wrapped offer: returns the session
/// and the client, ready for a security-layer reply.
fn until_offer(server: &Server, client: &mut SaslClient) -> (Session, Vec<u8>) {
    let (mut session, step) = server.start(&client.initial_token().unwrap()).unwrap();
    let Step::Continue(ap_rep) = step else {
        panic!("expected the AP-REP")
    };
    assert!(client.respond(&ap_rep).unwrap().is_empty());
    let Step::Continue(offer) = session.step(&[]).unwrap() else {
        panic!("expected the offer")
    };
    (session, offer)
}

fn start_error(server: &Server, token: &[u8]) -> kerbsasl::Error {
    match server.start(token) {
        Ok(_) => panic!("start accepted {} bytes", token.len()),
        Err(e) => e,
    }
}

fn ticket_for_another_service(realm: &Realm) {
    let server = default_server(realm, &[]);
    let other = format!("other/{HOST}@{REALM}");
    let error = handshake(&server, &mut alice(realm, &other)).unwrap_err();
    assert_error(
        &error,
        ErrorKind::AuthFailed,
        &["Kerberos rejected the client", &other, "different service"],
    );
}

fn any_principal_without_key(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let server = support::server(&[("principal", "*"), ("keytab", &keytab)]);
    let other = format!("other/{HOST}@{REALM}");
    let error = handshake(&server, &mut alice(realm, &other)).unwrap_err();
    assert_error(&error, ErrorKind::AuthFailed, &[&other, "Hint"]);
}

fn missing_keytab(realm: &Realm) {
    let missing = realm.path("no-such.keytab").display().to_string();
    let error = server_error(&[("principal", SERVICE), ("keytab", &missing)]);
    assert_error(&error, ErrorKind::Config, &[&missing, SERVICE, "not found"]);
}

fn keytab_without_the_principal(realm: &Realm) {
    let keytab = realm.path("mqtt.keytab").display().to_string();
    let other = format!("other/{HOST}@{REALM}");
    let error = server_error(&[("principal", &other), ("keytab", &keytab)]);
    assert_error(
        &error,
        ErrorKind::Config,
        &[
            &keytab,
            &other,
            "it holds keys for: mqtt/broker.kerbsasl.test@KERBSASL.TEST",
        ],
    );
}

fn empty_or_corrupt_keytab(realm: &Realm) {
    for (name, bytes) in [
        ("empty.keytab", &b""[..]),
        ("corrupt.keytab", b"\x05\x02garbage"),
    ] {
        let path = realm.path(name);
        std::fs::write(&path, bytes).unwrap();
        let path = path.display().to_string();
        let error = server_error(&[("principal", SERVICE), ("keytab", &path)]);
        assert_error(&error, ErrorKind::Config, &[&path, SERVICE]);
        let message = error.message();
        assert!(
            message.contains("cannot read keytab")
                || message.contains("is empty")
                || message.contains("is an empty file"),
            "{message}"
        );
    }
}

fn stale_kvno(realm: &Realm) {
    let principal = format!("{}/{HOST}@{REALM}", unique("stale"));
    let keytab = service_keytab(realm, &principal).display().to_string();
    let server = support::server(&[("principal", &principal), ("keytab", &keytab)]);
    realm.kadmin(&[format!("cpw -randkey {principal}")]);
    let error = handshake(&server, &mut fresh_client(realm, "alice", &principal)).unwrap_err();
    assert_error(
        &error,
        ErrorKind::AuthFailed,
        &["kvno", "export the current key"],
    );
}

fn replayed_ap_req(realm: &Realm) {
    let server = default_server(realm, &[]);
    let token = alice(realm, SERVICE).initial_token().unwrap();
    server.start(&token).expect("first use");
    let error = start_error(&server, &token);
    assert_error(
        &error,
        ErrorKind::AuthFailed,
        &["Request is a replay", "already used"],
    );
    // A second server on the same replay cache rejects it too.
    let other_server = default_server(realm, &[]);
    let error = start_error(&other_server, &token);
    assert_error(&error, ErrorKind::AuthFailed, &["replay"]);
}

fn garbage_token(realm: &Realm) {
    let server = default_server(realm, &[]);
    let garbage: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert_error(
        &start_error(&server, &garbage),
        ErrorKind::BadToken,
        &["not a GSSAPI token"],
    );
    // Correct framing around garbage reaches MIT's parser.
    let mut framed = vec![0x60, 0x81, 0x9d, 0x06, 0x09];
    framed.extend_from_slice(b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01\x00");
    framed.extend_from_slice(&garbage[..144]);
    assert_error(
        &start_error(&server, &framed),
        ErrorKind::BadToken,
        &["malformed Kerberos token"],
    );
}

fn truncated_token(realm: &Realm) {
    let server = default_server(realm, &[]);
    let token = alice(realm, SERVICE).initial_token().unwrap();
    for cut in [1, 10, token.len() / 2, token.len() - 1] {
        let error = start_error(&server, &token[..cut]);
        assert_eq!(error.kind(), ErrorKind::BadToken, "cut at {cut}: {error}");
    }
    assert_error(
        &start_error(&server, &token[..token.len() - 1]),
        ErrorKind::BadToken,
        &["truncated"],
    );
}

fn empty_token(realm: &Realm) {
    let server = default_server(realm, &[]);
    assert_error(
        &start_error(&server, &[]),
        ErrorKind::BadToken,
        &["empty initial token"],
    );
}

fn spnego_token(realm: &Realm) {
    let server = default_server(realm, &[]);
    // A NegTokenInit header: [APPLICATION 0] { OID 1.3.6.1.5.5.2, ... }.
    let spnego = b"\x60\x0e\x06\x06\x2b\x06\x01\x05\x05\x02\xa0\x04\x30\x02\xa0\x00";
    assert_error(
        &start_error(&server, spnego),
        ErrorKind::BadToken,
        &["SPNEGO"],
    );
}

fn tampered_ap_req(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut token = alice(realm, SERVICE).initial_token().unwrap();
    let last = token.len() - 20;
    token[last] ^= 0xff;
    let error = start_error(&server, &token);
    assert!(
        matches!(error.kind(), ErrorKind::AuthFailed | ErrorKind::BadToken),
        "{error:?}"
    );
    assert!(error.message().contains("Kerberos") || error.message().contains("malformed"));
}

fn bad_layer_choices(realm: &Realm) {
    let server = default_server(realm, &[]);
    for (reply, expected) in [
        (&b"\x02\x00\x10\x00"[..], "integrity protection (0x02)"),
        (b"\x04\x00\x10\x00", "confidentiality (0x04)"),
        (b"\x03\x00\x00\x00", "exactly one"),
        (b"\x00\x00\x00\x00", "exactly one"),
        (b"\x01\x00\xff\xff", "maximum buffer size"),
        (b"\x01\x00", "at least 4"),
        (b"\x01\x00\x00\x00\xc3\x28", "UTF-8"),
        (b"\x01\x00\x00\x00a\x00b", "NUL"),
    ] {
        let mut client = alice(realm, SERVICE);
        let (mut session, _offer) = until_offer(&server, &mut client);
        let error = session.step(&client.wrap(reply).unwrap()).unwrap_err();
        assert_error(&error, ErrorKind::BadToken, &[expected]);
    }
}

fn non_empty_reply_after_ap_rep(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client = alice(realm, SERVICE);
    let (mut session, _) = server.start(&client.initial_token().unwrap()).unwrap();
    let error = session.step(b"unexpected").unwrap_err();
    assert_error(
        &error,
        ErrorKind::BadToken,
        &["10 bytes after the server's AP-REP", "empty"],
    );
}

fn reply_not_wrapped_by_this_session(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client = alice(realm, SERVICE);
    let (mut session, offer) = until_offer(&server, &mut client);
    let mut reply = client.respond(&offer).unwrap();
    let middle = reply.len() / 2;
    reply[middle] ^= 0x01;
    let error = session.step(&reply).unwrap_err();
    assert_error(&error, ErrorKind::BadToken, &["not a valid wrap token"]);
}

fn authzid_mismatch(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client = alice(realm, SERVICE).with_authzid("bob@KERBSASL.TEST");
    let error = handshake(&server, &mut client).unwrap_err();
    assert_error(
        &error,
        ErrorKind::AuthzDenied,
        &["alice@KERBSASL.TEST", "bob@KERBSASL.TEST"],
    );
}

fn authzid_reject_policy(realm: &Realm) {
    let server = default_server(realm, &[("authzid", "reject")]);
    let mut client = alice(realm, SERVICE).with_authzid("alice@KERBSASL.TEST");
    let error = handshake(&server, &mut client).unwrap_err();
    assert_error(&error, ErrorKind::AuthzDenied, &["authzid = reject"]);
    let any = default_server(realm, &[("authzid", "any")]);
    let mut client = alice(realm, SERVICE).with_authzid("bob");
    let session = handshake(&any, &mut client).unwrap();
    let id = session.identity().unwrap();
    assert_eq!(id.authzid.as_deref(), Some("bob"));
    assert_eq!(
        id.username, "alice@KERBSASL.TEST",
        "the username stays the Kerberos identity"
    );
}

fn realm_not_allowed(realm: &Realm) {
    let server = default_server(realm, &[("allowed_realms", "OTHER.TEST, THIRD.TEST")]);
    let error = handshake(&server, &mut alice(realm, SERVICE)).unwrap_err();
    assert_error(
        &error,
        ErrorKind::AuthzDenied,
        &[
            "alice@KERBSASL.TEST",
            "realm KERBSASL.TEST",
            "OTHER.TEST, THIRD.TEST",
        ],
    );
}

fn step_after_ok(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut session = handshake(&server, &mut alice(realm, SERVICE)).unwrap();
    let error = session.step(&[]).unwrap_err();
    assert_error(&error, ErrorKind::BadState, &["already succeeded"]);
    assert!(session.identity().is_some(), "the identity stays readable");
}

/// A step that panics (a failpoint) leaves the session failed.
fn step_after_panic(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client = alice(realm, SERVICE);
    let (mut session, ap_rep) = server.start(&client.initial_token().unwrap()).unwrap();
    let Step::Continue(ap_rep) = ap_rep else {
        panic!("expected the AP-REP")
    };
    let empty = client.respond(&ap_rep).unwrap();
    kerbsasl::testing::failpoint::arm("session step");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| session.step(&empty)));
    assert!(caught.is_err(), "the failpoint panics");
    let error = session.step(&empty).unwrap_err();
    assert_error(
        &error,
        ErrorKind::BadState,
        &["already failed", "interrupted"],
    );
    assert!(session.identity().is_none());
}

fn step_after_failure(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut client = alice(realm, SERVICE);
    let (mut session, _) = server.start(&client.initial_token().unwrap()).unwrap();
    session.step(b"x").unwrap_err();
    let error = session.step(&[]).unwrap_err();
    assert_error(
        &error,
        ErrorKind::BadState,
        &["already failed", "after the server's AP-REP"],
    );
    assert!(session.identity().is_none());
}
