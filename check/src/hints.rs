//! What to do, for the problems only kerbsasl-check reports; the README's
//! Troubleshooting section says the same. Problems the library reports
//! itself come with the library's own hints (`kerbsasl::preflight::hints`).

pub const OPTIONS: &str = "correct the option as the message says; the README's Options table \
     lists every key and value";
pub const KEYTAB_ACCESS: &str = "let the broker's user read the keytab, e.g. chgrp mosquitto \
     FILE; chmod 640 FILE (or set the keytab option to a copy it can read)";
pub const KEYTAB_WORLD_READABLE: &str = "anyone on this machine can read the service's keys and \
     impersonate it: chmod 600 FILE (or 640, group of the broker's user)";
pub const KEYTAB_UNREADABLE_FORMAT: &str = "export the keytab again (kadmin: ktadd -k FILE \
     PRINCIPAL)";
pub const KRB5_CONF_MISSING: &str = "create /etc/krb5.conf with default_realm and the realm's \
     KDCs, or point KRB5_CONFIG at one";
pub const DEFAULT_REALM: &str = "set default_realm in krb5.conf [libdefaults], or give the \
     principal with its realm (service/host@REALM)";
pub const REALM_MISSING: &str = "add the realm to krb5.conf: [realms] REALM = { kdc = \
     kdc.example.com }, or set dns_lookup_kdc = true if DNS has its _kerberos SRV records";
pub const HOSTNAME: &str = "set dns_canonicalize_hostname = false (and rdns = false) in \
     krb5.conf to use host names as written, or put the key of the name DNS gives in the keytab";
pub const ENCTYPES: &str = "export keys of an enctype krb5.conf permits (kadmin: ktadd -e \
     aes256-cts-hmac-sha1-96:normal -k FILE PRINCIPAL), or add the keytab's enctypes to \
     permitted_enctypes";
pub const REPLAY_CACHE_OFF: &str = "leave replay_cache unset (MIT's default cache) outside tests";
pub const REPLAY_CACHE_OWNER: &str = "remove the file (MIT creates it again, owned by the user \
     that writes it), or give each user its own file with replay_cache file2:/path";
pub const KDC_UNREACHABLE: &str = "start the KDC, or fix the realm's kdc lines in krb5.conf; \
     Kerberos uses port 88, UDP and TCP, which firewalls must let through";
pub const KDC_NOT_ASKED: &str = "fix the keytab and principal checks above first";
pub const SELF_TEST_SKIPPED: &str = "nothing to fix if clients get tickets for the service; to \
     test by hand, kinit as a user, run kvno PRINCIPAL and compare its kvno with klist -k FILE";
pub const CLOCK_CLOSE: &str = "synchronise this machine's clock with NTP (chrony or \
     systemd-timesyncd) before it drifts past krb5.conf clockskew";
pub const MOSQUITTO_CONF: &str = "Mosquitto refuses to start with this file: correct the line";
pub const NO_PLUGIN: &str = "add plugin /usr/local/lib/libkerbsasl.so and its plugin_opt_* \
     lines (see the README's Mosquitto section)";
pub const PLUGIN_FILE: &str = "point the plugin line at the installed libkerbsasl.so (make \
     install puts it in PREFIX/lib)";
pub const TRAILING_BLANKS: &str = "remove the blanks at the end of the line";
pub const CYRUS_CONF: &str = "write each line as \"key: value\" (no space before the colon, \
     a value after it)";
pub const CYRUS_KEYTAB_TWICE: &str = "keep one of keytab and kerbsasl_keytab";
pub const USER_LIMITED: &str = "run kerbsasl-check as root to check access as another user";
