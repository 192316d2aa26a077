//! Who the client is: its principal, the username the host should use,
//! its realm, and the authorization identity it asked for.

use crate::config::{AuthzidPolicy, Config, UsernameMapping};
use crate::error::Error;
use crate::gss::Name;
use crate::principal::split_realm;

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

/// Reads the peer's name, checks its realm and maps it to a username.
pub fn identify(config: &Config, peer: &Name) -> Result<Identity, Error> {
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
    if let Some(allowed) = &config.allowed_realms {
        if !allowed.contains(&realm) {
            return Err(Error::authz_denied(format!(
                "client {principal} is from realm {realm}, which is not in allowed_realms ({})",
                allowed.join(", ")
            )));
        }
    }
    let username = match config.username {
        UsernameMapping::Principal => principal.clone(),
        UsernameMapping::StripRealm => name.to_string(),
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
