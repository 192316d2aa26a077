//! The plugin's configuration, read through Cyrus's own mechanism (the
//! application's `<app>.conf`, or its getopt callback), and the servers
//! built from it: one per distinct configuration, shared by every
//! connection, so the keytab copy and the credential pool are reused.

use crate::config::OPTION_KEYS;
use crate::error::Error;
use crate::server::Server;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The prefix of kerbsasl's keys in `<app>.conf` (Cyrus's own `keytab`
/// key is read as is).
pub const PREFIX: &str = "kerbsasl_";

/// Servers kept for reuse; past this many distinct configurations (a host
/// passing client-chosen host names?) servers are built per connection.
const MAX_CACHED: usize = 32;

type Options = Vec<(String, String)>;

enum Slot {
    /// A thread is building this server; others wait for it.
    Building,
    Ready(Server),
}

static SERVERS: Mutex<Option<HashMap<Options, Slot>>> = Mutex::new(None);
/// Signalled when a build ends, however it ends.
static BUILT: Condvar = Condvar::new();

/// The conf key of a kerbsasl option.
pub fn conf_key(option: &str) -> String {
    if option == "keytab" {
        option.to_string()
    } else {
        format!("{PREFIX}{option}")
    }
}

/// kerbsasl options from `lookup` (conf key to value) and the
/// connection's service and server host name, with the defaults that make
/// the plugin behave as gssapiv2: the host-based principal service@host,
/// the realm stripped from local principals, and authzids left to the
/// host's authorization callback.
pub fn collect(
    lookup: impl Fn(&str) -> Option<String>,
    service: Option<&str>,
    server_fqdn: Option<&str>,
) -> Result<Options, Error> {
    let mut options: Options = OPTION_KEYS
        .iter()
        .filter_map(|key| lookup(&conf_key(key)).map(|value| (key.to_string(), value)))
        .collect();
    let given = |key: &str| options.iter().any(|(k, _)| k == key);
    let mut defaults = Vec::new();
    if !given("principal") {
        match (service, server_fqdn) {
            (Some(service), Some(host)) if !service.is_empty() && !host.is_empty() => {
                defaults.push(("principal", format!("{service}@{host}")));
            }
            _ => {
                return Err(Error::config(format!(
                    "no {PREFIX}principal is set and the application gave no service name and \
                     server host name to build service@host from; set {PREFIX}principal"
                )));
            }
        }
    }
    if !given("strip_realm") && !given("auth_to_local") {
        defaults.push(("strip_realm", "true".to_string()));
    }
    if !given("authzid") {
        defaults.push(("authzid", "any".to_string()));
    }
    options.extend(defaults.into_iter().map(|(k, v)| (k.to_string(), v)));
    Ok(options)
}

/// The shared server for `options`, built on first use by one thread
/// while connections arriving at the same time wait for it. No lock is
/// held while it is built (which logs through the host). Failures are not
/// kept, so a fixed keytab works from the next connection on.
pub fn server_for(options: Options) -> Result<Server, Error> {
    let mut cache = servers();
    loop {
        match cache.get_or_insert_with(HashMap::new).get(&options) {
            Some(Slot::Ready(server)) => return Ok(server.clone()),
            Some(Slot::Building) => {
                cache = BUILT.wait(cache).unwrap_or_else(PoisonError::into_inner);
            }
            None => break,
        }
    }
    let map = cache.get_or_insert_with(HashMap::new);
    if map.len() >= MAX_CACHED {
        drop(cache);
        return build(&options);
    }
    map.insert(options.clone(), Slot::Building);
    drop(cache);
    let mut building = Building {
        options: &options,
        server: None,
    };
    let server = build(&options)?;
    building.server = Some(server.clone());
    Ok(server)
}

fn build(options: &Options) -> Result<Server, Error> {
    Server::from_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Ends a build however it ends (success, error or panic): the slot gets
/// the server or is freed, and waiting connections are woken.
struct Building<'a> {
    options: &'a Options,
    server: Option<Server>,
}

impl Drop for Building<'_> {
    fn drop(&mut self) {
        let mut cache = servers();
        if let Some(map) = cache.as_mut() {
            match self.server.take() {
                Some(server) => {
                    map.insert(self.options.clone(), Slot::Ready(server));
                }
                None => {
                    map.remove(self.options);
                }
            }
        }
        drop(cache);
        BUILT.notify_all();
    }
}

/// Drops every cached server (libsasl2 is shutting the plugin down).
/// Connections still open keep what they use.
pub fn forget_servers() {
    servers().take();
}

fn servers() -> MutexGuard<'static, Option<HashMap<Options, Slot>>> {
    SERVERS.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn collect_from(conf: &[(&str, &str)]) -> Result<Options, Error> {
        collect(
            |key| {
                conf.iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            },
            Some("ldap"),
            Some("ldap.example.com"),
        )
    }

    fn pairs(options: &Options) -> Vec<(&str, &str)> {
        options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn defaults_behave_as_gssapiv2() {
        assert_eq!(
            pairs(&collect_from(&[]).unwrap()),
            [
                ("principal", "ldap@ldap.example.com"),
                ("strip_realm", "true"),
                ("authzid", "any"),
            ]
        );
    }

    #[test]
    fn reads_keytab_and_prefixed_options() {
        let options = collect_from(&[
            ("keytab", "/etc/ldap.keytab"),
            ("kerbsasl_keytab", "/ignored"),
            ("kerbsasl_principal", "*"),
            ("kerbsasl_auth_to_local", "true"),
            ("kerbsasl_authzid", "match"),
            ("principal", "ignored: not prefixed"),
        ])
        .unwrap();
        assert_eq!(
            pairs(&options),
            [
                ("principal", "*"),
                ("keytab", "/etc/ldap.keytab"),
                ("auth_to_local", "true"),
                ("authzid", "match"),
            ]
        );
        let full_names = collect_from(&[("kerbsasl_strip_realm", "false")]).unwrap();
        assert!(pairs(&full_names).contains(&("strip_realm", "false")));
    }

    #[test]
    fn needs_a_principal_or_a_host() {
        let err = collect(|_| None, Some("ldap"), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("kerbsasl_principal"), "{err}");
        assert!(collect(|_| None, Some(""), Some("h")).is_err());
        assert!(
            collect(
                |k| (k == "kerbsasl_principal").then(|| "*".to_string()),
                None,
                None
            )
            .is_ok()
        );
    }
}
