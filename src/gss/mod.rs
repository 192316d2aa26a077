//! A thin safe wrapper over MIT GSSAPI (through `libgssapi-sys`) and the few
//! libkrb5 calls kerbsasl needs.
//!
//! This is the only module of the core with `unsafe`. Every handle is owned
//! by a type that releases it in `Drop`, and every failure is captured as a
//! [`GssError`] on the failing thread, because MIT keeps the detailed text in
//! thread-specific storage.

mod buffer;
mod context;
mod cred;
mod initiator;
mod kdc;
mod krb5;
mod name;
mod oid;
mod profile;
mod status;

pub use context::{AcceptOutcome, SecurityContext};
pub use cred::Credential;
pub use initiator::Initiator;
pub use kdc::{IssuedTicket, ticket_from_keytab};
pub use krb5::{Krb5Context, Krb5Error, MemoryKeytab, enctype_name};
pub use name::Name;
pub use status::{GssError, RoutineError};
