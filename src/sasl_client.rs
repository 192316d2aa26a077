//! The client side of RFC 4752 over a real MIT initiator: the preflight
//! self-test authenticates a service to itself with it, and kerbsasl's
//! tests, benchmarks and fuzzers use it as their client.

use crate::gss::Initiator;
use crate::layer::{self, Protection};

/// The client side of RFC 4752, driven one server message at a time.
pub struct SaslClient {
    initiator: Initiator,
    authzid: Vec<u8>,
    /// The layer to choose and the buffer size to announce with it.
    layer: (Protection, u32),
    /// The server's offer, once received.
    #[cfg(feature = "testing")]
    offer: Option<Vec<u8>>,
}

impl SaslClient {
    /// `target` is the service principal, e.g. `mqtt/host@REALM`; tickets
    /// come from the credential cache `ccache` (e.g. `FILE:/tmp/cc`).
    pub fn new(ccache: &str, target: &str, mutual: bool) -> Result<SaslClient, String> {
        let initiator = Initiator::new(ccache, target, mutual).map_err(|e| e.to_string())?;
        Ok(SaslClient {
            initiator,
            authzid: Vec::new(),
            layer: (Protection::None, 0),
            #[cfg(feature = "testing")]
            offer: None,
        })
    }

    /// Tests only: chooses `protection` from the offer (which must include
    /// it), saying it can receive protected messages of up to `max_buffer`
    /// bytes.
    #[cfg(feature = "testing")]
    pub fn with_layer(mut self, protection: Protection, max_buffer: u32) -> SaslClient {
        self.layer = (protection, max_buffer);
        self
    }

    /// Tests only: the unwrapped offer the server sent.
    #[cfg(feature = "testing")]
    pub fn offer(&self) -> Option<&[u8]> {
        self.offer.as_deref()
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
    /// wrapped offer gets the chosen layer (by default "no security
    /// layer") plus the authzid.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, String> {
        if !self.initiator.is_established() {
            return self.initiator.step(challenge).map_err(|e| e.to_string());
        }
        let (offer, _) = self
            .initiator
            .unwrap(challenge)
            .map_err(|e| e.to_string())?;
        let (protection, mut max_buffer) = self.layer;
        let bit = match protection {
            Protection::None => {
                max_buffer = 0;
                layer::LAYER_NONE
            }
            Protection::Integrity => layer::LAYER_INTEGRITY,
            Protection::Confidentiality => layer::LAYER_CONFIDENTIALITY,
        };
        if offer.len() != 4 || offer[0] & bit == 0 {
            return Err(format!("unexpected security-layer offer {offer:02x?}"));
        }
        #[cfg(feature = "testing")]
        {
            self.offer = Some(offer);
        }
        let size = max_buffer.to_be_bytes();
        let mut reply = vec![bit, size[1], size[2], size[3]];
        reply.extend_from_slice(&self.authzid);
        self.wrap(&reply)
    }

    /// Wraps arbitrary bytes, to send malformed security-layer replies.
    pub fn wrap(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.initiator
            .wrap(false, message)
            .map_err(|e| e.to_string())
    }

    /// Tests only: protects data for the server, encrypted or not.
    #[cfg(feature = "testing")]
    pub fn protect(&self, confidential: bool, message: &[u8]) -> Result<Vec<u8>, String> {
        self.initiator
            .wrap(confidential, message)
            .map_err(|e| e.to_string())
    }

    /// Tests only: removes the server's protection; says whether it was
    /// encrypted.
    #[cfg(feature = "testing")]
    pub fn unprotect(&self, token: &[u8]) -> Result<(Vec<u8>, bool), String> {
        self.initiator.unwrap(token).map_err(|e| e.to_string())
    }

    #[cfg(feature = "testing")]
    pub fn is_established(&self) -> bool {
        self.initiator.is_established()
    }
}
