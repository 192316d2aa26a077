//! The krb5.conf facts that decide whether Kerberos works here, read
//! through libkrb5 itself so that they are what the acceptor will see.

use crate::error::Error;
use crate::gss::{Krb5Context, enctype_name};
use std::path::PathBuf;

/// MIT's compiled-in krb5.conf path on Debian (KRB5_CONFIG replaces it).
const DEFAULT_CONFIG_PATH: &str = "/etc/krb5.conf";
/// MIT's default `clockskew`, in seconds.
const DEFAULT_CLOCKSKEW: u64 = 300;

/// One file of the krb5.conf search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub exists: bool,
}

/// How host names in host-based principals are canonicalised
/// (`dns_canonicalize_hostname`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canonicalize {
    /// Through DNS (MIT 1.20's default): forward lookup, then reverse
    /// lookup too when `rdns` is on.
    Dns,
    /// Names are used as written.
    No,
    /// As written first, through DNS if that principal is unknown.
    Fallback,
}

/// What libkrb5 reads from krb5.conf, for this process's environment.
pub struct Krb5Conf {
    /// The files libkrb5 reads, in order.
    pub files: Vec<ConfigFile>,
    /// Whether KRB5_CONFIG chose them.
    pub from_environment: bool,
    /// `default_realm`, or why there is none.
    pub default_realm: Result<String, String>,
    /// `dns_lookup_kdc`: KDCs of realms without `kdc` lines are found
    /// through DNS SRV records.
    pub dns_lookup_kdc: bool,
    pub dns_canonicalize_hostname: Canonicalize,
    pub rdns: bool,
    /// `clockskew`: the largest clock difference tickets tolerate.
    pub clockskew_seconds: u64,
    /// `permitted_enctypes` (and `allow_weak_crypto`), MIT's names.
    pub permitted_enctypes: Vec<String>,
    /// KRB5_KTNAME, else `default_keytab_name`, else MIT's default.
    pub default_keytab: String,
    context: Krb5Context,
}

impl std::fmt::Debug for Krb5Conf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Krb5Conf")
            .field("files", &self.files)
            .field("default_realm", &self.default_realm)
            .finish_non_exhaustive()
    }
}

impl Krb5Conf {
    /// Reads krb5.conf the way every Kerberos call of this process does.
    pub fn load() -> Result<Krb5Conf, Error> {
        let context = Krb5Context::new()
            .map_err(|e| Error::config(format!("cannot initialise Kerberos: {e}")))?;
        let from_environment = std::env::var_os("KRB5_CONFIG").is_some();
        let search_path =
            std::env::var("KRB5_CONFIG").unwrap_or_else(|_| DEFAULT_CONFIG_PATH.into());
        let files = search_path
            .split(':')
            .filter(|p| !p.is_empty())
            .map(|p| ConfigFile {
                path: PathBuf::from(p),
                exists: std::path::Path::new(p).exists(),
            })
            .collect();
        let libdefault = |name: &str| -> Option<String> {
            context
                .profile_values(&["libdefaults", name])
                .ok()
                .and_then(|values| values.into_iter().next())
        };
        let flag = |name: &str, default: bool| {
            libdefault(name)
                .and_then(|v| parse_boolean(&v))
                .unwrap_or(default)
        };
        let dns_canonicalize_hostname = match libdefault("dns_canonicalize_hostname") {
            Some(v) if v.trim().eq_ignore_ascii_case("fallback") => Canonicalize::Fallback,
            Some(v) if parse_boolean(&v) == Some(false) => Canonicalize::No,
            _ => Canonicalize::Dns,
        };
        let clockskew_seconds = libdefault("clockskew")
            .and_then(|v| parse_duration(&v))
            .unwrap_or(DEFAULT_CLOCKSKEW);
        let permitted_enctypes = context
            .permitted_enctypes()
            .map(|list| list.into_iter().map(enctype_name).collect())
            .unwrap_or_default();
        let default_keytab = context
            .default_keytab_name()
            .map_err(|e| Error::config(format!("cannot find the default keytab name: {e}")))?;
        Ok(Krb5Conf {
            files,
            from_environment,
            default_realm: context.default_realm().map_err(|e| e.message),
            dns_lookup_kdc: flag("dns_lookup_kdc", true),
            dns_canonicalize_hostname,
            rdns: flag("rdns", true),
            clockskew_seconds,
            permitted_enctypes,
            default_keytab,
            context,
        })
    }

    /// The `kdc` lines of `[realms] REALM` (empty: none configured).
    pub fn realm_kdcs(&self, realm: &str) -> Vec<String> {
        self.context
            .profile_values(&["realms", realm, "kdc"])
            .unwrap_or_default()
    }

    /// Every value of a relation, e.g. `["libdefaults", "default_rcache_name"]`.
    pub fn values(&self, path: &[&str]) -> Vec<String> {
        self.context.profile_values(path).unwrap_or_default()
    }

    /// A principal as libkrb5 completes it: `mqtt/host` gets the default
    /// realm.
    pub fn full_principal(&self, name: &str) -> Result<String, Error> {
        self.context
            .canonical_principal(name)
            .map_err(|e| Error::config(format!("invalid principal {name:?}: {e}")))
    }

    /// The principal the acceptor looks for with host-based name
    /// `service@host`: the host canonicalised as krb5.conf says (this may
    /// ask DNS), the realm from `[domain_realm]`.
    pub fn host_based_principal(&self, service: &str, host: &str) -> Result<String, Error> {
        self.context
            .host_based_principal(service, host)
            .map_err(|e| Error::config(format!("cannot make a principal of {service}@{host}: {e}")))
    }
}

/// A krb5.conf boolean, as MIT's profile library reads it.
fn parse_boolean(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "t" | "1" | "on" => Some(true),
        "n" | "no" | "false" | "nil" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// A krb5.conf duration (krb5_string_to_deltat): seconds (`300`),
/// units (`5m`, `1h 30m`, `2d`), or `h:m[:s]`.
fn parse_duration(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    if value.contains(':') {
        let parts: Vec<u64> = value
            .split(':')
            .map(|p| p.trim().parse().ok())
            .collect::<Option<_>>()?;
        return match parts.as_slice() {
            [h, m] => Some(h * 3600 + m * 60),
            [h, m, s] => Some(h * 3600 + m * 60 + s),
            _ => None,
        };
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in value.chars().filter(|c| !c.is_whitespace()) {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total += number.parse::<u64>().ok()? * unit;
        number.clear();
    }
    number.is_empty().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_booleans_as_mit_does() {
        assert_eq!(parse_boolean(" Yes"), Some(true));
        assert_eq!(parse_boolean("on"), Some(true));
        assert_eq!(parse_boolean("nil"), Some(false));
        assert_eq!(parse_boolean("0"), Some(false));
        assert_eq!(parse_boolean("fallback"), None);
    }

    #[test]
    fn reads_durations_as_mit_does() {
        assert_eq!(parse_duration("300"), Some(300));
        assert_eq!(parse_duration("5m"), Some(300));
        assert_eq!(parse_duration("1h 30m"), Some(5400));
        assert_eq!(parse_duration("1d2h3m4s"), Some(93_784));
        assert_eq!(parse_duration("0:05"), Some(300));
        assert_eq!(parse_duration("1:00:30"), Some(3630));
        assert_eq!(parse_duration("5 minutes"), None);
        assert_eq!(parse_duration("5m3"), None);
    }
}
