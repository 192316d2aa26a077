//! Command line and configuration file: `--listen`, `-o KEY=VALUE` and
//! `--config FILE` with one `key value` per line, merged into the
//! library's options and the daemon's own settings.

use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The daemon's own keys; every other key goes to the library.
const DAEMON_KEYS: &[&str] = &[
    "listen",
    "log_level",
    "health_path",
    "session_secret_file",
    "session_ttl",
    "session_cookie",
    "session_secure",
];

pub const DEFAULT_HEALTH_PATH: &str = "/.kerbsasl/health";
/// The `__Host-` prefix makes browsers refuse the cookie unless it is
/// Secure, `Path=/` and without `Domain`, so a sibling subdomain cannot
/// plant its own session cookie on this host.
pub const DEFAULT_COOKIE: &str = "__Host-kerbsasl_session";
/// With `session_secure false` (plain HTTP), where browsers refuse `__Host-`.
pub const DEFAULT_COOKIE_INSECURE: &str = "kerbsasl_session";
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);

const AFTER_HELP: &str = "\
Every request is a forward-auth question about its Authorization header
(HTTP Negotiate, RFC 4559), whatever its path:
  200  authenticated; headers X-Remote-User (the mapped username),
       X-Kerberos-Principal, X-Kerberos-Realm, and WWW-Authenticate:
       Negotiate <token> when Kerberos produced a mutual-auth token
  401  no credentials, or they failed: WWW-Authenticate: Negotiate and a
       short body; the reason goes to the log, never to the client
except GET/HEAD on the health path (default /.kerbsasl/health), which
answers 200 \"ok\" for liveness checks. The proxy must send authd a fixed
path (as the README's nginx, Traefik and Caddy configurations do), not the
client's.

Keys, for -o KEY=VALUE or `key value` lines in --config (-o wins; '#'
starts a comment at the start of a line or after a space):
  kerbsasl's own (see the README's Options table):
    principal          HTTP/www.example.com@EXAMPLE.COM, or * (default:
                       any principal in the keytab)
    keytab             path of the service keytab (default: KRB5_KTNAME)
    strip_realm        true: X-Remote-User is alice, not alice@EXAMPLE.COM
                       (for the local realms only)
    local_realms       REALM[,REALM...]: the realms strip_realm shortens
    auth_to_local      true: X-Remote-User from krb5.conf auth_to_local rules
    allowed_realms     REALM[,REALM...]: refuse clients of other realms
    replay_cache       dfl: (default), file2:/path, none: (not recommended)
  the daemon's:
    listen             HOST:PORT, as --listen
    log_level          error, warn, info (default) or debug (logs successes)
    health_path        the liveness path (default /.kerbsasl/health)
    session_secret_file  turns sessions on: after Kerberos succeeds, answer
                       with a signed cookie that later requests may show
                       instead; the file holds the HMAC key (at least 32
                       bytes, e.g. head -c 32 /dev/urandom > FILE)
    session_ttl        cookie lifetime: 3600 (seconds), 90s, 30m, 8h, 1d
                       (default 1h)
    session_cookie     cookie name (default __Host-kerbsasl_session, or
                       kerbsasl_session with session_secure false)
    session_secure     false drops the cookie's Secure flag, for plain-HTTP
                       tests only (default true)

Exit status: 0 after SIGTERM or SIGINT, 2 for bad options or a server that
cannot be set up (nothing is listened on then), 1 if the address cannot be
bound.";

/// Kerberos single sign-on for HTTP services behind a reverse proxy.
#[derive(Parser, Debug)]
#[command(
    name = "kerbsasl-authd",
    version,
    about = "Kerberos (HTTP Negotiate) single sign-on for services behind a reverse proxy",
    long_about = "Kerberos (HTTP Negotiate) single sign-on for any HTTP service behind a \
                  reverse proxy that can ask another service \"who is this?\": nginx \
                  auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz.",
    after_long_help = AFTER_HELP
)]
struct Cli {
    /// Address to listen on, e.g. 127.0.0.1:8095.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// An option (repeatable); see the keys below.
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    option: Vec<String>,
    /// A file of `key value` lines.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Sessions, when `session_secret_file` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    pub secret_file: PathBuf,
    pub ttl: Duration,
    pub cookie: String,
    pub secure: bool,
}

/// Everything the daemon was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: String,
    /// For `kerbsasl::Server::from_options`, in the order given.
    pub library: Vec<(String, String)>,
    pub log_level: log::LevelFilter,
    pub health_path: String,
    pub sessions: Option<SessionOptions>,
}

impl Settings {
    /// Parses the process's arguments; `--help`, `--version` and usage
    /// errors end the process (the latter with status 2).
    pub fn from_args() -> Result<Settings, String> {
        Settings::from_cli(Cli::parse())
    }

    #[cfg(test)]
    fn try_from_args(args: &[&str]) -> Result<Settings, String> {
        let cli =
            Cli::try_parse_from(std::iter::once("kerbsasl-authd").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
        Settings::from_cli(cli)
    }

    fn from_cli(cli: Cli) -> Result<Settings, String> {
        let mut pairs = match &cli.config {
            Some(file) => read_config_file(file)?,
            None => Vec::new(),
        };
        let mut given = Vec::new();
        for option in &cli.option {
            let (key, value) = option
                .split_once('=')
                .ok_or_else(|| format!("-o {option:?}: expected KEY=VALUE"))?;
            let key = key.trim();
            if given.contains(&key) {
                return Err(format!("option {key:?} is given more than once with -o"));
            }
            given.push(key);
            override_pair(&mut pairs, key, value.trim());
        }
        if let Some(listen) = &cli.listen {
            override_pair(&mut pairs, "listen", listen);
        }
        Settings::from_pairs(pairs)
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> Result<Settings, String> {
        let mut settings = Settings {
            listen: String::new(),
            library: Vec::new(),
            log_level: log::LevelFilter::Info,
            health_path: DEFAULT_HEALTH_PATH.to_string(),
            sessions: None,
        };
        let mut secret_file = None;
        let mut ttl = None;
        let mut cookie = None;
        let mut secure = None;
        for (key, value) in pairs {
            match key.as_str() {
                "listen" => settings.listen = parse_listen(&value)?,
                "log_level" => settings.log_level = parse_log_level(&value)?,
                "health_path" => settings.health_path = parse_health_path(&value)?,
                "session_secret_file" => secret_file = Some(parse_path(&key, &value)?),
                "session_ttl" => ttl = Some(parse_ttl(&value)?),
                "session_cookie" => cookie = Some(parse_cookie_name(&value)?),
                "session_secure" => {
                    secure =
                        Some(kerbsasl::parse_bool_option(&key, &value).map_err(|e| e.to_string())?)
                }
                _ if kerbsasl::OPTION_KEYS.contains(&key.as_str()) => {
                    settings.library.push((key, value))
                }
                _ => {
                    return Err(format!(
                        "unknown option {key:?}; known options: {}, {}",
                        kerbsasl::OPTION_KEYS.join(", "),
                        DAEMON_KEYS.join(", ")
                    ));
                }
            }
        }
        if settings.listen.is_empty() {
            return Err("no address to listen on: give --listen HOST:PORT".into());
        }
        settings.sessions = match secret_file {
            Some(secret_file) => {
                let secure = secure.unwrap_or(true);
                let cookie = match cookie {
                    Some(name) if !secure && has_secure_prefix(&name) => {
                        return Err(format!(
                            "session_cookie {name:?} has a prefix browsers accept only on \
                             Secure cookies, but session_secure is false: choose another name"
                        ));
                    }
                    Some(name) => name,
                    None if secure => DEFAULT_COOKIE.to_string(),
                    None => DEFAULT_COOKIE_INSECURE.to_string(),
                };
                Some(SessionOptions {
                    secret_file,
                    ttl: ttl.unwrap_or(DEFAULT_SESSION_TTL),
                    cookie,
                    secure,
                })
            }
            None if ttl.is_some() || cookie.is_some() || secure.is_some() => {
                return Err(
                    "session_ttl, session_cookie and session_secure need sessions: \
                            set session_secret_file too"
                        .into(),
                );
            }
            None => None,
        };
        Ok(settings)
    }

    /// The library options as `from_options` takes them.
    pub fn library_options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.library.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Replaces the value of `key` (a command-line option wins over the file)
/// or appends it.
fn override_pair(pairs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(pair) => pair.1 = value.to_string(),
        None => pairs.push((key.to_string(), value.to_string())),
    }
}

fn read_config_file(file: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read --config {}: {e}", file.display()))?;
    parse_config(&text).map_err(|(line, message)| format!("{}:{line}: {message}", file.display()))
}

/// Parses `key value` lines; errors carry the 1-based line number.
fn parse_config(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .unwrap_or((line, ""));
        if value.is_empty() {
            return Err((index + 1, format!("expected `key value`, found {line:?}")));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err((index + 1, format!("option {key:?} is given more than once")));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// Drops a comment: `#` at the start of the line or after whitespace (so
/// `#` inside a value such as a path is kept).
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    match line.find(" #").or_else(|| line.find("\t#")) {
        Some(at) => &line[..at],
        None => line,
    }
}

/// `HOST:PORT` (`[::1]:8095` for IPv6); the host is resolved when binding.
fn parse_listen(value: &str) -> Result<String, String> {
    let port = value
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty())
        .and_then(|(_, port)| port.parse::<u16>().ok());
    match port {
        Some(_) => Ok(value.to_string()),
        None => Err(format!(
            "--listen (or listen) must be HOST:PORT such as 127.0.0.1:8095 or [::1]:8095, \
             not {value:?}"
        )),
    }
}

fn parse_log_level(value: &str) -> Result<log::LevelFilter, String> {
    match value.to_ascii_lowercase().as_str() {
        "error" => Ok(log::LevelFilter::Error),
        "warn" | "warning" => Ok(log::LevelFilter::Warn),
        "info" => Ok(log::LevelFilter::Info),
        "debug" => Ok(log::LevelFilter::Debug),
        _ => Err(format!(
            "option \"log_level\" must be error, warn, info or debug, not {value:?}"
        )),
    }
}

fn parse_health_path(value: &str) -> Result<String, String> {
    if !value.starts_with('/') || value.contains(char::is_whitespace) || value.contains('?') {
        return Err(format!(
            "option \"health_path\" must be a path such as {DEFAULT_HEALTH_PATH}, not {value:?}"
        ));
    }
    Ok(value.to_string())
}

fn parse_path(key: &str, value: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err(format!("option {key:?} needs a file path"));
    }
    Ok(PathBuf::from(value))
}

/// `3600`, `90s`, `30m`, `8h` or `1d`; between one second and 30 days.
fn parse_ttl(value: &str) -> Result<Duration, String> {
    let error = || {
        format!(
            "option \"session_ttl\" must be a duration between 1s and 30d such as 3600, 90s, \
             30m, 8h or 1d, not {value:?}"
        )
    };
    let (digits, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => value.split_at(at),
        None => (value, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(error()),
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(error)?;
    if !(1..=30 * 86400).contains(&seconds) {
        return Err(error());
    }
    Ok(Duration::from_secs(seconds))
}

/// `__Host-` and `__Secure-` cookies are dropped by browsers unless Secure.
fn has_secure_prefix(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("__host-") || lower.starts_with("__secure-")
}

/// A cookie name is an RFC 6265 token.
fn parse_cookie_name(value: &str) -> Result<String, String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if value.is_empty() || !value.chars().all(token) {
        return Err(format!(
            "option \"session_cookie\" must be a cookie name of letters, digits and \
             !#$%&'*+-.^_`|~, not {value:?}"
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> Settings {
        Settings::try_from_args(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn error(args: &[&str]) -> String {
        match Settings::try_from_args(args) {
            Ok(s) => panic!("{args:?} accepted: {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn listen_and_library_options() {
        let s = settings(&[
            "--listen",
            "127.0.0.1:8095",
            "-o",
            "principal=HTTP/www.example.com@EXAMPLE.COM",
            "-o",
            "strip_realm = true",
        ]);
        assert_eq!(s.listen, "127.0.0.1:8095");
        assert_eq!(
            s.library,
            vec![
                (
                    "principal".into(),
                    "HTTP/www.example.com@EXAMPLE.COM".into()
                ),
                ("strip_realm".into(), "true".into())
            ]
        );
        assert_eq!(s.log_level, log::LevelFilter::Info);
        assert_eq!(s.health_path, DEFAULT_HEALTH_PATH);
        assert_eq!(s.sessions, None);
    }

    #[test]
    fn config_file_with_comments_and_overrides() {
        let pairs = parse_config(
            "# authd\n\nlisten 127.0.0.1:1\nkeytab /etc/http#1.keytab  # the service key\n\
             \tstrip_realm   true\n",
        )
        .unwrap();
        assert_eq!(
            pairs,
            vec![
                ("listen".into(), "127.0.0.1:1".into()),
                ("keytab".into(), "/etc/http#1.keytab".into()),
                ("strip_realm".into(), "true".into())
            ]
        );
        let mut pairs = pairs;
        override_pair(&mut pairs, "strip_realm", "false");
        override_pair(&mut pairs, "log_level", "debug");
        let s = Settings::from_pairs(pairs).unwrap();
        assert_eq!(s.library[1], ("strip_realm".into(), "false".into()));
        assert_eq!(s.log_level, log::LevelFilter::Debug);
    }

    #[test]
    fn config_file_errors_name_the_line() {
        assert_eq!(
            parse_config("listen 127.0.0.1:1\nstrip_realm\n")
                .unwrap_err()
                .0,
            2
        );
        assert!(
            parse_config("keytab /a\nkeytab /b\n")
                .unwrap_err()
                .1
                .contains("more than once")
        );
    }

    #[test]
    fn sessions() {
        let s = settings(&[
            "--listen=127.0.0.1:1",
            "-o",
            "session_secret_file=/etc/authd/secret",
            "-o",
            "session_ttl=8h",
            "-o",
            "session_secure=false",
        ]);
        assert_eq!(
            s.sessions,
            Some(SessionOptions {
                secret_file: "/etc/authd/secret".into(),
                ttl: Duration::from_secs(8 * 3600),
                cookie: DEFAULT_COOKIE_INSECURE.into(),
                secure: false,
            })
        );
        let secure = settings(&["--listen=127.0.0.1:1", "-o", "session_secret_file=/s"]);
        assert_eq!(
            secure.sessions.map(|s| (s.cookie, s.secure)),
            Some((DEFAULT_COOKIE.to_string(), true))
        );
        assert!(
            error(&[
                "--listen=127.0.0.1:1",
                "-o",
                "session_secret_file=/s",
                "-o",
                "session_cookie=__Host-sso",
                "-o",
                "session_secure=false",
            ])
            .contains("prefix browsers accept only on Secure cookies")
        );
        assert!(
            error(&["--listen=127.0.0.1:1", "-o", "session_ttl=1h"])
                .contains("session_secret_file")
        );
    }

    #[test]
    fn bad_options_name_the_key() {
        assert!(error(&[]).contains("--listen"));
        assert!(error(&["--listen=127.0.0.1:1", "-o", "colour=red"]).contains("\"colour\""));
        for bad in ["8095", "localhost", "127.0.0.1:http", "127.0.0.1:70000"] {
            assert!(error(&["--listen", bad]).contains("HOST:PORT"), "{bad}");
        }
        assert_eq!(settings(&["--listen", "[::1]:8095"]).listen, "[::1]:8095");
        assert!(error(&["--listen=127.0.0.1:1", "-o", "strip_realm"]).contains("KEY=VALUE"));
        assert!(
            error(&["--listen=127.0.0.1:1", "-o", "a=1", "-o", "a=2"]).contains("more than once")
        );
        assert!(error(&["--listen=127.0.0.1:1", "-o", "log_level=loud"]).contains("\"log_level\""));
        assert!(
            error(&["--listen=127.0.0.1:1", "-o", "health_path=health"])
                .contains("\"health_path\"")
        );
        assert!(
            error(&[
                "--listen=127.0.0.1:1",
                "--config",
                "/nonexistent/authd.conf"
            ])
            .contains("--config")
        );
        assert!(error(&["--bogus"]).contains("--bogus"));
    }

    #[test]
    fn ttl_and_cookie_names() {
        assert_eq!(parse_ttl("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_ttl("1"), Ok(Duration::from_secs(1)));
        for bad in [
            "",
            "0",
            "0s",
            "31d",
            "1w",
            "h",
            "-5",
            "99999999999999999999",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
        assert!(parse_cookie_name("__Host-sso").is_ok());
        for bad in ["", "a b", "a;b", "a=b", "é"] {
            assert!(parse_cookie_name(bad).is_err(), "{bad:?}");
        }
    }
}
