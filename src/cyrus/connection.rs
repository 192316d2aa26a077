//! One Cyrus connection's mechanism state: the handshake, then the
//! security layer's encode and decode. Safe code: outputs are handed back
//! as raw parts for `mod.rs` to give to libsasl2.

use super::host::Host;
use super::sys::{
    SASL_BADAUTH, SASL_BADMAC, SASL_BADPARAM, SASL_BADPROT, SASL_FAIL, SASL_NOAUTHZ, SASL_NOTDONE,
    SASL_TOOWEAK,
};
use crate::error::{Error, ErrorKind};
use crate::layer::{FrameReader, LayerPolicy, Protection, SecurityLayer, write_frame};
use crate::server::{Server, Session, Step};
use std::ffi::c_int;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A failure as Cyrus wants it: a SASL_* code and the text for seterror.
#[derive(Debug)]
pub struct Failure {
    pub code: c_int,
    pub message: String,
}

impl Failure {
    pub fn new(code: c_int, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let code = match error.kind() {
            ErrorKind::BadToken => SASL_BADPROT,
            ErrorKind::AuthFailed => SASL_BADAUTH,
            ErrorKind::AuthzDenied => SASL_NOAUTHZ,
            ErrorKind::TooWeak => SASL_TOOWEAK,
            ErrorKind::BadState => SASL_NOTDONE,
            ErrorKind::InvalidArgument => SASL_BADPARAM,
            ErrorKind::Config | ErrorKind::Internal => SASL_FAIL,
        };
        Failure::new(code, error.message())
    }
}

/// Bytes owned by the connection, lent to the host: valid until the next
/// call of the same kind (step, encode or decode) or the connection's end.
#[derive(Clone, Copy)]
pub struct Lent {
    pub ptr: *const u8,
    pub len: usize,
}

impl Lent {
    fn of(bytes: &[u8]) -> Lent {
        Lent {
            ptr: if bytes.is_empty() {
                std::ptr::null()
            } else {
                bytes.as_ptr()
            },
            len: bytes.len(),
        }
    }
}

/// What a step produced.
pub enum Progress {
    /// Send these bytes.
    Continue(Lent),
    /// Authenticated: the identity to canonicalise and the layer.
    Done(Outcome),
}

/// The finished handshake, as the glue reports it to libsasl2.
pub struct Outcome {
    /// The authentication identity: kerbsasl's username for the client.
    pub authid: String,
    /// The authorization identity the client asked for, if any.
    pub authzid: Option<String>,
    pub layer: SecurityLayer,
}

pub struct Connection {
    server: Server,
    /// The connection's utilities from mech_new, valid until mech_dispose.
    host: Host,
    inner: Mutex<Inner>,
}

/// Behind a lock because hosts may encode on one thread while they decode
/// on another; the handshake itself is one step at a time.
struct Inner {
    session: Option<Session>,
    step_output: Vec<u8>,
    encoded: Vec<u8>,
    decoded: Vec<u8>,
    scratch: Vec<u8>,
    frames: FrameReader,
}

impl Connection {
    pub fn new(server: Server, host: Host) -> Connection {
        Connection {
            server,
            host,
            inner: Mutex::new(Inner {
                session: None,
                step_output: Vec::new(),
                encoded: Vec::new(),
                decoded: Vec::new(),
                scratch: Vec::new(),
                frames: FrameReader::new(0),
            }),
        }
    }

    pub fn host(&self) -> Host {
        self.host
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held is reported where it happened;
        // the state it left is refused by the session itself.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds the client's next message; the first one starts the
    /// handshake under `policy`.
    pub fn step(&self, input: &[u8], policy: LayerPolicy) -> Result<Progress, Failure> {
        // The step runs without the lock: it logs, which calls the host.
        let taken = self.inner().session.take();
        let (session, step) = match taken {
            Some(mut session) => {
                let step = session.step(input);
                (Some(session), step)
            }
            None => match self.server.start_with_layers(policy, input) {
                Ok((session, step)) => (Some(session), Ok(step)),
                Err(e) => (None, Err(e)),
            },
        };
        let mut guard = self.inner();
        let inner = &mut *guard;
        inner.session = session;
        match step? {
            Step::Continue(token) => {
                inner.step_output = token;
                Ok(Progress::Continue(Lent::of(&inner.step_output)))
            }
            Step::Authenticated => {
                let session = inner
                    .session
                    .as_ref()
                    .ok_or_else(|| Failure::new(SASL_FAIL, "no session after success"))?;
                let (Some(identity), Some(layer)) = (session.identity(), session.security_layer())
                else {
                    return Err(Failure::new(SASL_FAIL, "no identity after success"));
                };
                inner.frames = FrameReader::new(layer.max_buffer);
                Ok(Progress::Done(Outcome {
                    authid: identity.username.clone(),
                    authzid: identity.authzid.clone(),
                    layer: *layer,
                }))
            }
        }
    }

    /// Protects the concatenation of `parts` into SASL frames; the result
    /// is borrowed until the next encode.
    pub fn encode(&self, parts: &[&[u8]]) -> Result<Lent, Failure> {
        let mut guard = self.inner();
        let Inner {
            session,
            encoded,
            scratch,
            ..
        } = &mut *guard;
        let session = session.as_ref().ok_or_else(not_done)?;
        let layer = session.security_layer().ok_or_else(not_done)?;
        let data: &[u8] = match parts {
            [one] => one,
            _ => {
                scratch.clear();
                parts.iter().for_each(|p| scratch.extend_from_slice(p));
                scratch
            }
        };
        encoded.clear();
        // libsasl2 already cuts data to the client's buffer; a host calling
        // the plugin directly may not.
        let chunk = usize::try_from(layer.max_plaintext)
            .unwrap_or(usize::MAX)
            .max(1);
        for piece in data.chunks(chunk) {
            write_frame(&session.wrap(piece)?, encoded);
        }
        Ok(Lent::of(encoded))
    }

    /// Removes the protection of every complete frame in the stream so
    /// far; a partial frame waits for the rest. The result is borrowed until
    /// the next decode.
    pub fn decode(&self, input: &[u8]) -> Result<Lent, Failure> {
        let mut guard = self.inner();
        let Inner {
            session,
            decoded,
            frames,
            ..
        } = &mut *guard;
        let session = session.as_ref().ok_or_else(not_done)?;
        let layer = session.security_layer().ok_or_else(not_done)?;
        if layer.protection == Protection::None {
            return Err(Failure::new(
                SASL_NOTDONE,
                "no security layer was negotiated: there is nothing to decode",
            ));
        }
        decoded.clear();
        let mut unwrap_failed = false;
        frames
            .push(input, |frame| {
                let message = session
                    .unwrap(frame)
                    .inspect_err(|_| unwrap_failed = true)?;
                decoded.extend_from_slice(&message);
                Ok(())
            })
            .map_err(|e| Failure {
                // A frame that fails its check: Cyrus's "integrity check failed".
                code: if unwrap_failed {
                    SASL_BADMAC
                } else {
                    SASL_BADPROT
                },
                message: e.message().to_string(),
            })?;
        Ok(Lent::of(decoded))
    }
}

fn not_done() -> Failure {
    Failure::new(
        SASL_NOTDONE,
        "the security layer is not ready: the handshake has not succeeded",
    )
}
