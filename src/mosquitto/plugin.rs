//! One plugin instance (one per listener with `per_listener_settings true`):
//! its kerbsasl server and the handshakes in progress, keyed by client.

use super::broker::{Broker, Client, LOG_INFO, LOG_NOTICE};
use crate::config::{OPTION_KEYS, parse_bool_option};
use crate::error::ErrorKind;
use crate::ffi::error_code_name;
use crate::server::{Server, Session, Step};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The method name EMQX Enterprise uses for SASL GSSAPI over MQTT 5.
pub const DEFAULT_METHOD: &str = "GSSAPI-KERBEROS";
/// The largest MQTT Binary Data (and Mosquitto's uint16_t lengths).
pub const MAX_DATA: usize = 65_535;

/// What the broker should do with an authentication event.
pub enum Outcome {
    /// Send this Authentication Data in AUTH 0x18 and wait.
    Continue(Vec<u8>),
    /// Authenticated; the username is set.
    Success,
    /// Refuse: CONNACK 0x87, or a disconnect on re-authentication.
    Deny,
    /// Not ours: let another plugin (or the broker) answer.
    Defer,
}

/// A plugin block's `plugin_opt_*` options, sorted into the plugin's own
/// and kerbsasl's.
pub struct PluginOptions<'a> {
    pub method: String,
    /// Whether usernames may contain '/' (plugin_opt_allow_username_slash).
    pub allow_slash: bool,
    pub server_options: Vec<(&'a str, &'a str)>,
}

impl PluginOptions<'_> {
    /// `auth_method` and `allow_username_slash` are the plugin's own; every
    /// other key must be a kerbsasl option, passed on unchanged.
    pub fn parse(options: &[(String, String)]) -> Result<PluginOptions<'_>, String> {
        let mut parsed = PluginOptions {
            method: DEFAULT_METHOD.to_string(),
            allow_slash: false,
            server_options: Vec::new(),
        };
        for (key, value) in options {
            match key.as_str() {
                "auth_method" if value.is_empty() => {
                    return Err("plugin_opt_auth_method is empty".into());
                }
                "auth_method" => parsed.method = value.clone(),
                "allow_username_slash" => {
                    parsed.allow_slash =
                        parse_bool_option(key, value).map_err(|e| e.to_string())?;
                }
                _ if OPTION_KEYS.contains(&key.as_str()) => {
                    parsed.server_options.push((key.as_str(), value.as_str()));
                }
                _ => {
                    return Err(format!(
                        "unknown option plugin_opt_{key}; known options: {}, and the plugin's \
                         own auth_method, allow_username_slash",
                        OPTION_KEYS.join(", ")
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

pub struct Plugin {
    broker: Broker,
    method: String,
    /// Whether usernames may contain '/' (plugin_opt_allow_username_slash).
    allow_slash: bool,
    server: Server,
    clients: Mutex<Clients>,
}

/// Per-client state, keyed by the client's address. Mosquitto sends a
/// DISCONNECT event for every closed client, which removes both entries.
#[derive(Default)]
struct Clients {
    /// Handshakes in progress; finished and failed ones are removed at once.
    sessions: HashMap<usize, Session>,
    /// The username each client this instance authenticated was given.
    authenticated: HashMap<usize, String>,
}

impl Plugin {
    /// Builds the instance from `plugin_opt_*` options (see
    /// [`PluginOptions::parse`]).
    pub fn new(broker: Broker, options: &[(String, String)]) -> Result<Plugin, String> {
        let PluginOptions {
            method,
            allow_slash,
            server_options,
        } = PluginOptions::parse(options)?;
        let server = Server::from_options(server_options).map_err(|e| e.to_string())?;
        Ok(Plugin {
            broker,
            method,
            allow_slash,
            server,
            clients: Mutex::new(Clients::default()),
        })
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, Clients> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// CONNECT with an Authentication Method, or AUTH 0x19 (re-authenticate).
    pub fn auth_start(&self, client: *mut Client, method: Option<&str>, data: &[u8]) -> Outcome {
        if method != Some(self.method.as_str()) {
            return Outcome::Defer;
        }
        // A new start replaces any handshake still in progress (disposed
        // outside the lock, like every session: see `disconnect`).
        let replaced = self.clients().sessions.remove(&(client as usize));
        drop(replaced);
        match self.server.start(data) {
            Ok((session, step)) => self.advance(client, session, step),
            Err(e) => self.deny(client, e.kind(), e.message()),
        }
    }

    /// AUTH 0x18 with the next client message.
    pub fn auth_continue(&self, client: *mut Client, data: &[u8]) -> Outcome {
        let in_progress = self.clients().sessions.remove(&(client as usize));
        let Some(mut session) = in_progress else {
            return self.continue_without_exchange(client);
        };
        match session.step(data) {
            Ok(step) => self.advance(client, session, step),
            Err(e) => self.deny(client, e.kind(), e.message()),
        }
    }

    pub fn disconnect(&self, client: *mut Client) {
        let mut clients = self.clients();
        let session = clients.sessions.remove(&(client as usize));
        clients.authenticated.remove(&(client as usize));
        // Disposing a session deletes its GSS context (MIT calls): not
        // while every other client's event waits for the lock.
        drop(clients);
        drop(session);
    }

    /// An AUTH 0x18 with no exchange in progress. From a client this
    /// instance authenticated, it is a bare AUTH packet after CONNACK:
    /// Mosquitto 2.0.11 frees the client's id on any refusal while the
    /// client is still registered, and later crashes. Answering "continue"
    /// is the one safe reply; the client is stuck until it disconnects.
    fn continue_without_exchange(&self, client: *mut Client) -> Outcome {
        if !self
            .clients()
            .authenticated
            .contains_key(&(client as usize))
        {
            return Outcome::Defer;
        }
        self.broker.log(
            LOG_NOTICE,
            &format!(
                "kerbsasl: {} sent AUTH with no {} exchange in progress; ignoring it",
                self.broker.describe_client(client),
                self.method
            ),
        );
        Outcome::Continue(Vec::new())
    }

    fn advance(&self, client: *mut Client, session: Session, step: Step) -> Outcome {
        match step {
            Step::Continue(token) if token.len() > MAX_DATA => self.deny(
                client,
                ErrorKind::Internal,
                &format!(
                    "the server token is {} bytes, over MQTT's 65,535",
                    token.len()
                ),
            ),
            Step::Continue(token) => {
                let replaced = self.clients().sessions.insert(client as usize, session);
                drop(replaced);
                Outcome::Continue(token)
            }
            Step::Authenticated => self.authenticated(client, &session),
        }
    }

    fn authenticated(&self, client: *mut Client, session: &Session) -> Outcome {
        let Some(identity) = session.identity() else {
            return self.deny(client, ErrorKind::Internal, "no identity after success");
        };
        let username = &identity.username;
        if let Some(problem) = self.unsafe_topic_level(&identity.principal, username) {
            return self.deny(client, ErrorKind::AuthzDenied, &problem);
        }
        // Mosquitto keeps ACL blocks of the previous username when it
        // changes, so a connection keeps one identity for its lifetime.
        let previous = self
            .clients()
            .authenticated
            .get(&(client as usize))
            .cloned();
        if let Some(previous) = previous.filter(|p| p != username) {
            return self.deny(
                client,
                ErrorKind::AuthzDenied,
                &format!(
                    "re-authentication as {username} refused: this connection is authenticated as {previous}"
                ),
            );
        }
        if let Err(code) = self.broker.set_username(client, &identity.username) {
            return self.deny(
                client,
                ErrorKind::Internal,
                &format!(
                    "mosquitto_set_username({}) failed with {code}",
                    identity.username
                ),
            );
        }
        self.clients()
            .authenticated
            .insert(client as usize, username.clone());
        self.broker.log(
            LOG_INFO,
            &format!(
                "kerbsasl: {} authenticated as {} (principal {})",
                self.broker.describe_client(client),
                identity.username,
                identity.principal
            ),
        );
        Outcome::Success
    }

    /// Why `username` can't safely stand in ACL patterns such as
    /// `users/%u/#`, where Mosquitto substitutes it as one topic level:
    /// wildcards would match other topics, and a '/' (from a principal
    /// like alice/admin, or a mapping) would reach into another user's
    /// tree (users/alice/admin/# is inside users/alice/#).
    fn unsafe_topic_level(&self, principal: &str, username: &str) -> Option<String> {
        if username.contains(['+', '#']) {
            return Some(format!(
                "principal {principal} maps to username {username:?}, which contains an MQTT \
                 wildcard ('+' or '#'); map it to a plain name with auth_to_local rules"
            ));
        }
        if username.contains('/') && !self.allow_slash {
            return Some(format!(
                "principal {principal} maps to username {username:?}, which contains '/': in \
                 ACL patterns such as users/%u/# it would reach into another user's topics; \
                 map such principals to names without '/' with auth_to_local rules in \
                 krb5.conf (plugin_opt_auth_to_local true), or set \
                 plugin_opt_allow_username_slash true if no ACL uses %u as a topic level"
            ));
        }
        None
    }

    /// Refuses the client, logging the result code `kind` maps to.
    fn deny(&self, client: *mut Client, kind: ErrorKind, message: &str) -> Outcome {
        let result = error_code_name(kind);
        self.broker.log(
            LOG_NOTICE,
            &format!(
                "kerbsasl: {} authentication failed for {}: {result}: {message}",
                self.method,
                self.broker.describe_client(client)
            ),
        );
        Outcome::Deny
    }
}
