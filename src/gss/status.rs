//! GSSAPI status codes and their text.

use super::buffer::OwnedBuffer;
use libgssapi_sys as sys;
use std::fmt;

const ROUTINE_ERROR_MASK: u32 = 0x00ff_0000;
const CALLING_ERROR_MASK: u32 = 0xff00_0000;

/// The routine errors kerbsasl tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutineError {
    BadMech,
    BadName,
    BadSig,
    NoCred,
    DefectiveToken,
    DefectiveCredential,
    CredentialsExpired,
    ContextExpired,
    Failure,
    Other,
}

/// A failed GSSAPI call with MIT's text, captured right after the call on
/// the thread that made it.
#[derive(Debug, Clone)]
pub struct GssError {
    pub major: u32,
    /// The mechanism's code: for krb5, a krb5 error code such as
    /// KRB5KRB_AP_ERR_REPEAT, as an unsigned value.
    pub minor: u32,
    pub major_text: String,
    /// Empty when the mechanism gave no code or only "Success".
    pub minor_text: String,
}

pub fn is_error(major: u32) -> bool {
    major & (ROUTINE_ERROR_MASK | CALLING_ERROR_MASK) != 0
}

impl GssError {
    /// Builds the error and formats both codes now, on this thread.
    pub fn capture(major: u32, minor: u32) -> GssError {
        let minor_text = if minor == 0 {
            String::new()
        } else {
            display_status(minor, sys::GSS_C_MECH_CODE as i32)
        };
        GssError {
            major,
            minor,
            major_text: display_status(major & !CALLING_ERROR_MASK, sys::GSS_C_GSS_CODE as i32),
            minor_text,
        }
    }

    pub fn routine(&self) -> RoutineError {
        match self.major & ROUTINE_ERROR_MASK {
            sys::_GSS_S_BAD_MECH => RoutineError::BadMech,
            sys::_GSS_S_BAD_NAME | sys::_GSS_S_BAD_NAMETYPE => RoutineError::BadName,
            sys::_GSS_S_BAD_SIG => RoutineError::BadSig,
            sys::_GSS_S_NO_CRED => RoutineError::NoCred,
            sys::_GSS_S_DEFECTIVE_TOKEN => RoutineError::DefectiveToken,
            sys::_GSS_S_DEFECTIVE_CREDENTIAL => RoutineError::DefectiveCredential,
            sys::_GSS_S_CREDENTIALS_EXPIRED => RoutineError::CredentialsExpired,
            sys::_GSS_S_CONTEXT_EXPIRED => RoutineError::ContextExpired,
            sys::_GSS_S_FAILURE => RoutineError::Failure,
            _ => RoutineError::Other,
        }
    }

    /// The minor code as a signed krb5_error_code.
    pub fn krb5_code(&self) -> i32 {
        self.minor as i32
    }

    /// Whether the mechanism gave no code, or one whose text is "Success"
    /// (MIT's answer to some undecodable tokens).
    pub fn mech_said_nothing(&self) -> bool {
        self.minor == 0 || self.minor_text.is_empty() || self.minor_text == "Success"
    }

    /// The most specific text: the mechanism's when it says something.
    pub fn detail(&self) -> &str {
        if self.mech_said_nothing() {
            &self.major_text
        } else {
            &self.minor_text
        }
    }
}

impl fmt::Display for GssError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor_text.is_empty() {
            f.write_str(&self.major_text)
        } else {
            write!(f, "{} ({})", self.minor_text, self.major_text)
        }
    }
}

fn display_status(code: u32, code_type: i32) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut message_context = 0u32;
    // MIT returns one message per call; a bound keeps a misbehaving
    // mechanism from looping forever.
    for _ in 0..8 {
        let mut minor = 0;
        let mut buffer = OwnedBuffer::new();
        // SAFETY: all pointers are valid for the call; the buffer is owned.
        let major = unsafe {
            sys::gss_display_status(
                &mut minor,
                code,
                code_type,
                std::ptr::null_mut(),
                &mut message_context,
                buffer.as_mut_ptr(),
            )
        };
        if is_error(major) {
            break;
        }
        let text = String::from_utf8_lossy(buffer.as_bytes())
            .trim()
            .to_string();
        if !text.is_empty() {
            parts.push(text);
        }
        if message_context == 0 {
            break;
        }
    }
    if parts.is_empty() {
        format!("GSSAPI status {code:#x}")
    } else {
        parts.join("; ")
    }
}
