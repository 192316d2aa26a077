//! `kerbsasl_server`: a configured acceptor.

use super::boundary::{fail, guard, invalid_argument};
use super::result::kerbsasl_result;
use crate::error::Error;
use crate::server::Server;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A configured acceptor: keytab, principal and policy. Thread-safe: any
/// number of threads may start sessions on one server at once.
#[allow(non_camel_case_types)]
pub struct kerbsasl_server {
    pub(super) server: Server,
}

/// Creates a server from string options, validating them all and loading
/// the keytab. Never contacts the KDC.
///
/// Options (the same keys as Mosquitto's plugin_opt_* and the Erlang map):
/// - "principal": "service/SERVER-FQDN@REALM.NAME", "service/SERVER-FQDN"
///   (default realm), "service@SERVER-FQDN" (host-based, any realm), or "*"
///   (default: any principal in the keytab);
/// - "keytab": a path, "FILE:path" or "MEMORY:name" (default: KRB5_KTNAME,
///   then krb5.conf default_keytab_name). A file keytab is re-read when it
///   changes on disk;
/// - "strip_realm": "true"/"false": the username of a principal of a local
///   realm is its name without the realm; principals of other realms keep
///   "name@REALM", so a trusted realm's user can't pass for a local one;
/// - "local_realms": comma-separated realms that strip_realm applies to
///   (default: the principal's realm; for "*" and host-based principals,
///   krb5.conf's default realm);
/// - "auth_to_local": "true"/"false": the username comes from krb5.conf
///   auth_to_local rules (unmappable principals: KERBSASL_AUTHZ_DENIED);
/// - "allowed_realms": comma-separated realms; clients of other realms get
///   KERBSASL_AUTHZ_DENIED;
/// - "authzid": "match" (default: none, or the client's own principal or
///   username), "reject" (none) or "any" (the host authorises it);
/// - "replay_cache": an MIT replay cache name ("dfl:", "file2:/path", or
///   "none:", which disables replay detection and logs a warning).
///
/// @param keys, values  arrays of `count` NUL-terminated UTF-8 strings; may
///        be NULL when count is 0. Borrowed for the call only. A value ends
///        at its first NUL byte: hosts taking values with lengths (Erlang
///        binaries) must reject embedded NULs themselves.
/// @param server_out  receives the new server on KERBSASL_OK, NULL otherwise.
/// @return KERBSASL_OK; KERBSASL_CONFIG for an unknown key, a bad value, an
///         unreadable keytab or one without a key for the principal (the
///         message names the key, the principal and the keytab path);
///         KERBSASL_INVALID_ARGUMENT for NULL pointers; KERBSASL_INTERNAL.
///         On failure kerbsasl_last_error() says why.
/// Free the server with kerbsasl_server_free. Thread-safe.
///
/// # Safety
/// Non-NULL pointers must be valid as described above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_server_new(
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
    server_out: *mut *mut kerbsasl_server,
) -> kerbsasl_result {
    const NAME: &str = "kerbsasl_server_new";
    guard(NAME, || {
        if server_out.is_null() {
            return invalid_argument(NAME, "server_out is NULL");
        }
        // SAFETY: checked non-NULL; the caller provides a writable pointer.
        unsafe { *server_out = std::ptr::null_mut() };
        if count > 0 && (keys.is_null() || values.is_null()) {
            return invalid_argument(NAME, "keys or values is NULL while count > 0");
        }
        let mut options: Vec<(&str, &str)> = Vec::with_capacity(count);
        for index in 0..count {
            // SAFETY: the caller provides arrays of `count` pointers.
            let (key, value) = unsafe { (*keys.add(index), *values.add(index)) };
            if key.is_null() || value.is_null() {
                return invalid_argument(
                    NAME,
                    &format!("keys[{index}] or values[{index}] is NULL"),
                );
            }
            // SAFETY: non-NULL, NUL-terminated strings borrowed for the call.
            let (key, value) = unsafe { (CStr::from_ptr(key), CStr::from_ptr(value)) };
            let Ok(key) = key.to_str() else {
                return invalid_argument(NAME, &format!("keys[{index}] is not valid UTF-8"));
            };
            let Ok(value) = value.to_str() else {
                return fail(&Error::config(format!("option {key:?} is not valid UTF-8")));
            };
            options.push((key, value));
        }
        match Server::from_options(options) {
            Ok(server) => {
                let handle = Box::new(kerbsasl_server { server });
                // SAFETY: checked non-NULL above.
                unsafe { *server_out = Box::into_raw(handle) };
                kerbsasl_result::KERBSASL_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Frees a server. Sessions started from it stay valid: each keeps the
/// server's state alive until it is disposed.
///
/// # Safety
/// Calling with NULL is fine. Must not be called twice with the same value,
/// nor while another thread is starting a session on it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_server_free(server: *mut kerbsasl_server) {
    if server.is_null() {
        return;
    }
    // A panic while freeing must not unwind into the host; there is nothing
    // more to do about it.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the pointer came from kerbsasl_server_new and is freed once.
        drop(unsafe { Box::from_raw(server) });
    }));
}
