//! SASL security layers without Kerberos: the server's offer built from the
//! host's policy (RFC 4752 §3.1), the client's choice checked against it,
//! and the framing of protected data (RFC 4422 §3.7).

use crate::error::{Error, ErrorKind};

/// Security layer bits of the offer and the choice.
pub const LAYER_NONE: u8 = 0x01;
pub const LAYER_INTEGRITY: u8 = 0x02;
pub const LAYER_CONFIDENTIALITY: u8 = 0x04;

/// Buffer sizes travel as 3 bytes.
pub const MAX_BUFFER_LIMIT: u32 = 0x00ff_ffff;

/// How data is protected after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// No security layer: data flows as is.
    None,
    /// gss_wrap without encryption (conf_req_flag 0).
    Integrity,
    /// gss_wrap with encryption (conf_req_flag 1).
    Confidentiality,
}

impl Protection {
    fn name(self) -> &'static str {
        match self {
            Protection::None => "no security layer",
            Protection::Integrity => "integrity protection",
            Protection::Confidentiality => "confidentiality",
        }
    }

    fn describe(self) -> String {
        format!("{} ({:#04x})", self.name(), self.bit())
    }

    fn bit(self) -> u8 {
        match self {
            Protection::None => LAYER_NONE,
            Protection::Integrity => LAYER_INTEGRITY,
            Protection::Confidentiality => LAYER_CONFIDENTIALITY,
        }
    }
}

/// What the host accepts, as Cyrus SASL's security properties say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerPolicy {
    /// The weakest acceptable security strength factor: 0 allows no
    /// layer, 1 needs at least integrity, more needs confidentiality at
    /// least that strong.
    pub min_ssf: u32,
    /// The strongest layer the host wants.
    pub max_ssf: u32,
    /// The largest protected message (without its 4-byte length) the host
    /// can receive; 0 means it has no SASL framing, so no layer at all.
    pub max_buffer: u32,
}

impl LayerPolicy {
    /// No security layer: what MQTT (no SASL framing) and the C ABI use.
    /// Its offer is exactly `01 00 00 00`.
    pub const NONE: LayerPolicy = LayerPolicy {
        min_ssf: 0,
        max_ssf: 0,
        max_buffer: 0,
    };

    fn allows_layers(&self) -> bool {
        self.max_ssf > 0 && self.max_buffer > 0
    }
}

/// The server's security-layer offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    layers: u8,
    max_buffer: u32,
    confidentiality_ssf: u32,
}

impl Offer {
    /// Only "no security layer", maximum buffer 0.
    pub const NONE: Offer = Offer {
        layers: LAYER_NONE,
        max_buffer: 0,
        confidentiality_ssf: 0,
    };

    /// What to offer under `policy`, given whether the context can give
    /// integrity and confidentiality. `confidentiality_ssf` (which asks
    /// Kerberos) is called only when confidentiality could be offered.
    pub fn new(
        policy: &LayerPolicy,
        integrity: bool,
        confidentiality: bool,
        confidentiality_ssf: impl FnOnce() -> Result<u32, Error>,
    ) -> Result<Offer, Error> {
        if policy.min_ssf > policy.max_ssf {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the host's min_ssf ({}) is above its max_ssf ({})",
                    policy.min_ssf, policy.max_ssf
                ),
            ));
        }
        if !policy.allows_layers() {
            if policy.min_ssf > 0 {
                return Err(Error::too_weak(format!(
                    "the host requires a security layer (min_ssf {}) but allows none (max_ssf {}, \
                     maximum buffer size {})",
                    policy.min_ssf, policy.max_ssf, policy.max_buffer
                )));
            }
            return Ok(Offer::NONE);
        }
        let mut layers = 0;
        if policy.min_ssf == 0 {
            layers |= LAYER_NONE;
        }
        if integrity && policy.min_ssf <= 1 {
            layers |= LAYER_INTEGRITY;
        }
        let mut ssf = 0;
        if confidentiality && integrity {
            ssf = confidentiality_ssf()?;
            if (policy.min_ssf..=policy.max_ssf).contains(&ssf) {
                layers |= LAYER_CONFIDENTIALITY;
            }
        }
        if layers == 0 {
            let strongest = if ssf > 0 {
                format!("confidentiality with SSF {ssf}")
            } else if integrity {
                "integrity only (SSF 1): the client did not ask for confidentiality".to_string()
            } else {
                "no protection: the client asked for neither integrity nor confidentiality"
                    .to_string()
            };
            let wanted = if policy.max_ssf >= 0xffff {
                format!("an SSF of at least {}", policy.min_ssf)
            } else {
                format!("an SSF between {} and {}", policy.min_ssf, policy.max_ssf)
            };
            return Err(Error::too_weak(format!(
                "the host requires a security layer with {wanted}, but this Kerberos session \
                 can give {strongest}"
            )));
        }
        // RFC 4752: the size is 0 when no layer is offered.
        let max_buffer = if layers == LAYER_NONE {
            0
        } else {
            policy.max_buffer.min(MAX_BUFFER_LIMIT)
        };
        Ok(Offer {
            layers,
            max_buffer,
            confidentiality_ssf: ssf,
        })
    }

    /// The four bytes to wrap and send: layers, then the maximum buffer.
    pub fn to_bytes(self) -> [u8; 4] {
        let size = self.max_buffer.to_be_bytes();
        [self.layers, size[1], size[2], size[3]]
    }

    /// The largest protected message the server accepts.
    pub fn max_buffer(&self) -> u32 {
        self.max_buffer
    }

    fn offers(&self, protection: Protection) -> bool {
        self.layers & protection.bit() != 0
    }

    fn describe(&self) -> String {
        [
            Protection::None,
            Protection::Integrity,
            Protection::Confidentiality,
        ]
        .into_iter()
        .filter(|p| self.offers(*p))
        .map(|p| format!("\"{}\" ({:#04x})", p.name(), p.bit()))
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// Checks the client's unwrapped security-layer reply against this
    /// offer: one layer that was offered, a buffer size that fits it, and an
    /// optional UTF-8 authzid.
    pub fn accept(&self, reply: &[u8]) -> Result<Choice, Error> {
        if reply.len() < 4 {
            return Err(Error::bad_token(format!(
                "the client's security-layer reply is {} bytes; RFC 4752 requires at least 4",
                reply.len()
            )));
        }
        let chosen = reply[0];
        let protection = match chosen {
            LAYER_NONE => Protection::None,
            LAYER_INTEGRITY => Protection::Integrity,
            LAYER_CONFIDENTIALITY => Protection::Confidentiality,
            // Cyrus's own client sends both bits for confidentiality when
            // its ad_compat option is on (for Active Directory).
            both if both == LAYER_INTEGRITY | LAYER_CONFIDENTIALITY
                && self.offers(Protection::Confidentiality) =>
            {
                Protection::Confidentiality
            }
            _ => {
                return Err(Error::bad_token(format!(
                    "the client chose security layers {chosen:#04x}; exactly one must be chosen"
                )));
            }
        };
        if !self.offers(protection) {
            return Err(Error::bad_token(format!(
                "the client chose {}, but only {} was offered",
                protection.describe(),
                self.describe()
            )));
        }
        let max_buffer = u32::from_be_bytes([0, reply[1], reply[2], reply[3]]);
        match protection {
            Protection::None if max_buffer != 0 => {
                return Err(Error::bad_token(
                    "the client chose no security layer but a non-zero maximum buffer size; it must be 0",
                ));
            }
            Protection::Integrity | Protection::Confidentiality if max_buffer == 0 => {
                return Err(Error::bad_token(format!(
                    "the client chose {} with a maximum buffer size of 0: it could receive no \
                     protected data",
                    protection.describe()
                )));
            }
            _ => {}
        }
        let ssf = match protection {
            Protection::None => 0,
            Protection::Integrity => 1,
            Protection::Confidentiality => self.confidentiality_ssf,
        };
        Ok(Choice {
            protection,
            ssf,
            max_buffer,
            authzid: parse_authzid(&reply[4..])?,
        })
    }
}

/// The client's choice, checked against the offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub protection: Protection,
    /// The security strength factor as Cyrus reports it: 0 for none, 1 for
    /// integrity, the enctype's strength for confidentiality.
    pub ssf: u32,
    /// The largest protected message the client accepts.
    pub max_buffer: u32,
    pub authzid: Option<String>,
}

fn parse_authzid(authzid: &[u8]) -> Result<Option<String>, Error> {
    if authzid.is_empty() {
        return Ok(None);
    }
    let authzid = std::str::from_utf8(authzid)
        .map_err(|_| Error::bad_token("the client's authzid is not valid UTF-8"))?;
    if authzid.contains('\0') {
        return Err(Error::bad_token(
            "the client's authzid contains a NUL character",
        ));
    }
    Ok(Some(authzid.to_string()))
}

/// The layer a finished handshake negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityLayer {
    pub protection: Protection,
    /// 0 for none, 1 for integrity, the enctype's strength (e.g. 256) for
    /// confidentiality, as Cyrus's gssapiv2 reports it.
    pub ssf: u32,
    /// The largest protected message the client accepts.
    pub peer_max_buffer: u32,
    /// The largest plaintext whose protected message fits the client's
    /// buffer: split longer data.
    pub max_plaintext: u32,
    /// The largest protected message the server accepts (what it offered).
    pub max_buffer: u32,
}

/// Appends one SASL frame: a 4-byte big-endian length, then `message`.
pub fn write_frame(message: &[u8], out: &mut Vec<u8>) {
    // Callers keep messages under MAX_BUFFER_LIMIT plus the wrap overhead.
    let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(message);
}

/// Cuts a stream of protected data into frames, which may arrive split
/// or several at a time.
#[derive(Debug)]
pub struct FrameReader {
    pending: Vec<u8>,
    max_frame: u32,
    /// Set by the first error: the stream has lost its framing for good.
    failed: bool,
}

impl FrameReader {
    /// Frames longer than `max_frame` bytes (what the server offered) are
    /// refused.
    pub fn new(max_frame: u32) -> FrameReader {
        FrameReader {
            pending: Vec::new(),
            max_frame,
            failed: false,
        }
    }

    /// Adds received bytes and calls `each` with every complete frame's
    /// message. After an error the stream is unusable.
    pub fn push(
        &mut self,
        bytes: &[u8],
        mut each: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        // Nothing is buffered after a failure, so a host that keeps feeding
        // a broken stream cannot grow it.
        if self.failed {
            return Err(Error::bad_state(
                "this connection's protected stream already failed; close the connection",
            ));
        }
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        let result = loop {
            let rest = &self.pending[start..];
            let Some(header) = rest.first_chunk::<4>() else {
                break Ok(());
            };
            let length = u32::from_be_bytes(*header);
            if length == 0 || length > self.max_frame {
                break Err(Error::bad_token(format!(
                    "the peer sent a protected message of {length} bytes; the negotiated \
                     maximum is {} and empty messages are not allowed",
                    self.max_frame
                )));
            }
            let end = 4 + length as usize;
            if rest.len() < end {
                break Ok(());
            }
            if let Err(e) = each(&rest[4..end]) {
                break Err(e);
            }
            start += end;
        };
        if result.is_err() {
            self.failed = true;
            self.pending = Vec::new();
        } else {
            self.pending.drain(..start);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: LayerPolicy = LayerPolicy {
        min_ssf: 0,
        max_ssf: u32::MAX,
        max_buffer: 65536,
    };

    fn offer(policy: LayerPolicy) -> Result<Offer, Error> {
        Offer::new(&policy, true, true, || Ok(256))
    }

    #[test]
    fn the_default_offer_is_no_layer_only() {
        let none = Offer::new(&LayerPolicy::NONE, true, true, || {
            panic!("the SSF is not needed without layers")
        })
        .unwrap();
        assert_eq!(none.to_bytes(), [1, 0, 0, 0]);
    }

    #[test]
    fn offers_what_the_policy_allows() {
        assert_eq!(offer(OPEN).unwrap().to_bytes(), [7, 0x01, 0x00, 0x00]);
        let big = LayerPolicy {
            max_buffer: u32::MAX,
            ..OPEN
        };
        assert_eq!(offer(big).unwrap().to_bytes(), [7, 0xff, 0xff, 0xff]);
        let integrity_only = LayerPolicy { max_ssf: 1, ..OPEN };
        assert_eq!(offer(integrity_only).unwrap().to_bytes()[0], 3);
        let need_layer = LayerPolicy {
            min_ssf: 56,
            ..OPEN
        };
        assert_eq!(offer(need_layer).unwrap().to_bytes()[0], 4);
        let need_integrity = LayerPolicy { min_ssf: 1, ..OPEN };
        assert_eq!(offer(need_integrity).unwrap().to_bytes()[0], 6);
        let no_framing = LayerPolicy {
            max_buffer: 0,
            ..OPEN
        };
        assert_eq!(offer(no_framing).unwrap().to_bytes(), [1, 0, 0, 0]);
        // No confidentiality in the context: integrity at most.
        let weak = Offer::new(&OPEN, true, false, || panic!("not asked")).unwrap();
        assert_eq!(weak.to_bytes()[0], 3);
    }

    #[test]
    fn refuses_policies_it_cannot_meet() {
        let err = offer(LayerPolicy {
            min_ssf: 300,
            ..OPEN
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooWeak);
        assert!(err.message().contains("SSF 256"), "{err}");
        let err = offer(LayerPolicy {
            min_ssf: 56,
            max_buffer: 0,
            ..OPEN
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooWeak);
        let err = offer(LayerPolicy {
            min_ssf: 2,
            max_ssf: 1,
            max_buffer: 10,
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn accepts_offered_choices() {
        let open = offer(OPEN).unwrap();
        let none = open.accept(b"\x01\0\0\0alice@R").unwrap();
        assert_eq!(none.protection, Protection::None);
        assert_eq!(none.authzid.as_deref(), Some("alice@R"));
        let integrity = open.accept(&[2, 0, 0x10, 0]).unwrap();
        assert_eq!((integrity.ssf, integrity.max_buffer), (1, 4096));
        let conf = open.accept(&[4, 0, 0x10, 0]).unwrap();
        assert_eq!(
            (conf.protection, conf.ssf),
            (Protection::Confidentiality, 256)
        );
        let ad_compat = open.accept(&[6, 0, 0x10, 0]).unwrap();
        assert_eq!(ad_compat.protection, Protection::Confidentiality);
        assert_eq!(Offer::NONE.accept(&[1, 0, 0, 0]).unwrap().authzid, None);
    }

    #[test]
    fn rejects_bad_choices() {
        let message = |offer: Offer, reply: &[u8]| {
            let err = offer.accept(reply).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadToken, "{reply:?}");
            err.message().to_string()
        };
        assert!(message(Offer::NONE, &[2, 0, 0, 0]).contains(
            "chose integrity protection (0x02), but only \"no security layer\" (0x01) was offered"
        ));
        assert!(message(Offer::NONE, &[6, 0, 0, 0]).contains("exactly one"));
        let open = offer(OPEN).unwrap();
        for bad in [
            &b"\x01\0\0"[..],
            b"\x00\0\0\0",
            b"\x03\0\0\0",
            b"\x04\0\0\0",
            b"\x01\xff\xff\xff",
            b"\x01\0\0\0\xff",
            b"\x01\0\0\0a\0b",
        ] {
            message(open, bad);
        }
        let layer_needed = offer(LayerPolicy {
            min_ssf: 56,
            ..OPEN
        })
        .unwrap();
        assert!(message(layer_needed, &[1, 0, 0, 0]).contains("confidentiality"));
    }

    #[test]
    fn frames_round_trip_however_the_stream_is_cut() {
        let mut stream = Vec::new();
        for message in [&b"one"[..], b"two!", &[7u8; 300]] {
            write_frame(message, &mut stream);
        }
        for cut in [1, 3, 4, 5, 100, stream.len()] {
            let mut reader = FrameReader::new(1000);
            let mut got: Vec<Vec<u8>> = Vec::new();
            for chunk in stream.chunks(cut) {
                reader
                    .push(chunk, |m| {
                        got.push(m.to_vec());
                        Ok(())
                    })
                    .unwrap();
            }
            assert_eq!(got.len(), 3, "cut {cut}");
            assert_eq!(got[1], b"two!");
            assert_eq!(got[2].len(), 300);
        }
    }

    #[test]
    fn refuses_empty_and_oversized_frames() {
        let mut reader = FrameReader::new(10);
        let err = reader.push(&[0, 0, 0, 11], |_| Ok(())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadToken);
        let mut reader = FrameReader::new(10);
        assert!(reader.push(&[0, 0, 0, 0], |_| Ok(())).is_err());
    }

    #[test]
    fn a_failed_stream_stays_failed_and_buffers_nothing() {
        let mut reader = FrameReader::new(10);
        assert!(reader.push(&[0, 0, 0, 11, 1, 2], |_| Ok(())).is_err());
        let mut stream = Vec::new();
        write_frame(b"fine", &mut stream);
        for _ in 0..3 {
            let err = reader
                .push(&stream, |_| panic!("no frame after a failure"))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadState);
            assert!(reader.pending.is_empty());
        }
    }
}
