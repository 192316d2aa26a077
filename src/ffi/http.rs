//! `kerbsasl_http_authenticate`: one HTTP Negotiate (RFC 4559) round.

use super::boundary::{fail, guard, invalid_argument};
use super::result::kerbsasl_result;
use super::server::kerbsasl_server;
use super::session::{input_bytes, kerbsasl_session};
use crate::http::HttpAuth;
use crate::server::Session;
use std::ffi::{CStr, c_char};

/// The challenge, static so that it outlives every call.
const NEGOTIATE: &CStr = c"Negotiate";

/// The longest Authorization value kerbsasl_http_authenticate accepts, in
/// bytes: a 64 KiB Kerberos token in base64, with the scheme and spaces.
/// Longer values are KERBSASL_BAD_TOKEN.
pub const KERBSASL_MAX_AUTHORIZATION_LEN: usize = 98304;

/// One HTTP Negotiate (RFC 4559) round on a configured server: checks the
/// request's Authorization header, as Elasticsearch's Kerberos realm does.
/// A client must lead with a Kerberos token (raw Kerberos V5 or SPNEGO);
/// there is no second round.
///
/// @param server  the server; not modified. Its options apply as for SASL:
///        principal ("*": any principal in the keytab), keytab,
///        strip_realm, local_realms, auth_to_local, allowed_realms,
///        replay_cache.
/// @param authorization, authorization_len  the value of the request's
///        Authorization header (e.g. "Negotiate YIIC..."), not
///        NUL-terminated; NULL or length 0 when the request has none.
///        Borrowed for the call. The scheme is case-insensitive and
///        whitespace around the value and the token is ignored. Values
///        longer than KERBSASL_MAX_AUTHORIZATION_LEN bytes are
///        KERBSASL_BAD_TOKEN.
/// @param session_out  on KERBSASL_OK, receives a session holding the
///        identity (kerbsasl_session_principal, _username, _realm; no
///        authzid), to be disposed with kerbsasl_dispose; it is already
///        authenticated, so kerbsasl_server_step on it returns
///        KERBSASL_BAD_STATE. NULL after any other result.
/// @param www_authenticate, www_authenticate_len  receive the value of the
///        WWW-Authenticate header to send, NUL-terminated (the length
///        excludes the NUL):
///        - on KERBSASL_OK, "Negotiate <base64 mutual-authentication
///          token>" to add to the 2xx response, owned by the session (valid
///          until its disposal); or NULL and 0 when there is no token;
///        - after any other result (for KERBSASL_INVALID_ARGUMENT: if
///          neither is NULL), the static string "Negotiate" (never freed),
///          for the 401 response.
/// @return KERBSASL_OK (authenticated);
///         KERBSASL_CONTINUE (no Negotiate credentials in the request: no
///         header, another scheme such as Basic, or a bare "Negotiate":
///         answer 401 with WWW-Authenticate: Negotiate);
///         KERBSASL_BAD_TOKEN (bad base64, an empty or oversized token,
///         NTLM, a SPNEGO token that does not lead with Kerberos, a
///         malformed Kerberos token);
///         KERBSASL_AUTH_FAILED (Kerberos rejected the ticket: wrong
///         service, expired, clock skew, replay, unknown kvno);
///         KERBSASL_AUTHZ_DENIED (realm not allowed, unmappable name);
///         KERBSASL_CONFIG (keytab or replay cache unusable);
///         KERBSASL_INVALID_ARGUMENT (a NULL server, session_out,
///         www_authenticate or www_authenticate_len, or a NULL
///         authorization with a non-zero length); KERBSASL_INTERNAL.
///         After a failure kerbsasl_last_error() says why; answer 401.
/// Thread-safe: any number of threads may call this on one server at once
/// (like kerbsasl_server_start, it may block briefly on the replay cache
/// file).
///
/// # Safety
/// Non-NULL pointers must be valid as described above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_http_authenticate(
    server: *const kerbsasl_server,
    authorization: *const c_char,
    authorization_len: usize,
    session_out: *mut *mut kerbsasl_session,
    www_authenticate: *mut *const c_char,
    www_authenticate_len: *mut usize,
) -> kerbsasl_result {
    const NAME: &str = "kerbsasl_http_authenticate";
    guard(NAME, || {
        // The answers to anything but success, set first so that every
        // early return (and a panic) leaves them defined.
        let www_writable = !www_authenticate.is_null() && !www_authenticate_len.is_null();
        // SAFETY: each pointer is written only if non-NULL; the caller
        // provides them writable.
        unsafe {
            if www_writable {
                *www_authenticate = NEGOTIATE.as_ptr();
                *www_authenticate_len = NEGOTIATE.count_bytes();
            }
            if !session_out.is_null() {
                *session_out = std::ptr::null_mut();
            }
        }
        if session_out.is_null() {
            return invalid_argument(NAME, "session_out is NULL");
        }
        if !www_writable {
            return invalid_argument(NAME, "www_authenticate or www_authenticate_len is NULL");
        }
        // SAFETY: a non-NULL server pointer comes from kerbsasl_server_new.
        let Some(server) = (unsafe { server.as_ref() }) else {
            return invalid_argument(NAME, "server is NULL");
        };
        // SAFETY: the caller provides authorization_len readable bytes.
        let header = match unsafe { input_bytes(authorization.cast(), authorization_len) } {
            Ok(header) => header,
            Err(why) => {
                return invalid_argument(NAME, &why.replace("input", "authorization"));
            }
        };
        let (identity, www) = match server.server.http_authenticate(Some(header)) {
            Ok(HttpAuth::Challenge) => return kerbsasl_result::KERBSASL_CONTINUE,
            Ok(HttpAuth::Authenticated {
                identity,
                www_authenticate,
            }) => (identity, www_authenticate),
            Err(e) => return fail(&e),
        };
        let session = Session::authenticated(&server.server, identity);
        let handle = kerbsasl_session::authenticated_http(session, www.as_deref());
        let (pointer, len) = match handle.www_authenticate() {
            Some(value) => (value.as_ptr(), value.count_bytes()),
            None => (std::ptr::null(), 0),
        };
        // SAFETY: all three out-pointers were checked non-NULL above; the
        // string lives in the session handed to the caller.
        unsafe {
            *www_authenticate = pointer;
            *www_authenticate_len = len;
            *session_out = Box::into_raw(handle);
        }
        kerbsasl_result::KERBSASL_OK
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_c_bound_is_the_rust_bound() {
        assert_eq!(
            super::KERBSASL_MAX_AUTHORIZATION_LEN,
            crate::MAX_AUTHORIZATION_LEN
        );
    }
}
