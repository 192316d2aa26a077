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

/// The (name, value) pairs of an enum in the committed header, for tests
/// that hold a Rust list of variants to it.
#[cfg(test)]
fn header_enum(name: &str) -> Vec<(String, u32)> {
    let header = include_str!("../../include/kerbsasl.h");
    let body = header
        .split(&format!("enum {name}\n"))
        .nth(1)
        .and_then(|rest| rest.split("};").next())
        .expect("the enum in the header");
    body.lines()
        .filter_map(|line| line.trim().strip_suffix(','))
        .filter_map(|item| item.split_once(" = "))
        .map(|(name, value)| (name.to_string(), value.parse().expect("a number")))
        .collect()
}
