//! The plugin's configuration, read through Cyrus's own mechanism (the
//! application's `<app>.conf`, or its getopt callbacks), and the servers
//! built from it: one per distinct configuration, shared by every
//! connection, so the keytab copy and the credential pool are reused.
//!
//! libsasl2 reads `<app>.conf` once, at sasl_server_init, and a host's
//! global getopt callback is fixed then too: what they say is read at the
//! first connection and kept until sasl_server_done. Connections with a
//! getopt callback of their own are read every time.

use crate::config::OPTION_KEYS;
use crate::error::Error;
use crate::server::Server;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The prefix of kerbsasl's keys in `<app>.conf`. Cyrus's own `keytab` key
/// is read too; `kerbsasl_keytab` wins over it (kerbsasl-check reads a conf
/// the same way).
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

/// What connections without their own getopt callback share: libsasl2's
/// answers to the first of them, and their servers by service and host
/// (found without building an options list per connection).
#[derive(Default)]
struct Shared {
    answers: Option<Answers>,
    by_host: Vec<(String, String, Server)>,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    answers: None,
    by_host: Vec::new(),
});

/// Conf keys and the values getopt gave for them.
type Answers = Vec<(String, String)>;

/// Where a connection's options come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// libsasl2's global callbacks and `<app>.conf`.
    Shared,
    /// The connection's own getopt callback.
    Connection,
}

/// The server for a connection to `service` on `server_fqdn`, with options
/// from `lookup` (conf key to value).
pub fn server_for_connection(
    lookup: impl Fn(&str) -> Option<String>,
    source: Source,
    service: Option<&str>,
    server_fqdn: Option<&str>,
) -> Result<Server, Error> {
    if source == Source::Connection {
        return server_for(server_options(lookup, service, server_fqdn)?);
    }
    let (service_key, host_key) = (service.unwrap_or(""), server_fqdn.unwrap_or(""));
    let known = {
        let shared = shared();
        if let Some((_, _, server)) = shared
            .by_host
            .iter()
            .find(|(s, h, _)| s == service_key && h == host_key)
        {
            return Ok(server.clone());
        }
        shared.answers.clone()
    };
    // Asked without the lock: getopt may run the application's callback.
    // Connections that race here get the same answers; the first kept wins.
    let answers = match known {
        Some(answers) => answers,
        None => {
            let asked = ask(lookup);
            shared().answers.get_or_insert(asked).clone()
        }
    };
    let recall = |key: &str| {
        answers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let server = server_for(server_options(recall, service, server_fqdn)?)?;
    let mut shared = shared();
    let known = |(s, h, _): &(String, String, Server)| s == service_key && h == host_key;
    if shared.by_host.len() < MAX_CACHED && !shared.by_host.iter().any(known) {
        shared.by_host.push((
            service_key.to_string(),
            host_key.to_string(),
            server.clone(),
        ));
    }
    Ok(server)
}

fn shared() -> MutexGuard<'static, Shared> {
    SHARED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The server options the plugin takes from a configuration for a
/// connection to `service` on `server_fqdn`: every rule of the plugin
/// (which keys, which wins, its defaults), so that kerbsasl-check applies
/// exactly these. `lookup` answers as getopt does (conf key to value).
pub fn server_options(
    lookup: impl Fn(&str) -> Option<String>,
    service: Option<&str>,
    server_fqdn: Option<&str>,
) -> Result<Options, Error> {
    with_defaults(read(lookup), service, server_fqdn)
}

/// The keys among `keys` that look like kerbsasl's (`kerbsasl_...`) but
/// that the plugin never asks for: a misspelt key is otherwise ignored
/// without a word.
pub fn unknown_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let asked: Vec<String> = asked_keys().collect();
    keys.into_iter()
        .filter(|key| key.starts_with(PREFIX) && !asked.iter().any(|a| a == key))
        .collect()
}

/// The conf keys the plugin asks getopt for: `kerbsasl_<option>` for
/// every option, and Cyrus's own `keytab`.
fn asked_keys() -> impl Iterator<Item = String> {
    OPTION_KEYS
        .iter()
        .map(|option| format!("{PREFIX}{option}"))
        .chain(std::iter::once("keytab".to_string()))
}

/// What `lookup` answers for every key the plugin asks.
fn ask(lookup: impl Fn(&str) -> Option<String>) -> Answers {
    asked_keys()
        .filter_map(|key| lookup(&key).map(|value| (key, value)))
        .collect()
}

/// The value of a kerbsasl option from `lookup` (conf key to value).
fn lookup_option(lookup: &impl Fn(&str) -> Option<String>, option: &str) -> Option<String> {
    let value = lookup(&format!("{PREFIX}{option}"));
    match option {
        "keytab" => value.or_else(|| lookup("keytab")),
        _ => value,
    }
}

/// The kerbsasl options `lookup` (conf key to value) knows.
fn read(lookup: impl Fn(&str) -> Option<String>) -> Options {
    OPTION_KEYS
        .iter()
        .filter_map(|key| lookup_option(&lookup, key).map(|value| (key.to_string(), value)))
        .collect()
}

/// Adds the defaults that make the plugin behave as gssapiv2: the
/// host-based principal service@host from the connection, the realm
/// stripped from local principals, and authzids left to the host's
/// authorization callback.
fn with_defaults(
    mut options: Options,
    service: Option<&str>,
    server_fqdn: Option<&str>,
) -> Result<Options, Error> {
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

/// Drops the answers kept and every cached server (libsasl2 is shutting
/// the plugin down). Connections still open keep what they use.
pub fn forget_servers() {
    // Servers are dropped (MIT calls, log records) after the locks.
    let shared = std::mem::take(&mut *shared());
    let servers = servers().take();
    drop((shared, servers));
}

fn servers() -> MutexGuard<'static, Option<HashMap<Options, Slot>>> {
    SERVERS.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn collect_from(conf: &[(&str, &str)]) -> Result<Options, Error> {
        server_options(
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
            ("keytab", "/ignored"),
            ("kerbsasl_keytab", "/etc/ldap.keytab"),
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
        let cyrus_keytab = collect_from(&[("keytab", "/etc/app.keytab")]).unwrap();
        assert!(pairs(&cyrus_keytab).contains(&("keytab", "/etc/app.keytab")));
    }

    #[test]
    fn a_mapping_of_ones_own_replaces_strip_realm() {
        let options = collect_from(&[("kerbsasl_auth_to_local", "true")]).unwrap();
        assert!(!pairs(&options).iter().any(|(k, _)| *k == "strip_realm"));
        let options = collect_from(&[("kerbsasl_authzid", "reject")]).unwrap();
        assert!(pairs(&options).contains(&("authzid", "reject")));
        assert!(!pairs(&options).contains(&("authzid", "any")));
    }

    #[test]
    fn the_keys_asked_are_the_keys_known() {
        let asked = std::cell::RefCell::new(Vec::new());
        let answers = ask(|key| {
            asked.borrow_mut().push(key.to_string());
            (key == "keytab").then(|| "/k".to_string())
        });
        assert_eq!(answers, [("keytab".to_string(), "/k".to_string())]);
        let asked = asked.into_inner();
        assert!(asked.contains(&"kerbsasl_strip_realm".to_string()));
        assert_eq!(asked.len(), OPTION_KEYS.len() + 1);
        assert!(unknown_keys(asked.iter().map(String::as_str)).is_empty());
    }

    #[test]
    fn misspelt_keys_are_found() {
        let keys = [
            "keytab",
            "mech_list",
            "kerbsasl_principal",
            "kerbsasl_strip_relm",
            "kerbsasl_",
        ];
        assert_eq!(unknown_keys(keys), ["kerbsasl_strip_relm", "kerbsasl_"]);
    }

    #[test]
    fn needs_a_principal_or_a_host() {
        let err = server_options(|_| None, Some("ldap"), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("kerbsasl_principal"), "{err}");
        assert!(server_options(|_| None, Some(""), Some("h")).is_err());
        assert!(
            server_options(
                |k| (k == "kerbsasl_principal").then(|| "*".to_string()),
                None,
                None
            )
            .is_ok()
        );
    }
}
