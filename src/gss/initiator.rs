//! The client side: kerbsasl is a server library, but its preflight
//! self-test (a service authenticating to itself) and its tests need real
//! initiator tokens.

use super::buffer::{OwnedBuffer, borrowed};
use super::context::SecurityContext;
use super::cred::Credential;
use super::name::Name;
use super::oid;
use super::status::{GssError, is_error};
use libgssapi_sys as sys;

/// A krb5 (or SPNEGO over krb5) initiator using tickets from one
/// credential cache.
pub struct Initiator {
    context: SecurityContext,
    target: Name,
    cred: Credential,
    flags: u32,
    spnego: bool,
    established: bool,
}

impl Initiator {
    /// `target` is a krb5 principal name such as `mqtt/host@REALM`.
    /// `mutual` asks the server for an AP-REP.
    pub fn new(ccache: &str, target: &str, mutual: bool) -> Result<Initiator, GssError> {
        Self::with_mechanism(ccache, target, mutual, false)
    }

    /// As [`Initiator::new`], but sending SPNEGO tokens, as HTTP clients do
    /// (kerbsasl's HTTP tests only).
    #[cfg(feature = "testing")]
    pub fn spnego(ccache: &str, target: &str, mutual: bool) -> Result<Initiator, GssError> {
        Self::with_mechanism(ccache, target, mutual, true)
    }

    fn with_mechanism(
        ccache: &str,
        target: &str,
        mutual: bool,
        spnego: bool,
    ) -> Result<Initiator, GssError> {
        let mut flags = sys::GSS_C_INTEG_FLAG | sys::GSS_C_SEQUENCE_FLAG;
        if mutual {
            flags |= sys::GSS_C_MUTUAL_FLAG;
        }
        Ok(Initiator {
            context: SecurityContext::new(),
            target: Name::krb5_principal(target)?,
            cred: Credential::initiator(ccache, spnego)?,
            flags,
            spnego,
            established: false,
        })
    }

    pub fn is_established(&self) -> bool {
        self.established
    }

    /// One gss_init_sec_context call; `input` is empty on the first call.
    pub fn step(&mut self, input: &[u8]) -> Result<Vec<u8>, GssError> {
        let mut input_buffer = borrowed(input);
        let input_ptr = if input.is_empty() {
            std::ptr::null_mut()
        } else {
            &mut input_buffer as sys::gss_buffer_t
        };
        let mut output = OwnedBuffer::new();
        let mut minor = 0;
        // SAFETY: all pointers are valid for the call; output is owned.
        let major = unsafe {
            sys::gss_init_sec_context(
                &mut minor,
                self.cred.as_raw(),
                self.context.raw_mut(),
                self.target.as_raw(),
                if self.spnego {
                    oid::spnego_mech()
                } else {
                    oid::krb5_mech()
                },
                self.flags,
                0,
                std::ptr::null_mut(),
                input_ptr,
                std::ptr::null_mut(),
                output.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        self.established = major & sys::_GSS_S_CONTINUE_NEEDED == 0;
        Ok(output.as_bytes().to_vec())
    }

    pub fn wrap(&self, message: &[u8]) -> Result<Vec<u8>, GssError> {
        self.context.wrap(false, message)
    }

    pub fn unwrap(&self, token: &[u8]) -> Result<Vec<u8>, GssError> {
        self.context.unwrap(token)
    }
}
