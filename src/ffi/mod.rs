//! The `kerbsasl_*` C ABI: argument checks, panic boundaries, handles and
//! result codes. Protocol logic lives in the safe core.
//!
//! One module per C type, as in rustls-ffi. include/kerbsasl.h is generated
//! from these items by cbindgen (see build.rs).

mod boundary;
mod http;
mod log;
mod result;
mod server;
mod session;
mod version;

pub(crate) use boundary::c_string;
pub use boundary::kerbsasl_last_error;
pub use http::{KERBSASL_MAX_AUTHORIZATION_LEN, kerbsasl_http_authenticate};
pub use log::{kerbsasl_log_callback, kerbsasl_log_level, kerbsasl_set_log_callback};
pub(crate) use result::error_code_name;
pub use result::{kerbsasl_result, kerbsasl_result_str};
pub use server::{kerbsasl_server, kerbsasl_server_free, kerbsasl_server_new};
pub use session::{
    kerbsasl_dispose, kerbsasl_server_start, kerbsasl_server_step, kerbsasl_session,
    kerbsasl_session_authzid, kerbsasl_session_error, kerbsasl_session_principal,
    kerbsasl_session_realm, kerbsasl_session_username,
};
pub use version::{
    KERBSASL_VERSION_MAJOR, KERBSASL_VERSION_MINOR, KERBSASL_VERSION_PATCH, kerbsasl_version,
};
