//! Result codes.

use crate::error::ErrorKind;
use std::ffi::{CStr, c_char};

/// The result of a kerbsasl call. Values are part of the ABI: they are
/// never renumbered or reused, and new codes are only ever appended.
/// Functions that take a code from C take `uint32_t`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kerbsasl_result {
    /// Authenticated: the session's identity is available.
    KERBSASL_OK = 0,
    /// Send `*output` to the client and wait for its next message.
    KERBSASL_CONTINUE = 1,
    /// Malformed input or a protocol violation by the client.
    KERBSASL_BAD_TOKEN = 2,
    /// Kerberos rejected the client: bad or expired ticket, clock skew,
    /// replay, ticket for another service, unknown key version.
    KERBSASL_AUTH_FAILED = 3,
    /// Authenticated, but the authzid, realm or name mapping is not allowed.
    KERBSASL_AUTHZ_DENIED = 4,
    /// The configuration or the server's environment (keytab, principal,
    /// replay cache) is unusable; the message says what to fix.
    KERBSASL_CONFIG = 5,
    /// The call does not fit the session's state (e.g. a step after OK).
    KERBSASL_BAD_STATE = 6,
    /// A NULL or otherwise unusable argument.
    KERBSASL_INVALID_ARGUMENT = 7,
    /// A bug or resource failure inside kerbsasl or Kerberos.
    KERBSASL_INTERNAL = 8,
}

impl From<ErrorKind> for kerbsasl_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::BadToken => kerbsasl_result::KERBSASL_BAD_TOKEN,
            ErrorKind::AuthFailed => kerbsasl_result::KERBSASL_AUTH_FAILED,
            ErrorKind::AuthzDenied => kerbsasl_result::KERBSASL_AUTHZ_DENIED,
            ErrorKind::Config => kerbsasl_result::KERBSASL_CONFIG,
            // Sessions of the C ABI never require a security layer; were
            // one refused, the client would be authenticated but not allowed.
            ErrorKind::TooWeak => kerbsasl_result::KERBSASL_AUTHZ_DENIED,
            ErrorKind::BadState => kerbsasl_result::KERBSASL_BAD_STATE,
            ErrorKind::InvalidArgument => kerbsasl_result::KERBSASL_INVALID_ARGUMENT,
            ErrorKind::Internal => kerbsasl_result::KERBSASL_INTERNAL,
        }
    }
}

fn result_name(result: u32) -> &'static CStr {
    match result {
        0 => c"KERBSASL_OK",
        1 => c"KERBSASL_CONTINUE",
        2 => c"KERBSASL_BAD_TOKEN",
        3 => c"KERBSASL_AUTH_FAILED",
        4 => c"KERBSASL_AUTHZ_DENIED",
        5 => c"KERBSASL_CONFIG",
        6 => c"KERBSASL_BAD_STATE",
        7 => c"KERBSASL_INVALID_ARGUMENT",
        8 => c"KERBSASL_INTERNAL",
        _ => c"KERBSASL_UNKNOWN_RESULT",
    }
}

/// The C name of the code an error kind maps to, for log lines.
pub(crate) fn error_code_name(kind: ErrorKind) -> &'static str {
    result_name(kerbsasl_result::from(kind) as u32)
        .to_str()
        .unwrap_or("KERBSASL_UNKNOWN_RESULT")
}

/// The name of a result code, e.g. "KERBSASL_AUTH_FAILED".
///
/// @param result  any value; unknown ones give "KERBSASL_UNKNOWN_RESULT".
/// @return a static string; never NULL, never to be freed.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn kerbsasl_result_str(result: u32) -> *const c_char {
    // Nothing here can panic: no boundary needed.
    result_name(result).as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_values() {
        for (value, name) in [
            (kerbsasl_result::KERBSASL_OK, "KERBSASL_OK"),
            (kerbsasl_result::KERBSASL_CONTINUE, "KERBSASL_CONTINUE"),
            (kerbsasl_result::KERBSASL_BAD_TOKEN, "KERBSASL_BAD_TOKEN"),
            (
                kerbsasl_result::KERBSASL_AUTH_FAILED,
                "KERBSASL_AUTH_FAILED",
            ),
            (
                kerbsasl_result::KERBSASL_AUTHZ_DENIED,
                "KERBSASL_AUTHZ_DENIED",
            ),
            (kerbsasl_result::KERBSASL_CONFIG, "KERBSASL_CONFIG"),
            (kerbsasl_result::KERBSASL_BAD_STATE, "KERBSASL_BAD_STATE"),
            (
                kerbsasl_result::KERBSASL_INVALID_ARGUMENT,
                "KERBSASL_INVALID_ARGUMENT",
            ),
            (kerbsasl_result::KERBSASL_INTERNAL, "KERBSASL_INTERNAL"),
        ] {
            assert_eq!(result_name(value as u32).to_str().unwrap(), name);
        }
        assert_eq!(result_name(9).to_str().unwrap(), "KERBSASL_UNKNOWN_RESULT");
    }
}
