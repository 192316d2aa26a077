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
        self.identify_principal(principal, || {
            peer.local_name().map_err(|e| e.detail().to_string())
        })
    }

    /// [`IdentityRules::identify`] once the principal is read; `local_name`
    /// runs krb5.conf's auth_to_local rules (the reason when none maps it).
    fn identify_principal(
        &self,
        principal: String,
        local_name: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Identity, Error> {
        let (name, realm) = split_realm(&principal);
        // Before any realm or mapping rule: an operator's rule for the
        // anonymous principal's realm must not let it in.
        if is_anonymous(name) {
            return Err(Error::authz_denied(format!(
                "the client authenticated anonymously (kinit -n, anonymous PKINIT) as \
                 {principal}, which proves no identity, and kerbsasl never accepts anonymous \
                 clients: the user must kinit as themselves (to stop the KDC giving anonymous \
                 clients service tickets, set restrict_anonymous_to_tgt = true in the realm's \
                 section of kdc.conf)"
            )));
        }
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
                let local = local_name().map_err(|reason| {
                    Error::authz_denied(format!(
                        "no auth_to_local rule in krb5.conf maps {principal} to a local name: \
                         {reason}"
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
        // libsasl2's canon_user trims the ends: `alice @LOCAL` would become
        // the local alice in a Cyrus host.
        if username.starts_with(char::is_whitespace) || username.ends_with(char::is_whitespace) {
            return Err(Error::authz_denied(format!(
                "{principal} maps to username {username:?}, which begins or ends with \
                 whitespace: hosts that trim names would take it for another user"
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

/// RFC 8062's anonymous principal: name part WELLKNOWN/ANONYMOUS in any
/// realm (the fully anonymous realm WELLKNOWN:ANONYMOUS or a KDC's own), as
/// MIT's krb5_principal_compare_any_realm matches it. MIT's acceptor never
/// sets GSS_C_ANON_FLAG, so the name is the only sign.
fn is_anonymous(name: &str) -> bool {
    name == "WELLKNOWN/ANONYMOUS"
}

/// Names end up as C strings, in logs and in hosts' ACLs: they must be
/// UTF-8 without control characters (MIT's display form escapes only some:
/// `\r`, `\v` and `\f` pass through, and NUL ends a C string).
fn printable(bytes: Vec<u8>, what: &str) -> Result<String, Error> {
    match String::from_utf8(bytes) {
        Ok(text) if !text.contains(char::is_control) => Ok(text),
        Ok(text) => Err(Error::authz_denied(format!(
            "the client's {what} {text:?} contains a control character"
        ))),
        Err(e) => Err(Error::authz_denied(format!(
            "the client's {what} {:?} is not valid UTF-8",
            String::from_utf8_lossy(e.as_bytes())
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

    /// `identify_principal` where auth_to_local maps every name to `local`.
    fn identify_as(
        rules: &IdentityRules,
        principal: &str,
        local: &[u8],
    ) -> Result<Identity, Error> {
        rules.identify_principal(principal.to_string(), || Ok(local.to_vec()))
    }

    fn every_mapping() -> Vec<IdentityRules> {
        [
            UsernameMapping::Principal,
            UsernameMapping::StripRealm,
            UsernameMapping::AuthToLocal,
        ]
        .into_iter()
        .map(|mapping| rules(mapping, &["EXAMPLE.COM", "WELLKNOWN:ANONYMOUS"]))
        .collect()
    }

    #[test]
    fn anonymous_principals_are_refused_in_any_realm() {
        let mut limited = rules(UsernameMapping::Principal, &[]);
        limited.allowed_realms = Some(vec!["EXAMPLE.COM".into()]);
        for rules in every_mapping().iter().chain([&limited]) {
            for principal in [
                "WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS",
                "WELLKNOWN/ANONYMOUS@EXAMPLE.COM",
            ] {
                let err = identify_as(rules, principal, b"nobody").unwrap_err();
                assert_eq!(err.kind(), ErrorKind::AuthzDenied, "{principal}");
                for fragment in [
                    "authenticated anonymously",
                    principal,
                    "kinit as themselves",
                    "restrict_anonymous_to_tgt = true",
                ] {
                    assert!(err.message().contains(fragment), "{}", err.message());
                }
            }
        }
    }

    #[test]
    fn names_like_the_anonymous_one_are_users() {
        // MIT compares principal components exactly: other case, another
        // component count, or an escaped '/' (one component) is a user.
        for principal in [
            "wellknown/anonymous@EXAMPLE.COM",
            "WELLKNOWN/ANONYMOUS/x@EXAMPLE.COM",
            r"WELLKNOWN\/ANONYMOUS@EXAMPLE.COM",
            "ANONYMOUS@EXAMPLE.COM",
        ] {
            let id = identify_as(&rules(UsernameMapping::Principal, &[]), principal, b"")
                .unwrap_or_else(|e| panic!("{principal}: {e}"));
            assert_eq!(id.username, principal);
        }
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in [
            "alice\r@EXAMPLE.COM",
            "alice\u{b}@EXAMPLE.COM",
            "alice\u{c}@EXAMPLE.COM",
            "alice\n@EXAMPLE.COM",
            "alice\0@EXAMPLE.COM",
            "alice\u{7f}@EXAMPLE.COM",
            "alice\u{85}@EXAMPLE.COM",
        ] {
            let err = printable(bad.as_bytes().to_vec(), "principal name").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AuthzDenied, "{bad:?}");
            assert!(
                err.message().contains("contains a control character"),
                "{}",
                err.message()
            );
        }
        let err = printable(b"al\xffice@EXAMPLE.COM".to_vec(), "local name").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AuthzDenied);
        assert!(err.message().contains("local name"), "{}", err.message());
        assert!(
            err.message().contains("not valid UTF-8"),
            "{}",
            err.message()
        );
        assert_eq!(
            printable("élise@EXAMPLE.COM".into(), "principal name").unwrap(),
            "élise@EXAMPLE.COM"
        );
        // auth_to_local's result gets the same rule.
        let rules = rules(UsernameMapping::AuthToLocal, &[]);
        let err = identify_as(&rules, "alice@EXAMPLE.COM", b"alice\r").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AuthzDenied);
    }

    #[test]
    fn usernames_with_whitespace_at_the_ends_are_refused() {
        let strip = rules(UsernameMapping::StripRealm, &["EXAMPLE.COM"]);
        let whole = rules(UsernameMapping::Principal, &[]);
        let local = rules(UsernameMapping::AuthToLocal, &[]);
        for (rules, principal, local_name) in [
            (&strip, "alice @EXAMPLE.COM", ""),
            (&strip, " alice@EXAMPLE.COM", ""),
            (&whole, " alice@EXAMPLE.COM", ""),
            (&whole, "alice@EXAMPLE.COM\u{a0}", ""),
            (&local, "alice@EXAMPLE.COM", "alice "),
        ] {
            let err = identify_as(rules, principal, local_name.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AuthzDenied, "{principal:?}");
            assert!(
                err.message().contains("begins or ends with whitespace"),
                "{}",
                err.message()
            );
        }
        // Inside a name, whitespace is the KDC's business.
        let id = identify_as(&strip, "al ice@EXAMPLE.COM", b"").unwrap();
        assert_eq!(id.username, "al ice");
        let id = identify_as(&whole, "alice @EXAMPLE.COM", b"").unwrap();
        assert_eq!(id.username, "alice @EXAMPLE.COM");
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
