//! kerbsasl-check against a real MIT KDC: the good setup passes, and each
//! broken setup is named by its own FAIL line with the fix. Every test has
//! its own throwaway realm (tests/support/realm.rs), so tests may break it.

#[path = "../../tests/support/realm.rs"]
mod realm;

use realm::{HOST, REALM, Realm, RealmOptions, SERVICE};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kerbsasl-check");

/// What one run printed and returned.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Each line of `check` with `status`, with the lines after it that
    /// belong to it (continuations and the fix).
    fn lines(&self, status: &str, check: &str) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut current: Option<String> = None;
        for line in self.stdout.lines() {
            if let Some(text) = current.as_mut() {
                if line.starts_with("  ") {
                    text.push('\n');
                    text.push_str(line.trim());
                    continue;
                }
                found.extend(current.take());
            }
            let rest = line.strip_prefix(status).map(str::trim_start);
            if line.split_whitespace().next() == Some(status)
                && rest.is_some_and(|r| r.starts_with(&format!("{check}  ")))
            {
                current = Some(line.to_string());
            }
        }
        found.extend(current);
        found
    }

    /// Asserts that some `status` line of `check` contains every fragment.
    #[track_caller]
    fn assert_line(&self, status: &str, check: &str, fragments: &[&str]) {
        let lines = self.lines(status, check);
        assert!(
            lines
                .iter()
                .any(|line| fragments.iter().all(|f| line.contains(f))),
            "no {status} {check} line has all of {fragments:?}; whole output:\n{}",
            self.stdout
        );
    }

    #[track_caller]
    fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }

    fn fails(&self) -> usize {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("FAIL "))
            .count()
    }
}

fn run(command: &mut Command) -> Run {
    let output = command.output().expect("run kerbsasl-check");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn check(realm: &Realm, args: &[&str]) -> Run {
    run(realm.command(BIN).args(args))
}

fn keytab(realm: &Realm) -> String {
    realm.path("mqtt.keytab").display().to_string()
}

/// The options of the realm's good configuration.
fn good_options(realm: &Realm) -> Vec<String> {
    vec![
        "-o".into(),
        format!("principal={SERVICE}"),
        "-o".into(),
        format!("keytab={}", keytab(realm)),
    ]
}

fn check_good(realm: &Realm, extra: &[&str]) -> Run {
    let mut args = good_options(realm);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check(realm, &args)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn start() -> Realm {
    Realm::start(&RealmOptions::default())
}

#[test]
fn good_configuration_passes_online() {
    let realm = start();
    let run = check_good(&realm, &["--online"]);
    run.assert_code(0);
    assert_eq!(run.fails(), 0, "{}", run.stdout);
    run.assert_line("ok", "principal", &["the keytab has keys for", SERVICE]);
    run.assert_line("ok", "realm", &[REALM, "KDC 127.0.0.1:"]);
    run.assert_line("ok", "kdc", &["answered"]);
    run.assert_line("ok", "clock", &["agrees"]);
    run.assert_line(
        "ok",
        "self-test",
        &[
            SERVICE,
            "was accepted",
            "the KDC issued kvno 1, the keytab holds kvno 1",
        ],
    );
    assert!(
        run.stdout.ends_with("0 FAIL, 0 warn, 14 ok\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_keytab_fails_with_the_path() {
    let realm = start();
    let missing = realm.path("no-such.keytab").display().to_string();
    let run = check(
        &realm,
        &[
            "-o",
            &format!("principal={SERVICE}"),
            "-o",
            &format!("keytab={missing}"),
        ],
    );
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "keytab",
        &[
            &format!("cannot read keytab FILE:{missing} (the keytab option)"),
            "No such file",
            "fix: set the keytab option to the path of the service's keytab",
        ],
    );
    // Checks that need no keytab still run.
    run.assert_line("ok", "krb5.conf", &["default realm KERBSASL.TEST"]);
}

#[test]
fn keytab_unreadable_for_the_broker_user() {
    if !is_root() {
        eprintln!("skipped: --user needs root");
        return;
    }
    let realm = start();
    // kadmin wrote the keytab mode 0600, owned by root.
    let run = check_good(&realm, &["--user", "nobody"]);
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "keytab access",
        &[
            "user nobody cannot read",
            "Permission denied",
            "fix: let the broker's user read the keytab",
        ],
    );
    // The same keytab, readable by everyone: nobody reads it, with a warning.
    let open = realm.path("open.keytab");
    std::fs::copy(realm.path("mqtt.keytab"), &open).unwrap();
    set_mode(&open, 0o644);
    let run = check(
        &realm,
        &[
            "-o",
            &format!("principal={SERVICE}"),
            "-o",
            &format!("keytab={}", open.display()),
            "--user",
            "nobody",
        ],
    );
    run.assert_line("ok", "keytab access", &["user nobody can read"]);
    run.assert_line(
        "warn",
        "keytab mode",
        &["readable by every user (mode 0644)", "fix: ", "chmod 600"],
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn keytab_without_the_principal() {
    let realm = start();
    let other = realm.path("other.keytab");
    realm.export_keytab(&other, &[&format!("other/{HOST}@{REALM}")]);
    let run = check(
        &realm,
        &[
            "-o",
            &format!("principal={SERVICE}"),
            "-o",
            &format!("keytab={}", other.display()),
        ],
    );
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "principal",
        &[
            &format!("has no key for {SERVICE}"),
            &format!("it holds keys for: other/{HOST}@{REALM}"),
            "fix: export the service's key into this keytab (kadmin: ktadd -k FILE PRINCIPAL)",
        ],
    );
}

#[test]
fn principal_typo_is_named_with_the_likely_intent() {
    let realm = start();
    let typo = format!("mqtt/broker.kerbsasl.tset@{REALM}");
    let run = check(
        &realm,
        &[
            "-o",
            &format!("principal={typo}"),
            "-o",
            &format!("keytab={}", keytab(&realm)),
        ],
    );
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "principal",
        &[
            &format!("has no key for {typo}"),
            &format!("did you mean {SERVICE}?"),
            "fix: export the service's key",
        ],
    );
}

#[test]
fn realm_missing_from_krb5_conf() {
    let realm = start();
    // The realm's krb5.conf without its [realms] section.
    let original = std::fs::read_to_string(realm.path("krb5.conf")).unwrap();
    let start = original.find("[realms]").unwrap();
    let end = original.find("[domain_realm]").unwrap();
    let without = format!("{}{}", &original[..start], &original[end..]);
    let conf = realm.path("no-realm.conf");
    std::fs::write(&conf, without).unwrap();
    let mut args = good_options(&realm);
    args.push("--online".into());
    let run = run(realm.command(BIN).args(&args).env("KRB5_CONFIG", &conf));
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "realm",
        &[
            &format!("realm {REALM} is not in krb5.conf"),
            "dns_lookup_kdc is false",
            "fix: add the realm to krb5.conf",
        ],
    );
    // The keytab itself is fine: only the realm is named.
    run.assert_line("ok", "principal", &[SERVICE]);
    run.assert_line("FAIL", "kdc", &[&format!("no KDC of {REALM} answered")]);
}

#[test]
fn key_rotated_at_the_kdc_fails_the_self_test_with_both_kvnos() {
    let realm = start();
    // ktadd without -norandkey would do the same: a new key, kvno 2.
    realm.kadmin(&[format!("cpw -randkey {SERVICE}")]);
    let run = check_good(&realm, &["--online"]);
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "self-test",
        &[
            &format!("the KDC's key for {SERVICE} is kvno 2"),
            "holds kvno 1",
            "fix: the keytab lacks the key version (kvno)",
            "export the current key",
        ],
    );
    // Offline, nothing is wrong yet: the keytab matches itself.
    assert_eq!(run.fails(), 1, "{}", run.stdout);
}

#[test]
fn kdc_stopped_fails_online_and_offline_checks_still_run() {
    let realm = start();
    let pid = std::fs::read_to_string(realm.path("kdc.pid")).expect("krb5kdc wrote its pid");
    let status = Command::new("kill").arg(pid.trim()).status().unwrap();
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let run = check_good(&realm, &["--online"]);
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "kdc",
        &[
            &format!("no KDC of {REALM} answered: Cannot contact any KDC"),
            "fix: start the KDC",
        ],
    );
    run.assert_line("ok", "principal", &[SERVICE]);
    run.assert_line("ok", "keytab keys", &["kvno 1"]);
    assert_eq!(run.fails(), 1, "{}", run.stdout);
    // Without --online the same setup passes.
    check_good(&realm, &[]).assert_code(0);
}

#[test]
fn clock_skew_fails_under_faketime() {
    let realm = start();
    let mut args = vec!["-f".to_string(), "+10m".to_string(), BIN.to_string()];
    args.extend(good_options(&realm));
    args.push("--online".into());
    let run = run(realm.command("faketime").args(&args));
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "clock",
        &[
            "the KDC's clock is 600 s behind this machine's",
            "clockskew is 300 s",
            "fix: ",
            "NTP",
        ],
    );
    // Two minutes off is allowed, with a warning.
    let mut args = vec!["-f".to_string(), "-2m".to_string(), BIN.to_string()];
    args.extend(good_options(&realm));
    args.push("--online".into());
    let run = self::run(realm.command("faketime").args(&args));
    run.assert_line("warn", "clock", &["120 s ahead of this machine's"]);
}

#[test]
fn mosquitto_conf_with_two_listeners_checks_each() {
    let realm = start();
    let plugin = realm.path("libkerbsasl.so");
    std::fs::write(&plugin, "").unwrap();
    let missing = realm.path("listener2.keytab");
    let conf = realm.path("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings true\n\
             listener 1883 127.0.0.1\n\
             plugin {plugin}\n\
             plugin_opt_principal {SERVICE}\n\
             plugin_opt_keytab {keytab}\n\
             plugin_opt_auth_method GSSAPI-KERBEROS\n\
             plugin_opt_allow_username_slash true\n\
             plugin_opt_local_realms {REALM}\n\
             listener 8883\n\
             plugin {plugin}\n\
             plugin_opt_principal {SERVICE}\n\
             plugin_opt_keytab {missing}\n",
            plugin = plugin.display(),
            keytab = keytab(&realm),
            missing = missing.display(),
        ),
    )
    .unwrap();
    let conf = conf.display().to_string();
    let run = check(&realm, &["--mosquitto-conf", &conf]);
    run.assert_code(1);
    let sections: Vec<&str> = run.stdout.split("== ").skip(1).collect();
    assert_eq!(sections.len(), 2, "{}", run.stdout);
    assert!(sections[0].starts_with(&format!("{conf}:3 (listener 1883 127.0.0.1: plugin")));
    assert!(!sections[0].contains("FAIL"), "{}", sections[0]);
    assert!(
        sections[0].contains(&format!("principal={SERVICE}")),
        "{}",
        sections[0]
    );
    assert!(sections[1].starts_with(&format!("{conf}:10 (listener 8883: plugin")));
    // Options are sorted as the plugin sorts them: its own, kerbsasl's,
    // and unknown ones.
    assert!(
        sections[0].contains(&format!("local_realms={REALM}")),
        "{}",
        sections[0]
    );
    assert!(
        !sections[0].contains("allow_username_slash"),
        "{}",
        sections[0]
    );
    let keytab_failure = format!("cannot read keytab FILE:{}", missing.display());
    assert!(
        sections[1]
            .lines()
            .any(|l| l.starts_with("FAIL  keytab ") && l.contains(&keytab_failure)),
        "{}",
        sections[1]
    );
}

#[test]
fn mosquitto_conf_problems_fail() {
    let realm = start();
    let conf = realm.path("plain.conf");
    std::fs::write(&conf, "listener 1883\nplugin_opt_keytab /k\n").unwrap();
    let run = check(&realm, &["--mosquitto-conf", &conf.display().to_string()]);
    run.assert_code(1);
    run.assert_line("FAIL", "mosquitto.conf", &["comes before any plugin line"]);
    run.assert_line("FAIL", "mosquitto.conf", &["no plugin line"]);

    std::fs::write(
        &conf,
        format!(
            "plugin {}\nplugin_opt_colour blue\n",
            realm.path("no/libkerbsasl.so").display()
        ),
    )
    .unwrap();
    let run = check(&realm, &["--mosquitto-conf", &conf.display().to_string()]);
    run.assert_code(1);
    run.assert_line("FAIL", "plugin", &["Mosquitto cannot load", "no such file"]);
    run.assert_line("FAIL", "options", &["unknown option plugin_opt_colour"]);
}

#[test]
fn cyrus_conf_is_read_like_libsasl2() {
    let realm = start();
    let conf = realm.path("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "mech_list: GSSAPI\nkeytab: {}\nkerbsasl_principal: {SERVICE}\nkerbsasl_strip_realm: true\n",
            keytab(&realm)
        ),
    )
    .unwrap();
    let run = check(
        &realm,
        &["--cyrus-conf", &conf.display().to_string(), "--online"],
    );
    run.assert_code(0);
    run.assert_line(
        "ok",
        "options",
        &[&format!(
            "keytab={}, principal={SERVICE}, strip_realm=true",
            keytab(&realm)
        )],
    );
    run.assert_line(
        "ok",
        "self-test",
        &["was accepted, username mqtt/broker.kerbsasl.test ("],
    );

    std::fs::write(&conf, "keytab /etc/krb5.keytab\nkerbsasl_colour: blue\n").unwrap();
    let run = check(&realm, &["--cyrus-conf", &conf.display().to_string()]);
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "cyrus conf",
        &["slapd.conf:1: expected \"key: value\""],
    );
    run.assert_line("FAIL", "options", &["unknown option \"colour\""]);
}

#[test]
fn bad_options_fail_with_the_library_message() {
    let realm = start();
    let run = check(&realm, &["-o", "strip_realm=maybe"]);
    run.assert_code(1);
    run.assert_line(
        "FAIL",
        "options",
        &[
            "option \"strip_realm\" must be true or false",
            "fix: correct the option as the message says",
        ],
    );
}

#[test]
fn kdc_refusing_the_service_as_a_client_skips_the_self_test() {
    let realm = start();
    realm.kadmin(&[format!("modprinc +requires_hwauth {SERVICE}")]);
    let run = check_good(&realm, &["--online"]);
    run.assert_code(0);
    run.assert_line(
        "warn",
        "self-test",
        &[
            &format!("the KDC does not issue tickets to {SERVICE} itself"),
            "fix: nothing to fix",
        ],
    );
}

#[test]
fn json_carries_the_same_checks() {
    let realm = start();
    realm.kadmin(&[format!("cpw -randkey {SERVICE}")]);
    let text = check_good(&realm, &["--online"]);
    let json = check_good(&realm, &["--online", "--json"]);
    json.assert_code(1);
    let document: Value = serde_json::from_str(&json.stdout).expect("--json prints JSON");
    assert_eq!(document["status"], "FAIL");
    assert_eq!(document["summary"]["FAIL"], 1);
    let checks = document["checks"].as_array().unwrap();
    let text_checks: Vec<(String, String)> = text
        .stdout
        .lines()
        .filter(|l| l.starts_with(['o', 'w', 'F']) && !l.starts_with("kerbsasl-check"))
        .map(|l| {
            let mut words = l.split_whitespace();
            let status = words.next().unwrap().to_string();
            (status, l[4..].trim_start().to_string())
        })
        .collect();
    assert_eq!(checks.len(), text_checks.len());
    for (check, (status, text_line)) in checks.iter().zip(&text_checks) {
        assert_eq!(&check["status"], status.as_str());
        assert!(
            text_line.starts_with(check["check"].as_str().unwrap()),
            "{text_line}"
        );
    }
    let failed = checks.iter().find(|c| c["status"] == "FAIL").unwrap();
    assert_eq!(failed["check"], "self-test");
    assert!(failed["detail"].as_str().unwrap().contains("kvno 2"));
    assert!(
        failed["hint"]
            .as_str()
            .unwrap()
            .contains("export the current key")
    );
}

#[test]
fn usage_errors_exit_2() {
    let realm = start();
    let cases: &[&[&str]] = &[
        &["-o", "principal"],
        &["--no-such-flag"],
        &["--mosquitto-conf", "/nonexistent/mosquitto.conf"],
        &["--cyrus-conf", "/nonexistent/app.conf"],
        &["--mosquitto-conf", "/a", "--cyrus-conf", "/b"],
        &["--user", "no-such-user-kerbsasl"],
    ];
    for args in cases {
        let run = check(&realm, args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    let help = check(&realm, &["--help"]);
    help.assert_code(0);
    assert!(help.stdout.contains("--mosquitto-conf"));
}
