//! Who the client is: its principal, the username the host should use,
//! its realm, and the authorization identity it asked for.

use crate::config::{AuthzidPolicy, Config, UsernameMapping};
use crate::error::Error;
use crate::gss::{Krb5Context, Name};
use crate::principal::{ServicePrincipal, split_realm};

/// The authenticated identity of a finished handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The client's principal, e.g. `alice@EXAMPLE.COM`.
    pub principal: String,
    /// The name the host should use (ACLs, logs), after the configured
    /// mapping. Never the authzid.
    pub username: String,
    /// The client's realm, e.g. `EXAMPLE.COM`.
    pub realm: String,
    /// The authorization identity the client asked for, if any.
    pub authzid: Option<String>,
}

/// How a peer's name becomes an [`Identity`]: the configured mapping with
/// its local realms resolved, fixed for a server's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRules {
    mapping: UsernameMapping,
    allowed_realms: Option<Vec<String>>,
    /// Realms `strip_realm` applies to.
    local_realms: Vec<String>,
}

impl IdentityRules {
    /// Resolves the local realms: `local_realms` if set, else the service
    /// principal's realm, else krb5.conf's default realm.
    pub fn new(config: &Config) -> Result<IdentityRules, Error> {
        let local_realms = match (&config.local_realms, &config.principal) {
            (Some(realms), _) => realms.clone(),
            (None, ServicePrincipal::Principal(name)) if split_realm(name).1.is_some() => {
                split_realm(name)
                    .1
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            }
            (None, _) => match Krb5Context::new().and_then(|krb5| krb5.default_realm()) {
                Ok(realm) => vec![realm],
                Err(e) if config.username == UsernameMapping::StripRealm => {
                    return Err(Error::config(format!(
                        "strip_realm needs the local realm, but krb5.conf names no default \
                         realm ({e}): set default_realm in krb5.conf, give the principal with \
                         its realm, or list the realms with local_realms"
                    )));
                }
                // Only strip_realm uses local realms.
                Err(_) => Vec::new(),
            },
        };
        Ok(IdentityRules {
            mapping: config.username,
            allowed_realms: config.allowed_realms.clone(),
            local_realms,
        })
    }

    /// The realms whose principals strip_realm shortens.
    pub fn local_realms(&self) -> &[String] {
        &self.local_realms
    }

    /// Reads the peer's name, checks its realm and maps it to a username.
    pub fn identify(&self, peer: &Name) -> Result<Identity, Error> {
        let displayed = peer.display().map_err(|e| {
            Error::internal(format!(
                "cannot read the client's principal name: {}",
                e.detail()
            ))
        })?;
        let principal = printable(displayed, "principal name")?;
        let (name, realm) = split_realm(&principal);
        let realm = realm
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                Error::authz_denied(format!("the client's principal {principal:?} has no realm"))
            })?
            .to_string();
        if let Some(allowed) = &self.allowed_realms {
            if !allowed.contains(&realm) {
                return Err(Error::authz_denied(format!(
                    "client {principal} is from realm {realm}, which is not in allowed_realms ({})",
                    allowed.join(", ")
                )));
            }
        }
        let username = match self.mapping {
            UsernameMapping::Principal => principal.clone(),
            UsernameMapping::StripRealm => self.strip_local_realm(&principal, name, &realm),
            UsernameMapping::AuthToLocal => {
                let local = peer.local_name().map_err(|e| {
                    Error::authz_denied(format!(
                        "no auth_to_local rule in krb5.conf maps {principal} to a local name: {}",
                        e.detail()
                    ))
                })?;
                printable(local, "local name")?
            }
        };
        if username.is_empty() {
            return Err(Error::authz_denied(format!(
                "{principal} maps to an empty username"
            )));
        }
        Ok(Identity {
            principal,
            username,
            realm,
            authzid: None,
        })
    }

    /// `alice` for a local realm's `alice@LOCAL`; a principal of any other
    /// realm keeps its realm, so a partner's `alice@OTHER` can never be
    /// taken for the local alice.
    fn strip_local_realm(&self, principal: &str, name: &str, realm: &str) -> String {
        if self.local_realms.iter().any(|local| local == realm) {
            name.to_string()
        } else {
            principal.to_string()
        }
    }
}

/// Applies the authzid policy to what the client asked for.
pub fn authorize(
    policy: AuthzidPolicy,
    identity: &Identity,
    authzid: Option<String>,
) -> Result<Option<String>, Error> {
    let Some(requested) = authzid else {
        return Ok(None);
    };
    let own = requested == identity.principal || requested == identity.username;
    match policy {
        AuthzidPolicy::Any => Ok(Some(requested)),
        AuthzidPolicy::Match if own => Ok(Some(requested)),
        AuthzidPolicy::Match => {
            let allowed = if identity.username == identity.principal {
                format!("{:?}", identity.principal)
            } else {
                format!("{:?} or {:?}", identity.principal, identity.username)
            };
            Err(Error::authz_denied(format!(
                "{} asked to act as {requested:?}, which is not its own identity \
                 (authzid = match allows only {allowed})",
                identity.principal
            )))
        }
        AuthzidPolicy::Reject => Err(Error::authz_denied(format!(
            "{} sent authzid {requested:?}, but authzid = reject allows none",
            identity.principal
        ))),
    }
}

/// Names end up as C strings and in logs: they must be UTF-8 without NUL.
fn printable(bytes: Vec<u8>, what: &str) -> Result<String, Error> {
    match String::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => Ok(text),
        _ => Err(Error::authz_denied(format!(
            "the client's {what} is not valid UTF-8 or contains NUL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn alice() -> Identity {
        Identity {
            principal: "alice@EXAMPLE.COM".into(),
            username: "alice".into(),
            realm: "EXAMPLE.COM".into(),
            authzid: None,
        }
    }

    fn rules(mapping: UsernameMapping, local: &[&str]) -> IdentityRules {
        IdentityRules {
            mapping,
            allowed_realms: None,
            local_realms: local.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn strip_realm_shortens_only_local_realms() {
        let local = rules(UsernameMapping::StripRealm, &["EXAMPLE.COM"]);
        assert_eq!(
            local.strip_local_realm("alice@EXAMPLE.COM", "alice", "EXAMPLE.COM"),
            "alice"
        );
        assert_eq!(
            local.strip_local_realm("alice@PARTNER.COM", "alice", "PARTNER.COM"),
            "alice@PARTNER.COM"
        );
        // Realm names are case-sensitive in Kerberos.
        assert_eq!(
            local.strip_local_realm("alice@example.com", "alice", "example.com"),
            "alice@example.com"
        );
        let both = rules(UsernameMapping::StripRealm, &["EXAMPLE.COM", "PARTNER.COM"]);
        assert_eq!(
            both.strip_local_realm("alice@PARTNER.COM", "alice", "PARTNER.COM"),
            "alice"
        );
    }

    #[test]
    fn local_realms_default_to_the_service_principal_realm() {
        let config =
            Config::from_options([("principal", "mqtt/h@EXAMPLE.COM"), ("strip_realm", "true")])
                .unwrap();
        assert_eq!(
            IdentityRules::new(&config).unwrap().local_realms(),
            ["EXAMPLE.COM"]
        );
        let config = Config::from_options([
            ("principal", "mqtt/h@EXAMPLE.COM"),
            ("local_realms", "A.COM,B.COM"),
        ])
        .unwrap();
        assert_eq!(
            IdentityRules::new(&config).unwrap().local_realms(),
            ["A.COM", "B.COM"]
        );
    }

    #[test]
    fn match_policy_allows_only_the_own_identity() {
        let id = alice();
        assert_eq!(authorize(AuthzidPolicy::Match, &id, None).unwrap(), None);
        for own in ["alice@EXAMPLE.COM", "alice"] {
            assert_eq!(
                authorize(AuthzidPolicy::Match, &id, Some(own.into())).unwrap(),
                Some(own.to_string())
            );
        }
        let err = authorize(AuthzidPolicy::Match, &id, Some("bob".into())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AuthzDenied);
        assert!(err.message().contains("\"bob\""));
    }

    #[test]
    fn reject_and_any_policies() {
        let id = alice();
        assert_eq!(authorize(AuthzidPolicy::Reject, &id, None).unwrap(), None);
        let err = authorize(AuthzidPolicy::Reject, &id, Some("alice".into())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AuthzDenied);
        assert_eq!(
            authorize(AuthzidPolicy::Any, &id, Some("bob".into())).unwrap(),
            Some("bob".to_string())
        );
    }
}
