//! One whole handshake through the C ABI, for tests that care about the
//! outcome (identity or failure) rather than each call.

use kerbsasl::ffi::*;
use kerbsasl::testing::SaslClient;
use std::ffi::{CStr, CString, c_char};
use std::ptr::{null, null_mut};

/// What a finished handshake handed the host.
#[derive(Debug, PartialEq, Eq)]
pub struct CIdentity {
    pub principal: String,
    pub username: String,
    pub realm: String,
}

/// A failure: the result code and kerbsasl's message.
pub type CFailure = (kerbsasl_result, String);

fn owned(text: *const c_char) -> String {
    assert!(!text.is_null(), "kerbsasl returned NULL text");
    // SAFETY: kerbsasl returns NUL-terminated strings valid until the next
    // call on their handle.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// Creates a server from `options`, authenticates `client` against it with
/// kerbsasl_server_start/step, and frees everything.
pub fn c_handshake(
    options: &[(&str, &str)],
    client: &mut SaslClient,
) -> Result<CIdentity, CFailure> {
    let keys: Vec<CString> = options
        .iter()
        .map(|(k, _)| CString::new(*k).unwrap())
        .collect();
    let values: Vec<CString> = options
        .iter()
        .map(|(_, v)| CString::new(*v).unwrap())
        .collect();
    let keys: Vec<*const c_char> = keys.iter().map(|k| k.as_ptr()).collect();
    let values_ptr: Vec<*const c_char> = values.iter().map(|v| v.as_ptr()).collect();
    let mut server = null_mut();
    // SAFETY: `len` valid strings in each array, a writable out-pointer.
    let code =
        unsafe { kerbsasl_server_new(keys.as_ptr(), values_ptr.as_ptr(), keys.len(), &mut server) };
    if code != kerbsasl_result::KERBSASL_OK {
        return Err((code, owned(kerbsasl_last_error())));
    }
    let token = client.initial_token().expect("initial token");
    let mut session = null_mut();
    let (mut out, mut out_len) = (null(), 0usize);
    // SAFETY: a live server, valid input and out-pointers.
    let mut code = unsafe {
        kerbsasl_server_start(
            server,
            token.as_ptr(),
            token.len(),
            &mut session,
            &mut out,
            &mut out_len,
        )
    };
    while code == kerbsasl_result::KERBSASL_CONTINUE {
        // SAFETY: kerbsasl lends out_len bytes until the next call.
        let challenge = unsafe { std::slice::from_raw_parts(out, out_len) };
        let reply = client.respond(challenge).expect("client reply");
        // SAFETY: a live session, valid input and out-pointers.
        code = unsafe {
            kerbsasl_server_step(session, reply.as_ptr(), reply.len(), &mut out, &mut out_len)
        };
    }
    let result = if code == kerbsasl_result::KERBSASL_OK {
        // SAFETY: the session is live and authenticated.
        Ok(unsafe {
            CIdentity {
                principal: owned(kerbsasl_session_principal(session)),
                username: owned(kerbsasl_session_username(session)),
                realm: owned(kerbsasl_session_realm(session)),
            }
        })
    } else if session.is_null() {
        Err((code, owned(kerbsasl_last_error())))
    } else {
        // SAFETY: the session is live.
        Err((code, owned(unsafe { kerbsasl_session_error(session) })))
    };
    // SAFETY: handles from kerbsasl, each freed once (NULL is fine).
    unsafe {
        kerbsasl_dispose(session);
        kerbsasl_server_free(server);
    }
    result
}
