//! The parts of Cyrus SASL's plugin ABI (`<sasl/saslplug.h>`, server plugin
//! version 4) that the plugin uses, as `repr(C)` types. Structs whose tail
//! kerbsasl never reads are declared up to the last field it uses: they
//! are only ever reached through pointers from libsasl2.

use std::ffi::{c_char, c_int, c_uint, c_void};

pub const SASL_OK: c_int = 0;
pub const SASL_CONTINUE: c_int = 1;
pub const SASL_FAIL: c_int = -1;
pub const SASL_BADPROT: c_int = -5;
pub const SASL_NOTDONE: c_int = -6;
pub const SASL_BADPARAM: c_int = -7;
pub const SASL_BADMAC: c_int = -9;
pub const SASL_BADAUTH: c_int = -13;
pub const SASL_NOAUTHZ: c_int = -14;
pub const SASL_TOOWEAK: c_int = -15;
pub const SASL_BADVERS: c_int = -23;

pub const SASL_LOG_ERR: c_int = 1;
pub const SASL_LOG_WARN: c_int = 3;
pub const SASL_LOG_NOTE: c_int = 4;
pub const SASL_LOG_DEBUG: c_int = 5;
pub const SASL_LOG_TRACE: c_int = 6;

pub const SASL_CU_AUTHID: c_uint = 0x01;
pub const SASL_CU_AUTHZID: c_uint = 0x02;
pub const SASL_CU_EXTERNALLY_VERIFIED: c_uint = 0x04;

pub const SASL_SEC_NOPLAINTEXT: c_uint = 0x0001;
pub const SASL_SEC_NOACTIVE: c_uint = 0x0002;
pub const SASL_SEC_NOANONYMOUS: c_uint = 0x0010;
pub const SASL_SEC_MUTUAL_AUTH: c_uint = 0x0040;

pub const SASL_FEAT_WANT_CLIENT_FIRST: c_uint = 0x0002;
pub const SASL_FEAT_ALLOWS_PROXY: c_uint = 0x0020;
pub const SASL_FEAT_DONTUSE_USERPASSWD: c_uint = 0x0080;

pub const SASL_SERVER_PLUG_VERSION: c_int = 4;

pub const SASL_CB_LIST_END: std::ffi::c_ulong = 0;
pub const SASL_CB_GETOPT: std::ffi::c_ulong = 1;

/// `sasl_callback_t`.
#[repr(C)]
pub struct Callback {
    pub id: std::ffi::c_ulong,
    pub proc_: AnyFn,
    pub context: *mut c_void,
}

/// Whether an application's callback list (ending with SASL_CB_LIST_END)
/// has a getopt callback.
///
/// # Safety
/// `list` is NULL or a callback list from libsasl2.
pub unsafe fn has_getopt(list: *const Callback) -> bool {
    // Past this many entries the list is not a real one: stop reading.
    const LIMIT: usize = 256;
    if list.is_null() {
        return false;
    }
    for index in 0..LIMIT {
        // SAFETY: the list goes on until its SASL_CB_LIST_END entry.
        let id = unsafe { (*list.add(index)).id };
        match id {
            SASL_CB_LIST_END => return false,
            SASL_CB_GETOPT => return true,
            _ => {}
        }
    }
    false
}

/// `sasl_getopt_t`.
pub type GetoptFn = unsafe extern "C" fn(
    context: *mut c_void,
    plugin_name: *const c_char,
    option: *const c_char,
    result: *mut *const c_char,
    len: *mut c_uint,
) -> c_int;

/// `utils->log` and `utils->seterror`: printf-style.
pub type LogFn = unsafe extern "C" fn(conn: *mut c_void, level: c_int, fmt: *const c_char, ...);
pub type SetErrorFn =
    unsafe extern "C" fn(conn: *mut c_void, flags: c_uint, fmt: *const c_char, ...);

type AnyFn = Option<unsafe extern "C" fn()>;

/// `sasl_utils_t`, up to `seterror`.
#[repr(C)]
pub struct SaslUtils {
    pub version: c_int,
    pub conn: *mut c_void,
    pub rpool: *mut c_void,
    pub getopt_context: *mut c_void,
    pub getopt: Option<GetoptFn>,
    /// malloc .. hmac_md5_import.
    _memory_mutex_md5: [AnyFn; 16],
    /// mkchal .. getcallback.
    _helpers: [AnyFn; 11],
    pub log: Option<LogFn>,
    pub seterror: Option<SetErrorFn>,
}

/// `sasl_security_properties_t`.
#[repr(C)]
pub struct SecurityProperties {
    pub min_ssf: c_uint,
    pub max_ssf: c_uint,
    pub maxbufsize: c_uint,
    pub security_flags: c_uint,
    pub property_names: *const *const c_char,
    pub property_values: *const *const c_char,
}

/// `sasl_server_params_t`, up to `canon_user`.
#[repr(C)]
pub struct ServerParams {
    pub service: *const c_char,
    pub appname: *const c_char,
    pub server_fqdn: *const c_char,
    pub user_realm: *const c_char,
    pub iplocalport: *const c_char,
    pub ipremoteport: *const c_char,
    pub servicelen: c_uint,
    pub applen: c_uint,
    pub slen: c_uint,
    pub urlen: c_uint,
    pub iploclen: c_uint,
    pub ipremlen: c_uint,
    pub log_level: c_int,
    pub utils: *const SaslUtils,
    pub callbacks: *const Callback,
    pub props: SecurityProperties,
    pub external_ssf: c_uint,
    pub transition: AnyFn,
    pub canon_user: Option<CanonUserFn>,
}

pub type CanonUserFn = unsafe extern "C" fn(
    conn: *mut c_void,
    user: *const c_char,
    ulen: c_uint,
    flags: c_uint,
    oparams: *mut OutParams,
) -> c_int;

pub type EncodeFn = unsafe extern "C" fn(
    context: *mut c_void,
    invec: *const libc::iovec,
    numiov: c_uint,
    output: *mut *const c_char,
    outputlen: *mut c_uint,
) -> c_int;

pub type DecodeFn = unsafe extern "C" fn(
    context: *mut c_void,
    input: *const c_char,
    inputlen: c_uint,
    output: *mut *const c_char,
    outputlen: *mut c_uint,
) -> c_int;

/// `sasl_out_params_t`, whole.
#[repr(C)]
pub struct OutParams {
    pub doneflag: c_uint,
    pub user: *const c_char,
    pub authid: *const c_char,
    pub ulen: c_uint,
    pub alen: c_uint,
    pub maxoutbuf: c_uint,
    pub mech_ssf: c_uint,
    pub encode_context: *mut c_void,
    pub encode: Option<EncodeFn>,
    pub decode_context: *mut c_void,
    pub decode: Option<DecodeFn>,
    pub client_creds: *mut c_void,
    pub gss_peer_name: *const c_void,
    pub gss_local_name: *const c_void,
    pub cbindingname: *const c_char,
    pub spare_fptr1: AnyFn,
    pub spare_fptr2: AnyFn,
    pub cbindingdisp: c_uint,
    pub spare_int2: c_int,
    pub spare_int3: c_int,
    pub spare_int4: c_int,
    pub param_version: c_int,
}

pub type MechNewFn = unsafe extern "C" fn(
    glob_context: *mut c_void,
    sparams: *mut ServerParams,
    challenge: *const c_char,
    challen: c_uint,
    conn_context: *mut *mut c_void,
) -> c_int;

pub type MechStepFn = unsafe extern "C" fn(
    conn_context: *mut c_void,
    sparams: *mut ServerParams,
    clientin: *const c_char,
    clientinlen: c_uint,
    serverout: *mut *const c_char,
    serveroutlen: *mut c_uint,
    oparams: *mut OutParams,
) -> c_int;

pub type MechDisposeFn = unsafe extern "C" fn(conn_context: *mut c_void, utils: *const SaslUtils);
pub type MechFreeFn = unsafe extern "C" fn(glob_context: *mut c_void, utils: *const SaslUtils);

/// `sasl_server_plug_t`, whole.
#[repr(C)]
pub struct ServerPlug {
    pub mech_name: *const c_char,
    pub max_ssf: c_uint,
    pub security_flags: c_uint,
    pub features: c_uint,
    pub glob_context: *mut c_void,
    pub mech_new: Option<MechNewFn>,
    pub mech_step: Option<MechStepFn>,
    pub mech_dispose: Option<MechDisposeFn>,
    pub mech_free: Option<MechFreeFn>,
    pub setpass: AnyFn,
    pub user_query: AnyFn,
    pub idle: AnyFn,
    pub mech_avail: AnyFn,
    pub spare_fptr2: AnyFn,
}

// Offsets and sizes of saslplug.h on LP64 (x86_64, aarch64), measured
// with offsetof: a mistake here would corrupt the host's memory.
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(SaslUtils, getopt) == 32);
    assert!(offset_of!(SaslUtils, log) == 256);
    assert!(offset_of!(SaslUtils, seterror) == 264);
    assert!(size_of::<SecurityProperties>() == 32);
    assert!(offset_of!(ServerParams, server_fqdn) == 16);
    assert!(offset_of!(ServerParams, utils) == 80);
    assert!(offset_of!(ServerParams, props) == 96);
    assert!(offset_of!(ServerParams, external_ssf) == 128);
    assert!(offset_of!(ServerParams, canon_user) == 144);
    assert!(offset_of!(OutParams, maxoutbuf) == 32);
    assert!(offset_of!(OutParams, mech_ssf) == 36);
    assert!(offset_of!(OutParams, encode) == 48);
    assert!(offset_of!(OutParams, decode) == 64);
    assert!(offset_of!(OutParams, client_creds) == 72);
    assert!(offset_of!(OutParams, param_version) == 136);
    assert!(size_of::<OutParams>() == 144);
    assert!(size_of::<Callback>() == 24);
    assert!(offset_of!(ServerPlug, glob_context) == 24);
    assert!(offset_of!(ServerPlug, mech_new) == 32);
    assert!(offset_of!(ServerPlug, mech_avail) == 88);
    assert!(size_of::<ServerPlug>() == 104);
};
