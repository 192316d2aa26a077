//! The token of an HTTP Negotiate (RFC 4559) request: which Kerberos V5
//! token it carries, and how to wrap the answer.
//!
//! Clients send a raw Kerberos V5 GSSAPI token or, mostly, a SPNEGO (RFC
//! 4178) NegTokenInit whose optimistic token is Kerberos V5. kerbsasl
//! unwraps SPNEGO itself and hands only the Kerberos token to MIT's krb5
//! mechanism, with the same krb5-only credential as SASL: MIT's SPNEGO
//! acceptor would do the same in one round, but renumbers the krb5 error
//! codes, which the diagnosis hints and the keytab reload need. The answer
//! is what MIT's SPNEGO gives in that round: a negTokenResp with
//! accept-completed, the client's Kerberos OID and the AP-REP.
//!
//! Before Kerberos sees anything, tokens that cannot succeed in one round
//! get a message saying why: NTLM instead of Kerberos, SPNEGO offers that
//! do not lead with Kerberos V5, SPNEGO continuation tokens.
//!
//! SPNEGO initial token, as far as it is read here: `60 len 06 06
//! 2b0601050502` then NegTokenInit `a0 len 30 len { [0] mechTypes SEQUENCE
//! OF OID, [1] reqFlags, [2] mechToken OCTET STRING, [3] mechListMIC }`.

use crate::der;
use crate::error::Error;
use crate::sasl;

const SPNEGO: &[u8] = b"\x2b\x06\x01\x05\x05\x02";
const KRB5: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02";
/// Microsoft's mis-encoded Kerberos V5 OID, which Windows sends first.
const KRB5_MS: &[u8] = b"\x2a\x86\x48\x82\xf7\x12\x01\x02\x02";
const NTLM: &[u8] = b"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a";
const NEGOEX: &[u8] = b"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x1e";
const IAKERB: &[u8] = b"\x2b\x06\x01\x05\x02\x05";
const NTLMSSP: &[u8] = b"NTLMSSP\0";

/// What this server does with a client's first Negotiate token.
const ONE_ROUND: &str = "this server completes Negotiate in one round, as \
     Elasticsearch and nginx's SPNEGO module do, so the client's first token must be \
     Kerberos V5";

/// The parts of a NegTokenInit that decide whether one round can succeed.
#[derive(Debug, PartialEq, Eq)]
pub struct NegTokenInit<'a> {
    /// The client's mechanisms, most preferred first (OID contents).
    pub mechs: Vec<&'a [u8]>,
    /// The optimistic token for `mechs[0]`, if the client sent one.
    pub mech_token: Option<&'a [u8]>,
}

/// Whether `token` starts like a GSS-framed SPNEGO token (even if it is
/// truncated: then it is a malformed SPNEGO token).
pub fn is_spnego(token: &[u8]) -> bool {
    let Some((0x60, after_tag)) = token.split_first().map(|(t, rest)| (*t, rest)) else {
        return false;
    };
    let Some((_, used)) = der::length(after_tag) else {
        return false;
    };
    after_tag[used..].starts_with(&[0x06, SPNEGO.len() as u8])
        && after_tag[used + 2..].starts_with(SPNEGO)
}

/// Parses a GSS-framed SPNEGO NegTokenInit; None if it is malformed.
pub fn parse_init(token: &[u8]) -> Option<NegTokenInit<'_>> {
    let framed = der::element(token).filter(|e| e.tag == 0x60)?;
    let oid = der::element(framed.contents).filter(|e| e.tag == 0x06 && e.contents == SPNEGO)?;
    let choice = der::element(oid.rest).filter(|e| e.tag == 0xa0)?;
    let sequence = der::element(choice.contents).filter(|e| e.tag == 0x30)?;
    let mut init = NegTokenInit {
        mechs: Vec::new(),
        mech_token: None,
    };
    let mut fields = sequence.contents;
    let mut seen_mech_types = false;
    while !fields.is_empty() {
        let field = der::element(fields)?;
        fields = field.rest;
        match field.tag {
            0xa0 => {
                let list = der::element(field.contents).filter(|e| e.tag == 0x30)?;
                let mut oids = list.contents;
                while !oids.is_empty() {
                    let oid = der::element(oids).filter(|e| e.tag == 0x06)?;
                    init.mechs.push(oid.contents);
                    oids = oid.rest;
                }
                seen_mech_types = true;
            }
            0xa2 => {
                let octets = der::element(field.contents).filter(|e| e.tag == 0x04)?;
                init.mech_token = Some(octets.contents);
            }
            // reqFlags, mechListMIC, and Microsoft's negHints: not needed.
            0xa1 | 0xa3 | 0xa4 => {}
            _ => return None,
        }
    }
    seen_mech_types.then_some(init)
}

/// A readable name for a mechanism OID.
pub fn mech_name(oid: &[u8]) -> String {
    let dotted = der::oid_to_string(oid);
    let name = match oid {
        KRB5 => "Kerberos V5",
        KRB5_MS => "Kerberos V5 (Microsoft's OID)",
        NTLM => "NTLM",
        NEGOEX => "NEGOEX",
        IAKERB => "IAKERB",
        SPNEGO => "SPNEGO",
        _ => return dotted,
    };
    format!("{name} ({dotted})")
}

fn is_krb5(oid: &[u8]) -> bool {
    oid == KRB5 || oid == KRB5_MS
}

/// The Kerberos V5 part of a Negotiate token.
#[derive(Debug, PartialEq, Eq)]
pub struct KerberosToken<'a> {
    /// The Kerberos V5 GSSAPI token (an AP-REQ), already checked like a
    /// SASL initial token.
    pub krb5: &'a [u8],
    /// For SPNEGO, the Kerberos OID the client listed first (real or
    /// Microsoft's), which the answer must name; None for a raw token.
    spnego_mech: Option<&'a [u8]>,
}

impl KerberosToken<'_> {
    /// The token to send back for Kerberos's output (the AP-REP, or
    /// nothing): as is for a raw token; for SPNEGO, a negTokenResp with
    /// negState accept-completed, supportedMech and the AP-REP as
    /// responseToken. No mechListMIC: none is needed when the client's
    /// first mechanism is chosen (RFC 4178 §5), and MIT sends none.
    pub fn answer(&self, output: &[u8]) -> Vec<u8> {
        let Some(mech) = self.spnego_mech else {
            return output.to_vec();
        };
        const ACCEPT_COMPLETED: &[u8] = &[0x0a, 0x01, 0x00];
        let mut fields = der::encode(0xa0, ACCEPT_COMPLETED);
        fields.extend(der::encode(0xa1, &der::encode(0x06, mech)));
        if !output.is_empty() {
            fields.extend(der::encode(0xa2, &der::encode(0x04, output)));
        }
        der::encode(0xa1, &der::encode(0x30, &fields))
    }
}

/// Finds the Kerberos V5 token in a decoded Negotiate token, or says why
/// one round cannot succeed.
pub fn kerberos_token(token: &[u8]) -> Result<KerberosToken<'_>, Error> {
    if token.starts_with(NTLMSSP) {
        return Err(ntlm("sent a raw NTLM token"));
    }
    if token.first() == Some(&0xa1) {
        return Err(Error::bad_token(format!(
            "the client sent a SPNEGO continuation token (negTokenResp) as if answering a \
             previous round; {ONE_ROUND}: the client must start again with a new request"
        )));
    }
    if !is_spnego(token) {
        // Raw Kerberos V5, or something else: the SASL path's checks
        // explain empty, truncated, other-mechanism and non-GSS tokens.
        sasl::check_initial_token(token)?;
        return Ok(KerberosToken {
            krb5: token,
            spnego_mech: None,
        });
    }
    let init = parse_init(token).ok_or_else(|| {
        Error::bad_token(
            "the client's SPNEGO token is malformed: it is not a NegTokenInit with a \
             mechanism list (RFC 4178)",
        )
    })?;
    let Some(&first) = init.mechs.first() else {
        return Err(Error::bad_token(
            "the client's SPNEGO token offers no mechanism",
        ));
    };
    if !init.mechs.iter().any(|m| is_krb5(m)) {
        if init.mechs.contains(&NTLM) || init.mech_token.is_some_and(|t| t.starts_with(NTLMSSP)) {
            return Err(ntlm("offered only NTLM in its SPNEGO token"));
        }
        return Err(Error::bad_token(format!(
            "the client's SPNEGO token offers {}, but not Kerberos V5: only Kerberos V5 is \
             accepted",
            init.mechs
                .iter()
                .map(|m| mech_name(m))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !is_krb5(first) {
        return Err(not_leading(&format!(
            "its SPNEGO token prefers {} and offers Kerberos V5 only after it",
            mech_name(first)
        )));
    }
    let Some(krb5) = init.mech_token.filter(|t| !t.is_empty()) else {
        return Err(not_leading(
            "its SPNEGO token offers Kerberos V5 but carries no Kerberos token",
        ));
    };
    sasl::check_initial_token(krb5)?;
    Ok(KerberosToken {
        krb5,
        spnego_mech: Some(first),
    })
}

/// The message for a Negotiate exchange that would need another round.
pub fn not_leading(why: &str) -> Error {
    Error::bad_token(format!(
        "the client did not lead with a Kerberos token: {why}; {ONE_ROUND}. Hint: the client \
         needs a Kerberos ticket for this server's HTTP service principal"
    ))
}

fn ntlm(what: &str) -> Error {
    Error::bad_token(format!(
        "the client {what} instead of Kerberos: NTLM is not supported. This is what Windows \
         and browsers do when they have no Kerberos ticket for HTTP/<host name in the URL>. \
         Fix it on the client side: log on to the domain or kinit; make sure the KDC has \
         that HTTP/host principal (an alias or CNAME host needs its own); and let the \
         browser use Kerberos for this site (Windows: put it in the Local intranet zone; \
         Chrome/Edge: AuthServerAllowlist; Firefox: network.negotiate-auth.trusted-uris)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::encode as tlv;
    use crate::error::ErrorKind;

    /// A NegTokenInit offering `mechs` with an optional mechToken.
    pub fn neg_token_init(mechs: &[&[u8]], mech_token: Option<&[u8]>) -> Vec<u8> {
        let oids: Vec<u8> = mechs.iter().flat_map(|m| tlv(0x06, m)).collect();
        let mut fields = tlv(0xa0, &tlv(0x30, &oids));
        if let Some(token) = mech_token {
            fields.extend(tlv(0xa2, &tlv(0x04, token)));
        }
        let mut body = tlv(0x06, SPNEGO);
        body.extend(tlv(0xa0, &tlv(0x30, &fields)));
        tlv(0x60, &body)
    }

    fn bad(token: &[u8]) -> String {
        let err = kerberos_token(token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadToken);
        err.message().to_string()
    }

    #[test]
    fn parses_neg_token_init() {
        let token = neg_token_init(&[KRB5, NTLM], Some(b"\x60\x01\x00"));
        assert!(is_spnego(&token));
        let init = parse_init(&token).unwrap();
        assert_eq!(init.mechs, vec![KRB5, NTLM]);
        assert_eq!(init.mech_token, Some(&b"\x60\x01\x00"[..]));
        assert!(parse_init(&token[..token.len() - 1]).is_none());
        assert!(parse_init(b"\x60\x00").is_none());
    }

    /// A minimal framed krb5 AP-REQ token, enough for the framing checks.
    fn ap_req() -> Vec<u8> {
        let mut body = der::encode(0x06, KRB5);
        body.extend_from_slice(&[0x01, 0x00, 0x6e, 0x00]);
        der::encode(0x60, &body)
    }

    #[test]
    fn finds_the_kerberos_token() {
        let raw = ap_req();
        let found = kerberos_token(&raw).unwrap();
        assert_eq!(found.krb5, &raw[..]);
        assert_eq!(found.answer(b"rep"), b"rep");
        for first in [KRB5, KRB5_MS] {
            let token = neg_token_init(&[first, KRB5, NTLM], Some(&raw));
            let found = kerberos_token(&token).unwrap();
            assert_eq!(found.krb5, &raw[..]);
            // What MIT's SPNEGO acceptor answers, byte for byte.
            let mut want = vec![0xa1, 0x14, 0x30, 0x12, 0xa0, 0x03, 0x0a, 0x01, 0x00];
            want.extend_from_slice(&[0xa1, 0x0b, 0x06, 0x09]);
            want.extend_from_slice(first);
            assert_eq!(found.answer(&[]), want);
            let with_rep = found.answer(&[0x6f; 200]);
            let resp = der::element(&with_rep).unwrap();
            let seq = der::element(resp.contents).unwrap();
            let state = der::element(seq.contents).unwrap();
            let mech = der::element(state.rest).unwrap();
            let rep = der::element(mech.rest).unwrap();
            assert_eq!(
                der::element(rep.contents).unwrap().contents,
                &[0x6f; 200][..]
            );
        }
    }

    #[test]
    fn ntlm_is_named_with_the_fix() {
        for message in [
            bad(b"NTLMSSP\0\x01\x00\x00\x00"),
            bad(&neg_token_init(&[NTLM], Some(b"NTLMSSP\0\x01"))),
            bad(&neg_token_init(&[NEGOEX, NTLM], None)),
        ] {
            assert!(message.contains("NTLM"), "{message}");
            assert!(message.contains("intranet"), "{message}");
        }
    }

    #[test]
    fn other_leads_need_another_round() {
        assert!(bad(&neg_token_init(&[NTLM, KRB5], Some(b"NTLMSSP\0"))).contains(
            "did not lead with a Kerberos token: its SPNEGO token prefers NTLM (1.3.6.1.4.1.311.2.2.10)"
        ));
        assert!(bad(&neg_token_init(&[KRB5], None)).contains("did not lead"));
        assert!(bad(&neg_token_init(&[IAKERB], Some(b"x"))).contains("IAKERB"));
        assert!(bad(&neg_token_init(&[], Some(b"x"))).contains("offers no mechanism"));
        assert!(bad(&[0xa1, 0x03, 0x30, 0x01, 0x00]).contains("continuation"));
        assert!(bad(&neg_token_init(&[KRB5], Some(&ap_req()))[..20]).contains("malformed"));
        // The optimistic token gets the raw token's checks.
        assert!(bad(&neg_token_init(&[KRB5], Some(b"\x30\x00"))).contains("not a GSSAPI token"));
    }

    #[test]
    fn raw_tokens_get_the_sasl_checks() {
        assert!(bad(b"").contains("empty"));
        assert!(bad(b"\x30\x00").contains("not a GSSAPI token"));
    }
}
