//! Credentials, acquired from an explicit credential store.

use super::name::Name;
use super::oid;
use super::status::{GssError, is_error};
use libgssapi_sys as sys;
use std::ffi::CString;

/// A credential, released with gss_release_cred: krb5-only for acceptors
/// (SPNEGO is unwrapped by kerbsasl itself, see negotiate.rs).
pub struct Credential(sys::gss_cred_id_t);

// SAFETY: MIT credentials lock internally; one credential may be used by
// several threads at once (accepts on it are serialised by that lock).
unsafe impl Send for Credential {}
// SAFETY: as for Send: MIT's lock serialises concurrent use of one credential.
unsafe impl Sync for Credential {}

impl Credential {
    /// An acceptor credential for `name` (None: any principal in the keytab)
    /// from a store such as `[("keytab", "MEMORY:x"), ("rcache", "dfl:")]`.
    pub fn acceptor(name: Option<&Name>, store: &[(&str, &str)]) -> Result<Credential, GssError> {
        Self::acquire(name, sys::GSS_C_ACCEPT as i32, store)
    }

    /// An initiator credential from the ccache named `ccache`, for krb5,
    /// or for krb5 and SPNEGO.
    pub fn initiator(ccache: &str, with_spnego: bool) -> Result<Credential, GssError> {
        let mechs = if with_spnego {
            oid::krb5_and_spnego()
        } else {
            oid::krb5_only()
        };
        Self::acquire_for(
            None,
            mechs,
            sys::GSS_C_INITIATE as i32,
            &[("ccache", ccache)],
        )
    }

    fn acquire(
        name: Option<&Name>,
        usage: i32,
        store: &[(&str, &str)],
    ) -> Result<Credential, GssError> {
        Self::acquire_for(name, oid::krb5_only(), usage, store)
    }

    fn acquire_for(
        name: Option<&Name>,
        mechs: sys::gss_OID_set,
        usage: i32,
        store: &[(&str, &str)],
    ) -> Result<Credential, GssError> {
        // Callers pass configuration already checked for NUL bytes; a stray
        // one is reported as a bad name rather than panicking.
        let pairs: Vec<(CString, CString)> = store
            .iter()
            .map(|(k, v)| Ok((CString::new(*k)?, CString::new(*v)?)))
            .collect::<Result<_, std::ffi::NulError>>()
            .map_err(|_| GssError::capture(sys::_GSS_S_BAD_NAME, 0))?;
        let mut elements: Vec<sys::gss_key_value_element_desc> = pairs
            .iter()
            .map(|(k, v)| sys::gss_key_value_element_desc {
                key: k.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let set = sys::gss_key_value_set_desc {
            count: elements.len() as u32,
            elements: elements.as_mut_ptr(),
        };
        let mut minor = 0;
        let mut cred: sys::gss_cred_id_t = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `pairs` outlives it.
        let major = unsafe {
            sys::gss_acquire_cred_from(
                &mut minor,
                name.map_or(std::ptr::null_mut(), Name::as_raw),
                sys::_GSS_C_INDEFINITE,
                mechs,
                usage,
                &set,
                &mut cred,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        Ok(Credential(cred))
    }

    pub(super) fn as_raw(&self) -> sys::gss_cred_id_t {
        self.0
    }
}

impl Drop for Credential {
    fn drop(&mut self) {
        if !self.0.is_null() {
            let mut minor = 0;
            // SAFETY: the credential is owned and released once.
            unsafe { sys::gss_release_cred(&mut minor, &mut self.0) };
        }
    }
}
