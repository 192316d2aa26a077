//! The C ABI driven from Rust, for tests that call it as a C host would:
//! one call at a time, or one whole handshake for tests that care about
//! the outcome (identity or failure).

use kerbsasl::ffi::*;
use kerbsasl::testing::SaslClient;
use std::ffi::{CStr, CString, c_char};
use std::ptr::{null, null_mut};

/// A string kerbsasl returned, or None for NULL.
pub fn text(pointer: *const c_char) -> Option<String> {
    (!pointer.is_null()).then(|| {
        // SAFETY: kerbsasl returns NULL or a NUL-terminated string that is
        // valid until the next call on its handle.
        unsafe { CStr::from_ptr(pointer) }
            .to_string_lossy()
            .into_owned()
    })
}

pub type Accessor = unsafe extern "C" fn(*const kerbsasl_session) -> *const c_char;

/// Reads one of a session's strings.
pub fn read(accessor: Accessor, session: *const kerbsasl_session) -> Option<String> {
    // SAFETY: the session is live (or NULL).
    text(unsafe { accessor(session) })
}

/// This thread's kerbsasl_last_error(), or "".
pub fn last_error() -> String {
    text(kerbsasl_last_error()).unwrap_or_default()
}

/// kerbsasl_server_new with these options; the code and message on failure.
pub fn new_server(
    options: &[(&str, &str)],
) -> Result<*mut kerbsasl_server, (kerbsasl_result, String)> {
    let keys: Vec<CString> = options
        .iter()
        .map(|(k, _)| CString::new(*k).unwrap())
        .collect();
    let values: Vec<CString> = options
        .iter()
        .map(|(_, v)| CString::new(*v).unwrap())
        .collect();
    let key_ptrs: Vec<*const c_char> = keys.iter().map(|k| k.as_ptr()).collect();
    let value_ptrs: Vec<*const c_char> = values.iter().map(|v| v.as_ptr()).collect();
    let mut server = null_mut();
    // SAFETY: arrays of `len` valid strings and a writable out-pointer.
    let code = unsafe {
        kerbsasl_server_new(
            key_ptrs.as_ptr(),
            value_ptrs.as_ptr(),
            options.len(),
            &mut server,
        )
    };
    match code {
        kerbsasl_result::KERBSASL_OK => Ok(server),
        code => {
            assert!(server.is_null());
            Err((code, last_error()))
        }
    }
}

/// Starts a session; returns it with the first output token.
pub fn start(
    server: *const kerbsasl_server,
    token: &[u8],
) -> (kerbsasl_result, *mut kerbsasl_session, Vec<u8>) {
    let mut session = null_mut();
    let (mut output, mut output_len) = (null(), 0usize);
    // SAFETY: valid server, input and out-pointers.
    let code = unsafe {
        kerbsasl_server_start(
            server,
            token.as_ptr(),
            token.len(),
            &mut session,
            &mut output,
            &mut output_len,
        )
    };
    (code, session, borrowed(output, output_len))
}

/// kerbsasl_server_step; the code and the output token.
pub fn step(session: *mut kerbsasl_session, input: &[u8]) -> (kerbsasl_result, Vec<u8>) {
    let (mut output, mut output_len) = (null(), 0usize);
    // SAFETY: a live session, valid input and out-pointers.
    let code = unsafe {
        kerbsasl_server_step(
            session,
            input.as_ptr(),
            input.len(),
            &mut output,
            &mut output_len,
        )
    };
    (code, borrowed(output, output_len))
}

/// Copies a token kerbsasl lent.
pub fn borrowed(output: *const u8, len: usize) -> Vec<u8> {
    if output.is_null() {
        assert_eq!(len, 0);
        return Vec::new();
    }
    // SAFETY: kerbsasl lends `len` bytes until the next call on the session.
    unsafe { std::slice::from_raw_parts(output, len) }.to_vec()
}

/// What a finished handshake handed the host.
#[derive(Debug, PartialEq, Eq)]
pub struct CIdentity {
    pub principal: String,
    pub username: String,
    pub realm: String,
}

/// A failure: the result code and kerbsasl's message.
pub type CFailure = (kerbsasl_result, String);

/// Creates a server from `options`, authenticates `client` against it with
/// kerbsasl_server_start/step, and frees everything.
pub fn c_handshake(
    options: &[(&str, &str)],
    client: &mut SaslClient,
) -> Result<CIdentity, CFailure> {
    let server = new_server(options)?;
    let token = client.initial_token().expect("initial token");
    let (mut code, session, mut out) = start(server, &token);
    while code == kerbsasl_result::KERBSASL_CONTINUE {
        let reply = client.respond(&out).expect("client reply");
        (code, out) = step(session, &reply);
    }
    let text = |accessor: Accessor| read(accessor, session).expect("kerbsasl returned NULL text");
    let result = if code == kerbsasl_result::KERBSASL_OK {
        Ok(CIdentity {
            principal: text(kerbsasl_session_principal),
            username: text(kerbsasl_session_username),
            realm: text(kerbsasl_session_realm),
        })
    } else if session.is_null() {
        Err((code, last_error()))
    } else {
        Err((code, text(kerbsasl_session_error)))
    };
    // SAFETY: handles from kerbsasl, each freed once (NULL is fine).
    unsafe {
        kerbsasl_dispose(session);
        kerbsasl_server_free(server);
    }
    result
}
