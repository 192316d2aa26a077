//! GSSAPI names.

use super::buffer::{OwnedBuffer, borrowed};
use super::oid;
use super::status::{GssError, is_error};
use libgssapi_sys as sys;

/// An imported or peer name, released with gss_release_name.
pub struct Name(sys::gss_name_t);

// SAFETY: a GSSAPI name is not modified after creation; MIT allows using it
// from several threads at once.
unsafe impl Send for Name {}
// SAFETY: as for Send: shared use only reads the immutable name.
unsafe impl Sync for Name {}

impl Name {
    /// Imports `svc/host@REALM` (or without realm) as a krb5 principal name.
    pub fn krb5_principal(text: &str) -> Result<Name, GssError> {
        Self::import(text, oid::krb5_principal_name())
    }

    /// Imports `svc@host` as a host-based service name.
    pub fn host_based_service(text: &str) -> Result<Name, GssError> {
        // SAFETY: reading an OID pointer exported by libgssapi_krb5.
        let name_type = unsafe { sys::GSS_C_NT_HOSTBASED_SERVICE };
        Self::import(text, name_type)
    }

    fn import(text: &str, name_type: sys::gss_OID) -> Result<Name, GssError> {
        let mut input = borrowed(text.as_bytes());
        let mut minor = 0;
        let mut name: sys::gss_name_t = std::ptr::null_mut();
        // SAFETY: the input buffer borrows `text` for the call; `name` is an
        // out-pointer owned by the returned Name.
        let major = unsafe { sys::gss_import_name(&mut minor, &mut input, name_type, &mut name) };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        Ok(Name(name))
    }

    /// Takes ownership of a name returned by GSSAPI.
    pub(super) fn from_raw(name: sys::gss_name_t) -> Name {
        Name(name)
    }

    pub(super) fn as_raw(&self) -> sys::gss_name_t {
        self.0
    }

    /// The printable form, e.g. `alice@EXAMPLE.COM`.
    pub fn display(&self) -> Result<Vec<u8>, GssError> {
        let mut minor = 0;
        let mut buffer = OwnedBuffer::new();
        // SAFETY: self.0 is a valid name; the buffer is owned.
        let major = unsafe {
            sys::gss_display_name(
                &mut minor,
                self.0,
                buffer.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        Ok(buffer.as_bytes().to_vec())
    }

    /// The local account name from krb5.conf `auth_to_local` rules.
    pub fn local_name(&self) -> Result<Vec<u8>, GssError> {
        let mut minor = 0;
        let mut buffer = OwnedBuffer::new();
        // SAFETY: self.0 is a valid mechanism name; the buffer is owned.
        let major = unsafe {
            sys::gss_localname(&mut minor, self.0, oid::krb5_mech(), buffer.as_mut_ptr())
        };
        if is_error(major) {
            return Err(GssError::capture(major, minor));
        }
        Ok(buffer.as_bytes().to_vec())
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        if !self.0.is_null() {
            let mut minor = 0;
            // SAFETY: the name is owned and released once.
            unsafe { sys::gss_release_name(&mut minor, &mut self.0) };
        }
    }
}
