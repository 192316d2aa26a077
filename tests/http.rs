//! HTTP Negotiate through the safe Rust API against a real KDC: SPNEGO
//! and raw Kerberos tokens, the mutual-authentication token, identity
//! rules, Kerberos failures and malformed headers.

mod support;

use kerbsasl::testing::http::NegotiateClient;
use kerbsasl::{ErrorKind, HttpAuth, Identity, Server};
use std::sync::OnceLock;
use support::{REALM, Realm, RealmOptions, assert_error, test, unique};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("spnego_token_authenticates", spnego_token_authenticates),
            test(
                "raw_kerberos_token_authenticates",
                raw_kerberos_token_authenticates,
            ),
            test(
                "sasl_start_still_refuses_genuine_spnego",
                sasl_refuses_spnego,
            ),
            test(
                "no_negotiate_credentials_is_a_challenge",
                no_credentials_is_a_challenge,
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

fn http_server(realm: &Realm, extra: &[(&str, &str)]) -> Server {
    let (principal, keytab) = http_service(realm);
    let mut options = vec![
        ("principal", principal.as_str()),
        ("keytab", keytab.as_str()),
    ];
    options.extend_from_slice(extra);
    support::server(&options)
}

/// A SPNEGO client for the HTTP service as `user`, with its own ccache.
fn spnego_client(realm: &Realm, user: &str, target: &str, mutual: bool) -> NegotiateClient {
    let ccache = realm.path(&format!("{}.ccache", unique("http")));
    realm.kinit(user, &ccache);
    NegotiateClient::spnego(&format!("FILE:{}", ccache.display()), target, mutual)
        .expect("SPNEGO client")
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

fn spnego_token_authenticates(realm: &Realm) {
    let server = http_server(realm, &[]);
    let (principal, _) = http_service(realm);
    let mut client = spnego_client(realm, "alice", principal, true);
    let header = client.authorization().unwrap();
    assert!(header.starts_with("Negotiate YI"), "{header}");
    let (identity, www) = authenticated(&server, &header);
    assert_eq!(identity.principal, format!("alice@{REALM}"));
    assert_eq!(identity.username, format!("alice@{REALM}"));
    assert_eq!(identity.realm, REALM);
    client
        .verify(&www.expect("a mutual-authentication token"))
        .expect("the client accepts the server's token");
}

fn raw_kerberos_token_authenticates(realm: &Realm) {
    let server = http_server(realm, &[("strip_realm", "true")]);
    let (principal, _) = http_service(realm);
    let ccache = realm.ccache_for("bob");
    let mut client = NegotiateClient::krb5(&ccache, principal, true).unwrap();
    let header = client.authorization().unwrap();
    let (identity, www) = authenticated(&server, &header);
    assert_eq!(identity.username, "bob");
    client.verify(&www.expect("an AP-REP")).unwrap();
}

fn no_credentials_is_a_challenge(realm: &Realm) {
    let server = http_server(realm, &[]);
    for header in [
        None,
        Some(""),
        Some("Negotiate"),
        Some("Basic YWxpY2U6cHc="),
    ] {
        let result = server.http_authenticate(header.map(str::as_bytes));
        assert_eq!(result, Ok(HttpAuth::Challenge), "{header:?}");
    }
    let error = server
        .http_authenticate(Some(
            b"Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==",
        ))
        .unwrap_err();
    assert_error(&error, ErrorKind::BadToken, &["NTLM", "intranet"]);
}

fn sasl_refuses_spnego(realm: &Realm) {
    // The same server object serves both paths: HTTP's SPNEGO credential
    // must not leak into SASL.
    let server = http_server(realm, &[]);
    let (principal, _) = http_service(realm);
    let token = spnego_client(realm, "alice", principal, true)
        .token()
        .unwrap();
    assert_error(
        &server.start(&token).unwrap_err(),
        ErrorKind::BadToken,
        &["SPNEGO", "only the plain Kerberos V5 GSSAPI mechanism"],
    );
}
