//! Reads a Cyrus SASL application config (`<app>.conf`, e.g.
//! /etc/sasl2/slapd.conf) the way libsasl2 2.1.28 does (lib/config.c):
//! `key: value` lines, keys lowercased, the first of a repeated key wins.
//! kerbsasl's keys there: Cyrus's `keytab` and `kerbsasl_<option>`.

use std::path::Path;

pub const OPTION_PREFIX: &str = "kerbsasl_";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CyrusConf {
    /// kerbsasl options, in file order.
    pub options: Vec<(String, String)>,
    /// Lines that make libsasl2 refuse the whole file, as `file:line: why`.
    pub errors: Vec<String>,
    /// Both `keytab` and `kerbsasl_keytab` are set (`kerbsasl_keytab` is used).
    pub keytab_twice: bool,
}

pub fn read(path: &Path) -> Result<CyrusConf, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(parse(&path.display().to_string(), &text))
}

fn parse(name: &str, text: &str) -> CyrusConf {
    let mut conf = CyrusConf::default();
    let mut seen: Vec<String> = Vec::new();
    let mut cyrus_keytab = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(line.len());
        let (key, rest) = line.split_at(key_end);
        let Some(value) = rest.strip_prefix(':').map(str::trim) else {
            conf.errors.push(format!(
                "{name}:{}: expected \"key: value\" (libsasl2 ignores the whole file)",
                index + 1
            ));
            continue;
        };
        if value.is_empty() {
            conf.errors.push(format!(
                "{name}:{}: {key} has no value (libsasl2 ignores the whole file)",
                index + 1
            ));
            continue;
        }
        let key = key.to_ascii_lowercase();
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        if key == "keytab" {
            cyrus_keytab = Some(value.to_string());
        } else if let Some(option) = key.strip_prefix(OPTION_PREFIX) {
            conf.options.push((option.to_string(), value.to_string()));
        }
    }
    if let Some(keytab) = cyrus_keytab {
        if conf.options.iter().any(|(k, _)| k == "keytab") {
            conf.keytab_twice = true;
        } else {
            conf.options.insert(0, ("keytab".to_string(), keytab));
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keytab_and_prefixed_options() {
        let conf = parse(
            "app.conf",
            "# comment\nmech_list: GSSAPI\nKeytab: /etc/k.keytab  \n\
             kerbsasl_principal: ldap/h@R\nkerbsasl_principal: ignored/h@R\n\
             kerbsasl_strip_realm:true\n",
        );
        assert_eq!(
            conf.options,
            vec![
                ("keytab".to_string(), "/etc/k.keytab".to_string()),
                ("principal".to_string(), "ldap/h@R".to_string()),
                ("strip_realm".to_string(), "true".to_string()),
            ]
        );
        assert!(conf.errors.is_empty());
    }

    #[test]
    fn lines_libsasl2_refuses_are_errors() {
        let conf = parse("app.conf", "keytab /k\nkerbsasl_authzid:\n");
        assert_eq!(conf.errors.len(), 2);
        assert!(conf.errors[0].starts_with("app.conf:1:"));
        assert!(conf.errors[1].contains("kerbsasl_authzid has no value"));
    }

    #[test]
    fn kerbsasl_keytab_wins_over_cyrus_keytab() {
        let conf = parse("app.conf", "keytab: /a\nkerbsasl_keytab: /b\n");
        assert!(conf.keytab_twice);
        assert_eq!(conf.options, vec![("keytab".to_string(), "/b".to_string())]);
    }
}
