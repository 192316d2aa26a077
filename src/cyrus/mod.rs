//! The Cyrus SASL server plugin (plugin API version 4): libkerbsasl.so,
//! copied or linked into a SASL plugin directory, offers the `GSSAPI`
//! mechanism to every libsasl2 host (OpenLDAP, Postfix, EMQX through
//! sasl_auth) in place of Cyrus's gssapiv2.
//!
//! Options come from the application's `<app>.conf` (or its getopt
//! callback): `keytab`, and `kerbsasl_<option>` for every kerbsasl option.
//! This module holds the unsafe glue: pointers from libsasl2 in, panic
//! boundaries, and outputs lent back; the protocol is the safe core's.

mod connection;
mod host;
mod options;
mod sys;

pub(crate) use options::{PREFIX as OPTION_PREFIX, server_options, unknown_keys};

use connection::{Connection, Failure, Lent, Outcome, Progress};
use host::{CallScope, Host};
use options::Source;
use std::cell::UnsafeCell;
use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use sys::{
    OutParams, SASL_BADPARAM, SASL_BADPROT, SASL_BADVERS, SASL_CONTINUE, SASL_CU_AUTHID,
    SASL_CU_AUTHZID, SASL_CU_EXTERNALLY_VERIFIED, SASL_FAIL, SASL_FEAT_ALLOWS_PROXY,
    SASL_FEAT_DONTUSE_USERPASSWD, SASL_FEAT_WANT_CLIENT_FIRST, SASL_OK, SASL_SEC_MUTUAL_AUTH,
    SASL_SEC_NOACTIVE, SASL_SEC_NOANONYMOUS, SASL_SEC_NOPLAINTEXT, SASL_SERVER_PLUG_VERSION,
    SaslUtils, ServerParams, ServerPlug,
};

use crate::layer::{LayerPolicy, Protection};

/// The strongest layer a Kerberos session gives (aes256), as gssapiv2
/// declares it; libsasl2 uses it to rule the mechanism in or out.
const MAX_SSF: c_uint = 256;

/// The plugin table handed to libsasl2, in the library's own writable
/// data (the API passes it as a mutable pointer): nothing to free when
/// libsasl2 unloads the plugin at sasl_done.
struct PlugTable(UnsafeCell<[ServerPlug; 1]>);

// SAFETY: the table is never changed; libsasl2 only reads it.
unsafe impl Sync for PlugTable {}

static PLUG_TABLE: PlugTable = PlugTable(UnsafeCell::new([ServerPlug {
    mech_name: c"GSSAPI".as_ptr(),
    max_ssf: MAX_SSF,
    // No SASL_SEC_PASS_CREDENTIALS: kerbsasl does not take delegated
    // credentials, so hosts requiring them get no GSSAPI.
    security_flags: SASL_SEC_NOPLAINTEXT
        | SASL_SEC_NOACTIVE
        | SASL_SEC_NOANONYMOUS
        | SASL_SEC_MUTUAL_AUTH,
    features: SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY | SASL_FEAT_DONTUSE_USERPASSWD,
    glob_context: std::ptr::null_mut(),
    mech_new: Some(mech_new),
    mech_step: Some(mech_step),
    mech_dispose: Some(mech_dispose),
    mech_free: Some(mech_free),
    setpass: None,
    user_query: None,
    idle: None,
    mech_avail: None,
    spare_fptr2: None,
}]));

/// Cyrus SASL's server plugin entry point: offers the GSSAPI mechanism.
///
/// # Safety
/// Called by libsasl2 with valid pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sasl_server_plug_init(
    utils: *const SaslUtils,
    max_version: c_int,
    out_version: *mut c_int,
    pluglist: *mut *mut ServerPlug,
    plugcount: *mut c_int,
) -> c_int {
    catch_unwind(|| {
        if out_version.is_null() || pluglist.is_null() || plugcount.is_null() {
            return SASL_BADPARAM;
        }
        if max_version < SASL_SERVER_PLUG_VERSION {
            return SASL_BADVERS;
        }
        // SAFETY: libsasl2's global utilities, valid until mech_free.
        if let Some(global) = unsafe { Host::new(utils) } {
            host::route_logs(global);
        }
        // SAFETY: checked non-NULL; libsasl2 passes writable pointers.
        unsafe {
            *out_version = SASL_SERVER_PLUG_VERSION;
            *pluglist = PLUG_TABLE.0.get().cast();
            *plugcount = 1;
        }
        SASL_OK
    })
    .unwrap_or(SASL_FAIL)
}

/// Runs one entry point's body with kerbsasl's records going to `host`'s
/// log; a panic becomes SASL_FAIL with a message instead of unwinding into
/// libsasl2.
fn guard(host: Host, what: &str, body: impl FnOnce() -> Result<c_int, Failure>) -> c_int {
    let _scope = CallScope::enter(host);
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => return code,
        Ok(Err(failure)) => failure,
        Err(_) => Failure::new(
            SASL_FAIL,
            format!("internal error (a bug in kerbsasl) in {what}"),
        ),
    };
    host.set_error(&failure.message);
    failure.code
}

/// # Safety
/// `text` is NULL or a NUL-terminated string.
unsafe fn optional_str<'a>(text: *const c_char) -> Option<&'a str> {
    // SAFETY: guaranteed by the caller.
    (!text.is_null()).then(|| unsafe { CStr::from_ptr(text) }.to_str().ok())?
}

/// # Safety
/// A non-NULL `data` points at `len` readable bytes.
unsafe fn bytes<'a>(data: *const c_char, len: c_uint) -> &'a [u8] {
    if data.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(data.cast(), len as usize) }
}

/// Reads the options and picks (or builds) the shared server: bad
/// options or an unusable keytab fail here, with kerbsasl's message.
unsafe extern "C" fn mech_new(
    _glob_context: *mut c_void,
    sparams: *mut ServerParams,
    _challenge: *const c_char,
    _challen: c_uint,
    conn_context: *mut *mut c_void,
) -> c_int {
    // SAFETY: libsasl2 passes its server params and their utilities.
    let Some((params, host)) = (unsafe { params_and_host(sparams) }) else {
        return SASL_BADPARAM;
    };
    guard(host, "mech_new", || {
        if conn_context.is_null() {
            return Ok(SASL_BADPARAM);
        }
        // SAFETY: checked non-NULL; libsasl2 passes a writable pointer.
        unsafe { *conn_context = std::ptr::null_mut() };
        // SAFETY: libsasl2's NUL-terminated strings (or NULL).
        let (service, fqdn, app) = unsafe {
            (
                optional_str(params.service),
                optional_str(params.server_fqdn),
                optional_str(params.appname).unwrap_or("the application"),
            )
        };
        // SAFETY: libsasl2's callback list for this connection.
        let source = if unsafe { sys::has_getopt(params.callbacks) } {
            Source::Connection
        } else {
            Source::Shared
        };
        let server = options::server_for_connection(|key| host.getopt(key), source, service, fqdn)
            .map_err(|e| {
                let mut failure = Failure::from(e);
                let from = match source {
                    Source::Shared => format!("in {app}.conf"),
                    Source::Connection => format!("from {app}'s getopt callback or {app}.conf"),
                };
                failure.message = format!(
                    "{} (options: keytab and {}* {from})",
                    failure.message,
                    options::PREFIX
                );
                failure
            })?;
        let connection = Box::new(Connection::new(server, host));
        // SAFETY: checked non-NULL above.
        unsafe { *conn_context = Box::into_raw(connection).cast() };
        Ok(SASL_OK)
    })
}

/// # Safety
/// `sparams` is NULL or libsasl2's server params for the call.
unsafe fn params_and_host<'a>(sparams: *const ServerParams) -> Option<(&'a ServerParams, Host)> {
    // SAFETY: guaranteed by the caller.
    let params = unsafe { sparams.as_ref() }?;
    // SAFETY: the connection's utilities, valid until mech_dispose.
    let host = unsafe { Host::new(params.utils) }?;
    Some((params, host))
}

/// The layers the host accepts, minus what an external layer (TLS)
/// already gives, as gssapiv2 computes them.
fn layer_policy(params: &ServerParams) -> LayerPolicy {
    let external = params.external_ssf;
    LayerPolicy {
        min_ssf: params.props.min_ssf.saturating_sub(external),
        max_ssf: params.props.max_ssf.saturating_sub(external),
        max_buffer: params.props.maxbufsize,
    }
}

unsafe extern "C" fn mech_step(
    conn_context: *mut c_void,
    sparams: *mut ServerParams,
    clientin: *const c_char,
    clientinlen: c_uint,
    serverout: *mut *const c_char,
    serveroutlen: *mut c_uint,
    oparams: *mut OutParams,
) -> c_int {
    // SAFETY: libsasl2 passes its server params and their utilities.
    let Some((params, host)) = (unsafe { params_and_host(sparams) }) else {
        return SASL_BADPARAM;
    };
    guard(host, "mech_step", || {
        if serverout.is_null() || serveroutlen.is_null() || oparams.is_null() {
            return Ok(SASL_BADPARAM);
        }
        // SAFETY: checked non-NULL; libsasl2 passes writable pointers.
        unsafe {
            *serverout = std::ptr::null();
            *serveroutlen = 0;
        }
        // libsasl2 disposes of the context after a failure; a later step
        // then comes without one.
        // SAFETY: the context is NULL or ours from mech_new, used by one
        // thread at a time for steps.
        let Some(connection) = (unsafe { conn_context.cast::<Connection>().as_ref() }) else {
            return Err(Failure::new(SASL_BADPROT, "no exchange in progress"));
        };
        // SAFETY: clientinlen readable bytes at clientin.
        let input = unsafe { bytes(clientin, clientinlen) };
        match connection.step(input, layer_policy(params))? {
            Progress::Continue(token) => {
                // SAFETY: checked non-NULL above; the token lives in the
                // connection until its next step.
                unsafe { lend(token, serverout, serveroutlen) }?;
                Ok(SASL_CONTINUE)
            }
            Progress::Done(outcome) => {
                // SAFETY: oparams checked non-NULL; conn_context is ours.
                unsafe { finish(params, &outcome, conn_context, &mut *oparams) }
            }
        }
    })
}

/// # Safety
/// The out-pointers are valid for writes.
unsafe fn lend(lent: Lent, out: *mut *const c_char, out_len: *mut c_uint) -> Result<(), Failure> {
    let len = c_uint::try_from(lent.len)
        .map_err(|_| Failure::new(SASL_FAIL, "output larger than 4 GiB"))?;
    // SAFETY: guaranteed by the caller.
    unsafe {
        *out = lent.ptr.cast();
        *out_len = len;
    }
    Ok(())
}

/// Hands the identities to libsasl2's canon_user (the authzid first, as
/// gssapiv2 does; libsasl2 then runs the host's authorization callback)
/// and sets the security layer's parameters.
///
/// # Safety
/// `conn_context` is the connection's context, alive until mech_dispose.
unsafe fn finish(
    params: &ServerParams,
    outcome: &Outcome,
    conn_context: *mut c_void,
    oparams: &mut OutParams,
) -> Result<c_int, Failure> {
    let canon_user = params
        .canon_user
        .ok_or_else(|| Failure::new(SASL_FAIL, "libsasl2 gave no canon_user"))?;
    let host_conn = host_conn(params);
    let canon = |name: &str, flags: c_uint, oparams: &mut OutParams| -> Result<(), Failure> {
        let len = c_uint::try_from(name.len())
            .map_err(|_| Failure::new(SASL_BADPROT, "identity too long"))?;
        // SAFETY: libsasl2's canon_user with its connection, a buffer of
        // `len` bytes, and the out params it was given.
        let code = unsafe {
            canon_user(
                host_conn,
                name.as_ptr().cast(),
                len,
                flags | SASL_CU_EXTERNALLY_VERIFIED,
                oparams,
            )
        };
        match code {
            SASL_OK => Ok(()),
            // canon_user has set the error text itself.
            code => Err(Failure::new(
                code,
                format!("libsasl2 refused the identity {name:?} (code {code})"),
            )),
        }
    };
    match &outcome.authzid {
        Some(authzid) => {
            canon(authzid, SASL_CU_AUTHZID, oparams)?;
            canon(&outcome.authid, SASL_CU_AUTHID, oparams)?;
        }
        None => canon(&outcome.authid, SASL_CU_AUTHID | SASL_CU_AUTHZID, oparams)?,
    }
    let layer = outcome.layer;
    oparams.mech_ssf = layer.ssf;
    oparams.maxoutbuf = layer.max_plaintext;
    let (encode, decode): (Option<sys::EncodeFn>, Option<sys::DecodeFn>) = match layer.protection {
        Protection::None => (None, None),
        _ => (Some(encode), Some(decode)),
    };
    oparams.encode = encode;
    oparams.decode = decode;
    oparams.encode_context = conn_context;
    oparams.decode_context = conn_context;
    oparams.client_creds = std::ptr::null_mut();
    oparams.doneflag = 1;
    Ok(SASL_OK)
}

fn host_conn(params: &ServerParams) -> *mut c_void {
    // SAFETY: params_and_host checked utils non-NULL.
    unsafe { (*params.utils).conn }
}

/// Runs encode or decode on the connection libsasl2 passes as `context`
/// (it gives no utilities: the connection keeps its own from mech_new) and
/// lends the result.
///
/// # Safety
/// `context` is NULL or a live connection from mech_new; the out-pointers
/// are NULL or valid for writes.
unsafe fn codec(
    context: *mut c_void,
    what: &str,
    output: *mut *const c_char,
    outputlen: *mut c_uint,
    body: impl FnOnce(&Connection) -> Result<Lent, Failure>,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    let Some(connection) = (unsafe { context.cast::<Connection>().as_ref() }) else {
        return SASL_BADPARAM;
    };
    guard(connection.host(), what, || {
        if output.is_null() || outputlen.is_null() {
            return Ok(SASL_BADPARAM);
        }
        let lent = body(connection)?;
        // SAFETY: checked non-NULL above.
        unsafe { lend(lent, output, outputlen) }?;
        Ok(SASL_OK)
    })
}

unsafe extern "C" fn encode(
    context: *mut c_void,
    invec: *const libc::iovec,
    numiov: c_uint,
    output: *mut *const c_char,
    outputlen: *mut c_uint,
) -> c_int {
    let vectors: &[libc::iovec] = if invec.is_null() || numiov == 0 {
        &[]
    } else {
        // SAFETY: libsasl2 passes numiov entries at invec.
        unsafe { std::slice::from_raw_parts(invec, numiov as usize) }
    };
    // SAFETY: the context libsasl2 got in oparams; its out-pointers.
    unsafe {
        codec(context, "encode", output, outputlen, |connection| {
            let parts: Vec<&[u8]> = vectors
                .iter()
                .map(|v| {
                    if v.iov_base.is_null() || v.iov_len == 0 {
                        return &[][..];
                    }
                    // SAFETY: each entry describes iov_len readable bytes.
                    std::slice::from_raw_parts(v.iov_base.cast::<u8>(), v.iov_len)
                })
                .collect();
            connection.encode(&parts)
        })
    }
}

unsafe extern "C" fn decode(
    context: *mut c_void,
    input: *const c_char,
    inputlen: c_uint,
    output: *mut *const c_char,
    outputlen: *mut c_uint,
) -> c_int {
    // SAFETY: libsasl2 passes inputlen readable bytes at input.
    let input = unsafe { bytes(input, inputlen) };
    // SAFETY: the context libsasl2 got in oparams; its out-pointers.
    unsafe {
        codec(context, "decode", output, outputlen, |connection| {
            connection.decode(input)
        })
    }
}

unsafe extern "C" fn mech_dispose(conn_context: *mut c_void, _utils: *const SaslUtils) {
    if conn_context.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the context came from Box::into_raw in mech_new and
        // libsasl2 disposes of it once.
        drop(unsafe { Box::from_raw(conn_context.cast::<Connection>()) });
    }));
}

unsafe extern "C" fn mech_free(_glob_context: *mut c_void, _utils: *const SaslUtils) {
    let _ = catch_unwind(|| {
        options::forget_servers();
        host::stop_routing_logs();
    });
}
