//! Who is asking, for log lines: the address the proxy reports
//! (X-Real-IP, else the first X-Forwarded-For entry) and the peer that
//! connected, and the log lines about one client's request.

use crate::session::Rejection;
use hyper::header::{HeaderMap, HeaderValue};
use kerbsasl::ErrorKind;
use std::fmt;
use std::net::SocketAddr;

/// Longest forwarded address kept for the log.
const MAX_FORWARDED_LEN: usize = 64;

pub struct Client {
    forwarded: Option<String>,
    peer: SocketAddr,
}

impl Client {
    pub fn new(headers: &HeaderMap, peer: SocketAddr) -> Client {
        let forwarded = headers
            .get("x-real-ip")
            .and_then(printable)
            .or_else(|| {
                headers
                    .get("x-forwarded-for")
                    .and_then(printable)
                    .and_then(|list| list.split(',').next().map(str::trim).map(str::to_string))
            })
            .filter(|address| !address.is_empty());
        Client { forwarded, peer }
    }

    /// One line per failed request: client, result code, the library's
    /// diagnosis. Problems of the server's own setup are errors.
    pub fn log_failure(&self, kind: ErrorKind, reason: &str) {
        let code = kerbsasl::ffi::kerbsasl_result::from(kind);
        let level = match kind {
            ErrorKind::Config | ErrorKind::Internal => log::Level::Error,
            _ => log::Level::Info,
        };
        log::log!(
            level,
            "client {self}: authentication failed: {code:?}: {reason}"
        );
    }

    /// A request without Negotiate credentials: routine for a browser's
    /// first request (debug), worth a line when another scheme was tried.
    pub fn log_challenge(&self, authorization: Option<&HeaderValue>) {
        let scheme = authorization
            .map(|v| v.as_bytes().trim_ascii())
            .filter(|v| !v.is_empty())
            .map(|v| v.split(|b| *b == b' ').next().unwrap_or(v))
            .map(|s| String::from_utf8_lossy(&s[..s.len().min(32)]).into_owned());
        match scheme {
            Some(scheme) if !scheme.eq_ignore_ascii_case("negotiate") => log::info!(
                "client {self}: sent {scheme:?} credentials, but only Negotiate is accepted: \
                 answered 401 Negotiate"
            ),
            _ => log::debug!("client {self}: no Negotiate credentials: answered 401 Negotiate"),
        }
    }
}

/// A session cookie that did not count: the request falls back to
/// Negotiate. Expiry is routine; anything else is worth a line.
pub fn log_cookie_rejection(client: &Client, why: Rejection) {
    match why {
        Rejection::Absent => {}
        Rejection::Expired | Rejection::TooLong => {
            log::debug!("client {client}: {why}; falling back to Negotiate")
        }
        _ => log::info!("client {client}: ignoring a {why}; falling back to Negotiate"),
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.forwarded {
            Some(address) => write!(f, "{address} (via {})", self.peer),
            None => write!(f, "{}", self.peer),
        }
    }
}

/// Visible ASCII only (no log injection), cut to a sane length.
fn printable(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?.trim();
    Some(text.chars().take(MAX_FORWARDED_LEN).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(pairs: &[(&'static str, &str)]) -> String {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        Client::new(&headers, "127.0.0.1:4000".parse().unwrap()).to_string()
    }

    #[test]
    fn forwarded_address_or_peer() {
        assert_eq!(client(&[]), "127.0.0.1:4000");
        assert_eq!(
            client(&[
                ("x-real-ip", "203.0.113.5"),
                ("x-forwarded-for", "198.51.100.1")
            ]),
            "203.0.113.5 (via 127.0.0.1:4000)"
        );
        assert_eq!(
            client(&[("x-forwarded-for", " 198.51.100.1, 10.0.0.1")]),
            "198.51.100.1 (via 127.0.0.1:4000)"
        );
        assert_eq!(client(&[("x-real-ip", "")]), "127.0.0.1:4000");
        assert_eq!(
            client(&[("x-real-ip", &"9".repeat(500))]).len(),
            64 + " (via 127.0.0.1:4000)".len()
        );
    }
}
