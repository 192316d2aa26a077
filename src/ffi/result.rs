//! Result codes.

use super::boundary::c_string;
use crate::error::ErrorKind;
use std::ffi::{CStr, CString, c_char};
use std::panic::catch_unwind;
use std::sync::LazyLock;

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
            ErrorKind::BadState => kerbsasl_result::KERBSASL_BAD_STATE,
            ErrorKind::InvalidArgument => kerbsasl_result::KERBSASL_INVALID_ARGUMENT,
            ErrorKind::Internal => kerbsasl_result::KERBSASL_INTERNAL,
        }
    }
}

impl kerbsasl_result {
    /// Every code, in value order (a test holds it to the header).
    pub(crate) const ALL: [kerbsasl_result; 9] = [
        kerbsasl_result::KERBSASL_OK,
        kerbsasl_result::KERBSASL_CONTINUE,
        kerbsasl_result::KERBSASL_BAD_TOKEN,
        kerbsasl_result::KERBSASL_AUTH_FAILED,
        kerbsasl_result::KERBSASL_AUTHZ_DENIED,
        kerbsasl_result::KERBSASL_CONFIG,
        kerbsasl_result::KERBSASL_BAD_STATE,
        kerbsasl_result::KERBSASL_INVALID_ARGUMENT,
        kerbsasl_result::KERBSASL_INTERNAL,
    ];

    /// The code's C name, e.g. "KERBSASL_AUTH_FAILED": its variant name,
    /// so the enum is the only place names are written.
    pub(crate) fn name(self) -> &'static CStr {
        static NAMES: LazyLock<Vec<CString>> = LazyLock::new(|| {
            kerbsasl_result::ALL
                .iter()
                .map(|code| c_string(&format!("{code:?}")))
                .collect()
        });
        &NAMES[self as usize]
    }

    /// The code with this value, if there is one.
    pub(crate) fn from_u32(value: u32) -> Option<kerbsasl_result> {
        Self::ALL.into_iter().find(|code| *code as u32 == value)
    }
}

/// The C name of the code an error kind maps to, for log lines.
pub(crate) fn error_code_name(kind: ErrorKind) -> &'static str {
    kerbsasl_result::from(kind)
        .name()
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
    const UNKNOWN: &CStr = c"KERBSASL_UNKNOWN_RESULT";
    catch_unwind(|| kerbsasl_result::from_u32(result).map_or(UNKNOWN, kerbsasl_result::name))
        .unwrap_or(UNKNOWN)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ALL lists exactly the header's codes, each at its value.
    #[test]
    fn every_code_in_value_order() {
        let ours = kerbsasl_result::ALL.map(|code| (format!("{code:?}"), code as u32));
        assert_eq!(ours.to_vec(), super::super::header_enum("kerbsasl_result"));
        for (index, code) in kerbsasl_result::ALL.iter().enumerate() {
            assert_eq!(*code as usize, index);
        }
    }

    #[test]
    fn names_are_the_variant_names() {
        // SAFETY: kerbsasl_result_str returns static NUL-terminated strings.
        let name = |value| unsafe { CStr::from_ptr(kerbsasl_result_str(value)) };
        assert_eq!(name(3), c"KERBSASL_AUTH_FAILED");
        assert_eq!(name(8), c"KERBSASL_INTERNAL");
        assert_eq!(name(9), c"KERBSASL_UNKNOWN_RESULT");
        assert_eq!(name(u32::MAX), c"KERBSASL_UNKNOWN_RESULT");
        assert_eq!(
            error_code_name(ErrorKind::AuthzDenied),
            "KERBSASL_AUTHZ_DENIED"
        );
    }
}
