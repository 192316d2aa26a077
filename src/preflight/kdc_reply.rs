//! Reads the few cleartext facts of a KDC's reply (RFC 4120 §5.4.2, §5.9.1)
//! that libkrb5 does not hand back when the exchange fails: which key
//! version the issued ticket is encrypted with, and the KDC's clock in an
//! error. The crate's small DER reader is enough; anything unexpected
//! reads as None.

use crate::der::{Element, element};

/// What a KDC reply says in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KdcReply {
    /// AS-REP: the key versions of the ticket (the service's key) and of
    /// the encrypted part (the client's key), when the KDC sent them.
    AsRep {
        ticket_kvno: Option<u32>,
        client_kvno: Option<u32>,
    },
    /// KRB-ERROR: the KDC's time (seconds since the epoch) and error code.
    Error { kdc_time: i64, code: u32 },
}

const AS_REP: u8 = 0x6b; // [APPLICATION 11], constructed
const KRB_ERROR: u8 = 0x7e; // [APPLICATION 30], constructed
const TICKET: u8 = 0x61; // [APPLICATION 1], constructed
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const GENERALIZED_TIME: u8 = 0x18;

/// `[n]`, context-specific and constructed.
const fn field(n: u8) -> u8 {
    0xa0 + n
}

impl KdcReply {
    pub fn parse(bytes: &[u8]) -> Option<KdcReply> {
        let Element {
            tag,
            contents: body,
            ..
        } = element(bytes)?;
        let fields = sequence_fields(expect(body, SEQUENCE)?)?;
        match tag {
            AS_REP => {
                let ticket = expect(expect(find(&fields, 5)?, TICKET)?, SEQUENCE)?;
                let ticket_fields = sequence_fields(ticket)?;
                Some(KdcReply::AsRep {
                    ticket_kvno: encrypted_data_kvno(find(&ticket_fields, 3)?),
                    client_kvno: encrypted_data_kvno(find(&fields, 6)?),
                })
            }
            KRB_ERROR => Some(KdcReply::Error {
                kdc_time: generalized_time(expect(find(&fields, 4)?, GENERALIZED_TIME)?)?,
                code: u32::try_from(integer(expect(find(&fields, 6)?, INTEGER)?)?).ok()?,
            }),
            _ => None,
        }
    }
}

/// The optional kvno `[1]` of an EncryptedData.
fn encrypted_data_kvno(encrypted_data: &[u8]) -> Option<u32> {
    let fields = sequence_fields(expect(encrypted_data, SEQUENCE)?)?;
    u32::try_from(integer(expect(find(&fields, 1)?, INTEGER)?)?).ok()
}

/// The contents of `bytes` if it is one element with tag `tag`.
fn expect(bytes: &[u8], tag: u8) -> Option<&[u8]> {
    let found = element(bytes)?;
    (found.tag == tag).then_some(found.contents)
}

/// The explicitly tagged fields `[n] value` of a SEQUENCE's contents.
fn sequence_fields(mut body: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut fields = Vec::new();
    while !body.is_empty() {
        let Element {
            tag,
            contents,
            rest,
        } = element(body)?;
        fields.push((tag, contents));
        body = rest;
    }
    Some(fields)
}

fn find<'a>(fields: &[(u8, &'a [u8])], n: u8) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(tag, _)| *tag == field(n))
        .map(|(_, value)| *value)
}

fn integer(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    let negative = bytes[0] & 0x80 != 0;
    let start: i64 = if negative { -1 } else { 0 };
    Some(bytes.iter().fold(start, |n, &b| (n << 8) | i64::from(b)))
}

/// KerberosTime, `YYYYMMDDHHMMSSZ`, as seconds since the epoch.
fn generalized_time(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.len() != 15 || !text.ends_with('Z') || !text[..14].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(8..10)?, number(10..12)?, number(12..14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes one element (test helper; lengths up to 65535).
    fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match contents.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(contents);
        out
    }

    fn seq(fields: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let body: Vec<u8> = fields
            .iter()
            .flat_map(|(n, value)| der(field(*n), value))
            .collect();
        der(SEQUENCE, &body)
    }

    fn int(n: u8) -> Vec<u8> {
        der(INTEGER, &[n])
    }

    fn encrypted_data(kvno: Option<u8>) -> Vec<u8> {
        let mut fields = vec![(0, int(18))];
        if let Some(kvno) = kvno {
            fields.push((1, int(kvno)));
        }
        fields.push((2, der(0x04, &[0xAA; 200])));
        seq(&fields)
    }

    #[test]
    fn reads_the_key_versions_of_an_as_rep() {
        let ticket = der(
            TICKET,
            &seq(&[
                (0, int(5)),
                (1, der(0x1b, b"EXAMPLE.COM")),
                (2, seq(&[(0, int(1))])),
                (3, encrypted_data(Some(3))),
            ]),
        );
        let as_rep = der(
            AS_REP,
            &seq(&[
                (0, int(5)),
                (1, int(11)),
                (3, der(0x1b, b"EXAMPLE.COM")),
                (4, seq(&[(0, int(1))])),
                (5, ticket),
                (6, encrypted_data(None)),
            ]),
        );
        assert_eq!(
            KdcReply::parse(&as_rep),
            Some(KdcReply::AsRep {
                ticket_kvno: Some(3),
                client_kvno: None
            })
        );
    }

    #[test]
    fn reads_the_time_and_code_of_a_krb_error() {
        let error = der(
            KRB_ERROR,
            &seq(&[
                (0, int(5)),
                (1, int(30)),
                (4, der(GENERALIZED_TIME, b"20240229123456Z")),
                (5, int(0)),
                (6, int(25)),
                (9, der(0x1b, b"EXAMPLE.COM")),
            ]),
        );
        assert_eq!(
            KdcReply::parse(&error),
            Some(KdcReply::Error {
                kdc_time: 1_709_210_096,
                code: 25
            })
        );
    }

    #[test]
    fn anything_else_reads_as_none() {
        for bytes in [
            &[][..],
            &[0x6b][..],
            &[0x6b, 0x05, 0x30][..],
            &[0x6b, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x30, 0x00][..],
            &[0x7e, 0x02, 0x30, 0x00][..],
        ] {
            assert_eq!(KdcReply::parse(bytes), None, "{bytes:02x?}");
        }
        assert_eq!(generalized_time(b"20241301000000Z"), None);
        assert_eq!(generalized_time(b"1970010100000Z"), None);
        assert_eq!(generalized_time(b"19700101000000Z"), Some(0));
    }
}
