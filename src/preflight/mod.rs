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
