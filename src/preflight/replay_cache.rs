//! Where a server's replay cache lives, resolved as MIT 1.20 resolves it
//! (rc_base.c, rc_dfl.c).

use super::Krb5Conf;
use crate::config::Config;
use std::path::PathBuf;

/// MIT's RCTMPDIR.
const DEFAULT_DIR: &str = "/var/tmp";

/// The replay cache of a configuration, for the user the server runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayCache {
    /// `none:`: replay detection is off.
    Disabled { source: String },
    /// A file the server's user must be able to create or write.
    File { path: PathBuf, source: String },
    /// A type kerbsasl cannot inspect.
    Other { name: String, source: String },
}

/// Resolves the replay cache `config` gives a server running as `uid`,
/// with this process's environment (KRB5RCACHENAME, KRB5RCACHETYPE,
/// KRB5RCACHEDIR, TMPDIR), which the server's own may differ from.
pub fn locate_replay_cache(config: &Config, uid: u32, krb5conf: &Krb5Conf) -> ReplayCache {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (name, source) = if let Some(name) = &config.replay_cache {
        (name.clone(), "the replay_cache option".to_string())
    } else if let Some(name) = env("KRB5RCACHENAME") {
        (name, "KRB5RCACHENAME".into())
    } else if let Some(kind) = env("KRB5RCACHETYPE") {
        (format!("{kind}:"), "KRB5RCACHETYPE".into())
    } else if let Some(name) = krb5conf
        .values(&["libdefaults", "default_rcache_name"])
        .into_iter()
        .next()
    {
        (name, "krb5.conf default_rcache_name".into())
    } else {
        ("dfl:".to_string(), "MIT's default".into())
    };
    let (kind, residual) = name.split_once(':').unwrap_or(("dfl", name.as_str()));
    match kind.to_ascii_lowercase().as_str() {
        "none" => ReplayCache::Disabled { source },
        "dfl" => {
            let (dir, from) = match (env("KRB5RCACHEDIR"), env("TMPDIR")) {
                (Some(dir), _) => (dir, "KRB5RCACHEDIR"),
                (None, Some(dir)) => (dir, "TMPDIR"),
                (None, None) => (DEFAULT_DIR.to_string(), "the default directory"),
            };
            ReplayCache::File {
                path: PathBuf::from(dir).join(format!("krb5_{uid}.rcache2")),
                source: format!("{source}, dfl: in {from}"),
            }
        }
        "file2" => ReplayCache::File {
            path: PathBuf::from(residual),
            source,
        },
        _ => ReplayCache::Other { name, source },
    }
}
