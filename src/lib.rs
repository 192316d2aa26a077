//! kerbsasl: the server side of SASL GSSAPI (Kerberos V5, RFC 4752) and of
//! HTTP Negotiate (SPNEGO, RFC 4559), with a stable C ABI.
//!
//! Layers, each calling only the ones below it:
//! - the safe core: [`Config`], [`Server`], [`Session`], [`Identity`],
//!   [`Error`], security layers ([`Session::wrap`], [`SecurityLayer`]),
//!   [`Server::http_authenticate`] with [`HttpAuth`], `logging`
//!   (records go to the `log` crate and to a host's sink), and
//!   [`preflight`], the checks behind `kerbsasl-check`;
//! - `gss`: the only GSSAPI `unsafe`, RAII over MIT handles;
//! - `ffi`: the `kerbsasl_*` C ABI (see include/kerbsasl.h);
//! - `mosquitto`: the Mosquitto 2 plugin entry points, over the safe core;
//! - `cyrus`: the Cyrus SASL server plugin entry point, over the safe core.

// cbindgen renders include/kerbsasl.h from `ffi` only.
/// cbindgen:ignore
mod acceptor;
/// cbindgen:ignore
mod base64;
/// cbindgen:ignore
mod config;
/// cbindgen:ignore
mod cyrus;
/// cbindgen:ignore
mod der;
/// cbindgen:ignore
mod diagnosis;
/// cbindgen:ignore
mod error;
pub mod ffi;
/// cbindgen:ignore
mod gss;
/// cbindgen:ignore
mod http;
/// cbindgen:ignore
mod identity;
/// cbindgen:ignore
mod layer;
/// cbindgen:ignore
mod logging;
/// cbindgen:ignore
mod mosquitto;
/// cbindgen:ignore
mod negotiate;
/// cbindgen:ignore
pub mod preflight;
/// cbindgen:ignore
mod principal;
/// cbindgen:ignore
mod sasl;
/// cbindgen:ignore
mod sasl_client;
/// cbindgen:ignore
mod server;
/// cbindgen:ignore
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;

pub use config::{AuthzidPolicy, Config, OPTION_KEYS, UsernameMapping, parse_bool_option};
pub use error::{Error, ErrorKind};
pub use http::{HttpAuth, MAX_AUTHORIZATION_LEN};
pub use identity::Identity;
pub use layer::{LayerPolicy, Protection, SecurityLayer};
pub use principal::{ServicePrincipal, split_realm};
pub use server::{Server, Session, Step};
