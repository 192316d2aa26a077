//! The few libkrb5 calls GSSAPI does not cover: the default keytab name,
//! keytab inspection, and copying a keytab into a MEMORY keytab. The
//! krb5.conf profile and the KDC exchange of the preflight checks are in
//! `profile` and `kdc`, over the handles declared here.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::fmt;

pub(super) type Krb5ErrorCode = i32;

/// Opaque libkrb5 handles.
#[repr(C)]
pub(super) struct KContext {
    _private: [u8; 0],
}
#[repr(C)]
pub(super) struct KKeytab {
    _private: [u8; 0],
}
#[repr(C)]
pub(super) struct KPrincipal {
    _private: [u8; 0],
}

#[repr(C)]
pub(super) struct KKeyblock {
    magic: i32,
    enctype: i32,
    length: c_uint,
    contents: *mut u8,
}

/// krb5_keytab_entry, whose layout is part of MIT's stable ABI.
#[repr(C)]
struct KKeytabEntry {
    magic: i32,
    principal: *mut KPrincipal,
    timestamp: i32,
    vno: c_uint,
    key: KKeyblock,
}

#[link(name = "krb5")]
unsafe extern "C" {
    fn krb5_init_context(context: *mut *mut KContext) -> Krb5ErrorCode;
    fn krb5_free_context(context: *mut KContext);
    fn krb5_get_error_message(context: *mut KContext, code: Krb5ErrorCode) -> *const c_char;
    fn krb5_free_error_message(context: *mut KContext, msg: *const c_char);
    fn krb5_kt_default_name(context: *mut KContext, name: *mut c_char, len: c_int)
    -> Krb5ErrorCode;
    fn krb5_kt_resolve(
        context: *mut KContext,
        name: *const c_char,
        keytab: *mut *mut KKeytab,
    ) -> Krb5ErrorCode;
    fn krb5_kt_close(context: *mut KContext, keytab: *mut KKeytab) -> Krb5ErrorCode;
    fn krb5_kt_get_type(context: *mut KContext, keytab: *mut KKeytab) -> *const c_char;
    fn krb5_kt_start_seq_get(
        context: *mut KContext,
        keytab: *mut KKeytab,
        cursor: *mut *mut c_void,
    ) -> Krb5ErrorCode;
    fn krb5_kt_next_entry(
        context: *mut KContext,
        keytab: *mut KKeytab,
        entry: *mut KKeytabEntry,
        cursor: *mut *mut c_void,
    ) -> Krb5ErrorCode;
    fn krb5_kt_end_seq_get(
        context: *mut KContext,
        keytab: *mut KKeytab,
        cursor: *mut *mut c_void,
    ) -> Krb5ErrorCode;
    fn krb5_kt_add_entry(
        context: *mut KContext,
        keytab: *mut KKeytab,
        entry: *mut KKeytabEntry,
    ) -> Krb5ErrorCode;
    fn krb5_free_keytab_entry_contents(
        context: *mut KContext,
        entry: *mut KKeytabEntry,
    ) -> Krb5ErrorCode;
    fn krb5_unparse_name(
        context: *mut KContext,
        principal: *const KPrincipal,
        name: *mut *mut c_char,
    ) -> Krb5ErrorCode;
    fn krb5_free_unparsed_name(context: *mut KContext, name: *mut c_char);
    fn krb5_parse_name(
        context: *mut KContext,
        name: *const c_char,
        principal: *mut *mut KPrincipal,
    ) -> Krb5ErrorCode;
    fn krb5_free_principal(context: *mut KContext, principal: *mut KPrincipal);
    fn krb5_get_default_realm(context: *mut KContext, realm: *mut *mut c_char) -> Krb5ErrorCode;
    fn krb5_free_default_realm(context: *mut KContext, realm: *mut c_char);
}

#[link(name = "k5crypto")]
unsafe extern "C" {
    fn krb5_enctype_to_name(
        enctype: i32,
        shortest: c_uint,
        buffer: *mut c_char,
        length: usize,
    ) -> Krb5ErrorCode;
}

const KRB5_KT_END: Krb5ErrorCode = -1765328202;

/// A libkrb5 failure with its message.
#[derive(Debug, Clone)]
pub struct Krb5Error {
    /// The krb5_error_code (0 when the failure is kerbsasl's own).
    pub code: i32,
    pub message: String,
}

impl Krb5Error {
    fn own(message: String) -> Krb5Error {
        Krb5Error { code: 0, message }
    }
}

impl fmt::Display for Krb5Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A krb5_context. Holding one open for a server's lifetime also keeps MIT's
/// parsed krb5.conf cached, so accepts don't re-read it.
pub struct Krb5Context(*mut KContext);

// SAFETY: a krb5_context may move between threads; it is used by one at a
// time (callers keep it behind a Mutex; it is not Sync).
unsafe impl Send for Krb5Context {}

/// What a keytab held when it was copied.
pub struct KeytabCopy {
    /// Distinct principals, in keytab order, e.g. `mqtt/host@REALM`.
    pub principals: Vec<String>,
    pub entries: usize,
}

impl Krb5Context {
    pub fn new() -> Result<Krb5Context, Krb5Error> {
        let mut context = std::ptr::null_mut();
        // SAFETY: out-pointer valid for the call.
        let code = unsafe { krb5_init_context(&mut context) };
        if code != 0 {
            return Err(Krb5Error {
                code,
                message: format!("cannot initialise Kerberos (krb5_init_context error {code})"),
            });
        }
        Ok(Krb5Context(context))
    }

    pub(super) fn as_ptr(&self) -> *mut KContext {
        self.0
    }

    pub(super) fn error(&self, code: Krb5ErrorCode) -> Krb5Error {
        // SAFETY: the context is valid; the message is freed right after
        // being copied.
        let message = unsafe {
            let raw = krb5_get_error_message(self.0, code);
            if raw.is_null() {
                format!("krb5 error {code}")
            } else {
                let text = CStr::from_ptr(raw).to_string_lossy().into_owned();
                krb5_free_error_message(self.0, raw);
                text
            }
        };
        Krb5Error { code, message }
    }

    /// KRB5_KTNAME, else krb5.conf default_keytab_name, else MIT's default.
    pub fn default_keytab_name(&self) -> Result<String, Krb5Error> {
        let mut buffer = [0 as c_char; 4096];
        // SAFETY: the buffer and its length match.
        let code =
            unsafe { krb5_kt_default_name(self.0, buffer.as_mut_ptr(), buffer.len() as c_int) };
        if code != 0 {
            return Err(self.error(code));
        }
        // SAFETY: krb5_kt_default_name NUL-terminates within the buffer.
        Ok(unsafe { CStr::from_ptr(buffer.as_ptr()) }
            .to_string_lossy()
            .into_owned())
    }

    /// krb5.conf's default_realm (or what MIT derives without one).
    pub fn default_realm(&self) -> Result<String, Krb5Error> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: valid context and out-pointer; the string is freed below.
        let code = unsafe { krb5_get_default_realm(self.0, &mut raw) };
        if code != 0 {
            return Err(self.error(code));
        }
        // SAFETY: raw is a NUL-terminated string from libkrb5, freed once.
        let realm = unsafe {
            let realm = CStr::from_ptr(raw).to_string_lossy().into_owned();
            krb5_free_default_realm(self.0, raw);
            realm
        };
        Ok(realm)
    }

    pub(super) fn resolve(&self, name: &str) -> Result<Keytab<'_>, Krb5Error> {
        let c_name = c_string(name, "keytab name")?;
        let mut handle = std::ptr::null_mut();
        // SAFETY: valid context, NUL-terminated name, out-pointer.
        let code = unsafe { krb5_kt_resolve(self.0, c_name.as_ptr(), &mut handle) };
        if code != 0 {
            return Err(self.error(code));
        }
        Ok(Keytab {
            context: self,
            handle,
        })
    }

    /// The keytab type of `name`: "FILE", "MEMORY", ...
    pub fn keytab_type(&self, name: &str) -> Result<String, Krb5Error> {
        let keytab = self.resolve(name)?;
        // SAFETY: a static string owned by the keytab type.
        Ok(
            unsafe { CStr::from_ptr(krb5_kt_get_type(self.0, keytab.handle)) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// Every entry of keytab `name`, in keytab order.
    pub fn keytab_entries(&self, name: &str) -> Result<Vec<KeytabEntry>, Krb5Error> {
        let mut entries = Vec::new();
        self.resolve(name)?.for_each_entry(|entry| {
            entries.push(KeytabEntry {
                principal: self.unparse(entry.principal)?,
                kvno: entry.vno,
                enctype: entry.key.enctype,
                timestamp: i64::from(entry.timestamp as u32),
            });
            Ok(())
        })?;
        Ok(entries)
    }

    /// `name` as libkrb5 reads it, with the default realm added when it
    /// has none: `mqtt/host` becomes `mqtt/host@EXAMPLE.COM`.
    pub fn canonical_principal(&self, name: &str) -> Result<String, Krb5Error> {
        let principal = self.parse_name(name)?;
        self.unparse(principal.0)
    }

    pub(super) fn parse_name(&self, name: &str) -> Result<Principal<'_>, Krb5Error> {
        let c_name = c_string(name, "principal")?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: valid context, NUL-terminated name, out-pointer.
        let code = unsafe { krb5_parse_name(self.0, c_name.as_ptr(), &mut raw) };
        if code != 0 {
            return Err(self.error(code));
        }
        Ok(Principal(raw, self))
    }

    pub(super) fn unparse(&self, principal: *const KPrincipal) -> Result<String, Krb5Error> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: valid context and principal; the string is freed below.
        let code = unsafe { krb5_unparse_name(self.0, principal, &mut raw) };
        if code != 0 {
            return Err(self.error(code));
        }
        // SAFETY: raw is a NUL-terminated string from libkrb5, freed once.
        let text = unsafe {
            let text = CStr::from_ptr(raw).to_string_lossy().into_owned();
            krb5_free_unparsed_name(self.0, raw);
            text
        };
        Ok(text)
    }
}

/// One keytab entry, as `klist -kte` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    pub principal: String,
    pub kvno: u32,
    pub enctype: i32,
    /// When the key was written, in seconds since the epoch.
    pub timestamp: i64,
}

/// MIT's name of an enctype, e.g. "aes256-cts-hmac-sha1-96".
pub fn enctype_name(enctype: i32) -> String {
    let mut buffer = [0 as c_char; 128];
    // SAFETY: the buffer and its length match.
    let code = unsafe { krb5_enctype_to_name(enctype, 0, buffer.as_mut_ptr(), buffer.len()) };
    if code != 0 {
        return format!("enctype {enctype}");
    }
    // SAFETY: krb5_enctype_to_name NUL-terminates within the buffer.
    unsafe { CStr::from_ptr(buffer.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

pub(super) fn c_string(text: &str, what: &str) -> Result<CString, Krb5Error> {
    CString::new(text).map_err(|_| Krb5Error::own(format!("{what} {text:?} contains a NUL byte")))
}

/// A parsed principal, freed on drop.
pub(super) struct Principal<'a>(pub(super) *mut KPrincipal, pub(super) &'a Krb5Context);

impl Drop for Principal<'_> {
    fn drop(&mut self) {
        // SAFETY: the principal is owned and freed once, with its context.
        unsafe { krb5_free_principal(self.1.0, self.0) };
    }
}

impl Drop for Krb5Context {
    fn drop(&mut self) {
        // SAFETY: the context is owned and freed once.
        unsafe { krb5_free_context(self.0) };
    }
}

/// A resolved keytab handle, closed on drop.
pub(super) struct Keytab<'a> {
    context: &'a Krb5Context,
    pub(super) handle: *mut KKeytab,
}

impl Keytab<'_> {
    /// Calls `visit` for each entry; stops at the first error.
    fn for_each_entry(
        &self,
        mut visit: impl FnMut(&mut KKeytabEntry) -> Result<(), Krb5Error>,
    ) -> Result<(), Krb5Error> {
        let ctx = self.context.0;
        let mut cursor = std::ptr::null_mut();
        // SAFETY: valid context and keytab; the cursor is ended below.
        let code = unsafe { krb5_kt_start_seq_get(ctx, self.handle, &mut cursor) };
        if code != 0 {
            return Err(self.context.error(code));
        }
        let mut result = Ok(());
        loop {
            // SAFETY: an all-zero entry is a valid out-parameter.
            let mut entry: KKeytabEntry = unsafe { std::mem::zeroed() };
            // SAFETY: valid context, keytab, entry and live cursor.
            let code = unsafe { krb5_kt_next_entry(ctx, self.handle, &mut entry, &mut cursor) };
            if code == KRB5_KT_END {
                break;
            }
            if code != 0 {
                result = Err(self.context.error(code));
                break;
            }
            let visited = visit(&mut entry);
            // SAFETY: the entry was filled by next_entry and is freed once.
            unsafe { krb5_free_keytab_entry_contents(ctx, &mut entry) };
            if let Err(e) = visited {
                result = Err(e);
                break;
            }
        }
        // SAFETY: ends the cursor started above.
        unsafe { krb5_kt_end_seq_get(ctx, self.handle, &mut cursor) };
        result
    }

    /// Gives up the handle without closing it.
    fn into_raw(self) -> *mut KKeytab {
        let handle = self.handle;
        std::mem::forget(self);
        handle
    }
}

impl Drop for Keytab<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and closed once.
        unsafe { krb5_kt_close(self.context.0, self.handle) };
    }
}

/// A MEMORY keytab holding a copy of another keytab's keys.
///
/// MIT destroys a MEMORY keytab (wiping its keys) when its last handle is
/// closed; this value holds one handle, and each credential acquired from
/// the keytab holds another.
pub struct MemoryKeytab {
    handle: *mut KKeytab,
    name: String,
    context: Krb5Context,
}

// SAFETY: the handle is only used in Drop, and MIT's memory keytabs lock
// internally; nothing else is reachable through a shared reference.
unsafe impl Send for MemoryKeytab {}
// SAFETY: as for Send: `&MemoryKeytab` only reads `name`; the handle is
// touched in Drop alone.
unsafe impl Sync for MemoryKeytab {}

impl MemoryKeytab {
    /// Copies every entry of keytab `source` into a new MEMORY keytab
    /// named `name`, which must not exist yet.
    pub fn copy_of(source: &str, name: String) -> Result<(MemoryKeytab, KeytabCopy), Krb5Error> {
        let context = Krb5Context::new()?;
        let mut copy = KeytabCopy {
            principals: Vec::new(),
            entries: 0,
        };
        let handle = {
            let to = context.resolve(&name)?;
            let from = context.resolve(source)?;
            from.for_each_entry(|entry| {
                let principal = context.unparse(entry.principal)?;
                if !copy.principals.contains(&principal) {
                    copy.principals.push(principal);
                }
                // SAFETY: valid context, keytab and entry; add_entry copies it.
                let code = unsafe { krb5_kt_add_entry(context.0, to.handle, entry) };
                if code != 0 {
                    return Err(context.error(code));
                }
                copy.entries += 1;
                Ok(())
            })?;
            to.into_raw()
        };
        Ok((
            MemoryKeytab {
                handle,
                name,
                context,
            },
            copy,
        ))
    }

    /// The name to acquire credentials from, `MEMORY:...`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for MemoryKeytab {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and closed once, before the context
        // (a later field) is freed.
        unsafe { krb5_kt_close(self.context.0, self.handle) };
    }
}
