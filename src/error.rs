//! Errors of the safe API: a kind that maps to a C result code, and a
//! message written for the operator who reads the broker's log.

use std::fmt;

/// Why a call failed. Each kind maps to one C result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed input or a protocol violation by the client.
    BadToken,
    /// Kerberos rejected the client: bad or expired ticket, clock skew,
    /// replay, wrong service, unknown key version.
    AuthFailed,
    /// Authenticated, but the authzid, realm or name mapping is not allowed.
    AuthzDenied,
    /// The server configuration (options, keytab, principal) is unusable.
    Config,
    /// The host requires a security layer stronger than the client chose
    /// or the Kerberos session can give (Cyrus's SASL_TOOWEAK).
    TooWeak,
    /// The call does not fit the session's state (e.g. a step after OK).
    BadState,
    /// A caller passed a NULL or otherwise unusable argument.
    InvalidArgument,
    /// A bug or resource failure inside kerbsasl or the Kerberos library.
    Internal,
}

/// A failure with an operator-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn bad_token(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadToken, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    pub(crate) fn authz_denied(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::AuthzDenied, message)
    }

    pub(crate) fn too_weak(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::TooWeak, message)
    }

    pub(crate) fn bad_state(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadState, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
