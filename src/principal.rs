//! Kerberos principal names: the configured service principal, and the
//! realm and name parts of an authenticated client.

use crate::error::Error;

const EXPECTED_FORMS: &str = "expected service/SERVER-FQDN@REALM.NAME \
     (e.g. mqtt/broker.example.com@EXAMPLE.COM), service/SERVER-FQDN (default realm), \
     service@SERVER-FQDN (host-based: that host in any realm) or * (any principal in the keytab)";

/// Which service principal(s) the server accepts tickets for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServicePrincipal {
    /// Any principal with a key in the keytab.
    Any,
    /// A krb5 principal name such as `mqtt/host@REALM` or `mqtt/host`.
    Principal(String),
    /// A host-based service name `service@host`.
    HostBased(String),
}

impl ServicePrincipal {
    /// Parses the `principal` option.
    pub fn parse(value: &str) -> Result<ServicePrincipal, Error> {
        let invalid = |why: &str| {
            Error::config(format!(
                "invalid principal {value:?}: {why}; {EXPECTED_FORMS}"
            ))
        };
        if value == "*" {
            return Ok(ServicePrincipal::Any);
        }
        if value.is_empty() {
            return Err(invalid("it is empty"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains whitespace or control characters"));
        }
        let (name, realm) = split_realm(value);
        if realm == Some("") {
            return Err(invalid("the realm after '@' is empty"));
        }
        if last_unescaped(name, '@').is_some() {
            return Err(invalid("it contains more than one '@'"));
        }
        let components = split_unescaped(name, '/');
        if components.len() >= 2 {
            if components.iter().any(|c| c.is_empty()) {
                return Err(invalid("a component between '/' is empty"));
            }
            return Ok(ServicePrincipal::Principal(value.to_string()));
        }
        match realm {
            // No '/': `service@host` is the host-based form.
            Some(host) if !name.is_empty() => {
                Ok(ServicePrincipal::HostBased(format!("{name}@{host}")))
            }
            Some(_) => Err(invalid("the service name before '@' is empty")),
            None => Err(invalid("it names no host")),
        }
    }

    /// Whether a keytab entry for `entry` (e.g. `mqtt/host@REALM`) could
    /// serve this principal. False only when it certainly can't: MIT leaks
    /// memory when asked for a credential the keytab lacks, so the keytab's
    /// principal list is checked first.
    pub fn may_use(&self, entry: &str) -> bool {
        let (entry_name, entry_realm) = split_realm(entry);
        match self {
            ServicePrincipal::Any => true,
            ServicePrincipal::Principal(wanted) => match split_realm(wanted) {
                (name, Some(realm)) => name == entry_name && Some(realm) == entry_realm,
                // Without a realm the default realm applies, which only
                // MIT knows: compare the names.
                (name, None) => name == entry_name,
            },
            ServicePrincipal::HostBased(wanted) => match wanted.split_once('@') {
                Some((service, host)) => entry_name == format!("{service}/{host}"),
                None => false,
            },
        }
    }

    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            ServicePrincipal::Any => "any principal in the keytab (principal = *)".to_string(),
            ServicePrincipal::Principal(name) => name.clone(),
            ServicePrincipal::HostBased(name) => format!("host-based service {name}"),
        }
    }
}

/// Splits `alice@EXAMPLE.COM` at the last unescaped '@' into name and
/// realm; a name like `alice\@corp.com@EXAMPLE.COM` keeps its escaped '@'.
pub fn split_realm(principal: &str) -> (&str, Option<&str>) {
    match last_unescaped(principal, '@') {
        Some(at) => (&principal[..at], Some(&principal[at + 1..])),
        None => (principal, None),
    }
}

/// Byte offsets of `wanted` where it is not escaped by a backslash.
fn unescaped(text: &str, wanted: char) -> impl Iterator<Item = usize> + '_ {
    let mut escaped = false;
    text.char_indices().filter_map(move |(index, c)| {
        let found = !escaped && c == wanted;
        escaped = !escaped && c == '\\';
        found.then_some(index)
    })
}

fn last_unescaped(text: &str, wanted: char) -> Option<usize> {
    unescaped(text, wanted).last()
}

fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for index in unescaped(text, separator) {
        parts.push(&text[start..index]);
        start = index + separator.len_utf8();
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn parses_the_three_forms_and_any() {
        assert_eq!(ServicePrincipal::parse("*").unwrap(), ServicePrincipal::Any);
        assert_eq!(
            ServicePrincipal::parse("mqtt/broker.example.com@EXAMPLE.COM").unwrap(),
            ServicePrincipal::Principal("mqtt/broker.example.com@EXAMPLE.COM".into())
        );
        assert_eq!(
            ServicePrincipal::parse("mqtt/broker.example.com").unwrap(),
            ServicePrincipal::Principal("mqtt/broker.example.com".into())
        );
        assert_eq!(
            ServicePrincipal::parse("mqtt@broker.example.com").unwrap(),
            ServicePrincipal::HostBased("mqtt@broker.example.com".into())
        );
    }

    #[test]
    fn rejects_malformed_values_with_the_expected_form() {
        for bad in [
            "",
            "mqtt",
            "mqtt/",
            "/host",
            "mqtt//host",
            "mqtt/host@",
            "@host",
            "mqtt/host@A@B",
            "mqtt /host",
            "mqtt/host\n",
        ] {
            let err = ServicePrincipal::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad:?}");
            assert!(
                err.message().contains("service/SERVER-FQDN@REALM.NAME"),
                "{bad:?}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn matches_keytab_entries() {
        let entry = "mqtt/h@R";
        let principal = |text: &str| ServicePrincipal::parse(text).unwrap();
        assert!(principal("*").may_use(entry));
        assert!(principal("mqtt/h@R").may_use(entry));
        assert!(principal("mqtt/h").may_use(entry));
        assert!(principal("mqtt@h").may_use(entry));
        assert!(!principal("mqtt/h@S").may_use(entry));
        assert!(!principal("other/h@R").may_use(entry));
        assert!(!principal("mqtt/g").may_use(entry));
        assert!(!principal("mqtt@g").may_use(entry));
    }

    #[test]
    fn splits_at_the_last_unescaped_at() {
        assert_eq!(
            split_realm("alice@EXAMPLE.COM"),
            ("alice", Some("EXAMPLE.COM"))
        );
        assert_eq!(
            split_realm(r"alice\@corp.com@EXAMPLE.COM"),
            (r"alice\@corp.com", Some("EXAMPLE.COM"))
        );
        assert_eq!(split_realm(r"alice\@corp.com"), (r"alice\@corp.com", None));
        assert_eq!(split_realm("host/h@R"), ("host/h", Some("R")));
        // An escaped backslash does not escape the '@' after it.
        assert_eq!(split_realm(r"a\\@R"), (r"a\\", Some("R")));
    }
}
