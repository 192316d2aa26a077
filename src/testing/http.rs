//! An HTTP Negotiate client over a real MIT initiator, for kerbsasl's own
//! tests and fuzzers: the `Authorization` header a client such as curl
//! would send, and the check of the server's mutual-authentication token.

use crate::base64;
use crate::gss::Initiator;
use crate::server::Server;

/// One client attempt (one security context).
pub struct NegotiateClient {
    initiator: Initiator,
}

impl NegotiateClient {
    /// A client sending SPNEGO tokens, as curl, browsers and Java do.
    /// `target` is the service principal, e.g. `HTTP/host@REALM`.
    pub fn spnego(ccache: &str, target: &str, mutual: bool) -> Result<NegotiateClient, String> {
        let initiator = Initiator::spnego(ccache, target, mutual).map_err(|e| e.to_string())?;
        Ok(NegotiateClient { initiator })
    }

    /// A client sending raw Kerberos V5 GSSAPI tokens, as some clients do.
    pub fn krb5(ccache: &str, target: &str, mutual: bool) -> Result<NegotiateClient, String> {
        let initiator = Initiator::new(ccache, target, mutual).map_err(|e| e.to_string())?;
        Ok(NegotiateClient { initiator })
    }

    /// The raw initial token.
    pub fn token(&mut self) -> Result<Vec<u8>, String> {
        self.initiator.step(&[]).map_err(|e| e.to_string())
    }

    /// The `Authorization` header value, `Negotiate <base64 token>`.
    pub fn authorization(&mut self) -> Result<String, String> {
        Ok(format!("Negotiate {}", base64::encode(&self.token()?)))
    }

    /// Feeds the server's `WWW-Authenticate` value to the client's context;
    /// Ok when it completes the context, i.e. the server proved it holds
    /// the service key.
    pub fn verify(&mut self, www_authenticate: &str) -> Result<(), String> {
        let encoded = www_authenticate
            .strip_prefix("Negotiate ")
            .ok_or_else(|| format!("not a Negotiate token: {www_authenticate:?}"))?;
        let token = base64::decode(encoded.as_bytes()).map_err(|e| e.to_string())?;
        self.initiator.step(&token).map_err(|e| e.to_string())?;
        if self.initiator.is_established() {
            Ok(())
        } else {
            Err("the client's context is still not established".to_string())
        }
    }
}

/// One fuzzed HTTP round. The first byte picks what the rest is: even, the
/// Authorization header value itself (scheme, spacing, base64); odd, the
/// token, sent as `Negotiate <base64>` so that mutations reach the SPNEGO
/// and Kerberos parsers rather than the base64 decoder.
pub fn fuzz_round(server: &Server, data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        let _ = server.http_authenticate(None);
        return;
    };
    let header = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        format!("Negotiate {}", base64::encode(rest)).into_bytes()
    };
    if let Ok(crate::HttpAuth::Authenticated {
        www_authenticate: Some(www),
        ..
    }) = server.http_authenticate(Some(&header))
    {
        assert!(www.starts_with("Negotiate "), "{www}");
    }
}

/// Seeds for [`fuzz_round`]: genuine SPNEGO and raw Kerberos tokens from
/// `ccache` for `target`, in both modes, and the other header shapes.
pub fn fuzz_seeds(ccache: &str, target: &str) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for spnego in [true, false] {
        let client = if spnego {
            NegotiateClient::spnego(ccache, target, true)
        } else {
            NegotiateClient::krb5(ccache, target, true)
        };
        let Ok(token) = client.and_then(|mut c| c.token()) else {
            continue;
        };
        seeds.push([&[1u8][..], &token].concat());
        let header = format!("Negotiate {}", base64::encode(&token));
        seeds.push([&[0u8][..], header.as_bytes()].concat());
    }
    for header in [
        "Basic YWxpY2U6cHc=",
        "negotiate",
        "Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==",
        "  NEGOTIATE\toRQwEqADCgEAoQsGCSqGSIb3EgECAg== ",
    ] {
        seeds.push([&[0u8][..], header.as_bytes()].concat());
    }
    seeds
}
