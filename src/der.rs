//! The little DER that token checks and SPNEGO answers need: lengths,
//! tag-length-value elements and OIDs in dotted form. Never trusts a
//! length it reads.

/// Decodes a DER length; returns (length, bytes used). Lengths of more
/// than 4 bytes, and the indefinite form, are refused.
pub fn length(bytes: &[u8]) -> Option<(usize, usize)> {
    let first = *bytes.first()?;
    if first < 0x80 {
        return Some((usize::from(first), 1));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 || bytes.len() < 1 + count {
        return None;
    }
    let length = bytes[1..=count]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((length, 1 + count))
}

/// One element: its tag, its contents, and what follows it.
pub struct Element<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
    pub rest: &'a [u8],
}

/// Reads the element at the start of `bytes`. Only single-byte tags: the
/// high-tag-number form (low five bits all set) reads as None.
pub fn element(bytes: &[u8]) -> Option<Element<'_>> {
    let (&tag, after_tag) = bytes.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (len, used) = length(after_tag)?;
    let body = &after_tag[used..];
    if body.len() < len {
        return None;
    }
    Some(Element {
        tag,
        contents: &body[..len],
        rest: &body[len..],
    })
}

/// Encodes one element (single-byte tag, definite length).
pub fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// An OID's contents in dotted form, e.g. "1.2.840.113554.1.2.2".
pub fn oid_to_string(oid: &[u8]) -> String {
    let Some((first, rest)) = oid.split_first() else {
        return "(empty)".to_string();
    };
    let mut arcs = vec![u64::from(first / 40), u64::from(first % 40)];
    let mut value: u64 = 0;
    for byte in rest {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            arcs.push(value);
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lengths_and_elements() {
        assert_eq!(length(&[0x05]), Some((5, 1)));
        assert_eq!(length(&[0x82, 0x01, 0x00]), Some((256, 3)));
        assert_eq!(length(&[0x80]), None);
        assert_eq!(length(&[0x85, 0, 0, 0, 0, 0]), None);
        assert_eq!(length(&[0x82, 0x01]), None);
        let e = element(&[0x04, 0x02, 0xaa, 0xbb, 0xcc]).unwrap();
        assert_eq!(
            (e.tag, e.contents, e.rest),
            (0x04, &[0xaa, 0xbb][..], &[0xcc][..])
        );
        assert!(element(&[0x04, 0x03, 0xaa]).is_none());
        assert!(element(&[]).is_none());
    }

    #[test]
    fn encodes_what_it_reads() {
        for len in [0, 1, 127, 128, 255, 256, 70_000] {
            let contents = vec![7u8; len];
            let encoded = encode(0x04, &contents);
            let e = element(&encoded).unwrap();
            assert_eq!((e.tag, e.contents.len(), e.rest.len()), (0x04, len, 0));
        }
        assert_eq!(encode(0x30, &[1, 2]), [0x30, 2, 1, 2]);
        assert_eq!(encode(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
    }

    #[test]
    fn prints_oids() {
        assert_eq!(
            oid_to_string(b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"),
            "1.2.840.113554.1.2.2"
        );
        assert_eq!(oid_to_string(b""), "(empty)");
    }
}
