//! What libkrb5 reads from krb5.conf: relation values through the profile
//! API, the permitted enctypes, and DNS host-name
//! canonicalisation as the acceptor applies it.

use super::krb5::{KContext, KPrincipal, Krb5Context, Krb5Error, Krb5ErrorCode, c_string};
use std::ffi::{CStr, c_char};

/// libkrb5's profile handle.
#[repr(C)]
struct Profile {
    _private: [u8; 0],
}

/// KRB5_NT_SRV_HST: a host-based service name.
const NT_SRV_HST: i32 = 3;

// com_err codes of the profile library (prof_err.et).
const PROF_NO_SECTION: i64 = -1429577726;
const PROF_NO_RELATION: i64 = -1429577725;

#[link(name = "krb5")]
unsafe extern "C" {
    fn krb5_get_profile(context: *mut KContext, profile: *mut *mut Profile) -> Krb5ErrorCode;
    fn profile_release(profile: *mut Profile);
    fn profile_get_values(
        profile: *mut Profile,
        names: *const *const c_char,
        values: *mut *mut *mut c_char,
    ) -> std::ffi::c_long;
    fn profile_free_list(list: *mut *mut c_char);
    fn krb5_get_permitted_enctypes(
        context: *mut KContext,
        enctypes: *mut *mut i32,
    ) -> Krb5ErrorCode;
    fn krb5_free_enctypes(context: *mut KContext, enctypes: *mut i32);
    fn krb5_sname_to_principal(
        context: *mut KContext,
        hostname: *const c_char,
        service: *const c_char,
        kind: i32,
        principal: *mut *mut KPrincipal,
    ) -> Krb5ErrorCode;
}

impl Krb5Context {
    /// Every value of the relation at `path` (e.g. `["realms", "R", "kdc"]`),
    /// in file order; empty when it is not set.
    pub fn profile_values(&self, path: &[&str]) -> Result<Vec<String>, Krb5Error> {
        let names = path
            .iter()
            .map(|part| c_string(part, "krb5.conf name"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        pointers.push(std::ptr::null());
        let mut profile = std::ptr::null_mut();
        // SAFETY: valid context; the profile is released below.
        let code = unsafe { krb5_get_profile(self.as_ptr(), &mut profile) };
        if code != 0 {
            return Err(self.error(code));
        }
        let mut list: *mut *mut c_char = std::ptr::null_mut();
        // SAFETY: a NULL-terminated array of NUL-terminated names that
        // outlives the call; the list is freed below.
        let code = unsafe { profile_get_values(profile, pointers.as_ptr(), &mut list) };
        // c_long is 32 bits on some targets.
        #[allow(clippy::useless_conversion)]
        let result = match i64::from(code) {
            0 => {
                let mut values = Vec::new();
                // SAFETY: a NULL-terminated array of NUL-terminated strings.
                unsafe {
                    let mut cursor = list;
                    while !(*cursor).is_null() {
                        values.push(CStr::from_ptr(*cursor).to_string_lossy().into_owned());
                        cursor = cursor.add(1);
                    }
                    profile_free_list(list);
                }
                Ok(values)
            }
            PROF_NO_SECTION | PROF_NO_RELATION => Ok(Vec::new()),
            _ => Err(self.error(code as Krb5ErrorCode)),
        };
        // SAFETY: the profile came from krb5_get_profile and is released once.
        unsafe { profile_release(profile) };
        result
    }

    /// The enctypes krb5.conf permits (`permitted_enctypes`,
    /// `allow_weak_crypto`), in preference order.
    pub fn permitted_enctypes(&self) -> Result<Vec<i32>, Krb5Error> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: valid context and out-pointer; freed below.
        let code = unsafe { krb5_get_permitted_enctypes(self.as_ptr(), &mut raw) };
        if code != 0 {
            return Err(self.error(code));
        }
        let mut enctypes = Vec::new();
        // SAFETY: a zero-terminated array from libkrb5, freed once.
        unsafe {
            let mut cursor = raw;
            while *cursor != 0 {
                enctypes.push(*cursor);
                cursor = cursor.add(1);
            }
            krb5_free_enctypes(self.as_ptr(), raw);
        }
        Ok(enctypes)
    }

    /// The principal libkrb5 makes of host-based service `service@host`:
    /// the host canonicalised as krb5.conf says (`dns_canonicalize_hostname`,
    /// `rdns`), the realm from `[domain_realm]`. May ask DNS.
    pub fn host_based_principal(&self, service: &str, host: &str) -> Result<String, Krb5Error> {
        let c_service = c_string(service, "service name")?;
        let c_host = c_string(host, "host name")?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: valid context, NUL-terminated strings, out-pointer.
        let code = unsafe {
            krb5_sname_to_principal(
                self.as_ptr(),
                c_host.as_ptr(),
                c_service.as_ptr(),
                NT_SRV_HST,
                &mut raw,
            )
        };
        if code != 0 {
            return Err(self.error(code));
        }
        let principal = super::krb5::Principal(raw, self);
        self.unparse(principal.0)
    }
}
