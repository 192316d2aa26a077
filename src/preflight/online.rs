//! The checks that need the KDC: does it answer, how far apart are the
//! clocks, and the self-test: with only the service's keytab, get a ticket
//! for the service, and accept it through the same [`Server`] code a broker
//! runs.

use super::Problem;
use super::kdc_reply::KdcReply;
use super::keytab::{KeytabLocation, read_keytab};
use crate::config::Config;
use crate::diagnosis::{ENCTYPE_HINT, KEY_MISMATCH_HINT, SKEW_HINT, STALE_KVNO_HINT};
use crate::error::{Error, ErrorKind};
use crate::gss::{IssuedTicket, Krb5Error, ticket_from_keytab};
use crate::sasl_client::SaslClient;
use crate::server::{Server, Step};
use std::time::{SystemTime, UNIX_EPOCH};

// krb5 error codes (krb5_err.et).
const KDC_ERR_NAME_EXP: i32 = -1765328383;
const KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = -1765328378;
const KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = -1765328377;
const KDC_ERR_POLICY: i32 = -1765328372;
const KDC_ERR_ETYPE_NOSUPP: i32 = -1765328370;
const KDC_ERR_CLIENT_REVOKED: i32 = -1765328366;
const KDC_ERR_CLIENT_NOTYET: i32 = -1765328363;
const KDC_ERR_KEY_EXP: i32 = -1765328361;
const KDC_ERR_PREAUTH_FAILED: i32 = -1765328360;
const KDC_ERR_MUST_USE_USER2USER: i32 = -1765328357;
const AP_ERR_BAD_INTEGRITY: i32 = -1765328353;
const AP_ERR_SKEW: i32 = -1765328347;
const KDCREP_MODIFIED: i32 = -1765328237;
const KDCREP_SKEW: i32 = -1765328236;
const PREAUTH_FAILED: i32 = -1765328174;

/// What the KDC said about one service principal.
#[derive(Debug, Clone)]
pub struct KdcReport {
    /// The service principal asked for, e.g. `mqtt/host@EXAMPLE.COM`.
    pub principal: String,
    /// Ok when a KDC answered (even with an error); Err: why none could
    /// be reached, in libkrb5's words.
    pub reached: Result<(), String>,
    /// The KDC's clock minus this machine's, in seconds, when the KDC
    /// said its time.
    pub clock_offset: Option<i64>,
    /// The key version of the service ticket the KDC issued.
    pub issued_kvno: Option<u32>,
    /// The key versions the keytab holds for the principal.
    pub keytab_kvnos: Vec<u32>,
    pub self_test: SelfTest,
}

/// The outcome of the self-test.
#[derive(Debug, Clone)]
pub enum SelfTest {
    /// The service authenticated to itself through a [`Server`].
    Passed {
        detail: String,
    },
    /// The KDC does not issue tickets to the service itself (a policy, not
    /// a fault): nothing proven either way.
    Skipped {
        detail: String,
    },
    Failed(Problem),
    /// No KDC answered.
    NotRun,
}

/// Asks the KDC for a ticket to `principal` with the key in `keytab`, then
/// runs the self-test with it. `config` is the server's configuration.
pub fn ask_kdc(config: &Config, principal: &str, keytab: &KeytabLocation) -> KdcReport {
    let keytab_kvnos = keytab_kvnos(&keytab.name, principal);
    let exchange = ticket_from_keytab(principal, principal, &keytab.name);
    let now = unix_now();
    let replies: Vec<KdcReply> = exchange
        .replies
        .iter()
        .filter_map(|bytes| KdcReply::parse(bytes))
        .collect();
    let issued_kvno = replies.iter().rev().find_map(|reply| match reply {
        KdcReply::AsRep { ticket_kvno, .. } => *ticket_kvno,
        KdcReply::Error { .. } => None,
    });
    let error_time = replies.iter().rev().find_map(|reply| match reply {
        KdcReply::Error { kdc_time, .. } => Some(*kdc_time),
        KdcReply::AsRep { .. } => None,
    });
    let mut report = KdcReport {
        principal: principal.to_string(),
        reached: Ok(()),
        clock_offset: error_time.map(|t| t - now),
        issued_kvno,
        keytab_kvnos,
        self_test: SelfTest::NotRun,
    };
    match exchange.result {
        Ok(ticket) => {
            report.clock_offset = Some(ticket.authtime - now);
            report.self_test = self_test(config, &report, &ticket);
        }
        Err(e) if exchange.replies.is_empty() => report.reached = Err(e.message),
        Err(e) => report.self_test = refused(&report, &keytab.name, &e),
    }
    report
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn keytab_kvnos(keytab: &str, principal: &str) -> Vec<u32> {
    let mut kvnos: Vec<u32> = read_keytab(keytab)
        .unwrap_or_default()
        .into_iter()
        .filter(|key| key.principal == principal)
        .map(|key| key.kvno)
        .collect();
    kvnos.sort_unstable();
    kvnos.dedup();
    kvnos
}

fn kvno_list(kvnos: &[u32]) -> String {
    match kvnos {
        [] => "no key".to_string(),
        [one] => format!("kvno {one}"),
        many => format!(
            "kvnos {}",
            many.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Why the KDC issued no ticket: a key problem, a fault, or a policy that
/// refuses the service as a client (then the self-test is skipped).
fn refused(report: &KdcReport, keytab: &str, error: &Krb5Error) -> SelfTest {
    let principal = &report.principal;
    let held = kvno_list(&report.keytab_kvnos);
    let kdc_said = &error.message;
    let fail = |detail: String, hint: &str| {
        SelfTest::Failed(Problem {
            detail,
            hint: hint.to_string(),
        })
    };
    let skip = |why: &str| SelfTest::Skipped {
        detail: format!(
            "the KDC does not issue tickets to {principal} itself ({kdc_said}): {why}; \
             the keys were not compared with the KDC's"
        ),
    };
    match error.code {
        AP_ERR_BAD_INTEGRITY | KDC_ERR_PREAUTH_FAILED | KDCREP_MODIFIED => {
            match report.issued_kvno {
                Some(issued) if !report.keytab_kvnos.contains(&issued) => fail(
                    format!(
                        "the KDC's key for {principal} is kvno {issued}, but keytab {keytab} \
                         holds {held} ({kdc_said})"
                    ),
                    STALE_KVNO_HINT,
                ),
                Some(issued) => fail(
                    format!(
                        "keytab {keytab} holds kvno {issued} for {principal}, the KDC's \
                         version, but not the KDC's key ({kdc_said})"
                    ),
                    KEY_MISMATCH_HINT,
                ),
                None => fail(
                    format!(
                        "the KDC rejected the key keytab {keytab} holds for {principal} \
                         ({held}): {kdc_said}"
                    ),
                    &format!(
                        "{STALE_KVNO_HINT}; or, if the kvno is the KDC's, {KEY_MISMATCH_HINT}"
                    ),
                ),
            }
        }
        KDC_ERR_ETYPE_NOSUPP => fail(
            format!("the KDC has no key for {principal} of the keytab's enctypes: {kdc_said}"),
            ENCTYPE_HINT,
        ),
        KDC_ERR_S_PRINCIPAL_UNKNOWN => fail(
            format!("the KDC does not know the service {principal}: {kdc_said}"),
            "create the principal at the KDC (kadmin: addprinc -randkey PRINCIPAL) and export \
             its key, or set principal to the one clients ask for",
        ),
        KDC_ERR_MUST_USE_USER2USER => fail(
            format!("the KDC issues no service tickets for {principal}: {kdc_said}"),
            "allow service tickets for the principal at the KDC (kadmin: modprinc +allow_svr \
             PRINCIPAL); no client can authenticate to it until then",
        ),
        AP_ERR_SKEW | KDCREP_SKEW => fail(
            format!("the KDC refused this machine's clock: {kdc_said}"),
            SKEW_HINT,
        ),
        KDC_ERR_C_PRINCIPAL_UNKNOWN => skip(
            "normal for Active Directory, which knows service accounts as clients only by their \
             user principal name; on an MIT KDC, check that the principal exists (kadmin: \
             getprinc PRINCIPAL)",
        ),
        KDC_ERR_POLICY
        | KDC_ERR_CLIENT_REVOKED
        | KDC_ERR_CLIENT_NOTYET
        | KDC_ERR_KEY_EXP
        | KDC_ERR_NAME_EXP
        | PREAUTH_FAILED => skip(
            "the KDC's policy for this principal as a client (hardware pre-authentication, an \
             expired password, a locked or disabled account) does not apply to clients asking \
             for tickets to it",
        ),
        _ => fail(
            format!("the KDC refused a ticket for {principal}: {kdc_said}"),
            "see the KDC's log for the request",
        ),
    }
}

/// Authenticates the service to itself through a Server built from
/// `config`, with the ticket the KDC just issued.
fn self_test(config: &Config, report: &KdcReport, ticket: &IssuedTicket) -> SelfTest {
    let principal = &report.principal;
    let kvnos = format!(
        "the KDC issued kvno {}, the keytab holds {}",
        report
            .issued_kvno
            .map_or_else(|| "?".to_string(), |k| k.to_string()),
        kvno_list(&report.keytab_kvnos)
    );
    // The self-test's authenticator is made here and used once, so a
    // replay cache protects nothing; the configured one is left untouched
    // (a root-owned file2: cache would lock the broker's user out of it).
    let mut config = config.clone();
    config.replay_cache = Some("none:".to_string());
    let outcome = Server::new(config).and_then(|server| {
        let mut client = SaslClient::new(ticket.ccache.name(), principal, true)
            .map_err(|e| Error::internal(format!("cannot start a client: {e}")))?;
        let token = client
            .initial_token()
            .map_err(|e| Error::internal(format!("cannot make an AP-REQ for {principal}: {e}")))?;
        let (mut session, mut step) = server.start(&token)?;
        for _ in 0..4 {
            match step {
                Step::Authenticated => break,
                Step::Continue(challenge) => {
                    let reply = client
                        .respond(&challenge)
                        .map_err(|e| Error::internal(format!("the client failed: {e}")))?;
                    step = session.step(&reply)?;
                }
            }
        }
        session
            .identity()
            .cloned()
            .ok_or_else(|| Error::internal("the handshake did not finish"))
    });
    match outcome {
        Ok(identity) => SelfTest::Passed {
            detail: format!(
                "{principal} got a ticket from the KDC with its keytab key and was accepted, \
                 username {} ({kvnos})",
                identity.username
            ),
        },
        Err(e) if e.kind() == ErrorKind::AuthzDenied => SelfTest::Passed {
            detail: format!(
                "{principal} got a ticket from the KDC with its keytab key and Kerberos \
                 accepted it ({kvnos}); the identity rules then refused the service itself as \
                 a client, as they may: {}",
                e.message()
            ),
        },
        Err(e) => {
            let mut problem = Problem::from_error(&e);
            problem.detail = format!("{} ({kvnos})", problem.detail);
            SelfTest::Failed(problem)
        }
    }
}
