//! HTTP Negotiate through the safe Rust API against a real KDC: SPNEGO
//! and raw Kerberos tokens, the mutual-authentication token, identity
//! rules, Kerberos failures, keytab rotation, threads, and what SASL keeps
//! refusing on the same server.

mod support;

use kerbsasl::testing::http::NegotiateClient;
use kerbsasl::{Error, ErrorKind, HttpAuth, Identity, Server};
use std::sync::{Arc, OnceLock};
use support::{HOST, REALM, Realm, RealmOptions, assert_error, fresh_ccache, test, unique};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("spnego_token_authenticates", spnego_token_authenticates),
            test(
                "raw_kerberos_token_authenticates",
                raw_kerberos_token_authenticates,
            ),
            test(
                "spnego_without_mutual_auth_still_completes",
                spnego_without_mutual_auth,
            ),
            test(
                "no_negotiate_credentials_is_a_challenge",
                no_credentials_is_a_challenge,
            ),
            test("ntlm_is_refused_with_the_fix", ntlm_is_refused),
            test(
                "spnego_not_leading_with_kerberos_is_refused",
                spnego_not_leading_with_kerberos,
            ),
            test("malformed_headers_are_bad_tokens", malformed_headers),
            test("replayed_header_is_refused", replayed_header),
            test(
                "ticket_for_another_service_is_refused",
                ticket_for_another_service,
            ),
            test("strip_realm_maps_to_the_short_name", strip_realm),
            test("auth_to_local_maps_with_krb5_conf_rules", auth_to_local),
            test("allowed_realms_refuses_other_realms", allowed_realms),
            test(
                "any_principal_accepts_two_http_services_in_one_keytab",
                any_principal_two_http_services,
            ),
            test("picks_up_a_rotated_keytab_at_once", rotated_keytab),
            test(
                "eight_threads_share_one_server",
                eight_threads_share_one_server,
            ),
            test(
                "sasl_start_still_refuses_genuine_spnego",
                sasl_refuses_spnego,
            ),
        ]
    })
}

const HTTP_HOST: &str = "www.kerbsasl.test";

/// HTTP/HTTP_HOST and its keytab, made once per test process.
fn http_service(realm: &Realm) -> &'static (String, String) {
    static SERVICE: OnceLock<(String, String)> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let principal = format!("HTTP/{HTTP_HOST}@{REALM}");
        let keytab = support::service_keytab(realm, &principal);
        (principal, keytab.display().to_string())
    })
}

fn http_principal(realm: &Realm) -> &'static str {
    &http_service(realm).0
}

fn http_server(realm: &Realm, extra: &[(&str, &str)]) -> Server {
    let (principal, keytab) = http_service(realm);
    let mut options = vec![
        ("principal", principal.as_str()),
        ("keytab", keytab.as_str()),
    ];
    options.extend_from_slice(extra);
    support::server(&options)
}

/// A SPNEGO client (as curl) for `target` as `user`.
fn spnego_client(realm: &Realm, user: &str, target: &str, mutual: bool) -> NegotiateClient {
    NegotiateClient::spnego(&fresh_ccache(realm, user), target, mutual).expect("SPNEGO client")
}

/// Authenticates with `header`; returns the identity and WWW-Authenticate.
#[track_caller]
fn authenticated(server: &Server, header: &str) -> (Identity, Option<String>) {
    match server.http_authenticate(Some(header.as_bytes())) {
        Ok(HttpAuth::Authenticated {
            identity,
            www_authenticate,
        }) => (identity, www_authenticate),
        other => panic!("not authenticated: {other:?}"),
    }
}

#[track_caller]
fn refused(server: &Server, header: &str) -> Error {
    match server.http_authenticate(Some(header.as_bytes())) {
        Err(e) => e,
        Ok(other) => panic!("accepted {header:?}: {other:?}"),
    }
}

fn alice_header(realm: &Realm, target: &str) -> String {
    spnego_client(realm, "alice", target, true)
        .authorization()
        .unwrap()
}

fn spnego_token_authenticates(realm: &Realm) {
    let server = http_server(realm, &[]);
    let mut client = spnego_client(realm, "alice", http_principal(realm), true);
    let header = client.authorization().unwrap();
    assert!(header.starts_with("Negotiate YI"), "{header}");
    let (identity, www) = authenticated(&server, &header);
    assert_eq!(
        identity,
        Identity {
            principal: format!("alice@{REALM}"),
            username: format!("alice@{REALM}"),
            realm: REALM.to_string(),
            authzid: None,
        }
    );
    let www = www.expect("a mutual-authentication token");
    // A SPNEGO answer (negTokenResp, [1]), not a bare AP-REP.
    assert!(www.starts_with("Negotiate oY"), "{www}");
    client
        .verify(&www)
        .expect("the client accepts the server's token");
    // Another client's context refuses it: the token is bound to this one.
    let mut other = spnego_client(realm, "alice", http_principal(realm), true);
    other.authorization().unwrap();
    assert!(other.verify(&www).is_err());
}

fn raw_kerberos_token_authenticates(realm: &Realm) {
    let server = http_server(realm, &[("strip_realm", "true")]);
    let mut client =
        NegotiateClient::krb5(&fresh_ccache(realm, "bob"), http_principal(realm), true).unwrap();
    let header = client.authorization().unwrap();
    assert!(header.starts_with("Negotiate YI"), "{header}");
    let (identity, www) = authenticated(&server, &header);
    assert_eq!(identity.username, "bob");
    let www = www.expect("an AP-REP");
    // A raw krb5 AP-REP token, GSS-framed (0x60), not SPNEGO.
    assert!(www.starts_with("Negotiate Y"), "{www}");
    client.verify(&www).unwrap();
}

fn spnego_without_mutual_auth(realm: &Realm) {
    let server = http_server(realm, &[]);
    let mut client = spnego_client(realm, "alice", http_principal(realm), false);
    let (identity, www) = authenticated(&server, &client.authorization().unwrap());
    assert_eq!(identity.realm, REALM);
    // SPNEGO still answers accept-completed (without an AP-REP), which
    // completes the client's context.
    let www = www.expect("SPNEGO's accept-completed");
    assert_eq!(www, "Negotiate oRQwEqADCgEAoQsGCSqGSIb3EgECAg==");
    client.verify(&www).unwrap();
}

fn no_credentials_is_a_challenge(realm: &Realm) {
    let server = http_server(realm, &[]);
    for header in [
        None,
        Some(""),
        Some("Negotiate"),
        Some("  negotiate\t"),
        Some("Basic YWxpY2U6cHc="),
        Some("Bearer abc"),
    ] {
        let result = server.http_authenticate(header.map(str::as_bytes));
        assert_eq!(result, Ok(HttpAuth::Challenge), "{header:?}");
    }
}

fn ntlm_is_refused(realm: &Realm) {
    let server = http_server(realm, &[]);
    let raw = "Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==";
    assert_error(
        &refused(&server, raw),
        ErrorKind::BadToken,
        &[
            "raw NTLM token",
            "NTLM is not supported",
            "HTTP/",
            "intranet",
            "kinit",
        ],
    );
    let in_spnego = "Negotiate YEgGBisGAQUFAqA+MDygDjAMBgorBgEEAYI3AgIKoioEKE5UTE1TU1AAAQAAAAeCCKI\
                     AAAAAAAAAAAAAAAAAAAAACgBhSgAAAA8=";
    assert_error(
        &refused(&server, in_spnego),
        ErrorKind::BadToken,
        &["offered only NTLM", "intranet"],
    );
}

fn spnego_not_leading_with_kerberos(realm: &Realm) {
    let server = http_server(realm, &[]);
    let ntlm_first = "Negotiate YFMGBisGAQUFAqBJMEegGTAXBgorBgEEAYI3AgIKBgkqhkiG9xIBAgKiKgQoTlRMT\
                      VNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==";
    assert_error(
        &refused(&server, ntlm_first),
        ErrorKind::BadToken,
        &[
            "did not lead with a Kerberos token",
            "prefers NTLM (1.3.6.1.4.1.311.2.2.10)",
            "one round",
        ],
    );
    // A continuation token, as a client sends in a second round.
    assert_error(
        &refused(&server, "Negotiate oQcwBaADCgEB"),
        ErrorKind::BadToken,
        &["continuation", "one round"],
    );
}

fn malformed_headers(realm: &Realm) {
    let server = http_server(realm, &[]);
    let cases: &[(&str, &[&str])] = &[
        ("Negotiate YII*", &["not valid base64", "'*' at position 3"]),
        ("Negotiate YIIB YGKw", &["a space at position 4"]),
        ("Negotiate YIIBm", &["truncated"]),
        ("Negotiate ==", &["empty"]),
        ("Negotiate Zm9vYmFy", &["not a GSSAPI token"]),
        // A SPNEGO token cut short.
        (
            "Negotiate YIIBBgYGKwYBBQUCoIH7MIH4",
            &["SPNEGO token is malformed"],
        ),
    ];
    for (header, fragments) in cases {
        assert_error(&refused(&server, header), ErrorKind::BadToken, fragments);
    }
    let long = format!("Negotiate {}", "A".repeat(kerbsasl::MAX_AUTHORIZATION_LEN));
    assert_error(
        &refused(&server, &long),
        ErrorKind::BadToken,
        &["at most 98304"],
    );
}

fn replayed_header(realm: &Realm) {
    let server = http_server(realm, &[]);
    let header = alice_header(realm, http_principal(realm));
    authenticated(&server, &header);
    assert_error(
        &refused(&server, &header),
        ErrorKind::AuthFailed,
        &["Request is a replay", "replayed"],
    );
}

fn ticket_for_another_service(realm: &Realm) {
    let server = http_server(realm, &[]);
    let other = format!("other/{HOST}@{REALM}");
    assert_error(
        &refused(&server, &alice_header(realm, &other)),
        ErrorKind::AuthFailed,
        &["Kerberos rejected the client", &other, "different service"],
    );
}

fn strip_realm(realm: &Realm) {
    let server = http_server(realm, &[("strip_realm", "true")]);
    let (identity, _) = authenticated(&server, &alice_header(realm, http_principal(realm)));
    assert_eq!(identity.username, "alice");
    assert_eq!(identity.principal, format!("alice@{REALM}"));
    assert_eq!(identity.realm, REALM);
}

fn auth_to_local(realm: &Realm) {
    // The realm's krb5.conf maps NAME/admin to NAME.
    realm.add_user("carol/admin");
    let server = http_server(realm, &[("auth_to_local", "true")]);
    let header = spnego_client(realm, "carol/admin", http_principal(realm), true)
        .authorization()
        .unwrap();
    let (identity, _) = authenticated(&server, &header);
    assert_eq!(identity.username, "carol");
    assert_eq!(identity.principal, format!("carol/admin@{REALM}"));
}

fn allowed_realms(realm: &Realm) {
    let server = http_server(realm, &[("allowed_realms", "PARTNER.TEST")]);
    assert_error(
        &refused(&server, &alice_header(realm, http_principal(realm))),
        ErrorKind::AuthzDenied,
        &[
            "is from realm KERBSASL.TEST",
            "not in allowed_realms (PARTNER.TEST)",
        ],
    );
    let server = http_server(
        realm,
        &[("allowed_realms", &format!("PARTNER.TEST,{REALM}"))],
    );
    authenticated(&server, &alice_header(realm, http_principal(realm)));
}

fn any_principal_two_http_services(realm: &Realm) {
    let first = format!("HTTP/one.kerbsasl.test@{REALM}");
    let second = format!("HTTP/two.kerbsasl.test@{REALM}");
    let keytab = support::service_keytab(realm, &first);
    realm.add_service(&second);
    realm.export_keytab(&keytab, &[&second]);
    let keytab = keytab.display().to_string();
    let server = support::server(&[("principal", "*"), ("keytab", &keytab)]);
    for target in [&first, &second] {
        let mut client = spnego_client(realm, "alice", target, true);
        let (identity, www) = authenticated(&server, &client.authorization().unwrap());
        assert_eq!(identity.principal, format!("alice@{REALM}"));
        client.verify(&www.unwrap()).expect(target);
    }
    // Not a service whose key the keytab lacks.
    assert_error(
        &refused(&server, &alice_header(realm, http_principal(realm))),
        ErrorKind::AuthFailed,
        &["Kerberos rejected the client"],
    );
}

fn rotated_keytab(realm: &Realm) {
    let principal = format!("HTTP/{}.kerbsasl.test@{REALM}", unique("rotating"));
    let keytab = support::service_keytab(realm, &principal);
    let keytab_text = keytab.display().to_string();
    let server = support::server(&[("principal", &principal), ("keytab", &keytab_text)]);
    authenticated(&server, &alice_header(realm, &principal));
    realm.kadmin(&[format!("cpw -randkey {principal}")]);
    assert_error(
        &refused(&server, &alice_header(realm, &principal)),
        ErrorKind::AuthFailed,
        &["kvno"],
    );
    // ktadd appends the new kvno; the very next request needs it.
    realm.export_keytab(&keytab, &[&principal]);
    authenticated(&server, &alice_header(realm, &principal));
}

fn eight_threads_share_one_server(realm: &Realm) {
    let server = Arc::new(http_server(realm, &[("strip_realm", "true")]));
    let ccache = fresh_ccache(realm, "alice");
    let target = http_principal(realm);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let server = Arc::clone(&server);
            let ccache = ccache.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let mut client = NegotiateClient::spnego(&ccache, target, true).unwrap();
                    let (identity, www) = authenticated(&server, &client.authorization().unwrap());
                    assert_eq!(identity.username, "alice");
                    client.verify(&www.unwrap()).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no thread failed");
    }
}

fn sasl_refuses_spnego(realm: &Realm) {
    // The same server object serves both paths: HTTP's SPNEGO credential
    // must not leak into SASL, before or after HTTP rounds.
    let server = http_server(realm, &[]);
    authenticated(&server, &alice_header(realm, http_principal(realm)));
    let token = spnego_client(realm, "alice", http_principal(realm), true)
        .token()
        .unwrap();
    assert_error(
        &server.start(&token).unwrap_err(),
        ErrorKind::BadToken,
        &["SPNEGO", "only the plain Kerberos V5 GSSAPI mechanism"],
    );
}
