//! Security layers through the safe Rust API against a real KDC: the offer
//! built from the host's policy, the client's choice, and wrap/unwrap of
//! data once the handshake is done.

mod support;

use kerbsasl::testing::SaslClient;
use kerbsasl::{ErrorKind, LayerPolicy, Protection, Server, Session, Step};
use support::{Realm, RealmOptions, SERVICE, assert_error, default_server, fresh_client, test};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("the_default_offer_is_no_layer", default_offer),
            test("offers_every_layer_the_policy_allows", open_offer),
            test("integrity_wraps_without_encrypting", integrity),
            test(
                "confidentiality_encrypts_with_the_enctype_ssf",
                confidentiality,
            ),
            test(
                "refuses_integrity_only_data_under_confidentiality",
                weaker_data_refused,
            ),
            test(
                "a_required_layer_refuses_the_no_layer_choice",
                required_layer,
            ),
            test("an_unreachable_min_ssf_is_too_weak", unreachable_min_ssf),
            test("wrap_needs_a_negotiated_layer", wrap_needs_a_layer),
            test("unwrap_refuses_garbage", unwrap_refuses_garbage),
            test(
                "unwrap_leaves_the_token_alone",
                unwrap_leaves_the_token_alone,
            ),
            test(
                "unwrap_refuses_replayed_and_reordered_messages",
                replayed_messages_refused,
            ),
            test(
                "a_buffer_too_small_for_any_data_is_refused",
                buffer_too_small,
            ),
        ]
    })
}

const OPEN: LayerPolicy = LayerPolicy {
    min_ssf: 0,
    max_ssf: u32::MAX,
    max_buffer: 65536,
};

/// Runs a handshake with `policy`; the client chooses as configured.
fn run(
    server: &Server,
    policy: LayerPolicy,
    client: &mut SaslClient,
) -> Result<Session, kerbsasl::Error> {
    let token = client.initial_token().expect("initial token");
    let (mut session, mut step) = server.start_with_layers(policy, &token)?;
    while let Step::Continue(challenge) = step {
        let reply = client.respond(&challenge).expect("client reply");
        step = session.step(&reply)?;
    }
    Ok(session)
}

fn client(realm: &Realm, protection: Protection) -> SaslClient {
    fresh_client(realm, "alice", SERVICE).with_layer(protection, 4096)
}

fn default_offer(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::None);
    let session = run(&server, LayerPolicy::NONE, &mut alice).unwrap();
    assert_eq!(alice.offer(), Some(&[1u8, 0, 0, 0][..]));
    let layer = session.security_layer().expect("layer");
    assert_eq!((layer.protection, layer.ssf), (Protection::None, 0));
}

fn open_offer(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::None);
    run(&server, OPEN, &mut alice).unwrap();
    assert_eq!(alice.offer(), Some(&[7u8, 0x01, 0x00, 0x00][..]));
}

fn integrity(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::Integrity);
    let session = run(&server, OPEN, &mut alice).unwrap();
    let layer = *session.security_layer().expect("layer");
    assert_eq!((layer.protection, layer.ssf), (Protection::Integrity, 1));
    assert_eq!((layer.peer_max_buffer, layer.max_buffer), (4096, 65536));
    assert!(
        layer.max_plaintext > 4000 && layer.max_plaintext < 4096,
        "{layer:?}"
    );
    let (message, encrypted) = alice
        .unprotect(&session.wrap(b"to alice").unwrap())
        .unwrap();
    assert_eq!((message.as_slice(), encrypted), (&b"to alice"[..], false));
    let plain = alice.protect(false, b"from alice").unwrap();
    assert_eq!(session.unwrap(&plain).unwrap(), b"from alice");
    // Stronger than negotiated is fine.
    let sealed = alice.protect(true, b"sealed").unwrap();
    assert_eq!(session.unwrap(&sealed).unwrap(), b"sealed");
}

fn confidentiality(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::Confidentiality);
    let session = run(&server, OPEN, &mut alice).unwrap();
    let layer = *session.security_layer().expect("layer");
    // The test realm issues aes256-cts tickets.
    assert_eq!(
        (layer.protection, layer.ssf),
        (Protection::Confidentiality, 256)
    );
    let (message, encrypted) = alice.unprotect(&session.wrap(b"secret").unwrap()).unwrap();
    assert_eq!((message.as_slice(), encrypted), (&b"secret"[..], true));
    let sealed = alice.protect(true, b"reply").unwrap();
    assert_eq!(session.unwrap(&sealed).unwrap(), b"reply");
}

fn weaker_data_refused(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::Confidentiality);
    let session = run(&server, OPEN, &mut alice).unwrap();
    let plain = alice.protect(false, b"in the clear").unwrap();
    assert_error(
        &session.unwrap(&plain).unwrap_err(),
        ErrorKind::BadToken,
        &[
            "integrity protection only",
            "confidentiality was negotiated",
        ],
    );
}

fn required_layer(realm: &Realm) {
    let server = default_server(realm, &[]);
    let policy = LayerPolicy {
        min_ssf: 56,
        ..OPEN
    };
    // A client choosing "no layer" although only confidentiality is offered.
    let mut alice = fresh_client(realm, "alice", SERVICE);
    let token = alice.initial_token().unwrap();
    let (mut session, step) = server.start_with_layers(policy, &token).unwrap();
    let Step::Continue(ap_rep) = step else {
        panic!("AP-REP expected")
    };
    alice.respond(&ap_rep).unwrap();
    let Step::Continue(_offer) = session.step(&[]).unwrap() else {
        panic!("offer expected")
    };
    let reply = alice.wrap(&[1, 0, 0, 0]).unwrap();
    assert_error(
        &session.step(&reply).unwrap_err(),
        ErrorKind::BadToken,
        &[
            "chose no security layer (0x01)",
            "\"confidentiality\" (0x04)",
        ],
    );
    // The same policy with a client that picks confidentiality succeeds.
    let mut alice = client(realm, Protection::Confidentiality);
    let session = run(&server, policy, &mut alice).unwrap();
    assert_eq!(alice.offer().unwrap()[0], 4);
    assert_eq!(session.security_layer().unwrap().ssf, 256);
}

fn unreachable_min_ssf(realm: &Realm) {
    let server = default_server(realm, &[]);
    let policy = LayerPolicy {
        min_ssf: 512,
        ..OPEN
    };
    let mut alice = client(realm, Protection::Confidentiality);
    assert_error(
        &run(&server, policy, &mut alice).unwrap_err(),
        ErrorKind::TooWeak,
        &["an SSF of at least 512", "confidentiality with SSF 256"],
    );
}

fn wrap_needs_a_layer(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::None);
    let session = run(&server, OPEN, &mut alice).unwrap();
    assert_error(
        &session.wrap(b"x").unwrap_err(),
        ErrorKind::BadState,
        &["no security layer was negotiated"],
    );
    let mut bob = fresh_client(realm, "bob", SERVICE);
    let (half, _) = server.start(&bob.initial_token().unwrap()).unwrap();
    assert_error(
        &half.unwrap(b"x").unwrap_err(),
        ErrorKind::BadState,
        &["has not succeeded"],
    );
}

fn unwrap_refuses_garbage(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::Integrity);
    let session = run(&server, OPEN, &mut alice).unwrap();
    assert_error(
        &session.unwrap(&[]).unwrap_err(),
        ErrorKind::BadToken,
        &["empty"],
    );
    assert_error(
        &session.unwrap(&[0x05, 0x04, 0, 0xff, 1, 2, 3]).unwrap_err(),
        ErrorKind::BadToken,
        &["failed its check"],
    );
}

/// MIT's gss_unwrap works on CFX tokens in place (it rotates them by their
/// RRC, rewrites header fields): the caller's bytes, which may be a host's
/// read-only buffer, must come back unchanged.
fn unwrap_leaves_the_token_alone(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::Integrity);
    let session = run(&server, OPEN, &mut alice).unwrap();
    // A wrap token rotated by RRC = 12, as Windows (SSPI) clients send them.
    let token = alice.protect(false, b"rotated by the sender").unwrap();
    let (header, body) = token.split_at(16);
    let mut rotated = header.to_vec();
    rotated[6..8].copy_from_slice(&12u16.to_be_bytes());
    rotated.extend_from_slice(&body[body.len() - 12..]);
    rotated.extend_from_slice(&body[..body.len() - 12]);
    let sent = rotated.clone();
    assert_eq!(session.unwrap(&rotated).unwrap(), b"rotated by the sender");
    assert_eq!(rotated, sent, "unwrap changed the caller's token");
    // A header fuzzing found MIT rewriting (fuzz/regressions/layers).
    let odd = vec![
        5, 4, 8, 255, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 18, 5, 5, 4, 8, 255, 0,
    ];
    let sent = odd.clone();
    assert!(session.unwrap(&odd).is_err());
    assert_eq!(odd, sent, "unwrap changed the caller's token");
}

/// MIT reports a replayed or reordered wrap token as a supplementary
/// status beside GSS_S_COMPLETE: an active attacker repeating or
/// reordering a client's protected messages must be refused all the same.
fn replayed_messages_refused(realm: &Realm) {
    let server = default_server(realm, &[]);
    let mut alice = client(realm, Protection::Integrity);
    let session = run(&server, OPEN, &mut alice).unwrap();
    let first = alice.protect(false, b"first").unwrap();
    let second = alice.protect(false, b"second").unwrap();
    let third = alice.protect(false, b"third").unwrap();
    assert_eq!(session.unwrap(&first).unwrap(), b"first");
    assert_error(
        &session.unwrap(&first).unwrap_err(),
        ErrorKind::BadToken,
        &["failed its check"],
    );
    // `second` skipped: `third` follows a gap, then `second` is too late.
    assert!(session.unwrap(&third).is_err());
    assert!(session.unwrap(&second).is_err());
}

/// A client buffer too small to hold any protected data would leave
/// libsasl2 hosts with a maximum output size of 0, on which sasl_encodev
/// never ends: the handshake refuses it.
fn buffer_too_small(realm: &Realm) {
    let server = default_server(realm, &[]);
    for protection in [Protection::Integrity, Protection::Confidentiality] {
        let mut alice = fresh_client(realm, "alice", SERVICE).with_layer(protection, 16);
        assert_error(
            &run(&server, OPEN, &mut alice).unwrap_err(),
            ErrorKind::BadToken,
            &["maximum buffer size of 16"],
        );
    }
}
