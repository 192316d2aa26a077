//! Which keytab a server would use, and what it holds.

use crate::acceptor::{KeytabSource, resolve_keytab};
use crate::config::Config;
use crate::error::Error;
use crate::gss::{Krb5Context, enctype_name};
use crate::principal::{ServicePrincipal, split_realm};
use std::path::PathBuf;

/// The keytab of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeytabLocation {
    /// The name the server uses, e.g. `FILE:/etc/mosquitto/mqtt.keytab`.
    pub name: String,
    /// The file, for file keytabs.
    pub path: Option<PathBuf>,
    /// False when the `keytab` option is unset and the system default
    /// (KRB5_KTNAME, then krb5.conf `default_keytab_name`) applies.
    pub configured: bool,
}

/// One key in a keytab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeytabKey {
    pub principal: String,
    pub kvno: u32,
    /// MIT's enctype name, e.g. `aes256-cts-hmac-sha1-96`.
    pub enctype: String,
    /// When it was written to the keytab, in seconds since the epoch.
    pub written: i64,
}

/// The keytab `config` makes a server use, resolved exactly as the server
/// resolves it.
pub fn locate_keytab(config: &Config) -> Result<KeytabLocation, Error> {
    let krb5 = Krb5Context::new()
        .map_err(|e| Error::config(format!("cannot initialise Kerberos: {e}")))?;
    let source = resolve_keytab(&krb5, config.keytab.as_deref())?;
    let path = match &source {
        KeytabSource::File { path, .. } => Some(path.clone()),
        KeytabSource::Direct { .. } => None,
    };
    Ok(KeytabLocation {
        name: source.name().to_string(),
        path,
        configured: config.keytab.is_some(),
    })
}

/// Every key of keytab `name`, in keytab order (what `klist -kte` lists).
pub fn read_keytab(name: &str) -> Result<Vec<KeytabKey>, Error> {
    let krb5 = Krb5Context::new()
        .map_err(|e| Error::config(format!("cannot initialise Kerberos: {e}")))?;
    let entries = krb5
        .keytab_entries(name)
        .map_err(|e| Error::config(format!("cannot read keytab {name}: {e}")))?;
    Ok(entries
        .into_iter()
        .map(|entry| KeytabKey {
            principal: entry.principal,
            kvno: entry.kvno,
            enctype: enctype_name(entry.enctype),
            written: entry.timestamp,
        })
        .collect())
}

/// The distinct principals of `keys` a server with `principal` would
/// accept tickets for, in keytab order. A principal without a realm is in
/// the default realm (`default_realm`).
pub fn served_principals(
    principal: &ServicePrincipal,
    keys: &[KeytabKey],
    default_realm: Option<&str>,
) -> Vec<String> {
    let mut served: Vec<String> = Vec::new();
    for key in keys {
        let in_scope = match principal {
            ServicePrincipal::Principal(name) if split_realm(name).1.is_none() => {
                principal.may_use(&key.principal) && split_realm(&key.principal).1 == default_realm
            }
            _ => principal.may_use(&key.principal),
        };
        if in_scope && !served.contains(&key.principal) {
            served.push(key.principal.clone());
        }
    }
    served
}
