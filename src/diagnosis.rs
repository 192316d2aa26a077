//! Turns MIT's failure codes into a result kind and a message that tells
//! an operator what happened and what to do about it.

use crate::error::{Error, ErrorKind};
use crate::gss::{GssError, RoutineError};

// krb5 error codes (krb5_err.et, stable across MIT releases).
const AP_ERR_BAD_INTEGRITY: i32 = -1765328353;
const AP_ERR_TKT_EXPIRED: i32 = -1765328352;
const AP_ERR_TKT_NYV: i32 = -1765328351;
const AP_ERR_REPEAT: i32 = -1765328350;
const AP_ERR_NOT_US: i32 = -1765328349;
const AP_ERR_BADMATCH: i32 = -1765328348;
const AP_ERR_SKEW: i32 = -1765328347;
const AP_ERR_BADVERSION: i32 = -1765328345;
const AP_ERR_MSG_TYPE: i32 = -1765328344;
const AP_ERR_MODIFIED: i32 = -1765328343;
const AP_ERR_BADKEYVER: i32 = -1765328340;
const AP_ERR_NOKEY: i32 = -1765328339;
const AP_WRONG_PRINC: i32 = -1765328240;
const KT_NOTFOUND: i32 = -1765328203;
const KT_KVNONOTFOUND: i32 = -1765328154;
const BAD_ENCTYPE: i32 = -1765328196;
const PROG_ETYPE_NOSUPP: i32 = -1765328234;
const RC_FIRST: i32 = -1765328224; // KRB5_RC_MALLOC
const RC_LAST: i32 = -1765328215; // KRB5_RC_IO_PERM
/// The ASN.1 decoder's error table.
const ASN1_BASE: i64 = 1859794432;

pub const REPLAY_HINT: &str = "this exact Kerberos authenticator was already used: either \
     an attacker replayed it, or a client re-sent an old token; servers that share a replay \
     cache must not share a service principal unless they should reject each other's replays";
pub const SKEW_HINT: &str = "the client's clock and this server's clock differ by more than \
     the allowed skew (krb5.conf clockskew, default 300 s): synchronise both with NTP";
pub const EXPIRED_HINT: &str = "the client's service ticket has expired: the client must get \
     a fresh ticket (kinit, or renew its credentials)";
pub const NOT_YET_VALID_HINT: &str = "the client's ticket is not valid yet: the clocks of the \
     client, the KDC and this server disagree, or the ticket is postdated";
pub const WRONG_SERVICE_HINT: &str = "the client asked the KDC for a ticket to a different \
     service than this server's keytab holds: make the client use this server's service name \
     and host name, or add that principal's key to the keytab (principal = * accepts any \
     principal in the keytab)";
pub const STALE_KVNO_HINT: &str = "the keytab lacks the key version (kvno) the ticket was \
     encrypted with: the service's key was changed at the KDC (for example by ktadd without \
     -norandkey) after this keytab was exported; export the current key into the keytab";
pub const KEY_MISMATCH_HINT: &str = "the ticket could not be decrypted with the keytab's key: \
     the keytab is out of date for this principal (same kvno, different key) or the token was \
     tampered with; export a fresh keytab";
pub const ENCTYPE_HINT: &str = "the ticket is encrypted with an enctype for which the keytab \
     has no key: export keys for the enctypes the KDC issues (see ktadd -e)";
pub const KEYTAB_UNREADABLE_HINT: &str = "set the keytab option to the path of the service's \
     keytab, readable by the user the service (broker, authd, LDAP server) runs as";
pub const NO_KEY_HINT: &str = "export the service's key into this keytab (kadmin: ktadd -k \
     FILE PRINCIPAL), or set principal to one it holds";
pub const REPLAY_CACHE_OFF_WARNING: &str = "replay_cache = none: replay detection is off, so a \
     captured SASL GSSAPI exchange or HTTP Negotiate header can be replayed to log in as its \
     client; use only for testing";
pub const REPLAY_CACHE_HINT: &str = "make the replay cache directory (KRB5RCACHEDIR, default \
     /var/tmp) writable by the user the service runs as, or set the replay_cache option to a \
     writable file2:/path";

/// Whether the ticket needed a key the loaded keytab lacks: a newer key
/// version, another principal, or the same version with another key. A
/// keytab changed on disk since it was loaded may have it.
pub fn needs_other_key(err: &GssError) -> bool {
    matches!(
        err.krb5_code(),
        AP_ERR_BADKEYVER
            | KT_KVNONOTFOUND
            | KT_NOTFOUND
            | AP_ERR_NOKEY
            | AP_ERR_NOT_US
            | AP_WRONG_PRINC
            | AP_ERR_BAD_INTEGRITY
    )
}

/// Explains a failed gss_accept_sec_context.
pub fn accept_failure(err: &GssError) -> Error {
    let detail = err.detail();
    let rejected = |hint: &str| {
        Error::new(
            ErrorKind::AuthFailed,
            format!("Kerberos rejected the client: {detail}. Hint: {hint}"),
        )
    };
    let malformed = || Error::bad_token(format!("malformed Kerberos token: {detail}"));
    match err.routine() {
        RoutineError::DefectiveToken => return malformed(),
        RoutineError::BadMech => {
            return Error::bad_token(format!(
                "the client's token is not for the Kerberos V5 mechanism: {detail}"
            ));
        }
        _ => {}
    }
    if err.mech_said_nothing() {
        // MIT fails some undecodable AP-REQs with minor text "Success".
        return Error::bad_token(
            "malformed Kerberos token: the Kerberos library could not parse the client's AP-REQ",
        );
    }
    match err.krb5_code() {
        AP_ERR_REPEAT => rejected(REPLAY_HINT),
        AP_ERR_SKEW => rejected(SKEW_HINT),
        AP_ERR_TKT_EXPIRED => rejected(EXPIRED_HINT),
        AP_ERR_TKT_NYV => rejected(NOT_YET_VALID_HINT),
        AP_ERR_NOT_US | AP_WRONG_PRINC | KT_NOTFOUND | AP_ERR_NOKEY => rejected(WRONG_SERVICE_HINT),
        AP_ERR_BADKEYVER | KT_KVNONOTFOUND => rejected(STALE_KVNO_HINT),
        AP_ERR_BAD_INTEGRITY | AP_ERR_MODIFIED | AP_ERR_BADMATCH => rejected(KEY_MISMATCH_HINT),
        BAD_ENCTYPE | PROG_ETYPE_NOSUPP => rejected(ENCTYPE_HINT),
        AP_ERR_BADVERSION | AP_ERR_MSG_TYPE => malformed(),
        // Keys are in memory, so a file error while accepting (a small
        // positive errno) comes from the replay cache.
        RC_FIRST..=RC_LAST | 1..=4095 => Error::config(format!(
            "the replay cache is unusable: {detail}. Hint: {REPLAY_CACHE_HINT}"
        )),
        _ if (ASN1_BASE..ASN1_BASE + 256).contains(&i64::from(err.minor)) => malformed(),
        _ => Error::new(
            ErrorKind::AuthFailed,
            format!("Kerberos rejected the client: {err}"),
        ),
    }
}

/// Explains a failed gss_unwrap of the client's security-layer reply.
pub fn unwrap_failure(err: &GssError) -> Error {
    match err.routine() {
        RoutineError::ContextExpired | RoutineError::CredentialsExpired => Error::new(
            ErrorKind::AuthFailed,
            format!(
                "the client's ticket expired during the handshake: {}",
                err.detail()
            ),
        ),
        _ => Error::bad_token(format!(
            "the client's security-layer reply is not a valid wrap token for this session: {}",
            err.detail()
        )),
    }
}
