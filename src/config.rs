//! Server options: the string keys shared by the C ABI, Mosquitto's
//! `plugin_opt_*` lines and Erlang option maps, validated up front.

use crate::error::Error;
use crate::principal::ServicePrincipal;

/// How the username handed to the host is derived from the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsernameMapping {
    /// The full principal, `alice@EXAMPLE.COM`.
    #[default]
    Principal,
    /// The principal without its realm, `alice` (Elasticsearch's
    /// remove_realm_name).
    StripRealm,
    /// krb5.conf `auth_to_local` rules; unmappable principals are denied.
    AuthToLocal,
}

/// Which authorization identities (authzid) a client may request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthzidPolicy {
    /// None, or one equal to the principal or the mapped username.
    #[default]
    Match,
    /// None at all.
    Reject,
    /// Any: reported to the host, which must authorise it itself. The
    /// username stays the Kerberos identity.
    Any,
}

/// A validated server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub principal: ServicePrincipal,
    /// A keytab name (`/path`, `FILE:/path`, `MEMORY:name`); None means the
    /// system default (KRB5_KTNAME, then krb5.conf default_keytab_name).
    pub keytab: Option<String>,
    pub username: UsernameMapping,
    /// Realms whose clients are accepted; None accepts every realm.
    pub allowed_realms: Option<Vec<String>>,
    /// Realms whose principals `strip_realm` shortens to their name; None
    /// means the service principal's realm (krb5.conf's default realm for
    /// `*` and host-based principals). Principals of other realms keep
    /// `name@REALM`, so they never collide with a local user.
    pub local_realms: Option<Vec<String>>,
    pub authzid: AuthzidPolicy,
    /// An MIT replay cache name; None means MIT's default.
    pub replay_cache: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            principal: ServicePrincipal::Any,
            keytab: None,
            username: UsernameMapping::Principal,
            allowed_realms: None,
            local_realms: None,
            authzid: AuthzidPolicy::Match,
            replay_cache: None,
        }
    }
}

/// The option keys, as documented in the README and the header.
pub const OPTION_KEYS: &[&str] = &[
    "principal",
    "keytab",
    "strip_realm",
    "auth_to_local",
    "allowed_realms",
    "local_realms",
    "authzid",
    "replay_cache",
];

impl Config {
    /// Builds a configuration from string pairs. Unknown keys, repeated
    /// keys and bad values fail with a message naming the key.
    pub fn from_options<'a, I>(options: I) -> Result<Config, Error>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut config = Config::default();
        let mut seen: Vec<&str> = Vec::new();
        let mut strip_realm = false;
        let mut auth_to_local = false;
        for (key, value) in options {
            if seen.contains(&key) {
                return Err(Error::config(format!(
                    "option {key:?} is given more than once"
                )));
            }
            seen.push(key);
            match key {
                "principal" => config.principal = ServicePrincipal::parse(value)?,
                "keytab" => config.keytab = Some(parse_keytab(value)?),
                "strip_realm" => strip_realm = parse_bool_option(key, value)?,
                "auth_to_local" => auth_to_local = parse_bool_option(key, value)?,
                "allowed_realms" => config.allowed_realms = Some(parse_realms(key, value)?),
                "local_realms" => config.local_realms = Some(parse_realms(key, value)?),
                "authzid" => config.authzid = parse_authzid(value)?,
                "replay_cache" => config.replay_cache = Some(parse_replay_cache(value)?),
                _ => {
                    return Err(Error::config(format!(
                        "unknown option {key:?}; known options: {}",
                        OPTION_KEYS.join(", ")
                    )));
                }
            }
        }
        config.username = match (strip_realm, auth_to_local) {
            (true, true) => {
                return Err(Error::config(
                    "options \"strip_realm\" and \"auth_to_local\" both map the username; set only one",
                ));
            }
            (true, false) => UsernameMapping::StripRealm,
            (false, true) => UsernameMapping::AuthToLocal,
            (false, false) => UsernameMapping::Principal,
        };
        Ok(config)
    }

    /// Whether the replay cache is switched off (which the server logs).
    pub fn replay_cache_disabled(&self) -> bool {
        self.replay_cache
            .as_deref()
            .is_some_and(|name| name.eq_ignore_ascii_case("none:"))
    }
}

/// Reads a boolean option: true/false, yes/no, on/off, 1/0. Public so that
/// hosts with options of their own (kerbsasl-authd) read them alike.
pub fn parse_bool_option(key: &str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(Error::config(format!(
            "option {key:?} must be true or false (also yes/no, on/off, 1/0), not {value:?}"
        ))),
    }
}

fn parse_keytab(value: &str) -> Result<String, Error> {
    if value.trim().is_empty() {
        return Err(Error::config(
            "option \"keytab\" is empty; give a path such as /etc/mosquitto/mqtt.keytab, \
             or leave it out to use the system default keytab",
        ));
    }
    Ok(value.to_string())
}

fn parse_realms(key: &str, value: &str) -> Result<Vec<String>, Error> {
    let realms: Vec<String> = value.split(',').map(|r| r.trim().to_string()).collect();
    if realms
        .iter()
        .any(|r| r.is_empty() || r.contains(char::is_whitespace) || r.contains('@'))
    {
        return Err(Error::config(format!(
            "option {key:?} must be a comma-separated list of realm names \
             such as EXAMPLE.COM,CORP.EXAMPLE.COM, not {value:?}"
        )));
    }
    Ok(realms)
}

fn parse_authzid(value: &str) -> Result<AuthzidPolicy, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "match" => Ok(AuthzidPolicy::Match),
        "reject" => Ok(AuthzidPolicy::Reject),
        "any" => Ok(AuthzidPolicy::Any),
        _ => Err(Error::config(format!(
            "option \"authzid\" must be match (default: none, or the client's own principal or \
             username), reject (none at all) or any (the host authorises it), not {value:?}"
        ))),
    }
}

fn parse_replay_cache(value: &str) -> Result<String, Error> {
    let kind = value
        .split_once(':')
        .map(|(kind, _)| kind.to_ascii_lowercase());
    match kind.as_deref() {
        Some("dfl" | "none" | "file2") => Ok(value.to_string()),
        _ => Err(Error::config(format!(
            "option \"replay_cache\" must be an MIT replay cache name: dfl: (the default, \
             in KRB5RCACHEDIR), file2:/path/to/file, or none: (disables replay detection; \
             not recommended), not {value:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, Error> {
        Config::from_options(pairs.iter().copied())
    }

    fn config_error(pairs: &[(&str, &str)]) -> String {
        let err = config(pairs).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        err.message().to_string()
    }

    #[test]
    fn defaults_accept_any_principal_in_the_default_keytab() {
        assert_eq!(config(&[]).unwrap(), Config::default());
    }

    #[test]
    fn parses_every_option() {
        let c = config(&[
            ("principal", "mqtt/h@R"),
            ("keytab", "/k"),
            ("strip_realm", "yes"),
            ("allowed_realms", "R, S"),
            ("local_realms", "R,T"),
            ("authzid", "reject"),
            ("replay_cache", "file2:/tmp/rc"),
        ])
        .unwrap();
        assert_eq!(c.principal, ServicePrincipal::Principal("mqtt/h@R".into()));
        assert_eq!(c.keytab.as_deref(), Some("/k"));
        assert_eq!(c.username, UsernameMapping::StripRealm);
        assert_eq!(
            c.allowed_realms,
            Some(vec!["R".to_string(), "S".to_string()])
        );
        assert_eq!(c.local_realms, Some(vec!["R".to_string(), "T".to_string()]));
        assert_eq!(c.authzid, AuthzidPolicy::Reject);
        assert_eq!(c.replay_cache.as_deref(), Some("file2:/tmp/rc"));
        assert!(!c.replay_cache_disabled());
        assert!(
            config(&[("replay_cache", "none:")])
                .unwrap()
                .replay_cache_disabled()
        );
        assert_eq!(
            config(&[("auth_to_local", "true")]).unwrap().username,
            UsernameMapping::AuthToLocal
        );
    }

    #[test]
    fn bad_options_name_the_key() {
        assert!(config_error(&[("colour", "x")]).contains("\"colour\""));
        assert!(config_error(&[("strip_realm", "maybe")]).contains("\"strip_realm\""));
        assert!(config_error(&[("allowed_realms", "A,,B")]).contains("\"allowed_realms\""));
        assert!(config_error(&[("local_realms", "A B")]).contains("\"local_realms\""));
        assert!(config_error(&[("authzid", "sometimes")]).contains("\"authzid\""));
        assert!(config_error(&[("replay_cache", "/tmp/rc")]).contains("\"replay_cache\""));
        assert!(config_error(&[("keytab", "")]).contains("\"keytab\""));
        assert!(config_error(&[("keytab", "/a"), ("keytab", "/b")]).contains("more than once"));
        assert!(
            config_error(&[("strip_realm", "1"), ("auth_to_local", "1")]).contains("strip_realm")
        );
        assert!(config_error(&[("principal", "mqtt")]).contains("principal"));
    }
}
