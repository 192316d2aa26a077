//! The client side of RFC 4752 over a real MIT initiator: the preflight
//! self-test authenticates a service to itself with it, and kerbsasl's
//! tests, benchmarks and fuzzers use it as their client.

use crate::gss::Initiator;
use crate::sasl;

/// The client side of RFC 4752, driven one server message at a time.
pub struct SaslClient {
    initiator: Initiator,
    authzid: Vec<u8>,
}

impl SaslClient {
    /// `target` is the service principal, e.g. `mqtt/host@REALM`; tickets
    /// come from the credential cache `ccache` (e.g. `FILE:/tmp/cc`).
    pub fn new(ccache: &str, target: &str, mutual: bool) -> Result<SaslClient, String> {
        let initiator = Initiator::new(ccache, target, mutual).map_err(|e| e.to_string())?;
        Ok(SaslClient {
            initiator,
            authzid: Vec::new(),
        })
    }

    /// Tests only: the authzid to send in the security-layer reply.
    #[cfg(feature = "testing")]
    pub fn with_authzid(mut self, authzid: &str) -> SaslClient {
        self.authzid = authzid.as_bytes().to_vec();
        self
    }

    /// The initial token (the GSSAPI AP-REQ).
    pub fn initial_token(&mut self) -> Result<Vec<u8>, String> {
        self.initiator.step(&[]).map_err(|e| e.to_string())
    }

    /// Answers a server challenge: the AP-REP gets an empty reply, the
    /// wrapped offer gets "no security layer" plus the authzid.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, String> {
        if !self.initiator.is_established() {
            return self.initiator.step(challenge).map_err(|e| e.to_string());
        }
        let offer = self
            .initiator
            .unwrap(challenge)
            .map_err(|e| e.to_string())?;
        if offer.len() != 4 || offer[0] & sasl::LAYER_NONE == 0 {
            return Err(format!("unexpected security-layer offer {offer:02x?}"));
        }
        let mut reply = vec![sasl::LAYER_NONE, 0, 0, 0];
        reply.extend_from_slice(&self.authzid);
        self.wrap(&reply)
    }

    /// Wraps arbitrary bytes, to send malformed security-layer replies.
    pub fn wrap(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.initiator.wrap(message).map_err(|e| e.to_string())
    }

    #[cfg(feature = "testing")]
    pub fn is_established(&self) -> bool {
        self.initiator.is_established()
    }
}
