//! Runs a command inside a throwaway Kerberos realm.
//!
//! Usage: testrealm [--clockskew SECONDS] [--partner] [--anonymous] -- COMMAND [ARGS...]
//!        testrealm [--clockskew SECONDS] [--partner] [--anonymous] --serve
//!
//! The realm (see tests/support/realm.rs) has users alice and bob, the
//! service mqtt/broker.kerbsasl.test with its keytab, and alice's TGT. The
//! command gets KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME, KRB5RCACHEDIR,
//! KRB5_KTNAME and KERBSASL_TEST_{DIR,KDC_PORT,REALM,SERVICE,PASSWORD};
//! the realm is torn down when it exits, and its status is ours. With
//! --partner, a second realm PARTNER.TEST trusted by the first runs too
//! (user alice@PARTNER.TEST), and
//! KERBSASL_TEST_PARTNER_REALM names it. With --anonymous the KDC issues
//! anonymous tickets (anonymous PKINIT, `kinit -n`) and
//! KERBSASL_TEST_ANONYMOUS_CCACHE holds one.
//!
//! With --serve it prints those variables instead (KEY=VALUE lines, then
//! `ready`) and keeps the realm until its stdin closes: for a test runner
//! started before the realm, such as the Erlang suite's EUnit fixture,
//! which runs this as a port and sets the variables in its own VM.

#[path = "../support/realm.rs"]
mod realm;

use std::io::Write;
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (options, command) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!(
                "testrealm: {message}\nusage: testrealm [--clockskew SECONDS] [--partner] [--anonymous] -- COMMAND [ARGS...]\n       \
                 testrealm [--clockskew SECONDS] [--partner] [--anonymous] --serve"
            );
            std::process::exit(2);
        }
    };
    let realm = realm::Realm::start(&options);
    let Some(command) = command else {
        serve(realm);
        return;
    };
    let status = Command::new(&command[0])
        .args(&command[1..])
        .envs(realm.env())
        .status();
    drop(realm);
    match status {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("testrealm: cannot run {}: {e}", command[0]);
            std::process::exit(127);
        }
    }
}

/// Prints the realm's environment, then holds it until stdin closes.
fn serve(realm: realm::Realm) {
    let mut out = std::io::stdout().lock();
    for (key, value) in realm.env() {
        let _ = writeln!(out, "{key}={value}");
    }
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    drop(out);
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    drop(realm);
}

/// The realm's options and the command to run (None: --serve).
fn parse(args: &[String]) -> Result<(realm::RealmOptions, Option<&[String]>), String> {
    let mut options = realm::RealmOptions::default();
    let mut rest = args;
    loop {
        match rest {
            [flag, value, tail @ ..] if flag == "--clockskew" => {
                let seconds = value
                    .parse()
                    .map_err(|_| format!("bad --clockskew {value:?}"))?;
                options.clockskew = Some(seconds);
                rest = tail;
            }
            [flag, tail @ ..] if flag == "--partner" => {
                options.partner = true;
                rest = tail;
            }
            [flag, tail @ ..] if flag == "--anonymous" => {
                options.anonymous = true;
                rest = tail;
            }
            [dashes, command @ ..] if dashes == "--" && !command.is_empty() => {
                return Ok((options, Some(command)));
            }
            [serve] if serve == "--serve" => return Ok((options, None)),
            _ => return Err("expected -- COMMAND or --serve".into()),
        }
    }
}
