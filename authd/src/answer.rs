//! The forward-auth answer for one request: the health check, a session
//! cookie, or one HTTP Negotiate round through the kerbsasl library.

use crate::client::Client;
use crate::session::{Identity, Sessions};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use kerbsasl::{ErrorKind, HttpAuth};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

pub const X_REMOTE_USER: &str = "x-remote-user";
pub const X_KERBEROS_PRINCIPAL: &str = "x-kerberos-principal";
pub const X_KERBEROS_REALM: &str = "x-kerberos-realm";
/// The only body a refused client sees; the reason goes to the log.
const REFUSED_BODY: &str = "Kerberos authentication required\n";

/// What every request is answered with.
pub struct App {
    pub server: kerbsasl::Server,
    pub sessions: Option<Sessions>,
    pub health_path: String,
}

/// How a request was authenticated, for the debug log.
#[derive(Clone, Copy)]
enum Via {
    Kerberos,
    Cookie,
}

/// Answers one request; never fails and never panics on its input.
pub async fn answer<B>(
    app: Arc<App>,
    request: Request<B>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    if request.uri().path() == app.health_path
        && matches!(*request.method(), Method::GET | Method::HEAD)
    {
        return plain(StatusCode::OK, "ok\n");
    }
    let headers = request.headers();
    let client = Client::new(headers, peer);
    let host = forwarded_host(headers);
    if let Some(sessions) = &app.sessions {
        let cookies = headers.get_all(header::COOKIE).iter().map(|v| v.as_bytes());
        match sessions.verify(cookies, &host, SystemTime::now()) {
            Ok(identity) => return authenticated(&client, &identity, Via::Cookie, None, None),
            Err(why) => crate::client::log_cookie_rejection(&client, why),
        }
    }
    let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
    let authorization = authorizations.next().cloned();
    if authorizations.next().is_some() {
        client.log_failure(
            ErrorKind::BadToken,
            "the request has more than one Authorization header",
        );
        return challenge();
    }
    match negotiate(&app.server, authorization.clone()).await {
        Ok(HttpAuth::Challenge) => {
            client.log_challenge(authorization.as_ref());
            challenge()
        }
        Ok(HttpAuth::Authenticated {
            identity,
            www_authenticate,
        }) => {
            let identity = Identity {
                principal: identity.principal,
                username: identity.username,
                realm: identity.realm,
            };
            let cookie = app.sessions.as_ref().and_then(|sessions| {
                let cookie = sessions.issue(&identity, &host, SystemTime::now());
                if cookie.is_none() {
                    log::warn!(
                        "client {client}: {}'s identity is too long for a session cookie; \
                         it keeps authenticating with Kerberos",
                        identity.principal
                    );
                }
                cookie
            });
            authenticated(&client, &identity, Via::Kerberos, www_authenticate, cookie)
        }
        Err(e) => {
            client.log_failure(e.kind(), e.message());
            challenge()
        }
    }
}

/// One Negotiate round. Accepting reads the keytab and writes the replay
/// cache, so it runs on tokio's (bounded) blocking pool; the absent-header
/// case needs no Kerberos and is answered here.
async fn negotiate(
    server: &kerbsasl::Server,
    authorization: Option<HeaderValue>,
) -> Result<HttpAuth, kerbsasl::Error> {
    let Some(value) = authorization else {
        return server.http_authenticate(None);
    };
    let server = server.clone();
    tokio::task::spawn_blocking(move || server.http_authenticate(Some(value.as_bytes())))
        .await
        .unwrap_or_else(|e| {
            Err(kerbsasl::Error::new(
                ErrorKind::Internal,
                format!("the Kerberos accept task failed: {e}"),
            ))
        })
}

fn authenticated(
    client: &Client,
    identity: &Identity,
    via: Via,
    www_authenticate: Option<String>,
    cookie: Option<String>,
) -> Response<Full<Bytes>> {
    let mut response = plain(StatusCode::OK, "");
    let headers = response.headers_mut();
    let values = [
        (X_REMOTE_USER, Some(identity.username.as_str())),
        (X_KERBEROS_PRINCIPAL, Some(identity.principal.as_str())),
        (X_KERBEROS_REALM, Some(identity.realm.as_str())),
        (
            header::WWW_AUTHENTICATE.as_str(),
            www_authenticate.as_deref(),
        ),
        (header::SET_COOKIE.as_str(), cookie.as_deref()),
    ];
    for (name, value) in values {
        let Some(value) = value else { continue };
        if let Err(e) = insert(headers, name, value) {
            // The library hands out printable names only; refuse rather
            // than answer 200 without an identity.
            client.log_failure(ErrorKind::Internal, &e);
            return challenge();
        }
    }
    let via = match via {
        Via::Kerberos => "Kerberos",
        Via::Cookie => "session cookie",
    };
    log::debug!(
        "client {client}: authenticated {} as {} ({via})",
        identity.principal,
        identity.username
    );
    response
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) -> Result<(), String> {
    let value = HeaderValue::from_str(value)
        .or_else(|_| HeaderValue::from_bytes(value.as_bytes()))
        .map_err(|_| format!("cannot send {value:?} in an HTTP header ({name})"))?;
    headers.insert(HeaderName::from_static(name), value);
    Ok(())
}

/// 401 with `WWW-Authenticate: Negotiate` and a short generic body.
fn challenge() -> Response<Full<Bytes>> {
    let mut response = plain(StatusCode::UNAUTHORIZED, REFUSED_BODY);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Negotiate"),
    );
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    if !body.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}

/// The host the client asked for, without a port (browsers share cookies
/// between a host's ports, and proxies differ in forwarding it): what the
/// proxy forwarded, else Host. A value that is empty or not visible ASCII
/// counts as absent, so it cannot make several hosts share one binding.
fn forwarded_host(headers: &HeaderMap) -> String {
    let host = [headers.get("x-forwarded-host"), headers.get(header::HOST)]
        .into_iter()
        .flatten()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .find(|v| !v.is_empty())
        .unwrap_or("");
    without_port(host).to_ascii_lowercase()
}

fn without_port(host: &str) -> &str {
    if let Some(end) = host.find(']') {
        return &host[..=end]; // [::1]:8443
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_for_cookies() {
        let host = |pairs: &[(&'static str, &str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_bytes(value.as_bytes()).unwrap());
            }
            forwarded_host(&headers)
        };
        assert_eq!(host(&[("host", "App.Example.com:8443")]), "app.example.com");
        assert_eq!(
            host(&[
                ("host", "127.0.0.1:1"),
                ("x-forwarded-host", "app.example.com")
            ]),
            "app.example.com"
        );
        assert_eq!(host(&[("host", "[::1]:8443")]), "[::1]");
        assert_eq!(host(&[("host", "[::1]")]), "[::1]");
        assert_eq!(host(&[("host", "app:")]), "app:");
        assert_eq!(host(&[]), "");
        for unusable in ["", "  ", "app\u{e9}.example.com"] {
            assert_eq!(
                host(&[("host", "app.example.com"), ("x-forwarded-host", unusable)]),
                "app.example.com",
                "{unusable:?}"
            );
        }
    }
}
