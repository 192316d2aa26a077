//! The RFC 4752 pieces that need no Kerberos: checking the client's initial
//! token framing, the security-layer offer, and the client's choice.

use crate::der;
use crate::error::Error;

/// Security layer bit: no security layer.
pub const LAYER_NONE: u8 = 0x01;
const LAYER_INTEGRITY: u8 = 0x02;
const LAYER_CONFIDENTIALITY: u8 = 0x04;

/// The server's offer: only "no security layer", so the maximum buffer
/// size must be 0 (MQTT and most hosts have no SASL framing).
pub const OFFER: [u8; 4] = [LAYER_NONE, 0, 0, 0];

const KRB5_OID: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02";
const SPNEGO_OID: &[u8] = b"\x2b\x06\x01\x05\x05\x02";
/// The krb5 token id of an AP-REQ (RFC 1964 §1.1).
const AP_REQ_TOKEN_ID: [u8; 2] = [0x01, 0x00];

/// Checks that the first client token is a GSSAPI krb5 AP-REQ token, so
/// that SPNEGO, NTLM, empty and truncated tokens get a message that says
/// what the client did wrong instead of MIT's generic text.
pub fn check_initial_token(token: &[u8]) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::bad_token(
            "the client sent an empty initial token: it has no Kerberos ticket for this \
             service or is not using the GSSAPI (Kerberos V5) mechanism",
        ));
    }
    if token.starts_with(b"NTLMSSP\0") {
        return Err(Error::bad_token(
            "the client sent an NTLM token; only Kerberos V5 (GSSAPI) is supported",
        ));
    }
    if matches!(token[0], 0xa0 | 0xa1) {
        return Err(spnego());
    }
    if token[0] != 0x60 {
        return Err(Error::bad_token(format!(
            "the client's initial token is not a GSSAPI token (first byte {:#04x}, expected 0x60)",
            token[0]
        )));
    }
    let (length, header) = der::length(&token[1..])
        .ok_or_else(|| Error::bad_token("the client's initial token has a malformed length"))?;
    let body = &token[1 + header..];
    if body.len() != length {
        return Err(Error::bad_token(format!(
            "the client's initial token is truncated or padded: its header says {length} bytes \
             follow, but {} do",
            body.len()
        )));
    }
    let oid = match body {
        [0x06, oid_len, rest @ ..] if rest.len() >= usize::from(*oid_len) => {
            &rest[..usize::from(*oid_len)]
        }
        _ => {
            return Err(Error::bad_token(
                "the client's initial token names no mechanism",
            ));
        }
    };
    if oid == SPNEGO_OID {
        return Err(spnego());
    }
    if oid != KRB5_OID {
        return Err(Error::bad_token(format!(
            "the client's initial token is for mechanism {}, not Kerberos V5 (1.2.840.113554.1.2.2)",
            der::oid_to_string(oid)
        )));
    }
    let inner = &body[2 + oid.len()..];
    if inner.len() < 2 || inner[..2] != AP_REQ_TOKEN_ID {
        return Err(Error::bad_token(
            "the client's initial token is a Kerberos token but not an AP-REQ",
        ));
    }
    Ok(())
}

fn spnego() -> Error {
    Error::bad_token(
        "the client sent a SPNEGO (1.3.6.1.5.5.2) token; only the plain Kerberos V5 GSSAPI \
         mechanism is supported: configure the client for GSSAPI/Kerberos, not SPNEGO/Negotiate",
    )
}

/// Parses the client's unwrapped security-layer reply: the chosen layer,
/// its maximum buffer size and an optional authzid. Returns the authzid.
pub fn parse_layer_choice(reply: &[u8]) -> Result<Option<String>, Error> {
    if reply.len() < 4 {
        return Err(Error::bad_token(format!(
            "the client's security-layer reply is {} bytes; RFC 4752 requires at least 4",
            reply.len()
        )));
    }
    let chosen = reply[0];
    if chosen.count_ones() != 1 {
        return Err(Error::bad_token(format!(
            "the client chose security layers {chosen:#04x}; exactly one must be chosen"
        )));
    }
    if chosen & OFFER[0] == 0 {
        let name = match chosen {
            LAYER_INTEGRITY => "integrity protection (0x02)",
            LAYER_CONFIDENTIALITY => "confidentiality (0x04)",
            _ => "an unknown layer",
        };
        return Err(Error::bad_token(format!(
            "the client chose {name}, but only \"no security layer\" (0x01) was offered"
        )));
    }
    if reply[1..4] != [0, 0, 0] {
        return Err(Error::bad_token(
            "the client chose no security layer but a non-zero maximum buffer size; it must be 0",
        ));
    }
    let authzid = &reply[4..];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn krb5_token(inner: &[u8]) -> Vec<u8> {
        let mut body = vec![0x06, KRB5_OID.len() as u8];
        body.extend_from_slice(KRB5_OID);
        body.extend_from_slice(inner);
        let mut token = vec![0x60];
        if body.len() < 0x80 {
            token.push(body.len() as u8);
        } else {
            token.extend_from_slice(&[0x82, (body.len() >> 8) as u8, body.len() as u8]);
        }
        token.extend_from_slice(&body);
        token
    }

    fn bad_token(token: &[u8]) -> String {
        let err = check_initial_token(token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadToken);
        err.message().to_string()
    }

    #[test]
    fn accepts_a_framed_ap_req() {
        check_initial_token(&krb5_token(&[1, 0, 0x6e, 0x00])).unwrap();
        check_initial_token(&krb5_token(&[1, 0].repeat(200))).unwrap();
    }

    #[test]
    fn explains_tokens_of_other_kinds() {
        assert!(bad_token(b"").contains("empty"));
        assert!(bad_token(b"NTLMSSP\0\x01").contains("NTLM"));
        assert!(bad_token(&[0xa1, 0x03, 0, 0, 0]).contains("SPNEGO"));
        let mut spnego = vec![0x60, 0x08, 0x06, 0x06];
        spnego.extend_from_slice(SPNEGO_OID);
        assert!(bad_token(&spnego).contains("SPNEGO"));
        assert!(bad_token(&[0x30, 0x00]).contains("not a GSSAPI token"));
        let full = krb5_token(&[1, 0, 0x6e, 0x00]);
        assert!(bad_token(&full[..full.len() - 1]).contains("truncated"));
        assert!(bad_token(&krb5_token(&[2, 0])).contains("not an AP-REQ"));
        let mut other = vec![0x60, 0x07, 0x06, 0x05];
        other.extend_from_slice(b"\x2b\x06\x01\x05\x07");
        assert!(bad_token(&other).contains("1.3.6.1.5.7"));
        assert!(bad_token(&[0x60, 0x85, 0, 0, 0, 0, 0]).contains("malformed length"));
    }

    #[test]
    fn parses_layer_choices() {
        assert_eq!(parse_layer_choice(&[1, 0, 0, 0]).unwrap(), None);
        assert_eq!(
            parse_layer_choice(b"\x01\0\0\0alice@R").unwrap(),
            Some("alice@R".to_string())
        );
        for bad in [
            &b"\x01\0\0"[..],
            b"\x00\0\0\0",
            b"\x03\0\0\0",
            b"\x02\0\0\0",
            b"\x04\x00\x10\x00",
            b"\x01\xff\xff\xff",
            b"\x01\0\0\0\xff",
            b"\x01\0\0\0a\0b",
        ] {
            let err = parse_layer_choice(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadToken, "{bad:?}");
        }
    }
}
