//! The safe API: a configured [`Server`] and the [`Session`] of one
//! handshake, running the RFC 4752 server exchange.

use crate::acceptor::Acceptor;
use crate::config::{Config, UsernameMapping};
use crate::diagnosis;
use crate::error::Error;
use crate::gss::{AcceptOutcome, GssError, Protections, SecurityContext};
use crate::identity::{self, Identity, IdentityRules};
use crate::layer::{LayerPolicy, Offer, Protection, SecurityLayer};
use crate::logging;
use crate::sasl;
use std::sync::Arc;

/// A configured acceptor. Cheap to clone; thread-safe; sessions keep it
/// alive.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

/// What a server's sessions and HTTP rounds share.
pub(crate) struct Shared {
    config: Config,
    pub(crate) rules: IdentityRules,
    acceptor: Acceptor,
}

impl Shared {
    /// One gss_accept_sec_context of a Kerberos V5 token. For a client's
    /// first token, a ticket that needs a key the loaded keytab
    /// lacks makes the keytab file be checked at once and, if it changed,
    /// the token be accepted again on a fresh context: the key check fails
    /// before the replay cache records the authenticator, so the same token
    /// is acceptable again.
    pub(crate) fn accept(
        &self,
        context: &mut SecurityContext,
        token: &[u8],
        first: bool,
    ) -> Result<AcceptOutcome, Error> {
        match self.accept_with_loaded_keys(context, token)? {
            Err(e) if first && diagnosis::needs_other_key(&e) && self.acceptor.reload_now() => {
                *context = SecurityContext::new();
                self.accept_with_loaded_keys(context, token)?
            }
            other => other,
        }
        .map_err(|e| diagnosis::accept_failure(&e))
    }

    /// One accept call; the outer error is kerbsasl's (no credential),
    /// the inner one Kerberos's.
    fn accept_with_loaded_keys(
        &self,
        context: &mut SecurityContext,
        token: &[u8],
    ) -> Result<Result<AcceptOutcome, GssError>, Error> {
        let credential = self.acceptor.lease()?;
        Ok(context.accept(&credential, token))
    }
}

/// What the host does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes to the client and wait for its next message.
    Continue(Vec<u8>),
    /// The client is authenticated; see [`Session::identity`].
    Authenticated,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.shared.config)
            .field("keytab", &self.shared.acceptor.keytab_name())
            .finish()
    }
}

impl Server {
    /// Validates the configuration and acquires the acceptor credential.
    pub fn new(config: Config) -> Result<Server, Error> {
        if config.replay_cache_disabled() {
            logging::warning!("{}", diagnosis::REPLAY_CACHE_OFF_WARNING);
        }
        let rules = IdentityRules::new(&config)?;
        let acceptor = Acceptor::new(
            &config.principal,
            config.keytab.as_deref(),
            config.replay_cache.as_deref(),
        )?;
        let stripped = match config.username {
            UsernameMapping::StripRealm => format!(
                "; usernames drop the realm for {} only",
                rules.local_realms().join(", ")
            ),
            _ => String::new(),
        };
        logging::info!(
            "kerbsasl server ready: accepting {} with keytab {}{stripped}",
            config.principal.describe(),
            acceptor.keytab_name()
        );
        Ok(Server {
            shared: Arc::new(Shared {
                config,
                rules,
                acceptor,
            }),
        })
    }

    /// Parses string options (see [`Config::from_options`]) and builds a server.
    pub fn from_options<'a, I>(options: I) -> Result<Server, Error>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        Server::new(Config::from_options(options)?)
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The realms strip_realm shortens, as resolved at start: `local_realms`
    /// if set, else the service principal's realm, else krb5.conf's default.
    pub fn local_realms(&self) -> &[String] {
        self.shared.rules.local_realms()
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Begins a handshake with the client's initial token, offering no
    /// security layer (`01 00 00 00`).
    pub fn start(&self, initial_token: &[u8]) -> Result<(Session, Step), Error> {
        self.start_with_layers(LayerPolicy::NONE, initial_token)
    }

    /// Begins a handshake whose security-layer offer follows the host's
    /// `policy` (Cyrus's min_ssf, max_ssf and maxbufsize).
    pub fn start_with_layers(
        &self,
        policy: LayerPolicy,
        initial_token: &[u8],
    ) -> Result<(Session, Step), Error> {
        let mut session = Session::new(&self.shared, policy, State::Start, None);
        let step = session.step(initial_token)?;
        Ok((session, step))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Start,
    /// The mechanism asked for another context token.
    Accepting,
    /// The AP-REP was sent; the client must answer with an empty message.
    AwaitingEmptyReply,
    /// The wrapped offer was sent; the client must answer with its choice.
    AwaitingLayerChoice,
    Authenticated,
    /// Holds the reason, repeated by any later step.
    Failed(String),
}

/// Why a session whose step never returned (it panicked) is failed.
const INTERRUPTED: &str = "a step was interrupted by an internal error (a bug in kerbsasl)";

/// One handshake, then the security layer it negotiated. Used by one
/// thread at a time.
pub struct Session {
    server: Arc<Shared>,
    context: SecurityContext,
    state: State,
    identity: Option<Identity>,
    policy: LayerPolicy,
    protections: Protections,
    offer: Offer,
    layer: Option<SecurityLayer>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("identity", &self.identity)
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Feeds the client's next message. After a failure every further step
    /// fails with [`crate::ErrorKind::BadState`].
    pub fn step(&mut self, input: &[u8]) -> Result<Step, Error> {
        // The session counts as failed while the step runs, and gets its
        // real next state only when the step returns: a panic in between
        // (caught at the C boundary) leaves a failed session, never one
        // that still accepts the step it was interrupted in.
        let state = std::mem::replace(&mut self.state, State::Failed(INTERRUPTED.to_string()));
        #[cfg(feature = "testing")]
        crate::testing::failpoint::hit("session step");
        let result = match state {
            State::Start => self.accept(input, true),
            State::Accepting => self.accept(input, false),
            State::AwaitingEmptyReply => self.after_ap_rep(input),
            State::AwaitingLayerChoice => self.finish(input),
            State::Authenticated => {
                self.state = State::Authenticated;
                return Err(Error::bad_state(
                    "this handshake already succeeded; start a new session to authenticate again",
                ));
            }
            State::Failed(reason) => {
                let error = Error::bad_state(format!(
                    "this handshake already failed ({reason}); dispose of the session"
                ));
                self.state = State::Failed(reason);
                return Err(error);
            }
        };
        match &result {
            Ok(Step::Authenticated) => {
                if let Some(id) = &self.identity {
                    logging::debug!("authenticated {} as {}", id.principal, id.username);
                }
            }
            Ok(Step::Continue(_)) => {}
            Err(e) => {
                self.state = State::Failed(e.message().to_string());
                logging::debug!("handshake failed: {e}");
            }
        }
        result
    }

    /// A session that is already authenticated (an HTTP Negotiate round,
    /// handed to C hosts as a kerbsasl_session): it answers
    /// [`Session::identity`], and every step fails with BadState.
    pub(crate) fn authenticated(server: &Server, identity: Identity) -> Session {
        Session::new(
            &server.shared,
            LayerPolicy::NONE,
            State::Authenticated,
            Some(identity),
        )
    }

    fn new(
        server: &Arc<Shared>,
        policy: LayerPolicy,
        state: State,
        identity: Option<Identity>,
    ) -> Session {
        Session {
            server: Arc::clone(server),
            context: SecurityContext::new(),
            state,
            identity,
            policy,
            protections: Protections::default(),
            offer: Offer::NONE,
            layer: None,
        }
    }

    /// The client's identity, once the handshake has succeeded.
    pub fn identity(&self) -> Option<&Identity> {
        if self.state == State::Authenticated {
            self.identity.as_ref()
        } else {
            None
        }
    }

    fn accept(&mut self, token: &[u8], first: bool) -> Result<Step, Error> {
        if first {
            sasl::check_initial_token(token)?;
        }
        let outcome = self.server.accept(&mut self.context, token, first)?;
        match outcome {
            AcceptOutcome::ContinueNeeded { output } if !output.is_empty() => {
                self.state = State::Accepting;
                Ok(Step::Continue(output))
            }
            AcceptOutcome::ContinueNeeded { .. } => Err(Error::internal(
                "the Kerberos library asked for another token but produced nothing to send",
            )),
            AcceptOutcome::Complete {
                output,
                peer,
                protections,
            } => {
                self.identity = Some(self.server.rules.identify(&peer)?);
                self.protections = protections;
                if output.is_empty() {
                    // No AP-REP (the client did not ask for mutual
                    // authentication): the offer goes out in this turn.
                    self.offer()
                } else {
                    self.state = State::AwaitingEmptyReply;
                    Ok(Step::Continue(output))
                }
            }
        }
    }

    fn after_ap_rep(&mut self, input: &[u8]) -> Result<Step, Error> {
        if !input.is_empty() {
            return Err(Error::bad_token(format!(
                "the client sent {} bytes after the server's AP-REP; RFC 4752 requires an \
                 empty response",
                input.len()
            )));
        }
        self.offer()
    }

    fn offer(&mut self) -> Result<Step, Error> {
        let context = &self.context;
        self.offer = Offer::new(
            &self.policy,
            self.protections.integrity,
            self.protections.confidentiality,
            || {
                context.sasl_ssf().map_err(|e| {
                    Error::internal(format!(
                        "cannot read the session's encryption strength: {e}"
                    ))
                })
            },
        )?;
        let token = self
            .context
            .wrap(false, &self.offer.to_bytes())
            .map_err(|e| Error::internal(format!("cannot wrap the security-layer offer: {e}")))?;
        self.state = State::AwaitingLayerChoice;
        Ok(Step::Continue(token))
    }

    fn finish(&mut self, input: &[u8]) -> Result<Step, Error> {
        let reply = self
            .context
            .unwrap(input)
            .map_err(|e| diagnosis::unwrap_failure(&e))?;
        let choice = self.offer.accept(&reply)?;
        let identity = self
            .identity
            .as_mut()
            .ok_or_else(|| Error::internal("no identity after the context was established"))?;
        identity.authzid =
            identity::authorize(self.server.config.authzid, identity, choice.authzid)?;
        let max_plaintext = match choice.protection {
            Protection::None => 0,
            protection => self
                .context
                .wrap_size_limit(protection == Protection::Confidentiality, choice.max_buffer)
                .map_err(|e| {
                    Error::internal(format!("cannot size the security layer's messages: {e}"))
                })?,
        };
        // libsasl2 loops forever encoding for a maximum output size of 0.
        if choice.protection != Protection::None && max_plaintext == 0 {
            return Err(Error::bad_token(format!(
                "the client chose a maximum buffer size of {}, too small to carry any \
                 protected data",
                choice.max_buffer
            )));
        }
        self.layer = Some(SecurityLayer {
            protection: choice.protection,
            ssf: choice.ssf,
            peer_max_buffer: choice.max_buffer,
            max_plaintext,
            max_buffer: self.offer.max_buffer(),
        });
        self.state = State::Authenticated;
        Ok(Step::Authenticated)
    }

    /// The security layer the handshake negotiated, once it has succeeded.
    pub fn security_layer(&self) -> Option<&SecurityLayer> {
        match self.state {
            State::Authenticated => self.layer.as_ref(),
            _ => None,
        }
    }

    /// Protects data for the client with the negotiated layer (gss_wrap,
    /// with encryption for confidentiality). Keep each message within
    /// [`SecurityLayer::max_plaintext`] so that the client can receive it.
    pub fn wrap(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let layer = self.protecting()?;
        self.context
            .wrap(layer.protection == Protection::Confidentiality, message)
            .map_err(|e| Error::internal(format!("cannot protect a message: {e}")))
    }

    /// Checks and removes the protection of a message from the client.
    /// A message protected more weakly than negotiated (integrity only
    /// when confidentiality was chosen) is refused.
    pub fn unwrap(&self, token: &[u8]) -> Result<Vec<u8>, Error> {
        let layer = self.protecting()?;
        if token.is_empty() {
            return Err(Error::bad_token(
                "the client sent an empty protected message",
            ));
        }
        let (message, encrypted) = self.context.unwrap_with_state(token).map_err(|e| {
            Error::bad_token(format!(
                "a protected message from the client failed its check (tampered with, \
                 truncated, replayed or out of order): {}",
                e.detail()
            ))
        })?;
        if layer.protection == Protection::Confidentiality && !encrypted {
            return Err(Error::bad_token(
                "the client sent a message with integrity protection only, but confidentiality \
                 was negotiated",
            ));
        }
        Ok(message)
    }

    fn protecting(&self) -> Result<&SecurityLayer, Error> {
        match self.security_layer() {
            Some(layer) if layer.protection != Protection::None => Ok(layer),
            Some(_) => Err(Error::bad_state(
                "no security layer was negotiated: data is exchanged unprotected",
            )),
            None => Err(Error::bad_state(
                "the handshake has not succeeded: no security layer yet",
            )),
        }
    }
}
