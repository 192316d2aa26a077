//! File access as the broker's user. As root, a child process running as
//! that user (util-linux `setpriv`, with the user's groups) really opens the
//! files, so ACLs, groups and mount options all count; mode bits alone
//! would miss them. Without root only the caller's own access can be
//! tested.

use std::fs::OpenOptions;
use std::io::Read;
use std::path::Path;
use std::process::Command;

/// A user account, from the system's user database (NSS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Whose access the checks test.
pub struct Access {
    /// The user the checks are about.
    pub subject: Account,
    /// Some: test by running a child process as `subject`.
    switch_to: Option<Account>,
    /// Set when --user was asked for but cannot be honoured (not root).
    pub limitation: Option<String>,
}

impl Access {
    /// For `--user NAME`, or the caller. Err: no such user (a usage error).
    pub fn new(user: Option<&str>) -> Result<Access, String> {
        let caller_uid = own_uid()?;
        let caller = account(&caller_uid.to_string()).unwrap_or(Account {
            name: format!("uid {caller_uid}"),
            uid: caller_uid,
            gid: caller_uid,
        });
        let Some(name) = user else {
            return Ok(Access {
                subject: caller,
                switch_to: None,
                limitation: None,
            });
        };
        let wanted = account(name).ok_or_else(|| format!("--user {name}: no such user"))?;
        if wanted.uid == caller.uid {
            return Ok(Access {
                subject: wanted,
                switch_to: None,
                limitation: None,
            });
        }
        if caller.uid != 0 {
            return Ok(Access {
                limitation: Some(format!(
                    "file access cannot be checked as {} without root; it is checked as {} \
                     (uid {}) instead",
                    wanted.name, caller.name, caller.uid
                )),
                subject: caller,
                switch_to: None,
            });
        }
        Ok(Access {
            subject: wanted.clone(),
            switch_to: Some(wanted),
            limitation: None,
        })
    }

    /// Whether the checks run with this process's own access.
    pub fn is_own(&self) -> bool {
        self.switch_to.is_none()
    }

    /// Who, for messages: `user mosquitto`.
    pub fn who(&self) -> String {
        format!("user {}", self.subject.name)
    }

    /// Whether the subject can open and read `path`.
    pub fn can_read(&self, path: &Path) -> Result<(), String> {
        // A FIFO or device would block or never end the read below; keytabs
        // and krb5.conf are regular files.
        if let Ok(meta) = std::fs::metadata(path) {
            if !meta.is_file() {
                return Err("not a regular file".into());
            }
        }
        match &self.switch_to {
            None => {
                let mut byte = [0u8; 1];
                std::fs::File::open(path)
                    .and_then(|mut f| f.read(&mut byte))
                    .map(|_| ())
                    .map_err(|e| io_reason(&e))
            }
            Some(account) => run_as(account, r#"exec head -c 1 -- "$1" >/dev/null"#, &[path]),
        }
    }

    /// Whether the subject can use replay cache file `path` as MIT does:
    /// open it read-write if it exists, else create it in its directory.
    /// Nothing is left behind.
    pub fn can_use_replay_cache(&self, path: &Path) -> Result<(), String> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let probe = dir.join(format!(".kerbsasl-check-{}", std::process::id()));
        match &self.switch_to {
            None if path.exists() => OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map(|_| ())
                .map_err(|e| io_reason(&e)),
            None => OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe)
                .and_then(|_| std::fs::remove_file(&probe))
                .map_err(|e| io_reason(&e)),
            // set -C: the probe is created with O_EXCL, as create_new above,
            // so a symlink planted under the probe's (guessable) name in a
            // shared directory such as /var/tmp truncates nothing.
            Some(account) => run_as(
                account,
                r#"set -C; if [ -e "$1" ]; then exec 3<>"$1"; else : >"$2" && rm -f -- "$2"; fi"#,
                &[path, &probe],
            ),
        }
    }
}

/// An I/O error in the words of the C library, without Rust's "(os error N)".
pub fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// Runs `script` (sh, with `paths` as $1...) as `account`; Err: its
/// complaint.
fn run_as(account: &Account, script: &str, paths: &[&Path]) -> Result<(), String> {
    let output = Command::new("setpriv")
        .arg(format!("--reuid={}", account.uid))
        .arg(format!("--regid={}", account.gid))
        .arg("--init-groups")
        .args(["--", "sh", "-c", script, "sh"])
        .args(paths)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("cannot run setpriv (util-linux): {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let complaint = String::from_utf8_lossy(&output.stderr);
    // "cat: /k: Permission denied" or "sh: 1: cannot create /x: ...":
    // the reason is the last part.
    let reason = complaint
        .trim()
        .rsplit(": ")
        .next()
        .filter(|r| !r.is_empty())
        .unwrap_or("failed");
    Err(reason.to_string())
}

/// The effective uid of this process.
fn own_uid() -> Result<u32, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
        .ok_or_else(|| "cannot find this process's uid".to_string())
}

/// Looks a user up by name or uid (`getent passwd`, so NSS users count).
fn account(name_or_uid: &str) -> Option<Account> {
    let output = Command::new("getent")
        .args(["passwd", name_or_uid])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = line.trim().split(':').collect();
    match fields.as_slice() {
        [name, _, uid, gid, ..] => Some(Account {
            name: name.to_string(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symlink planted where the probe goes must not be followed: the
    /// probe of a missing replay cache fails instead of truncating the
    /// link's target. Needs root (setpriv), as `--user` does.
    #[test]
    fn replay_cache_probe_does_not_follow_a_planted_symlink() {
        if own_uid() != Ok(0) {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = std::env::temp_dir().join(format!("check-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let probe = dir.join(format!(".kerbsasl-check-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &probe).unwrap();
        let root = Account {
            name: "root".into(),
            uid: 0,
            gid: 0,
        };
        let access = Access {
            subject: root.clone(),
            switch_to: Some(root),
            limitation: None,
        };
        let result = access.can_use_replay_cache(&dir.join("rcache"));
        let kept = std::fs::read_to_string(&victim).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(kept, "keep me");
        assert!(result.is_err(), "{result:?}");
    }

    /// A FIFO given as a keytab would block the read forever, /dev/zero
    /// would never end it.
    #[test]
    fn only_regular_files_are_read() {
        let dir = std::env::temp_dir().join(format!("check-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("keytab");
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        let access = Access::new(None).unwrap();
        let fifo_result = access.can_read(&fifo);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(made.success());
        assert_eq!(fifo_result, Err("not a regular file".to_string()));
        assert_eq!(
            access.can_read(Path::new("/dev/zero")),
            Err("not a regular file".to_string())
        );
    }
}
