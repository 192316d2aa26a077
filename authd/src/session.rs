//! Session cookies: after a successful Kerberos round the client may get a
//! cookie that stands in for Kerberos until it expires.
//!
//! The value is `base64url(payload) "." base64url(HMAC-SHA256)`. The payload
//! holds a format version, a key id, the expiry and the identity
//! (principal, username, realm). The MAC covers, besides the payload:
//! - a fixed label, so no other HMAC use of the secret yields a valid tag;
//! - the cookie's name, so a cookie cannot be moved to another name served
//!   with the same secret;
//! - the host the cookie was issued for (X-Forwarded-Host, else Host,
//!   without a port), so one application's backend, which sees the cookie,
//!   cannot replay it to another application behind the same authd;
//! - a digest of the identity options (principal, strip_realm,
//!   local_realms, auth_to_local, allowed_realms) and of the local realms
//!   the library resolved (which follow the principal or krb5.conf's
//!   default_realm when local_realms is unset), so changing them ends old
//!   sessions instead of honouring usernames mapped under the old rules.
//!
//! The key id (4 bytes derived from the secret) tells a cookie signed with
//! another secret from a tampered one in the log; changing the secret ends
//! every session. Expired cookies, and cookies whose expiry lies further
//! ahead than `session_ttl` allows (the TTL was shortened), are refused.
//! Tags are compared in constant time.

use crate::options::SessionOptions;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = hmac::Hmac<Sha256>;

const VERSION: u8 = 1;
const LABEL: &[u8] = b"kerbsasl-authd session v1\0";
const KEY_ID_LABEL: &[u8] = b"kerbsasl-authd key id";
/// The shortest secret accepted.
pub const MIN_SECRET_LEN: usize = 32;
/// Browsers keep cookies up to about 4 KiB; longer identities get none.
const MAX_COOKIE_LEN: usize = 4000;
/// Cookies of our name looked at per request (browsers send one per
/// matching path): a request stuffed with thousands costs no more.
const MAX_CANDIDATES: usize = 4;
/// Library options that change who a client is taken to be.
const IDENTITY_OPTIONS: &[&str] = &[
    "principal",
    "strip_realm",
    "local_realms",
    "auth_to_local",
    "allowed_realms",
];

/// The identity a valid cookie carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub principal: String,
    pub username: String,
    pub realm: String,
}

/// Why no session was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The request carries no cookie of this name.
    Absent,
    /// Not something this daemon could have issued.
    Malformed,
    /// Signed with another secret.
    OtherSecret,
    /// The tag does not match: changed, or issued for another host or
    /// identity configuration.
    BadSignature,
    Expired,
    /// Valid longer than session_ttl now allows.
    TooLong,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::Absent => "no session cookie",
            Rejection::Malformed => "malformed session cookie",
            Rejection::OtherSecret => "session cookie signed with another secret",
            Rejection::BadSignature => {
                "session cookie with a bad signature (altered, or issued for another host \
                 or identity configuration)"
            }
            Rejection::Expired => "expired session cookie",
            Rejection::TooLong => "session cookie valid longer than session_ttl allows",
        })
    }
}

/// Issues and checks cookies with one secret.
pub struct Sessions {
    /// HMAC-SHA256 keyed with the secret, cloned for each use.
    keyed: HmacSha256,
    key_id: [u8; 4],
    cookie: String,
    ttl: Duration,
    secure: bool,
    identity_options: [u8; 32],
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("cookie", &self.cookie)
            .field("ttl", &self.ttl)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Reads the secret file; refuses a missing, unreadable, short or
    /// world-readable one. `library` are the library options and
    /// `local_realms` the realms the server resolved, for the identity
    /// binding.
    pub fn load(
        options: &SessionOptions,
        library: &[(String, String)],
        local_realms: &[String],
    ) -> Result<Sessions, String> {
        let path = options.secret_file.display();
        check_secret_permissions(options)?;
        let mut secret = std::fs::read(&options.secret_file)
            .map_err(|e| format!("cannot read session_secret_file {path}: {e}"))?;
        while secret.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            secret.pop();
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(format!(
                "session_secret_file {path} holds {} bytes; at least {MIN_SECRET_LEN} are \
                 needed (make one with: head -c 32 /dev/urandom > {path})",
                secret.len()
            ));
        }
        Sessions::new(&secret, options, library, local_realms)
    }

    fn new(
        secret: &[u8],
        options: &SessionOptions,
        library: &[(String, String)],
        local_realms: &[String],
    ) -> Result<Sessions, String> {
        let keyed = HmacSha256::new_from_slice(secret)
            .map_err(|e| format!("cannot key HMAC-SHA256 with the session secret: {e}"))?;
        let mut key_id = [0; 4];
        key_id.copy_from_slice(
            &keyed
                .clone()
                .chain_update(KEY_ID_LABEL)
                .finalize()
                .into_bytes()[..4],
        );
        let mut digest = Sha256::new();
        for key in IDENTITY_OPTIONS {
            let value = library
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str());
            digest.update(format!("{key}={value:?}\n"));
        }
        digest.update(format!("resolved local realms={local_realms:?}\n"));
        Ok(Sessions {
            keyed,
            key_id,
            cookie: options.cookie.clone(),
            ttl: options.ttl,
            secure: options.secure,
            identity_options: digest.finalize().into(),
        })
    }

    pub fn cookie_name(&self) -> &str {
        &self.cookie
    }

    /// A `Set-Cookie` value for `identity`, valid for `session_ttl` on
    /// `host`; None if it would be too long for browsers to keep.
    pub fn issue(&self, identity: &Identity, host: &str, now: SystemTime) -> Option<String> {
        let expiry = unix_seconds(now).saturating_add(self.ttl.as_secs());
        let mut payload = vec![VERSION];
        payload.extend_from_slice(&self.key_id);
        payload.extend_from_slice(&expiry.to_be_bytes());
        for field in [&identity.principal, &identity.username, &identity.realm] {
            let len = u16::try_from(field.len()).ok()?;
            payload.extend_from_slice(&len.to_be_bytes());
            payload.extend_from_slice(field.as_bytes());
        }
        let tag = self.tag(host, &payload);
        let value = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        );
        let mut cookie = format!(
            "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
            self.cookie,
            self.ttl.as_secs()
        );
        if self.secure {
            cookie.push_str("; Secure");
        }
        (cookie.len() <= MAX_COOKIE_LEN).then_some(cookie)
    }

    /// Finds a valid session among the request's `Cookie` header values;
    /// with several cookies of this name, the first valid one of the first
    /// few wins.
    pub fn verify<'a>(
        &self,
        cookie_headers: impl Iterator<Item = &'a [u8]>,
        host: &str,
        now: SystemTime,
    ) -> Result<Identity, Rejection> {
        let mut rejection = Rejection::Absent;
        let candidates = cookie_headers
            .flat_map(|header| cookie_values(header, self.cookie.as_bytes()))
            .take(MAX_CANDIDATES);
        for value in candidates {
            match self.check(value, host, now) {
                Ok(identity) => return Ok(identity),
                Err(why) if rejection == Rejection::Absent => rejection = why,
                Err(_) => {}
            }
        }
        Err(rejection)
    }

    fn check(&self, value: &[u8], host: &str, now: SystemTime) -> Result<Identity, Rejection> {
        let text = std::str::from_utf8(value).map_err(|_| Rejection::Malformed)?;
        let (payload, tag) = text.split_once('.').ok_or(Rejection::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Rejection::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| Rejection::Malformed)?;
        let mut reader = Reader(&payload);
        if reader.take(1)? != [VERSION] {
            return Err(Rejection::Malformed);
        }
        if reader.take(4)? != self.key_id {
            return Err(Rejection::OtherSecret);
        }
        self.mac(host, &payload)
            .verify_slice(&tag)
            .map_err(|_| Rejection::BadSignature)?;
        // Only signed data from here on.
        let expiry = u64::from_be_bytes(
            reader
                .take(8)?
                .try_into()
                .map_err(|_| Rejection::Malformed)?,
        );
        let now = unix_seconds(now);
        if expiry <= now {
            return Err(Rejection::Expired);
        }
        if expiry - now > self.ttl.as_secs() {
            return Err(Rejection::TooLong);
        }
        let identity = Identity {
            principal: reader.string()?,
            username: reader.string()?,
            realm: reader.string()?,
        };
        if !reader.0.is_empty() {
            return Err(Rejection::Malformed);
        }
        Ok(identity)
    }

    fn mac(&self, host: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        for part in [
            LABEL,
            self.cookie.as_bytes(),
            b"\0",
            host.as_bytes(),
            b"\0",
            &self.identity_options,
            payload,
        ] {
            mac.update(part);
        }
        mac
    }

    fn tag(&self, host: &str, payload: &[u8]) -> Vec<u8> {
        self.mac(host, payload).finalize().into_bytes().to_vec()
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whoever reads the secret can sign in as anyone: open to every user is
/// refused, open to the group only warned about.
fn check_secret_permissions(options: &SessionOptions) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let path = options.secret_file.display();
    let Ok(meta) = std::fs::metadata(&options.secret_file) else {
        // Reading it will say why.
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        return Err(format!(
            "session_secret_file {path} is open to every user (mode {mode:03o}); whoever reads \
             it can sign in as anyone: chmod 600 {path}"
        ));
    }
    if mode & 0o070 != 0 {
        log::warn!(
            "session_secret_file {path} is open to its group (mode {mode:03o}); everyone in \
             that group can sign in as anyone (chmod 600 it unless authd needs the group)"
        );
    }
    Ok(())
}

/// The values of the cookies named `name` in one `Cookie` header
/// (`a=1; b="2"`).
fn cookie_values<'a>(header: &'a [u8], name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    header.split(|b| *b == b';').filter_map(move |pair| {
        let pair = pair.trim_ascii();
        let at = pair.iter().position(|b| *b == b'=')?;
        let (key, value) = (pair[..at].trim_ascii(), pair[at + 1..].trim_ascii());
        if key != name {
            return None;
        }
        Some(
            value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value),
        )
    })
}

/// Reads the payload's fields; running short means malformed.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Rejection> {
        if self.0.len() < n {
            return Err(Rejection::Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn string(&mut self) -> Result<String, Rejection> {
        let len = self.take(2)?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| Rejection::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "app.example.com";

    fn options(ttl: u64) -> SessionOptions {
        SessionOptions {
            secret_file: "/unused".into(),
            ttl: Duration::from_secs(ttl),
            cookie: "sso".into(),
            secure: true,
        }
    }

    fn sessions(secret: &[u8], ttl: u64) -> Sessions {
        Sessions::new(secret, &options(ttl), &[], &[]).unwrap()
    }

    fn alice() -> Identity {
        Identity {
            principal: "alice@EXAMPLE.COM".into(),
            username: "alice".into(),
            realm: "EXAMPLE.COM".into(),
        }
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    /// The `name=value` part of a Set-Cookie value.
    fn pair(set_cookie: &str) -> &str {
        set_cookie.split(';').next().unwrap()
    }

    fn verify(s: &Sessions, header: &str, host: &str, now: u64) -> Result<Identity, Rejection> {
        s.verify(std::iter::once(header.as_bytes()), host, at(now))
    }

    #[test]
    fn issued_cookie_verifies_until_expiry() {
        let s = sessions(&[7; 32], 3600);
        let set_cookie = s.issue(&alice(), HOST, at(1_000_000)).unwrap();
        assert!(set_cookie.starts_with("sso="));
        assert!(set_cookie.ends_with("; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure"));
        let header = format!("theme=dark; {}; other=1", pair(&set_cookie));
        assert_eq!(verify(&s, &header, HOST, 1_000_000), Ok(alice()));
        assert_eq!(verify(&s, &header, HOST, 1_003_599), Ok(alice()));
        assert_eq!(
            verify(&s, &header, HOST, 1_003_600),
            Err(Rejection::Expired)
        );
    }

    #[test]
    fn tampering_another_secret_host_name_or_configuration_fail() {
        let s = sessions(&[7; 32], 3600);
        let cookie = pair(&s.issue(&alice(), HOST, at(1_000_000)).unwrap()).to_string();
        // Any changed character of the value.
        let value_start = "sso=".len();
        for i in value_start..cookie.len() {
            let mut bytes = cookie.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(verify(&s, &changed, HOST, 1_000_000).is_err(), "{changed}");
        }
        assert_eq!(
            verify(&sessions(&[8; 32], 3600), &cookie, HOST, 1_000_000),
            Err(Rejection::OtherSecret)
        );
        assert_eq!(
            verify(&s, &cookie, "other.example.com", 1_000_000),
            Err(Rejection::BadSignature)
        );
        let renamed = SessionOptions {
            cookie: "sso2".into(),
            ..options(3600)
        };
        let s2 = Sessions::new(&[7; 32], &renamed, &[], &[]).unwrap();
        let moved = cookie.replacen("sso=", "sso2=", 1);
        assert_eq!(
            verify(&s2, &moved, HOST, 1_000_000),
            Err(Rejection::BadSignature)
        );
        let strip = Sessions::new(
            &[7; 32],
            &options(3600),
            &[("strip_realm".into(), "true".into())],
            &[],
        )
        .unwrap();
        assert_eq!(
            verify(&strip, &cookie, HOST, 1_000_000),
            Err(Rejection::BadSignature)
        );
        // Fewer local realms: a partner's alice@OTHER, issued "alice" under
        // the old list, must not stay "alice".
        for changed in [
            vec![("local_realms".into(), "EXAMPLE.COM".into())],
            vec![("allowed_realms".into(), "EXAMPLE.COM".into())],
            vec![("auth_to_local".into(), "true".into())],
            vec![(
                "principal".into(),
                "HTTP/app.example.com@EXAMPLE.COM".into(),
            )],
        ] {
            let other = Sessions::new(&[7; 32], &options(3600), &changed, &[]).unwrap();
            assert_eq!(
                verify(&other, &cookie, HOST, 1_000_000),
                Err(Rejection::BadSignature),
                "{changed:?}"
            );
        }
        // The same options, but the realms they resolve to changed (a new
        // default_realm in krb5.conf, another principal in the keytab).
        let resolved = Sessions::new(&[7; 32], &options(3600), &[], &["EXAMPLE.COM".into()]);
        assert_eq!(
            verify(&resolved.unwrap(), &cookie, HOST, 1_000_000),
            Err(Rejection::BadSignature)
        );
        // The TTL was shortened after the cookie was issued.
        assert_eq!(
            verify(&sessions(&[7; 32], 600), &cookie, HOST, 1_000_000),
            Err(Rejection::TooLong)
        );
    }

    #[test]
    fn malformed_cookies_are_refused() {
        let s = sessions(&[7; 32], 3600);
        for header in [
            "",
            "sso",
            "sso=",
            "sso=.",
            "sso=abc",
            "sso=a.b",
            "sso=!!.!!",
            "sso=AQ.AA",
        ] {
            let got = verify(&s, header, HOST, 0);
            assert!(
                matches!(got, Err(Rejection::Malformed | Rejection::Absent)),
                "{header}: {got:?}"
            );
        }
        assert_eq!(verify(&s, "other=1", HOST, 0), Err(Rejection::Absent));
        assert_eq!(
            s.verify([&b"sso=\xfe.\xff"[..]].into_iter(), HOST, at(0)),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn first_valid_of_several_cookies_wins() {
        let s = sessions(&[7; 32], 3600);
        let good = s.issue(&alice(), HOST, at(1_000_000)).unwrap();
        let header = format!("sso=junk; sso=\"{}\"", &pair(&good)["sso=".len()..]);
        assert_eq!(verify(&s, &header, HOST, 1_000_000), Ok(alice()));
        assert_eq!(verify(&s, "sso=junk", HOST, 0), Err(Rejection::Malformed));
        let stuffed = format!("{}; {}", "sso=junk; ".repeat(1000), pair(&good));
        assert_eq!(
            verify(&s, &stuffed, HOST, 1_000_000),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn insecure_and_oversized() {
        let plain = Sessions::new(
            &[7; 32],
            &SessionOptions {
                secure: false,
                ..options(60)
            },
            &[],
            &[],
        )
        .unwrap();
        assert!(
            !plain
                .issue(&alice(), HOST, at(0))
                .unwrap()
                .contains("Secure")
        );
        let huge = Identity {
            principal: "a".repeat(3000),
            ..alice()
        };
        assert_eq!(plain.issue(&huge, HOST, at(0)), None);
    }

    /// Mutated and truncated cookies, and random bytes: refused, never a
    /// panic, never accepted.
    #[test]
    fn arbitrary_input_is_refused_without_panic() {
        let s = sessions(&[7; 32], 3600);
        let good = pair(&s.issue(&alice(), HOST, at(1_000_000)).unwrap()).to_string();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut bytes = good.clone().into_bytes();
            match next() % 3 {
                0 => {
                    for _ in 0..1 + next() % 4 {
                        let at = (next() as usize) % bytes.len();
                        bytes[at] = next() as u8;
                    }
                }
                1 => bytes.truncate((next() as usize) % bytes.len()),
                _ => bytes = (0..next() % 200).map(|_| next() as u8).collect(),
            }
            if bytes == good.as_bytes() {
                continue;
            }
            let got = s.verify(std::iter::once(&bytes[..]), HOST, at(1_000_000));
            assert!(
                got.is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn secret_file_checks() {
        let dir = std::env::temp_dir().join(format!("authd-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        let load = || {
            Sessions::load(
                &SessionOptions {
                    secret_file: file.clone(),
                    ..options(60)
                },
                &[],
                &[],
            )
        };
        let chmod = |mode| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        assert!(load().unwrap_err().contains("cannot read"));
        std::fs::write(&file, "short\n").unwrap();
        chmod(0o600);
        assert!(load().unwrap_err().contains("holds 5 bytes"));
        std::fs::write(&file, format!("{}\n", "x".repeat(32))).unwrap();
        assert!(load().is_ok());
        chmod(0o640);
        assert!(load().is_ok(), "open to the group: a warning only");
        chmod(0o604);
        assert!(
            load()
                .unwrap_err()
                .contains("open to every user (mode 604)")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
