//! Reads a Cyrus SASL application config (`<app>.conf`, e.g.
//! /etc/sasl2/slapd.conf) the way libsasl2 2.1.28 does (lib/config.c):
//! `key: value` lines, keys lowercased, the first of a repeated key wins.
//! Which of its keys the plugin uses, and how, is the library's rule
//! (`kerbsasl::preflight::cyrus_server_options`).

use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CyrusConf {
    /// Every `key: value` libsasl2 keeps, in file order.
    pub entries: Vec<(String, String)>,
    /// Lines that make libsasl2 refuse the whole file, as `file:line: why`.
    pub errors: Vec<String>,
}

impl CyrusConf {
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }
}

pub fn read(path: &Path) -> Result<CyrusConf, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(parse(&path.display().to_string(), &text))
}

fn parse(name: &str, text: &str) -> CyrusConf {
    let mut conf = CyrusConf::default();
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
        if !conf.has(&key) {
            conf.entries.push((key, value.to_string()));
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(conf: &CyrusConf) -> Vec<(&str, &str)> {
        conf.entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn keys_lowercased_values_trimmed_first_wins() {
        let conf = parse(
            "app.conf",
            "# comment\nmech_list: GSSAPI\nKeytab: /etc/k.keytab  \n\
             kerbsasl_principal: ldap/h@R\nkerbsasl_principal: ignored/h@R\n\
             kerbsasl_strip_realm:true\n",
        );
        assert_eq!(
            pairs(&conf),
            [
                ("mech_list", "GSSAPI"),
                ("keytab", "/etc/k.keytab"),
                ("kerbsasl_principal", "ldap/h@R"),
                ("kerbsasl_strip_realm", "true"),
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
}
