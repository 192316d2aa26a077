//! Security contexts: acceptance, wrap and unwrap.

use super::buffer::{OwnedBuffer, borrowed, scratch};
use super::cred::Credential;
use super::name::Name;
use super::oid;
use super::status::{GssError, is_error};
use libgssapi_sys as sys;

/// gss_unwrap's supplementary statuses for a token out of sequence.
const OUT_OF_SEQUENCE: u32 = sys::_GSS_S_DUPLICATE_TOKEN
    | sys::_GSS_S_OLD_TOKEN
    | sys::_GSS_S_UNSEQ_TOKEN
    | sys::_GSS_S_GAP_TOKEN;

/// What one gss_accept_sec_context call produced.
pub enum AcceptOutcome {
    /// The context is established. `output` (the AP-REP when the client asked
    /// for mutual authentication) may be empty.
    Complete {
        output: Vec<u8>,
        peer: Name,
        protections: Protections,
    },
    /// The mechanism wants another token from the client.
    ContinueNeeded { output: Vec<u8> },
}

/// What wrap can give on an established context (its integ_avail and
/// conf_avail flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Protections {
    pub integrity: bool,
    pub confidentiality: bool,
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
        let mut flags = 0;
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
                &mut flags,
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
                protections: Protections {
                    integrity: flags & sys::GSS_C_INTEG_FLAG != 0,
                    confidentiality: flags & sys::GSS_C_CONF_FLAG != 0,
                },
            }),
            _ => Err(GssError::capture(sys::_GSS_S_BAD_MECH, 0)),
        }
    }

    /// gss_wrap with or without confidentiality. Asking for
    /// confidentiality and not getting it is an error.
    pub fn wrap(&self, confidential: bool, message: &[u8]) -> Result<Vec<u8>, GssError> {
        let mut input = borrowed(message);
        let mut output = OwnedBuffer::new();
        let mut conf_state = 0;
        let mut minor = 0;
        // SAFETY: the context is established; buffers are valid for the call.
        let major = unsafe {
            sys::gss_wrap(
                &mut minor,
                self.0,
                i32::from(confidential),
                0,
                &mut input,
                &mut conf_state,
                output.as_mut_ptr(),
            )
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        if confidential && conf_state == 0 {
            return Err(GssError::capture(sys::_GSS_S_UNAVAILABLE, 0));
        }
        Ok(output.as_bytes().to_vec())
    }

    /// gss_unwrap; the caller does not care whether the peer encrypted.
    pub fn unwrap(&self, token: &[u8]) -> Result<Vec<u8>, GssError> {
        self.unwrap_with_state(token).map(|(message, _)| message)
    }

    /// gss_unwrap, also saying whether the peer encrypted the message.
    /// MIT rewrites the token it unwraps, so it gets a copy: `token` may be
    /// a host's read-only buffer.
    pub fn unwrap_with_state(&self, token: &[u8]) -> Result<(Vec<u8>, bool), GssError> {
        let mut copy = token.to_vec();
        let mut input = scratch(&mut copy);
        let mut output = OwnedBuffer::new();
        let mut conf_state = 0;
        let mut minor = 0;
        // SAFETY: the context is established; buffers are valid for the call.
        let major = unsafe {
            sys::gss_unwrap(
                &mut minor,
                self.0,
                &mut input,
                output.as_mut_ptr(),
                &mut conf_state,
                std::ptr::null_mut(),
            )
        };
        // A replayed, reordered or skipped token is only a supplementary
        // status beside GSS_S_COMPLETE; over an ordered stream it is an
        // attack, and is refused like a bad token.
        if is_error(major) || major & OUT_OF_SEQUENCE != 0 {
            return Err(GssError::capture(major, minor));
        }
        Ok((output.as_bytes().to_vec(), conf_state != 0))
    }

    /// The strength of the context's confidentiality protection as a SASL
    /// security strength factor (e.g. 256 for aes256-cts), as MIT reports it
    /// through GSS_C_SEC_CONTEXT_SASL_SSF.
    pub fn sasl_ssf(&self) -> Result<u32, GssError> {
        let mut set: sys::gss_buffer_set_t = std::ptr::null_mut();
        let mut minor = 0;
        // SAFETY: the context is established; `set` is released below; the
        // OID is a static exported by libgssapi_krb5.
        let major = unsafe {
            sys::gss_inquire_sec_context_by_oid(
                &mut minor,
                self.0,
                sys::GSS_C_SEC_CONTEXT_SASL_SSF,
                &mut set,
            )
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        // SAFETY: on success `set` is NULL or a valid buffer set whose
        // elements hold `length` readable bytes each.
        let ssf = unsafe {
            set.as_ref().and_then(|set| match set.count {
                1 => {
                    let element = &*set.elements;
                    (element.length == 4).then(|| {
                        let bytes = std::slice::from_raw_parts(element.value as *const u8, 4);
                        u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
                    })
                }
                _ => None,
            })
        };
        // SAFETY: releases the set returned above (NULL is fine).
        unsafe { sys::gss_release_buffer_set(&mut minor, &mut set) };
        ssf.ok_or_else(|| GssError::capture(sys::_GSS_S_FAILURE, 0))
    }

    /// The largest message whose wrap token fits in `max_output` bytes.
    pub fn wrap_size_limit(&self, confidential: bool, max_output: u32) -> Result<u32, GssError> {
        let mut max_input = 0;
        let mut minor = 0;
        // SAFETY: the context is established; the out-pointer is valid.
        let major = unsafe {
            sys::gss_wrap_size_limit(
                &mut minor,
                self.0,
                i32::from(confidential),
                0,
                max_output,
                &mut max_input,
            )
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        Ok(max_input)
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
