//! `kerbsasl_session`: one handshake.

use super::boundary::{c_string, fail, guard, guard_ptr, invalid_argument};
use super::result::kerbsasl_result;
use super::server::kerbsasl_server;
use crate::error::Error;
use crate::server::{Session, Step};
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// One handshake with one client, from kerbsasl_server_start, or an
/// authenticated HTTP Negotiate request, from kerbsasl_http_authenticate.
/// Not thread-safe: use a session from one thread at a time (it may move
/// between threads).
#[allow(non_camel_case_types)]
pub struct kerbsasl_session {
    session: Session,
    /// The last token to send; borrowed by the caller until the next call.
    output: Vec<u8>,
    error: Option<CString>,
    identity: Option<IdentityStrings>,
    /// An HTTP Negotiate session's `Negotiate <token>` header value.
    www_authenticate: Option<CString>,
}

struct IdentityStrings {
    principal: CString,
    username: CString,
    realm: CString,
    authzid: Option<CString>,
}

impl kerbsasl_session {
    fn new(session: Session) -> kerbsasl_session {
        kerbsasl_session {
            session,
            output: Vec::new(),
            error: None,
            identity: None,
            www_authenticate: None,
        }
    }

    /// The handle of an authenticated HTTP Negotiate round: it answers the
    /// identity accessors and owns the WWW-Authenticate value.
    pub(super) fn authenticated_http(
        session: Session,
        www_authenticate: Option<&str>,
    ) -> Box<kerbsasl_session> {
        let mut handle = Box::new(kerbsasl_session::new(session));
        handle.record(Ok(Step::Authenticated));
        handle.www_authenticate = www_authenticate.map(c_string);
        handle
    }

    /// The WWW-Authenticate value the session owns, if any.
    pub(super) fn www_authenticate(&self) -> Option<&CString> {
        self.www_authenticate.as_ref()
    }

    /// Stores the step's result in the handle and returns its code.
    fn record(&mut self, step: Result<Step, Error>) -> kerbsasl_result {
        match step {
            Ok(Step::Continue(token)) => {
                self.output = token;
                kerbsasl_result::KERBSASL_CONTINUE
            }
            Ok(Step::Authenticated) => {
                self.output.clear();
                self.identity = self.session.identity().map(|id| IdentityStrings {
                    principal: c_string(&id.principal),
                    username: c_string(&id.username),
                    realm: c_string(&id.realm),
                    authzid: id.authzid.as_deref().map(c_string),
                });
                kerbsasl_result::KERBSASL_OK
            }
            Err(e) => {
                self.error = Some(c_string(e.message()));
                fail(&e)
            }
        }
    }

    /// Points the caller at the output token (NULL and 0 when empty).
    ///
    /// # Safety
    /// `output` and `output_len` must be valid for writes.
    unsafe fn lend_output(&self, output: *mut *const u8, output_len: *mut usize) {
        let pointer = if self.output.is_empty() {
            std::ptr::null()
        } else {
            self.output.as_ptr()
        };
        // SAFETY: the caller guarantees both pointers are writable.
        unsafe {
            *output = pointer;
            *output_len = self.output.len();
        }
    }
}

/// Borrows the caller's input bytes, or says what is wrong with them.
///
/// # Safety
/// A non-NULL `input` must point at `len` readable bytes.
pub(super) unsafe fn input_bytes<'a>(
    input: *const u8,
    len: usize,
) -> Result<&'a [u8], &'static str> {
    if len == 0 {
        return Ok(&[]);
    }
    if input.is_null() {
        return Err("input is NULL but input_len is not 0");
    }
    if len > isize::MAX as usize {
        return Err("input_len is too large");
    }
    // SAFETY: the caller guarantees `len` readable bytes at `input`.
    Ok(unsafe { std::slice::from_raw_parts(input, len) })
}

/// Starts a handshake with the client's initial token (the GSSAPI AP-REQ
/// from the CONNECT packet or first SASL message).
///
/// @param server  the server; not modified.
/// @param input, input_len  the client's token; borrowed for the call.
///        An empty token fails with KERBSASL_BAD_TOKEN.
/// @param session_out  receives the session on KERBSASL_OK or
///        KERBSASL_CONTINUE; set to NULL on any failure.
/// @param output, output_len  on KERBSASL_CONTINUE, the token to send to
///        the client (the AP-REP, or the wrapped security-layer offer); on
///        KERBSASL_OK, NULL and 0. Owned by the session: valid until the
///        next call on it or its disposal. Untouched on failure.
/// @return KERBSASL_CONTINUE (send the output, then call
///         kerbsasl_server_step with the reply); KERBSASL_OK;
///         KERBSASL_BAD_TOKEN (empty, truncated, SPNEGO, NTLM or garbage
///         token); KERBSASL_AUTH_FAILED (Kerberos rejected the ticket:
///         wrong service, expired, clock skew, replay, unknown kvno);
///         KERBSASL_AUTHZ_DENIED (realm not allowed, unmappable name);
///         KERBSASL_CONFIG (keytab or replay cache unusable);
///         KERBSASL_INVALID_ARGUMENT; KERBSASL_INTERNAL. On failure no
///         session exists and kerbsasl_last_error() says why.
/// Thread-safe with respect to the server: any number of threads may start
/// sessions on one server at once. May block briefly on file I/O: MIT's
/// default replay cache is a file shared (and locked) by every process of
/// the same user; give each service its own with the replay_cache option
/// if other processes use it heavily.
///
/// # Safety
/// Non-NULL pointers must be valid as described above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_server_start(
    server: *const kerbsasl_server,
    input: *const u8,
    input_len: usize,
    session_out: *mut *mut kerbsasl_session,
    output: *mut *const u8,
    output_len: *mut usize,
) -> kerbsasl_result {
    const NAME: &str = "kerbsasl_server_start";
    guard(NAME, || {
        if session_out.is_null() {
            return invalid_argument(NAME, "session_out is NULL");
        }
        // SAFETY: checked non-NULL; the caller provides a writable pointer.
        unsafe { *session_out = std::ptr::null_mut() };
        if output.is_null() || output_len.is_null() {
            return invalid_argument(NAME, "output or output_len is NULL");
        }
        // SAFETY: a non-NULL server pointer comes from kerbsasl_server_new.
        let Some(server) = (unsafe { server.as_ref() }) else {
            return invalid_argument(NAME, "server is NULL");
        };
        // SAFETY: the caller provides input_len readable bytes.
        let input = match unsafe { input_bytes(input, input_len) } {
            Ok(input) => input,
            Err(why) => return invalid_argument(NAME, why),
        };
        let (session, step) = match server.server.start(input) {
            Ok(started) => started,
            Err(e) => return fail(&e),
        };
        let mut handle = Box::new(kerbsasl_session::new(session));
        let code = handle.record(Ok(step));
        // SAFETY: all three out-pointers were checked non-NULL above.
        unsafe {
            handle.lend_output(output, output_len);
            *session_out = Box::into_raw(handle);
        }
        code
    })
}

/// Feeds the client's next message to a session.
///
/// @param session  from kerbsasl_server_start.
/// @param input, input_len  the client's message (may be empty: after the
///        AP-REP the client must send an empty one); borrowed for the call.
/// @param output, output_len  as for kerbsasl_server_start.
/// @return KERBSASL_CONTINUE, KERBSASL_OK, or a failure:
///         KERBSASL_BAD_TOKEN (a non-empty reply to the AP-REP, a reply not
///         wrapped by this session, a layer that was not offered, a bad
///         authzid); KERBSASL_AUTHZ_DENIED (authzid not allowed);
///         KERBSASL_BAD_STATE (the handshake already succeeded or failed,
///         or the session came from kerbsasl_http_authenticate);
///         KERBSASL_INVALID_ARGUMENT; KERBSASL_INTERNAL.
///         After a failure the session stays valid for
///         kerbsasl_session_error() and must still be disposed; every later
///         step fails with KERBSASL_BAD_STATE.
/// Not thread-safe: one thread at a time per session.
///
/// # Safety
/// Non-NULL pointers must be valid as described above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_server_step(
    session: *mut kerbsasl_session,
    input: *const u8,
    input_len: usize,
    output: *mut *const u8,
    output_len: *mut usize,
) -> kerbsasl_result {
    const NAME: &str = "kerbsasl_server_step";
    guard(NAME, || {
        // SAFETY: a non-NULL session pointer comes from kerbsasl_server_start
        // and is used by one thread at a time.
        let Some(handle) = (unsafe { session.as_mut() }) else {
            return invalid_argument(NAME, "session is NULL");
        };
        if output.is_null() || output_len.is_null() {
            return invalid_argument(NAME, "output or output_len is NULL");
        }
        // SAFETY: the caller provides input_len readable bytes.
        let input = match unsafe { input_bytes(input, input_len) } {
            Ok(input) => input,
            Err(why) => return invalid_argument(NAME, why),
        };
        let step = handle.session.step(input);
        let code = handle.record(step);
        if matches!(
            code,
            kerbsasl_result::KERBSASL_CONTINUE | kerbsasl_result::KERBSASL_OK
        ) {
            // SAFETY: both out-pointers were checked non-NULL above.
            unsafe { handle.lend_output(output, output_len) };
        }
        code
    })
}

/// Ends a session (finished, failed or abandoned mid-handshake, or from
/// kerbsasl_http_authenticate) and frees everything it owns, including the
/// strings and tokens it lent out (an HTTP session's WWW-Authenticate
/// value among them).
///
/// # Safety
/// Calling with NULL is fine. Must not be called twice with the same value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_dispose(session: *mut kerbsasl_session) {
    if session.is_null() {
        return;
    }
    // A panic while freeing must not unwind into the host; there is nothing
    // more to do about it.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the pointer came from kerbsasl_server_start or
        // kerbsasl_http_authenticate and is disposed once.
        drop(unsafe { Box::from_raw(session) });
    }));
}

/// Reads one of the session's strings; NULL for a NULL session.
///
/// # Safety
/// `session` must be NULL or a live session.
unsafe fn session_string(
    session: *const kerbsasl_session,
    pick: impl FnOnce(&kerbsasl_session) -> Option<&CString>,
) -> *const c_char {
    guard_ptr(|| {
        // SAFETY: a non-NULL session pointer comes from kerbsasl_server_start
        // or kerbsasl_http_authenticate.
        let Some(handle) = (unsafe { session.as_ref() }) else {
            return std::ptr::null();
        };
        pick(handle).map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// The client's principal, e.g. "alice@EXAMPLE.COM".
///
/// @return NULL unless the handshake finished with KERBSASL_OK (or session
///         is NULL): non-NULL exactly when the session is authenticated.
///         Owned by the session: valid until its disposal.
/// Not thread-safe with calls that change the session.
///
/// # Safety
/// `session` must be NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_session_principal(
    session: *const kerbsasl_session,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { session_string(session, |h| h.identity.as_ref().map(|id| &id.principal)) }
}

/// The username the host should use for this client (ACLs, logs): the
/// principal after the configured mapping (strip_realm, auth_to_local).
/// Never the authzid or anything else the client typed.
///
/// @return NULL unless the handshake finished with KERBSASL_OK. Owned by
///         the session: valid until its disposal.
///
/// # Safety
/// `session` must be NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_session_username(
    session: *const kerbsasl_session,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { session_string(session, |h| h.identity.as_ref().map(|id| &id.username)) }
}

/// The client's realm, e.g. "EXAMPLE.COM", for cross-realm role mapping.
///
/// @return NULL unless the handshake finished with KERBSASL_OK. Owned by
///         the session: valid until its disposal.
///
/// # Safety
/// `session` must be NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_session_realm(session: *const kerbsasl_session) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { session_string(session, |h| h.identity.as_ref().map(|id| &id.realm)) }
}

/// The authorization identity the client asked for, already checked
/// against the server's authzid policy.
///
/// @return NULL when the client sent none, or unless the handshake finished
///         with KERBSASL_OK. Owned by the session: valid until its disposal.
///
/// # Safety
/// `session` must be NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_session_authzid(
    session: *const kerbsasl_session,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe {
        session_string(session, |h| {
            h.identity.as_ref().and_then(|id| id.authzid.as_ref())
        })
    }
}

/// Why the last call on this session failed: MIT's detailed text and a
/// hint in plain words where one helps.
///
/// @return NULL if no step on the session has failed. Owned by the session:
///         valid until the next call on it or its disposal.
///
/// # Safety
/// `session` must be NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kerbsasl_session_error(session: *const kerbsasl_session) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { session_string(session, |h| h.error.as_ref()) }
}
