//! Acceptance never needs the KDC: with it stopped, a new server starts
//! and clients holding tickets still authenticate. Its own test binary,
//! because it stops the realm's KDC.

mod support;

use kerbsasl::testing::SaslClient;
use support::{Realm, RealmOptions, SERVICE, default_server, handshake, test};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![test(
            "accepts_with_the_kdc_stopped",
            accepts_with_the_kdc_stopped,
        )]
    })
}

fn accepts_with_the_kdc_stopped(realm: &Realm) {
    let ccache = realm.ccache_for("alice");
    // Fetch and cache the service ticket while the KDC is up.
    SaslClient::new(&ccache, SERVICE, true)
        .unwrap()
        .initial_token()
        .unwrap();
    let pid = std::fs::read_to_string(realm.path("kdc.pid")).expect("krb5kdc wrote its pid");
    let status = std::process::Command::new("kill")
        .arg(pid.trim())
        .status()
        .unwrap();
    assert!(status.success(), "stop krb5kdc");
    std::thread::sleep(std::time::Duration::from_millis(200));

    let server = default_server(realm, &[]);
    for _ in 0..3 {
        let mut client = SaslClient::new(&ccache, SERVICE, true).unwrap();
        handshake(&server, &mut client).expect("accepted without the KDC");
    }
}
