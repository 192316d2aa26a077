//! Preflight: what `kerbsasl-check` asks of the library to tell an
//! operator, before any client connects, whether Kerberos will work.
//!
//! Facts are read through libkrb5 itself, so they are what a [`Server`]
//! will see: krb5.conf ([`Krb5Conf`]), the keytab a configuration uses
//! ([`locate_keytab`], [`read_keytab`]), its replay cache
//! ([`locate_replay_cache`]); and, with the KDC, [`ask_kdc`]: does it
//! answer, how far apart are the clocks, and a self-test that
//! authenticates the service to itself through a real [`Server`].
//!
//! Advice comes from [`hints`], the same words the library's own errors
//! use.
//!
//! [`Server`]: crate::Server

mod kdc_reply;
mod keytab;
mod krb5conf;
mod online;
mod replay_cache;

pub use keytab::{KeytabKey, KeytabLocation, locate_keytab, read_keytab, served_principals};
pub use krb5conf::{Canonicalize, ConfigFile, Krb5Conf};
pub use online::{KdcReport, SelfTest, ask_kdc};
pub use replay_cache::{ReplayCache, locate_replay_cache};

use crate::error::Error;

/// The kerbsasl options among a Mosquitto plugin block's `plugin_opt_*`
/// pairs (without the prefix), leaving out the plugin's own (`auth_method`,
/// `allow_username_slash`), exactly as the plugin does; Err as the plugin
/// fails.
pub fn mosquitto_server_options(
    plugin_options: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    let parsed = crate::mosquitto::PluginOptions::parse(plugin_options)?;
    Ok(parsed
        .server_options
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// The kerbsasl options the Cyrus SASL plugin takes from an `<app>.conf`
/// (its `key: value` pairs as libsasl2 reads them: keys lowercased, the
/// first of a repeated key kept) for a connection to `service` on
/// `server_fqdn`, exactly as the plugin does: `keytab` or `kerbsasl_keytab`
/// (which wins), the other `kerbsasl_<option>` keys, and the plugin's
/// defaults (principal `service@server_fqdn`, strip_realm, authzid `any`).
/// Err as the plugin fails (no principal and no service or host).
pub fn cyrus_server_options(
    conf: &[(String, String)],
    service: Option<&str>,
    server_fqdn: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
    let lookup = |key: &str| conf.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    crate::cyrus::server_options(lookup, service, server_fqdn).map_err(|e| e.message().to_string())
}

/// The keys of an `<app>.conf` that look like kerbsasl's but that the
/// Cyrus plugin never asks for (misspelt, so silently ignored).
pub fn cyrus_unknown_keys(conf: &[(String, String)]) -> Vec<String> {
    crate::cyrus::unknown_keys(conf.iter().map(|(k, _)| k.as_str()))
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The prefix of kerbsasl's keys in a Cyrus `<app>.conf`.
pub const CYRUS_OPTION_PREFIX: &str = crate::cyrus::OPTION_PREFIX;

/// The advice the library gives with its errors, for tools that explain
/// the same problems.
pub mod hints {
    pub use crate::diagnosis::{
        ENCTYPE_HINT, KEY_MISMATCH_HINT, KEYTAB_UNREADABLE_HINT, NO_KEY_HINT, REPLAY_CACHE_HINT,
        REPLAY_CACHE_OFF_WARNING, SKEW_HINT, STALE_KVNO_HINT,
    };
}

/// A problem and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub detail: String,
    pub hint: String,
}

impl Problem {
    /// Splits a library error's message ("what happened. Hint: what to
    /// do") into its two parts; the hint is empty if it has none.
    pub fn from_error(error: &Error) -> Problem {
        match error.message().split_once(". Hint: ") {
            Some((detail, hint)) => Problem {
                detail: detail.to_string(),
                hint: hint.to_string(),
            },
            None => Problem {
                detail: error.message().to_string(),
                hint: String::new(),
            },
        }
    }
}
