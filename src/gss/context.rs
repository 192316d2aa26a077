//! Security contexts: acceptance, wrap and unwrap.

use super::buffer::{OwnedBuffer, borrowed};
use super::cred::Credential;
use super::name::Name;
use super::oid;
use super::status::{GssError, is_error};
use libgssapi_sys as sys;

/// What one gss_accept_sec_context call produced.
pub enum AcceptOutcome {
    /// The context is established. `output` (the AP-REP when the client asked
    /// for mutual authentication) may be empty.
    Complete { output: Vec<u8>, peer: Name },
    /// The mechanism wants another token from the client.
    ContinueNeeded { output: Vec<u8> },
}

/// A GSSAPI security context, deleted with gss_delete_sec_context.
pub struct SecurityContext(sys::gss_ctx_id_t);

// SAFETY: a context may move between threads; it is used by one at a time
// (it is not Sync).
unsafe impl Send for SecurityContext {}

impl Default for SecurityContext {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityContext {
    pub fn new() -> SecurityContext {
        SecurityContext(std::ptr::null_mut())
    }

    pub(super) fn raw_mut(&mut self) -> &mut sys::gss_ctx_id_t {
        &mut self.0
    }

    /// Feeds one client token to the acceptor.
    pub fn accept(&mut self, cred: &Credential, token: &[u8]) -> Result<AcceptOutcome, GssError> {
        let mut input = borrowed(token);
        let mut output = OwnedBuffer::new();
        let mut peer: sys::gss_name_t = std::ptr::null_mut();
        let mut mech: sys::gss_OID = std::ptr::null_mut();
        let mut minor = 0;
        // SAFETY: all pointers are valid for the call; `peer` and `output`
        // are owned below whatever the outcome.
        let major = unsafe {
            sys::gss_accept_sec_context(
                &mut minor,
                &mut self.0,
                cred.as_raw(),
                &mut input,
                std::ptr::null_mut(),
                &mut peer,
                &mut mech,
                output.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let peer = (!peer.is_null()).then(|| Name::from_raw(peer));
        if is_error(major) {
            // An error token (KRB-ERROR) may be in `output`: SASL has no way
            // to carry it, so it is dropped.
            return Err(GssError::capture(major, minor));
        }
        if major & sys::_GSS_S_CONTINUE_NEEDED != 0 {
            return Ok(AcceptOutcome::ContinueNeeded {
                output: output.as_bytes().to_vec(),
            });
        }
        match peer {
            // The credential only allows krb5; anything else is a bug in the
            // mechglue and must not authenticate anyone.
            Some(peer) if oid::is_krb5(mech) => Ok(AcceptOutcome::Complete {
                output: output.as_bytes().to_vec(),
                peer,
            }),
            _ => Err(GssError::capture(sys::_GSS_S_BAD_MECH, 0)),
        }
    }

    /// gss_wrap with or without confidentiality.
    pub fn wrap(&self, confidential: bool, message: &[u8]) -> Result<Vec<u8>, GssError> {
        let mut input = borrowed(message);
        let mut output = OwnedBuffer::new();
        let mut minor = 0;
        // SAFETY: the context is established; buffers are valid for the call.
        let major = unsafe {
            sys::gss_wrap(
                &mut minor,
                self.0,
                i32::from(confidential),
                0,
                &mut input,
                std::ptr::null_mut(),
                output.as_mut_ptr(),
            )
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        Ok(output.as_bytes().to_vec())
    }

    /// gss_unwrap; the caller does not care whether the peer encrypted.
    pub fn unwrap(&self, token: &[u8]) -> Result<Vec<u8>, GssError> {
        let mut input = borrowed(token);
        let mut output = OwnedBuffer::new();
        let mut minor = 0;
        // SAFETY: the context is established; buffers are valid for the call.
        let major = unsafe {
            sys::gss_unwrap(
                &mut minor,
                self.0,
                &mut input,
                output.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        Ok(output.as_bytes().to_vec())
    }
}

impl Drop for SecurityContext {
    fn drop(&mut self) {
        if !self.0.is_null() {
            let mut minor = 0;
            // SAFETY: the context is owned and deleted once.
            unsafe { sys::gss_delete_sec_context(&mut minor, &mut self.0, std::ptr::null_mut()) };
        }
    }
}
