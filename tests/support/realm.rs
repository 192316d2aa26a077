//! A throwaway MIT Kerberos realm for tests: its own krb5.conf, KDC
//! profile, database, credential caches and replay cache in a temp dir,
//! and a krb5kdc on a free loopback port. Torn down on drop.
//!
//! Shared by the cargo test harness (tests/support/mod.rs) and by
//! tests/tools/testrealm.rs, which runs the C, Erlang and Node suites and the
//! demo inside a realm.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const REALM: &str = "KERBSASL.TEST";
/// A second realm that KERBSASL.TEST trusts (with `RealmOptions::partner`):
/// its users get tickets for KERBSASL.TEST's services through
/// krbtgt/KERBSASL.TEST@PARTNER.TEST.
pub const PARTNER_REALM: &str = "PARTNER.TEST";
pub const HOST: &str = "broker.kerbsasl.test";
pub const SERVICE: &str = "mqtt/broker.kerbsasl.test@KERBSASL.TEST";
pub const PASSWORD: &str = "kerbsasl-test-password";

/// Environment variables that describe a running realm to child processes.
pub const DIR_VAR: &str = "KERBSASL_TEST_DIR";
pub const PORT_VAR: &str = "KERBSASL_TEST_KDC_PORT";
/// Set (to PARTNER_REALM) when the partner realm runs.
pub const PARTNER_VAR: &str = "KERBSASL_TEST_PARTNER_REALM";
/// Set (to a `FILE:` ccache holding an anonymous TGT) when the realm issues
/// anonymous tickets.
pub const ANONYMOUS_VAR: &str = "KERBSASL_TEST_ANONYMOUS_CCACHE";
/// The name part of every anonymous principal (RFC 8062), in any realm.
pub const ANONYMOUS: &str = "WELLKNOWN/ANONYMOUS";
/// The realm of a fully anonymous principal (`kinit -n`).
pub const ANONYMOUS_REALM: &str = "WELLKNOWN:ANONYMOUS";

#[derive(Debug, Clone, Default)]
pub struct RealmOptions {
    /// krb5.conf `clockskew` in seconds; MIT's default (300) when None.
    pub clockskew: Option<u32>,
    /// Also run PARTNER_REALM, trusted by REALM, with its own users alice
    /// (alice@PARTNER_REALM), served by the same krb5kdc on the same port.
    pub partner: bool,
    /// Issue anonymous tickets (`kinit -n`) through anonymous PKINIT, as
    /// a KDC with a PKINIT certificate and WELLKNOWN/ANONYMOUS does unless
    /// restrict_anonymous_to_tgt is set: needs Debian's krb5-pkinit and
    /// openssl.
    pub anonymous: bool,
}

/// A running realm. The process that started it owns the KDC and the temp
/// dir; an attached handle (in a child process) owns neither.
pub struct Realm {
    pub dir: PathBuf,
    pub kdc_port: u16,
    pub partner: bool,
    pub anonymous: bool,
    kdc: Option<Child>,
}

impl Realm {
    /// Creates the realm with alice and bob, mqtt/HOST and other/HOST,
    /// keytab `mqtt.keytab` (mqtt/HOST) and a ccache for alice.
    pub fn start(options: &RealmOptions) -> Realm {
        let dir = make_temp_dir();
        if options.anonymous {
            // The KDC reads its certificate when it starts.
            make_pkinit_certificates(&dir);
        }
        let mut last_error = String::new();
        // A free port can be taken between probing and binding: retry.
        for _ in 0..5 {
            let port = free_port();
            write_config(&dir, port, options);
            let mut realm = Realm {
                dir: dir.clone(),
                kdc_port: port,
                partner: options.partner,
                anonymous: options.anonymous,
                kdc: None,
            };
            for (name, database) in realm.realms() {
                if !dir.join(database).exists() {
                    realm.run_checked(
                        "kdb5_util",
                        &["create", "-s", "-r", name, "-P", "kerbsasl-master"],
                    );
                    // A profile MIT could not parse would send the database
                    // to the machine's own /var/lib/krb5kdc: stop right there.
                    assert!(
                        dir.join(database).exists(),
                        "kdb5_util did not create the {name} database in {}",
                        dir.display()
                    );
                }
            }
            match realm.start_kdc() {
                Ok(child) => {
                    realm.kdc = Some(child);
                    realm.populate();
                    return realm;
                }
                // The database stays for the next attempt: a realm without a
                // KDC leaves its dir alone when dropped.
                Err(e) => last_error = e,
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("cannot start krb5kdc: {last_error}");
    }

    /// Attaches to the realm a parent process started (see [`Realm::env`]).
    pub fn attach() -> Option<Realm> {
        let dir = PathBuf::from(std::env::var_os(DIR_VAR)?);
        let kdc_port = std::env::var(PORT_VAR).ok()?.parse().ok()?;
        Some(Realm {
            dir,
            kdc_port,
            partner: std::env::var_os(PARTNER_VAR).is_some(),
            anonymous: std::env::var_os(ANONYMOUS_VAR).is_some(),
            kdc: None,
        })
    }

    /// The realms this fixture runs, with their database file names.
    fn realms(&self) -> Vec<(&'static str, &'static str)> {
        let mut realms = vec![(REALM, "principal")];
        if self.partner {
            realms.push((PARTNER_REALM, "partner-principal"));
        }
        realms
    }

    /// Variables a process needs to use this realm and nothing of the
    /// machine's own Kerberos setup.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = |name: &str| self.path(name).display().to_string();
        let mut env: Vec<(String, String)> = vec![
            ("KRB5_CONFIG".into(), path("krb5.conf")),
            ("KRB5_KDC_PROFILE".into(), path("kdc.conf")),
            (
                "KRB5CCNAME".into(),
                format!("FILE:{}", path("alice.ccache")),
            ),
            ("KRB5RCACHEDIR".into(), path("rcache")),
            (
                "KRB5_KTNAME".into(),
                format!("FILE:{}", path("mqtt.keytab")),
            ),
            (DIR_VAR.into(), self.dir.display().to_string()),
            (PORT_VAR.into(), self.kdc_port.to_string()),
            ("KERBSASL_TEST_REALM".into(), REALM.into()),
            ("KERBSASL_TEST_SERVICE".into(), SERVICE.into()),
            ("KERBSASL_TEST_PASSWORD".into(), PASSWORD.into()),
        ];
        if self.partner {
            env.push((PARTNER_VAR.into(), PARTNER_REALM.into()));
        }
        if self.anonymous {
            env.push((
                ANONYMOUS_VAR.into(),
                format!("FILE:{}", path("anonymous.ccache")),
            ));
        }
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A `Command` with this realm's environment.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.envs(self.env());
        command
    }

    /// Runs kadmin.local queries (one per line) and returns their output.
    pub fn kadmin(&self, queries: &[String]) -> String {
        self.kadmin_in(REALM, queries)
    }

    /// As [`Realm::kadmin`], in the database of `realm`.
    pub fn kadmin_in(&self, realm: &str, queries: &[String]) -> String {
        let mut child = self
            .command("kadmin.local")
            .args(["-r", realm])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kadmin.local runs (install krb5-admin-server)");
        {
            let mut stdin = child.stdin.take().expect("stdin");
            for query in queries {
                writeln!(stdin, "{query}").expect("write to kadmin.local");
            }
        }
        let output = child.wait_with_output().expect("kadmin.local finishes");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "kadmin.local failed: {text}");
        text
    }

    /// Adds a user principal with the test password.
    pub fn add_user(&self, name: &str) {
        self.kadmin(&[format!("addprinc -pw {PASSWORD} {name}")]);
    }

    /// Adds a service principal with a random key.
    pub fn add_service(&self, principal: &str) {
        self.kadmin(&[format!("addprinc -randkey {principal}")]);
    }

    /// Writes the principals' current keys to `keytab` without changing
    /// them (appends when the file exists).
    pub fn export_keytab(&self, keytab: &Path, principals: &[&str]) {
        let queries: Vec<String> = principals
            .iter()
            .map(|p| format!("ktadd -norandkey -k {} {p}", keytab.display()))
            .collect();
        self.kadmin(&queries);
    }

    /// Gets a TGT for `user` into `ccache` (a path).
    pub fn kinit(&self, user: &str, ccache: &Path) {
        let mut child = self
            .command("kinit")
            .args(["-c", &format!("FILE:{}", ccache.display()), user])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kinit runs (install krb5-user)");
        writeln!(child.stdin.take().expect("stdin"), "{PASSWORD}").expect("write password");
        let output = child.wait_with_output().expect("kinit finishes");
        assert!(
            output.status.success(),
            "kinit {user} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Gets an anonymous TGT (`kinit -n`) into `ccache` (a path), for
    /// WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS. With a realm it runs
    /// `kinit -n @REALM`, which asks for a principal of that realm; MIT
    /// 1.20's KDC still answers with the fully anonymous one. Needs
    /// `RealmOptions::anonymous`.
    pub fn kinit_anonymous(&self, realm: Option<&str>, ccache: &Path) {
        let mut command = self.command("kinit");
        command.args(["-n", "-c", &format!("FILE:{}", ccache.display())]);
        if let Some(realm) = realm {
            command.arg(format!("@{realm}"));
        }
        let output = command
            .stdin(Stdio::null())
            .output()
            .expect("kinit runs (install krb5-user)");
        assert!(
            output.status.success(),
            "kinit -n {} failed (is krb5-pkinit installed?): {}",
            realm.unwrap_or(""),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A ccache name (`FILE:...`) holding a TGT for `user`, made on first use.
    pub fn ccache_for(&self, user: &str) -> String {
        let file = self.path(&format!("{}.ccache", user.replace('/', "_")));
        if !file.exists() {
            self.kinit(user, &file);
        }
        format!("FILE:{}", file.display())
    }

    /// Starts krb5kdc under a small shell that owns the realm's lifetime:
    /// when our end of its stdin closes, however this process ends (a
    /// panic, Ctrl-C, SIGKILL), it stops the KDC and removes the temp dir.
    fn start_kdc(&self) -> Result<Child, String> {
        // One KDC serves every realm (`-r A -r B`; names have no spaces).
        let realm_flags: String = self
            .realms()
            .iter()
            .map(|(name, _)| format!("-r {name} "))
            .collect();
        const WATCHDOG: &str = r#"
            trap '' INT                      # outlive Ctrl-C to clean up
            exec 3>&2 2>/dev/null            # only the KDC keeps the log pipe
            krb5kdc -n $1 -P "$2/kdc.pid" 2>&3 3>&- &
            kdc=$!
            exec 3>&-
            read -r _ || true
            kill "$kdc" 2>/dev/null
            wait "$kdc"
            rm -rf "$2"
        "#;
        let mut child = self
            .command("sh")
            .args(["-c", WATCHDOG, "kerbsasl-realm", &realm_flags])
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        let stderr = child.stderr.take().expect("stderr");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.push_str(&line);
                log.push('\n');
                if line.contains("commencing operation") {
                    let _ = ready_tx.send(Ok(()));
                }
            }
            let _ = ready_tx.send(Err(log));
        });
        match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(())) => Ok(child),
            // SIGKILL spares the dir, so the next attempt can reuse it.
            Ok(Err(log)) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(if log.is_empty() {
                    "krb5kdc exited at once (is krb5-kdc installed?)".into()
                } else {
                    log
                })
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err("krb5kdc did not start within 20 s".into())
            }
        }
    }

    fn populate(&self) {
        std::fs::create_dir_all(self.path("rcache")).expect("create rcache dir");
        self.kadmin(&[
            format!("addprinc -pw {PASSWORD} alice"),
            format!("addprinc -pw {PASSWORD} bob"),
            format!("addprinc -randkey {SERVICE}"),
            format!("addprinc -randkey other/{HOST}@{REALM}"),
            format!(
                "ktadd -norandkey -k {} {SERVICE}",
                self.path("mqtt.keytab").display()
            ),
        ]);
        self.kinit("alice", &self.path("alice.ccache"));
        if self.partner {
            self.populate_partner();
        }
        if self.anonymous {
            // With its PKINIT certificate, MIT's KDC serves anonymous
            // requests once this principal exists.
            self.add_service(&format!("{ANONYMOUS}@{REALM}"));
            self.kinit_anonymous(None, &self.path("anonymous.ccache"));
        }
    }

    /// The trust: krbtgt/REALM@PARTNER_REALM with the same key in both
    /// databases (same password, same enctypes), so PARTNER_REALM's KDC
    /// issues cross-realm tickets that REALM's KDC can read.
    fn populate_partner(&self) {
        let trust = format!("addprinc -pw kerbsasl-trust krbtgt/{REALM}@{PARTNER_REALM}");
        self.kadmin(std::slice::from_ref(&trust));
        self.kadmin_in(
            PARTNER_REALM,
            &[
                trust,
                format!("addprinc -pw {PASSWORD} alice@{PARTNER_REALM}"),
            ],
        );
    }

    fn run_checked(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Realm {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.kdc.take() {
            // Closing its stdin makes the watchdog stop the KDC and remove
            // the dir; wait for it to finish.
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn make_temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("kerbsasl-realm-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the realm's temp dir");
    dir
}

/// A port free for both TCP and UDP on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A throwaway CA and a KDC certificate it signed, as MIT's PKINIT guide
/// makes them: extended key usage id-pkinit-KPKdc and the id-pkinit-san
/// otherName naming krbtgt/REALM@REALM, which clients check.
fn make_pkinit_certificates(dir: &Path) {
    let extensions = format!(
        "[kdc_cert]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment, keyAgreement
extendedKeyUsage = 1.3.6.1.5.2.3.5
subjectAltName = otherName:1.3.6.1.5.2.2;SEQUENCE:kdc_principal

[kdc_principal]
realm = EXP:0, GeneralString:{REALM}
principal_name = EXP:1, SEQUENCE:kdc_principal_name

[kdc_principal_name]
name_type = EXP:0, INTEGER:2
name_string = EXP:1, SEQUENCE:kdc_principal_components

[kdc_principal_components]
service = GeneralString:krbtgt
instance = GeneralString:{REALM}
"
    );
    std::fs::write(dir.join("pkinit.ext"), extensions).expect("write pkinit.ext");
    // Keys without a passphrase, valid two days: the realm lives minutes.
    let steps = [
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kerbsasl-test-CA \
         -keyout ca.key -out ca.pem",
        "req -new -newkey rsa:2048 -nodes -subj /CN=kerbsasl-test-KDC \
         -keyout kdc.key -out kdc.csr",
        "x509 -req -in kdc.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
         -extfile pkinit.ext -extensions kdc_cert -out kdc.pem",
    ];
    for step in steps {
        let args: Vec<&str> = step.split_whitespace().collect();
        let output = Command::new("openssl")
            .args(&args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (install openssl)");
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn write_config(dir: &Path, port: u16, options: &RealmOptions) {
    let d = dir.display();
    let clockskew = options
        .clockskew
        .map(|s| format!("    clockskew = {s}\n"))
        .unwrap_or_default();
    let partner_realm = if options.partner {
        format!(
            "    {PARTNER_REALM} = {{
        kdc = 127.0.0.1:{port}
    }}
"
        )
    } else {
        String::new()
    };
    let capaths = if options.partner {
        format!(
            "
[capaths]
    {PARTNER_REALM} = {{
        {REALM} = .
    }}
"
        )
    } else {
        String::new()
    };
    let partner_kdc = if options.partner {
        format!(
            "    {PARTNER_REALM} = {{
        database_name = {d}/partner-principal
        key_stash_file = {d}/partner-stash
        acl_file = {d}/kadm5.acl
        max_life = 10h
        max_renewable_life = 1d
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}
"
        )
    } else {
        String::new()
    };
    let (client_pkinit, kdc_pkinit) = if options.anonymous {
        (
            format!("        pkinit_anchors = FILE:{d}/ca.pem\n"),
            format!(
                "        pkinit_identity = FILE:{d}/kdc.pem,{d}/kdc.key
        pkinit_anchors = FILE:{d}/ca.pem
"
            ),
        )
    } else {
        (String::new(), String::new())
    };
    let krb5_conf = format!(
        "[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    ticket_lifetime = 10h
{clockskew}
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
        auth_to_local = RULE:[2:$1;$2](.*;admin)s/;admin$//
        auth_to_local = DEFAULT
{client_pkinit}    }}
{partner_realm}
[domain_realm]
    .kerbsasl.test = {REALM}
    kerbsasl.test = {REALM}
{capaths}"
    );
    let kdc_conf = format!(
        "[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}

[realms]
    {REALM} = {{
        database_name = {d}/principal
        key_stash_file = {d}/stash
        acl_file = {d}/kadm5.acl
        kdc_listen = 127.0.0.1:{port}
        kdc_tcp_listen = 127.0.0.1:{port}
        max_life = 10h
        max_renewable_life = 1d
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
{kdc_pkinit}    }}
{partner_kdc}
[logging]
    kdc = STDERR
"
    );
    std::fs::write(dir.join("krb5.conf"), krb5_conf).expect("write krb5.conf");
    std::fs::write(dir.join("kdc.conf"), kdc_conf).expect("write kdc.conf");
    std::fs::write(dir.join("kadm5.acl"), "").expect("write kadm5.acl");
}
