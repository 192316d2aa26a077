//! The checks of one configuration, in the order an operator fixes things:
//! options, krb5.conf, the keytab, the principal's keys, the replay cache,
//! then (with --online) the KDC, the clock and the self-test.

use crate::access::{Access, io_reason};
use crate::hints;
use crate::inputs::Target;
use crate::report::Line;
use kerbsasl::preflight::{
    Canonicalize, KdcReport, KeytabKey, KeytabLocation, Krb5Conf, Problem, ReplayCache, SelfTest,
    ask_kdc, hints as library, locate_keytab, locate_replay_cache, read_keytab, served_principals,
};
use kerbsasl::{Config, Server, ServicePrincipal};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// At most this many principals of a keytab get the online checks (for
/// `principal *`).
const MAX_ONLINE_PRINCIPALS: usize = 5;
/// A clock offset that is allowed but worth a warning.
const CLOCK_WARN_SECONDS: i64 = 60;

pub fn run(target: &Target, access: &Access, online: bool) -> Vec<Line> {
    let mut lines = target.findings.clone();
    let Some(options) = &target.options else {
        return lines;
    };
    let config = Config::from_options(options.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    match &config {
        Ok(_) => lines.push(Line::ok("options", describe_options(options))),
        Err(e) => lines.push(Line::fail("options", e.message(), hints::OPTIONS)),
    }
    let krb5 = match Krb5Conf::load() {
        Ok(krb5) => krb5,
        Err(e) => {
            lines.push(Line::fail(
                "krb5.conf",
                e.message(),
                hints::KRB5_CONF_MISSING,
            ));
            return lines;
        }
    };
    lines.push(krb5conf_line(&krb5));
    let Ok(config) = config else {
        return lines;
    };
    let default_realm = krb5.default_realm.as_ref().ok().map(String::as_str);
    if default_realm.is_none() {
        lines.push(Line::warn(
            "default realm",
            format!(
                "krb5.conf sets no default realm ({})",
                krb5.default_realm.as_ref().unwrap_err()
            ),
            hints::DEFAULT_REALM,
        ));
    }
    let location = match locate_keytab(&config) {
        Ok(location) => location,
        Err(e) => {
            lines.push(Line::fail(
                "keytab",
                e.message(),
                library::KEYTAB_UNREADABLE_HINT,
            ));
            return lines;
        }
    };
    let keys = keytab_lines(&mut lines, &location, access);
    let served = keys
        .as_deref()
        .map(|keys| served_principals(&config.principal, keys, default_realm))
        .unwrap_or_default();
    if let Some(keys) = &keys {
        lines.push(principal_line(&config, keys));
    }
    lines.extend(realm_lines(&config, &served, &krb5));
    lines.push(hostname_line(&config, &krb5));
    if let Some(keys) = &keys {
        lines.extend(key_lines(keys, &served, &krb5));
    }
    lines.push(replay_cache_line(&config, access, &krb5));
    if online {
        lines.extend(online_lines(&config, &served, &location, &krb5));
    }
    lines
}

fn describe_options(options: &[(String, String)]) -> String {
    if options.is_empty() {
        return "none given: principal * (any key in the default keytab)".to_string();
    }
    options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn krb5conf_line(krb5: &Krb5Conf) -> Line {
    let files: Vec<String> = krb5
        .files
        .iter()
        .map(|f| {
            let missing = if f.exists { "" } else { " (missing)" };
            format!("{}{missing}", f.path.display())
        })
        .collect();
    let via = if krb5.from_environment {
        " (from KRB5_CONFIG)"
    } else {
        ""
    };
    let realm = match &krb5.default_realm {
        Ok(realm) => realm.clone(),
        Err(_) => "none".to_string(),
    };
    let detail = format!(
        "{}{via}; default realm {realm}; clockskew {} s",
        files.join(", "),
        krb5.clockskew_seconds
    );
    if krb5.files.iter().any(|f| f.exists) {
        Line::ok("krb5.conf", detail)
    } else {
        Line::warn(
            "krb5.conf",
            format!("{detail}: no configuration file exists, libkrb5 runs on its defaults"),
            hints::KRB5_CONF_MISSING,
        )
    }
}

/// Lines about the keytab file; returns its keys when they could be read.
fn keytab_lines(
    lines: &mut Vec<Line>,
    location: &KeytabLocation,
    access: &Access,
) -> Option<Vec<KeytabKey>> {
    let name = &location.name;
    let source = if location.configured {
        "the keytab option"
    } else {
        "the default: KRB5_KTNAME, else krb5.conf default_keytab_name"
    };
    let Some(path) = &location.path else {
        lines.push(Line::ok(
            "keytab",
            format!("{name} ({source}): not a file, so only its keys are checked"),
        ));
        return keys_line(lines, name);
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            lines.push(Line::fail(
                "keytab",
                format!("cannot read keytab {name} ({source}): {}", io_reason(&e)),
                library::KEYTAB_UNREADABLE_HINT,
            ));
            return None;
        }
    };
    lines.push(Line::ok(
        "keytab",
        format!(
            "{name} ({source}): mode {:04o}, owner uid {}, group gid {}",
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid()
        ),
    ));
    match access.can_read(path) {
        Ok(()) => lines.push(Line::ok(
            "keytab access",
            format!("{} can read {}", access.who(), path.display()),
        )),
        Err(e) => {
            lines.push(Line::fail(
                "keytab access",
                format!("{} cannot read {}: {e}", access.who(), path.display()),
                hints::KEYTAB_ACCESS,
            ));
            if access.is_own() {
                // Nothing more can be learnt from a file this process cannot read.
                return None;
            }
        }
    }
    if meta.mode() & 0o004 != 0 {
        lines.push(Line::warn(
            "keytab mode",
            format!(
                "{} is readable by every user (mode {:04o})",
                path.display(),
                meta.mode() & 0o7777
            ),
            hints::KEYTAB_WORLD_READABLE,
        ));
    }
    keys_line(lines, name)
}

fn keys_line(lines: &mut Vec<Line>, name: &str) -> Option<Vec<KeytabKey>> {
    match read_keytab(name) {
        Ok(keys) if keys.is_empty() => {
            lines.push(Line::fail(
                "keytab keys",
                format!("{name} holds no keys"),
                library::NO_KEY_HINT,
            ));
            Some(keys)
        }
        Ok(keys) => {
            let listing: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{} kvno {} {} (written {})",
                        k.principal,
                        k.kvno,
                        k.enctype,
                        utc(k.written)
                    )
                })
                .collect();
            lines.push(Line::ok(
                "keytab keys",
                format!("{} keys:\n{}", keys.len(), listing.join("\n")),
            ));
            Some(keys)
        }
        Err(e) => {
            lines.push(Line::fail(
                "keytab keys",
                e.message(),
                hints::KEYTAB_UNREADABLE_FORMAT,
            ));
            None
        }
    }
}

/// Creates the server exactly as a broker does (keytab loaded, credential
/// acquired), without touching the configured replay cache.
fn principal_line(config: &Config, keys: &[KeytabKey]) -> Line {
    let mut probe = config.clone();
    probe.replay_cache = Some("none:".to_string());
    match Server::new(probe) {
        Ok(_) => Line::ok(
            "principal",
            format!("the keytab has keys for {}", config.principal.describe()),
        ),
        Err(e) => {
            let mut problem = Problem::from_error(&e);
            if let Some(near) = near_miss(&config.principal, keys) {
                problem.detail = format!("{}; did you mean {near}?", problem.detail);
            }
            Line::fail("principal", problem.detail, problem.hint)
        }
    }
}

/// A keytab principal a few typing errors away from the configured one.
fn near_miss(principal: &ServicePrincipal, keys: &[KeytabKey]) -> Option<String> {
    let wanted = match principal {
        ServicePrincipal::Principal(name) | ServicePrincipal::HostBased(name) => name,
        ServicePrincipal::Any => return None,
    };
    keys.iter()
        .map(|k| (edit_distance(wanted, &k.principal), &k.principal))
        .filter(|(distance, _)| (1..=3).contains(distance))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

fn realm_of(principal: &str) -> Option<&str> {
    kerbsasl::split_realm(principal).1
}

/// Whether each realm in play has KDCs: its keys' realms, else the
/// configured principal's, else the default realm.
fn realm_lines(config: &Config, served: &[String], krb5: &Krb5Conf) -> Vec<Line> {
    let mut realms: Vec<String> = Vec::new();
    for realm in served.iter().filter_map(|p| realm_of(p)) {
        if !realms.iter().any(|r| r == realm) {
            realms.push(realm.to_string());
        }
    }
    if realms.is_empty() {
        let configured = match &config.principal {
            ServicePrincipal::Principal(name) => realm_of(name).map(str::to_string),
            _ => None,
        };
        realms.extend(configured.or_else(|| krb5.default_realm.clone().ok()));
    }
    realms
        .iter()
        .map(|realm| {
            let kdcs = krb5.realm_kdcs(realm);
            if !kdcs.is_empty() {
                Line::ok("realm", format!("{realm}: KDC {}", kdcs.join(", ")))
            } else if krb5.dns_lookup_kdc {
                Line::ok(
                    "realm",
                    format!(
                        "{realm}: no kdc line in krb5.conf; its KDCs are looked up in DNS \
                         (dns_lookup_kdc = true)"
                    ),
                )
            } else {
                Line::fail(
                    "realm",
                    format!(
                        "realm {realm} is not in krb5.conf (no [realms] {realm} kdc line) and \
                         dns_lookup_kdc is false: nothing on this machine can find its KDC"
                    ),
                    hints::REALM_MISSING,
                )
            }
        })
        .collect()
}

/// What dns_canonicalize_hostname and rdns mean for this principal.
fn hostname_line(config: &Config, krb5: &Krb5Conf) -> Line {
    let setting = format!(
        "dns_canonicalize_hostname = {}, rdns = {}",
        match krb5.dns_canonicalize_hostname {
            Canonicalize::Dns => "true",
            Canonicalize::No => "false",
            Canonicalize::Fallback => "fallback",
        },
        krb5.rdns
    );
    match (&config.principal, krb5.dns_canonicalize_hostname) {
        (_, Canonicalize::No) => Line::ok(
            "hostname",
            format!("{setting}: host names are used as written"),
        ),
        (ServicePrincipal::HostBased(name), _) => {
            let (service, host) = name.split_once('@').unwrap_or((name, ""));
            match krb5.host_based_principal(service, host) {
                Ok(found) if found.split('@').next() == Some(&format!("{service}/{host}")) => {
                    Line::ok("hostname", format!("{setting}: {name} stays {found}"))
                }
                Ok(found) => Line::warn(
                    "hostname",
                    format!(
                        "{setting}: the acceptor canonicalises {name} through DNS to {found}, \
                         which the keytab must hold (and clients must ask for)"
                    ),
                    hints::HOSTNAME,
                ),
                Err(e) => Line::warn("hostname", format!("{setting}: {e}"), hints::HOSTNAME),
            }
        }
        _ => Line::ok(
            "hostname",
            format!(
                "{setting}: clients with these settings canonicalise the host name they \
                 connect to through DNS{} before asking for a ticket, so an alias leads to the \
                 canonical name's principal",
                if krb5.rdns {
                    " (and a reverse lookup)"
                } else {
                    ""
                }
            ),
        ),
    }
}

/// Enctypes and key versions of the keys the server would use.
fn key_lines(keys: &[KeytabKey], served: &[String], krb5: &Krb5Conf) -> Vec<Line> {
    let mut lines = Vec::new();
    for principal in served {
        let own: Vec<&KeytabKey> = keys.iter().filter(|k| &k.principal == principal).collect();
        let (permitted, refused): (Vec<&KeytabKey>, Vec<&KeytabKey>) = own
            .iter()
            .partition(|k| krb5.permitted_enctypes.contains(&k.enctype));
        let names = |keys: &[&KeytabKey]| {
            let mut names: Vec<&str> = keys.iter().map(|k| k.enctype.as_str()).collect();
            names.dedup();
            names.join(", ")
        };
        if permitted.is_empty() {
            lines.push(Line::fail(
                "enctypes",
                format!(
                    "{principal}: krb5.conf permits none of the keytab's enctypes ({}); \
                     permitted: {}",
                    names(&refused),
                    krb5.permitted_enctypes.join(", ")
                ),
                hints::ENCTYPES,
            ));
        } else if refused.is_empty() {
            lines.push(Line::ok(
                "enctypes",
                format!("{principal}: {}", names(&permitted)),
            ));
        } else {
            lines.push(Line::ok(
                "enctypes",
                format!(
                    "{principal}: {} (unused, as krb5.conf does not permit them: {})",
                    names(&permitted),
                    names(&refused)
                ),
            ));
        }
        let mut kvnos: Vec<u32> = own.iter().map(|k| k.kvno).collect();
        kvnos.sort_unstable();
        kvnos.dedup();
        let list = kvnos
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        lines.push(Line::ok(
            "kvno",
            if kvnos.len() > 1 {
                format!(
                    "{principal}: kvnos {list}, fine: tickets issued before the last key change \
                     still work until they expire"
                )
            } else {
                format!("{principal}: kvno {list}")
            },
        ));
    }
    lines
}

fn replay_cache_line(config: &Config, access: &Access, krb5: &Krb5Conf) -> Line {
    match locate_replay_cache(config, access.subject.uid, krb5) {
        ReplayCache::Disabled { source } => Line::warn(
            "replay cache",
            format!(
                "none: (from {source}): {}",
                library::REPLAY_CACHE_OFF_WARNING
            ),
            hints::REPLAY_CACHE_OFF,
        ),
        ReplayCache::Other { name, source } => Line::ok(
            "replay cache",
            format!("{name} (from {source}): not a file, not checked"),
        ),
        ReplayCache::File { path, source } => {
            let dir = path.parent().unwrap_or(Path::new("/"));
            let owner = std::fs::metadata(&path).ok().map(|m| m.uid());
            if !dir.is_dir() {
                Line::fail(
                    "replay cache",
                    format!(
                        "{} (from {source}): the directory {} does not exist",
                        path.display(),
                        dir.display()
                    ),
                    library::REPLAY_CACHE_HINT,
                )
            } else if owner.is_some_and(|uid| uid != access.subject.uid) {
                Line::fail(
                    "replay cache",
                    format!(
                        "{} (from {source}) is owned by uid {}, not by {} (uid {}); MIT refuses \
                         a replay cache file its user does not own",
                        path.display(),
                        owner.unwrap_or_default(),
                        access.who(),
                        access.subject.uid
                    ),
                    hints::REPLAY_CACHE_OWNER,
                )
            } else {
                match access.can_use_replay_cache(&path) {
                    Ok(()) => Line::ok(
                        "replay cache",
                        format!(
                            "{} can write {} (from {source})",
                            access.who(),
                            path.display()
                        ),
                    ),
                    Err(e) => Line::fail(
                        "replay cache",
                        format!(
                            "{} cannot write {} (from {source}): {e}",
                            access.who(),
                            path.display()
                        ),
                        library::REPLAY_CACHE_HINT,
                    ),
                }
            }
        }
    }
}

fn online_lines(
    config: &Config,
    served: &[String],
    location: &KeytabLocation,
    krb5: &Krb5Conf,
) -> Vec<Line> {
    let mut lines = Vec::new();
    if served.is_empty() {
        lines.push(Line::warn(
            "kdc",
            "not asked: the keytab holds no key of the principal to ask with",
            hints::KDC_NOT_ASKED,
        ));
    }
    let mut realms_done: Vec<String> = Vec::new();
    for principal in served.iter().take(MAX_ONLINE_PRINCIPALS) {
        let report = ask_kdc(config, principal, location);
        let realm = realm_of(principal).unwrap_or("?").to_string();
        let first_of_realm = !realms_done.contains(&realm);
        if let Err(why) = &report.reached {
            lines.push(Line::fail(
                "kdc",
                format!("no KDC of {realm} answered: {why}; the clock and the self-test need one"),
                hints::KDC_UNREACHABLE,
            ));
            realms_done.push(realm);
            continue;
        }
        if first_of_realm {
            lines.push(Line::ok("kdc", format!("a KDC of {realm} answered")));
            lines.extend(clock_line(&report, krb5));
            realms_done.push(realm);
        }
        lines.push(match &report.self_test {
            SelfTest::Passed { detail } => Line::ok("self-test", detail.clone()),
            SelfTest::Skipped { detail } => {
                Line::warn("self-test", detail.clone(), hints::SELF_TEST_SKIPPED)
            }
            SelfTest::Failed(problem) => {
                Line::fail("self-test", problem.detail.clone(), problem.hint.clone())
            }
            SelfTest::NotRun => Line::warn(
                "self-test",
                format!("not run for {principal}"),
                hints::SELF_TEST_SKIPPED,
            ),
        });
    }
    if served.len() > MAX_ONLINE_PRINCIPALS {
        lines.push(Line::ok(
            "self-test",
            format!(
                "only the first {MAX_ONLINE_PRINCIPALS} of the keytab's {} principals were tested",
                served.len()
            ),
        ));
    }
    lines
}

fn clock_line(report: &KdcReport, krb5: &Krb5Conf) -> Option<Line> {
    let offset = report.clock_offset?;
    let skew = krb5.clockskew_seconds as i64;
    let apart = if offset == 0 {
        "agrees with this machine's (within a second)".to_string()
    } else {
        format!(
            "is {} s {} this machine's",
            offset.abs(),
            if offset > 0 { "ahead of" } else { "behind" }
        )
    };
    let detail = format!("the KDC's clock {apart}; krb5.conf clockskew is {skew} s");
    Some(if offset.abs() > skew {
        Line::fail("clock", detail, library::SKEW_HINT)
    } else if offset.abs() > CLOCK_WARN_SECONDS {
        Line::warn("clock", detail, hints::CLOCK_CLOSE)
    } else {
        Line::ok("clock", detail)
    })
}

/// `2024-06-01 10:00:00 UTC` for seconds since the epoch.
fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_210_096), "2024-02-29 12:34:56 UTC");
    }

    #[test]
    fn finds_near_misses() {
        assert_eq!(edit_distance("mqtt/h@R", "mqtt/h@R"), 0);
        assert_eq!(edit_distance("mqtt/hots@R", "mqtt/host@R"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        let keys = vec![KeytabKey {
            principal: "mqtt/broker.example.com@EXAMPLE.COM".into(),
            kvno: 2,
            enctype: "aes256-cts-hmac-sha1-96".into(),
            written: 0,
        }];
        let typo = ServicePrincipal::parse("mqtt/broker.exmaple.com@EXAMPLE.COM").unwrap();
        assert_eq!(
            near_miss(&typo, &keys).as_deref(),
            Some("mqtt/broker.example.com@EXAMPLE.COM")
        );
        let other = ServicePrincipal::parse("amqp/other.host@OTHER.ORG").unwrap();
        assert_eq!(near_miss(&other, &keys), None);
    }
}
