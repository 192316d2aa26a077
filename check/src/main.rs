//! kerbsasl-check: tells an operator, before any client connects, whether
//! Kerberos will work for a kerbsasl configuration, and what to fix.
//!
//! Exit status: 0 when nothing FAILed, 1 when something did, 2 for usage
//! errors (bad flags, unreadable config file, unknown --user).

mod access;
mod checks;
mod cyrus_conf;
mod hints;
mod inputs;
mod mosquitto_conf;
mod report;

use access::Access;
use clap::Parser;
use report::{Line, Section, Status};
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Checks, one line each (ok, warn or FAIL, with the fix for every non-ok):
  options, krb5.conf (files, default realm, the realm's KDCs, host-name
  canonicalisation), the keytab (path, access by --user, mode, keys, the
  principal's keys, enctypes, kvnos), the replay cache; with --online the
  KDC, the clock offset, and a self-test: a ticket for the service from its
  own keytab key, accepted by the same code a broker runs.

Exit status: 0 nothing FAILed, 1 something FAILed, 2 usage error.

Examples:
  kerbsasl-check -o principal=mqtt/broker.example.com@EXAMPLE.COM -o keytab=/etc/mosquitto/mqtt.keytab
  kerbsasl-check --mosquitto-conf /etc/mosquitto/mosquitto.conf --user mosquitto --online
  kerbsasl-check --cyrus-conf /etc/sasl2/slapd.conf --user openldap --json";

#[derive(Parser, Debug)]
#[command(
    name = "kerbsasl-check",
    version,
    about = "Tells whether Kerberos will work for a kerbsasl configuration, before any client connects",
    after_help = AFTER_HELP
)]
struct Args {
    /// A kerbsasl option (repeatable), any key of the README's Options
    /// table (principal, keytab, ...). With a config file, adds to or
    /// replaces the file's options.
    #[arg(short = 'o', value_name = "KEY=VALUE", value_parser = parse_option)]
    options: Vec<(String, String)>,

    /// Check every kerbsasl plugin block of this mosquitto.conf (each
    /// listener's, with per_listener_settings).
    #[arg(long, value_name = "FILE", conflicts_with = "cyrus_conf")]
    mosquitto_conf: Option<PathBuf>,

    /// Check a Cyrus SASL application config (e.g. /etc/sasl2/slapd.conf):
    /// its keytab and kerbsasl_* lines.
    #[arg(long, value_name = "FILE")]
    cyrus_conf: Option<PathBuf>,

    /// Check file access as this user (the broker's) instead of the
    /// caller; needs root.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,

    /// Also ask the KDC: does it answer, the clock offset, and the
    /// self-test.
    #[arg(long)]
    online: bool,

    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_option(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!(
            "expected KEY=VALUE, e.g. keytab=/etc/mosquitto/mqtt.keytab, not {text:?}"
        )),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("kerbsasl-check: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let access = match Access::new(args.user.as_deref()) {
        Ok(access) => access,
        Err(e) => return usage_error(&e),
    };
    let user_given = args.user.is_some();
    let targets = if let Some(path) = &args.mosquitto_conf {
        let caller = access.subject.name.clone();
        inputs::from_mosquitto(path, &args.options, |broker_user| {
            user_given || caller == broker_user
        })
    } else if let Some(path) = &args.cyrus_conf {
        inputs::from_cyrus(path, &args.options).map(|target| vec![target])
    } else {
        Ok(vec![inputs::from_options(&args.options)])
    };
    let targets = match targets {
        Ok(targets) => targets,
        Err(e) => return usage_error(&e),
    };
    let mut sections: Vec<Section> = Vec::new();
    if let Some(limitation) = &access.limitation {
        sections.push(Section {
            source: None,
            lines: vec![Line::warn("user", limitation.clone(), hints::USER_LIMITED)],
        });
    }
    for target in &targets {
        sections.push(Section {
            source: target.source.clone(),
            lines: checks::run(target, &access, args.online),
        });
    }
    if args.json {
        print!("{}", report::json(&sections));
    } else {
        print!("{}", report::text(&sections));
    }
    if report::worst(&sections) == Status::Fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
