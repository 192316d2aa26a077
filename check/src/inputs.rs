//! The configurations to check: the -o options, each kerbsasl plugin block
//! of a mosquitto.conf, or a Cyrus application config. Problems of the
//! files themselves become check lines of their own.

use crate::report::Line;
use crate::{cyrus_conf, hints, mosquitto_conf};
use kerbsasl::preflight::mosquitto_server_options;
use std::path::Path;

/// One configuration to check.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where it comes from, for the report's heading.
    pub source: Option<String>,
    /// The library options; None when there is nothing to check beyond
    /// `findings` (e.g. no plugin loads kerbsasl).
    pub options: Option<Vec<(String, String)>>,
    /// What reading the source found.
    pub findings: Vec<Line>,
}

/// Options from -o alone.
pub fn from_options(options: &[(String, String)]) -> Target {
    Target {
        source: None,
        options: Some(options.to_vec()),
        findings: Vec::new(),
    }
}

/// One target per kerbsasl plugin block. Err: the file cannot be read.
pub fn from_mosquitto(
    path: &Path,
    overrides: &[(String, String)],
    caller_is_broker_user: impl Fn(&str) -> bool,
) -> Result<Vec<Target>, String> {
    let conf = mosquitto_conf::read(path)?;
    let file_errors: Vec<Line> = conf
        .errors
        .iter()
        .map(|e| Line::fail("mosquitto.conf", e.clone(), hints::MOSQUITTO_CONF))
        .collect();
    let blocks = conf.kerbsasl_plugins();
    if blocks.is_empty() {
        let mut findings = file_errors;
        findings.push(Line::fail(
            "mosquitto.conf",
            format!(
                "no plugin line of {} loads kerbsasl (libkerbsasl.so)",
                path.display()
            ),
            hints::NO_PLUGIN,
        ));
        return Ok(vec![Target {
            source: Some(path.display().to_string()),
            options: None,
            findings,
        }]);
    }
    // Started as root, Mosquitto switches to `user` (default mosquitto).
    let broker_user = conf.user.clone().unwrap_or_else(|| "mosquitto".into());
    let mut targets = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        let scope = match (&block.listener, conf.per_listener_settings) {
            (Some(listener), _) => listener.clone(),
            (None, true) => "the default listener".to_string(),
            (None, false) => "every listener".to_string(),
        };
        let mut findings = if index == 0 {
            file_errors.clone()
        } else {
            Vec::new()
        };
        if !Path::new(&block.path).exists() {
            findings.push(Line::fail(
                "plugin",
                format!("Mosquitto cannot load {}: no such file", block.path),
                hints::PLUGIN_FILE,
            ));
        }
        for (key, value) in &block.options {
            if value.ends_with([' ', '\t']) {
                findings.push(Line::warn(
                    "mosquitto.conf",
                    format!("plugin_opt_{key}'s value ends with blanks, which Mosquitto keeps: {value:?}"),
                    hints::TRAILING_BLANKS,
                ));
            }
        }
        if !caller_is_broker_user(&broker_user) {
            findings.push(Line::ok(
                "user",
                format!(
                    "Mosquitto started as root runs as user {broker_user}: add --user \
                     {broker_user} to check file access as that user"
                ),
            ));
        }
        let options = match mosquitto_server_options(&block.options) {
            Ok(options) => Some(merge(options, overrides)),
            Err(e) => {
                findings.push(Line::fail("options", e, hints::OPTIONS));
                None
            }
        };
        targets.push(Target {
            source: Some(format!(
                "{} ({}: plugin {})",
                block.location, scope, block.path
            )),
            options,
            findings,
        });
    }
    Ok(targets)
}

/// The target of a Cyrus `<app>.conf`. Err: the file cannot be read.
pub fn from_cyrus(path: &Path, overrides: &[(String, String)]) -> Result<Target, String> {
    let conf = cyrus_conf::read(path)?;
    let mut findings: Vec<Line> = conf
        .errors
        .iter()
        .map(|e| Line::fail("cyrus conf", e.clone(), hints::CYRUS_CONF))
        .collect();
    if conf.keytab_twice {
        findings.push(Line::warn(
            "cyrus conf",
            "both keytab and kerbsasl_keytab are set; kerbsasl_keytab is used",
            hints::CYRUS_KEYTAB_TWICE,
        ));
    }
    let mut options = merge(conf.options, overrides);
    if !options.iter().any(|(k, _)| k == "principal") {
        findings.push(Line::ok(
            "principal",
            "kerbsasl_principal is not set, so the host's service@FQDN (from \
             sasl_server_new) is used: checking every key in the keytab instead (add \
             -o principal=SERVICE@FQDN to check that one)",
        ));
        options.push(("principal".to_string(), "*".to_string()));
    }
    Ok(Target {
        source: Some(path.display().to_string()),
        options: Some(options),
        findings,
    })
}

/// `options` with each -o key replacing the file's value or added.
fn merge(
    mut options: Vec<(String, String)>,
    overrides: &[(String, String)],
) -> Vec<(String, String)> {
    for (key, value) in overrides {
        match options.iter_mut().find(|(k, _)| k == key) {
            Some(existing) => existing.1 = value.clone(),
            None => options.push((key.clone(), value.clone())),
        }
    }
    options
}
