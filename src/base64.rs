//! Standard base64 (RFC 4648 §4), as RFC 4559 carries GSSAPI tokens in
//! HTTP headers. Decoding is strict about the alphabet and padding, so that
//! a mangled header gets a message pointing at the first bad character.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why a text is not base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A byte outside the alphabet (or `=` before the end), at an index.
    InvalidByte { index: usize, byte: u8 },
    /// The length cannot be the encoding of whole bytes.
    BadLength(usize),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::InvalidByte { index, byte: b' ' } => write!(
                f,
                "a space at position {index} is not in the base64 alphabet"
            ),
            DecodeError::InvalidByte { index, byte } if byte.is_ascii_graphic() => write!(
                f,
                "character {:?} at position {index} is not in the base64 alphabet",
                char::from(*byte)
            ),
            DecodeError::InvalidByte { index, byte } => write!(
                f,
                "byte {byte:#04x} at position {index} is not in the base64 alphabet"
            ),
            DecodeError::BadLength(len) => write!(
                f,
                "its length ({len} characters) is not that of whole bytes in base64 \
                 (the token is truncated or has wrong padding)"
            ),
        }
    }
}

pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn value(byte: u8) -> Option<u32> {
    let v = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes `text`. Padding is optional, but if present must make the
/// length a multiple of 4.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let unpadded = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"="));
    let (data, padded) = match unpadded {
        Some(data) => (data, true),
        None => (text, false),
    };
    // A bad character says more than a bad length: look for one first.
    if let Some(index) = data.iter().position(|b| value(*b).is_none()) {
        return Err(DecodeError::InvalidByte {
            index,
            byte: data[index],
        });
    }
    if data.len() % 4 == 1 || (padded && text.len() % 4 != 0) {
        return Err(DecodeError::BadLength(text.len()));
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.chunks(4) {
        let mut n = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            n |= value(byte).unwrap_or(0) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded.as_bytes()).unwrap(), plain.as_bytes());
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(decode(unpadded.as_bytes()).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(encode(&all).as_bytes()).unwrap(), all);
    }

    #[test]
    fn rejects_what_is_not_base64() {
        assert_eq!(
            decode(b"Zm9v*mFy"),
            Err(DecodeError::InvalidByte {
                index: 4,
                byte: b'*'
            })
        );
        assert_eq!(
            decode(b"Zm 9v"),
            Err(DecodeError::InvalidByte {
                index: 2,
                byte: b' '
            })
        );
        assert!(matches!(
            decode(b"Zm=v"),
            Err(DecodeError::InvalidByte { index: 2, .. })
        ));
        assert_eq!(decode(b"Zm9vY"), Err(DecodeError::BadLength(5)));
        assert_eq!(decode(b"Zm8=="), Err(DecodeError::BadLength(5)));
        assert_eq!(decode(b"="), Err(DecodeError::BadLength(1)));
        assert!(decode(b"Zm9v\xff").is_err());
        assert!(
            decode("Zm9v\u{e9}".as_bytes())
                .unwrap_err()
                .to_string()
                .contains("0xc3")
        );
    }
}
