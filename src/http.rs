//! HTTP Negotiate (RFC 4559): one round per request, on the same server
//! (keytab, credentials, replay cache, identity rules and diagnosis) as
//! SASL GSSAPI.
//!
//! The host passes the request's `Authorization` header; kerbsasl answers
//! with a challenge (no Negotiate credentials: 401 and `WWW-Authenticate:
//! Negotiate`), the client's identity (and the mutual-authentication token
//! for the 2xx response), or an error (401 too). Like Elasticsearch's
//! Kerberos realm and nginx's SPNEGO module, there is no second round: a
//! client must lead with a Kerberos token, raw or inside SPNEGO.

use crate::base64;
use crate::error::Error;
use crate::gss::{AcceptOutcome, SecurityContext};
use crate::identity::Identity;
use crate::logging;
use crate::negotiate;
use crate::server::Server;

/// The longest `Authorization` header value accepted, in bytes: a
/// Kerberos token of 65,535 bytes (the largest MaxTokenSize Microsoft
/// recommends, for users in very many groups) in base64 is 87,380
/// characters; this leaves room for the scheme and whitespace. Longer
/// values fail with [`crate::ErrorKind::BadToken`] before any decoding.
pub const MAX_AUTHORIZATION_LEN: usize = 96 * 1024;

/// The result of one HTTP Negotiate round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAuth {
    /// No Negotiate credentials in the request: answer 401 with `WWW-Authenticate: Negotiate`.
    Challenge,
    /// Authenticated. `www_authenticate` is `Negotiate <base64 token>` when there is a mutual-auth token.
    Authenticated {
        identity: Identity,
        /// The value of the `WWW-Authenticate` header to add to the 2xx
        /// response, carrying the server's mutual-authentication token.
        www_authenticate: Option<String>,
    },
}

impl Server {
    /// One HTTP Negotiate round; thread-safe on a shared server.
    ///
    /// `authorization` is the value of the request's `Authorization`
    /// header (None or empty when it has none). Absent credentials, another
    /// scheme (e.g. `Basic`) and a bare `Negotiate` give
    /// [`HttpAuth::Challenge`]. Errors: BadToken for a malformed header or
    /// token (bad base64, an empty or oversized token, NTLM, SPNEGO that
    /// does not lead with Kerberos), AuthFailed when Kerberos rejects the
    /// ticket, AuthzDenied for the realm or username rules, Config for an
    /// unusable keytab or replay cache; a host answers all of them with 401
    /// and `WWW-Authenticate: Negotiate`.
    pub fn http_authenticate(&self, authorization: Option<&[u8]>) -> Result<HttpAuth, Error> {
        let result = self.negotiate(authorization);
        match &result {
            Ok(HttpAuth::Challenge) => {
                logging::debug!("HTTP Negotiate: no Negotiate credentials; challenging")
            }
            Ok(HttpAuth::Authenticated { identity, .. }) => logging::debug!(
                "HTTP Negotiate: authenticated {} as {}",
                identity.principal,
                identity.username
            ),
            Err(e) => logging::debug!("HTTP Negotiate failed: {e}"),
        }
        result
    }

    fn negotiate(&self, authorization: Option<&[u8]>) -> Result<HttpAuth, Error> {
        let Some(token) = negotiate_token(authorization.unwrap_or_default())? else {
            return Ok(HttpAuth::Challenge);
        };
        let kerberos = negotiate::kerberos_token(&token)?;
        let shared = self.shared();
        let mut context = SecurityContext::new();
        match shared.accept(&mut context, kerberos.krb5, true)? {
            AcceptOutcome::ContinueNeeded { .. } => Err(negotiate::not_leading(
                "its Kerberos token asks for another round (user-to-user or DCE style)",
            )),
            AcceptOutcome::Complete { output, peer, .. } => {
                let identity = shared.rules.identify(&peer)?;
                let answer = kerberos.answer(&output);
                let www_authenticate =
                    (!answer.is_empty()).then(|| format!("Negotiate {}", base64::encode(&answer)));
                Ok(HttpAuth::Authenticated {
                    identity,
                    www_authenticate,
                })
            }
        }
    }
}

/// Whitespace around the header value and between scheme and token.
fn is_space(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The decoded token of a `Negotiate <base64>` header value; None when
/// the value carries no Negotiate credentials.
fn negotiate_token(value: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(Error::bad_token(format!(
            "the Authorization header is {} bytes long; kerbsasl accepts at most \
             {MAX_AUTHORIZATION_LEN} (a 64 KiB Kerberos token in base64)",
            value.len()
        )));
    }
    let value = trim(value);
    let (scheme, rest) = match value.iter().position(is_space) {
        Some(i) => (&value[..i], trim(&value[i..])),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"Negotiate") || rest.is_empty() {
        return Ok(None);
    }
    if rest.iter().all(|b| *b == b'=') {
        return Err(Error::bad_token(
            "the Negotiate token is empty (only base64 padding): the client has no Kerberos \
             token to send",
        ));
    }
    let token = base64::decode(rest)
        .map_err(|e| Error::bad_token(format!("the Negotiate token is not valid base64: {e}")))?;
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn token(value: &str) -> Result<Option<Vec<u8>>, Error> {
        negotiate_token(value.as_bytes())
    }

    #[test]
    fn finds_the_token_whatever_the_case_and_spacing() {
        for value in [
            "Negotiate Zm9v",
            "negotiate Zm9v",
            "NEGOTIATE\tZm9v",
            "  Negotiate   Zm9v \r\n",
            "Negotiate Zm9v",
        ] {
            assert_eq!(token(value).unwrap(), Some(b"foo".to_vec()), "{value:?}");
        }
    }

    #[test]
    fn no_negotiate_credentials_is_a_challenge() {
        for value in [
            "",
            "   ",
            "Negotiate",
            " negotiate  ",
            "Basic YWxpY2U6cHc=",
            "NTLM TlRMTVNTUAAB",
            "Negotiated Zm9v",
            "Bearer x",
        ] {
            assert_eq!(token(value).unwrap(), None, "{value:?}");
        }
    }

    #[test]
    fn malformed_tokens_are_bad_tokens() {
        let cases = [
            (
                "Negotiate Zm9v!",
                "not valid base64: character '!' at position 4",
            ),
            ("Negotiate Zm9v Zm9v", "a space at position 4"),
            ("Negotiate Zm9vY", "truncated"),
            ("Negotiate ==", "empty"),
            ("Negotiate =", "empty"),
        ];
        for (value, fragment) in cases {
            let err = token(value).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadToken);
            assert!(err.message().contains(fragment), "{value:?}: {err}");
        }
        let long = format!("Negotiate {}", "A".repeat(MAX_AUTHORIZATION_LEN));
        assert!(
            token(&long)
                .unwrap_err()
                .message()
                .contains("at most 98304")
        );
        let longest = format!("Negotiate {}", "A".repeat(MAX_AUTHORIZATION_LEN - 12));
        assert!(token(&longest).unwrap().is_some());
    }
}
