//! What kerbsasl's own tests, benchmarks and fuzzers share: the SASL
//! GSSAPI client, the fuzzing harnesses and failpoints. Compiled only with
//! the `testing` feature (never in a shipped build); not part of the
//! supported API.

pub use crate::gss::Initiator;
pub use crate::sasl_client::SaslClient;

pub mod http;

/// Fuzzing harnesses, shared by the targets in fuzz/ and by the test that
/// replays their corpus (tests/fuzz_corpus.rs). They run inside a test
/// realm (see tests/tools/testrealm.rs) and must never panic.
pub mod fuzz {
    use super::SaslClient;
    use crate::server::{Server, Step};
    use std::sync::OnceLock;

    struct Fixture {
        server: Server,
        ccache: String,
        service: String,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let dir = std::env::var("KERBSASL_TEST_DIR").expect("run inside testrealm");
            let service = std::env::var("KERBSASL_TEST_SERVICE").expect("run inside testrealm");
            let keytab = format!("{dir}/mqtt.keytab");
            // Replay detection off, so that one genuine token can be fed
            // again and again.
            let server = Server::from_options([
                ("principal", service.as_str()),
                ("keytab", keytab.as_str()),
                ("replay_cache", "none:"),
            ])
            .expect("fuzz server");
            let ccache = std::env::var("KRB5CCNAME").expect("run inside testrealm");
            Fixture {
                server,
                ccache,
                service,
            }
        })
    }

    /// A fresh genuine initial token, e.g. to seed the corpus.
    pub fn genuine_token(mutual: bool) -> Vec<u8> {
        let f = fixture();
        let mut client = SaslClient::new(&f.ccache, &f.service, mutual).expect("client");
        client.initial_token().expect("initial token")
    }

    /// server_start on arbitrary bytes.
    pub fn start(data: &[u8]) {
        let _ = fixture().server.start(data);
    }

    /// http_authenticate on arbitrary bytes (see [`super::http::fuzz_round`]).
    pub fn http(data: &[u8]) {
        super::http::fuzz_round(&fixture().server, data);
    }

    /// Seeds for [`http`] that decrypt in the current realm.
    pub fn genuine_http_seeds() -> Vec<Vec<u8>> {
        let f = fixture();
        super::http::fuzz_seeds(&f.ccache, &f.service)
    }

    /// server_step after a genuine context is established. The first byte
    /// picks what the rest is: 0, the raw reply to the AP-REP (must be
    /// empty); 1, the raw security-layer reply; 2, the security-layer reply
    /// in plaintext, wrapped by the client so that it reaches the parser.
    pub fn step(data: &[u8]) {
        let Some((&mode, rest)) = data.split_first() else {
            return;
        };
        let f = fixture();
        let Ok(mut client) = SaslClient::new(&f.ccache, &f.service, true) else {
            return;
        };
        let Ok(token) = client.initial_token() else {
            return;
        };
        let Ok((mut session, Step::Continue(ap_rep))) = f.server.start(&token) else {
            return;
        };
        if mode % 3 == 0 {
            let _ = session.step(rest);
            return;
        }
        if client.respond(&ap_rep).is_err() || session.step(&[]).is_err() {
            return;
        }
        let reply = if mode % 3 == 1 {
            rest.to_vec()
        } else {
            match client.wrap(rest) {
                Ok(wrapped) => wrapped,
                Err(_) => return,
            }
        };
        let _ = session.step(&reply);
        let _ = session.step(rest);
        let _ = session.identity();
    }
}

/// Failpoints: a panic at a named place inside kerbsasl, on this thread
/// only, to show that a panic caught at the C boundary leaves nothing
/// half-done behind.
pub mod failpoint {
    use std::cell::Cell;

    thread_local! {
        static ARMED: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// Makes the next [`hit`] of `name` on this thread panic (once).
    /// Places: "session step" (inside `Session::step`, after the session
    /// left its state and before it has a new one).
    pub fn arm(name: &'static str) {
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(|| {
            // Expected panics need no message and backtrace in test output.
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let message = info.payload().downcast_ref::<String>();
                if !message.is_some_and(|m| m.starts_with(PANIC_PREFIX)) {
                    previous(info);
                }
            }));
        });
        ARMED.with(|armed| armed.set(Some(name)));
    }

    const PANIC_PREFIX: &str = "failpoint ";

    /// Panics if `name` is armed on this thread, disarming it.
    pub(crate) fn hit(name: &str) {
        let armed = ARMED.with(|armed| armed.get() == Some(name) && armed.take().is_some());
        if armed {
            panic!("{PANIC_PREFIX}{name:?} hit");
        }
    }
}
