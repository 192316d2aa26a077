//! One AS exchange with the KDC, keyed by a keytab: the preflight self-test
//! gets a ticket for a service from the service's own key, into a MEMORY
//! credential cache that the GSS initiator then uses.
//!
//! The KDC's raw replies are kept (through libkrb5's post-receive hook) so
//! that the caller can read what the KDC said even when libkrb5 could not
//! decrypt it: the key version of a ticket, or the time of an error.

use super::krb5::{
    KContext, KKeyblock, KKeytab, KPrincipal, Krb5Context, Krb5Error, Krb5ErrorCode, c_string,
};
use std::ffi::{c_char, c_uint, c_void};
use std::sync::atomic::{AtomicU64, Ordering};

#[repr(C)]
struct KCcache {
    _private: [u8; 0],
}
#[repr(C)]
struct KGicOptions {
    _private: [u8; 0],
}

#[repr(C)]
struct KData {
    magic: i32,
    length: c_uint,
    data: *mut c_char,
}

#[repr(C)]
struct KTicketTimes {
    authtime: i32,
    starttime: i32,
    endtime: i32,
    renew_till: i32,
}

/// krb5_creds, whose layout is part of MIT's stable ABI.
#[repr(C)]
struct KCreds {
    magic: i32,
    client: *mut KPrincipal,
    server: *mut KPrincipal,
    keyblock: KKeyblock,
    times: KTicketTimes,
    is_skey: c_uint,
    ticket_flags: i32,
    addresses: *mut *mut c_void,
    ticket: KData,
    second_ticket: KData,
    authdata: *mut *mut c_void,
}

type PostRecvHook = unsafe extern "C" fn(
    context: *mut KContext,
    data: *mut c_void,
    code: Krb5ErrorCode,
    realm: *const KData,
    message: *const KData,
    reply: *const KData,
    new_reply: *mut *mut KData,
) -> Krb5ErrorCode;

#[link(name = "krb5")]
unsafe extern "C" {
    fn krb5_set_kdc_recv_hook(
        context: *mut KContext,
        hook: Option<PostRecvHook>,
        data: *mut c_void,
    );
    fn krb5_cc_resolve(
        context: *mut KContext,
        name: *const c_char,
        ccache: *mut *mut KCcache,
    ) -> Krb5ErrorCode;
    fn krb5_cc_destroy(context: *mut KContext, ccache: *mut KCcache) -> Krb5ErrorCode;
    fn krb5_get_init_creds_opt_alloc(
        context: *mut KContext,
        options: *mut *mut KGicOptions,
    ) -> Krb5ErrorCode;
    fn krb5_get_init_creds_opt_free(context: *mut KContext, options: *mut KGicOptions);
    fn krb5_get_init_creds_opt_set_tkt_life(options: *mut KGicOptions, lifetime: i32);
    fn krb5_get_init_creds_opt_set_out_ccache(
        context: *mut KContext,
        options: *mut KGicOptions,
        ccache: *mut KCcache,
    ) -> Krb5ErrorCode;
    fn krb5_get_init_creds_keytab(
        context: *mut KContext,
        creds: *mut KCreds,
        client: *mut KPrincipal,
        keytab: *mut KKeytab,
        start_time: i32,
        in_tkt_service: *const c_char,
        options: *mut KGicOptions,
    ) -> Krb5ErrorCode;
    fn krb5_free_cred_contents(context: *mut KContext, creds: *mut KCreds);
}

/// Numbers the MEMORY ccaches of this process (MIT's names are global).
static MEMORY_CCACHE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A short life: the ticket only serves one self-test.
const TICKET_LIFETIME_SECONDS: i32 = 300;

/// What one AS exchange produced.
pub struct AsExchange {
    /// Every reply a KDC sent, in order (AS-REP or KRB-ERROR, DER).
    pub replies: Vec<Vec<u8>>,
    pub result: Result<IssuedTicket, Krb5Error>,
}

/// A ticket the KDC issued, stored in a MEMORY ccache.
pub struct IssuedTicket {
    /// The KDC's clock when it issued the ticket (seconds since the epoch).
    pub authtime: i64,
    pub ccache: MemoryCcache,
}

/// A MEMORY credential cache, destroyed on drop.
pub struct MemoryCcache {
    handle: *mut KCcache,
    name: String,
    context: Krb5Context,
}

impl MemoryCcache {
    /// The name for GSSAPI's credential store, `MEMORY:...`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for MemoryCcache {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and destroyed once, before the context
        // (a later field) is freed.
        unsafe { krb5_cc_destroy(self.context.as_ptr(), self.handle) };
    }
}

/// Asks the KDC for a ticket to `service`, as `client`, with the client's
/// key from `keytab` (the exchange `kinit -k -t KEYTAB -S SERVICE CLIENT`
/// makes).
pub fn ticket_from_keytab(client: &str, service: &str, keytab: &str) -> AsExchange {
    let mut replies: Vec<Vec<u8>> = Vec::new();
    let result = Krb5Context::new().and_then(|context| {
        // SAFETY: `replies` outlives the exchange; the hook is removed
        // before this function returns.
        unsafe {
            krb5_set_kdc_recv_hook(
                context.as_ptr(),
                Some(record_reply),
                (&mut replies as *mut Vec<Vec<u8>>).cast(),
            )
        };
        exchange(context, client, service, keytab)
    });
    AsExchange { replies, result }
}

fn exchange(
    context: Krb5Context,
    client: &str,
    service: &str,
    keytab: &str,
) -> Result<IssuedTicket, Krb5Error> {
    let ccache_name = format!(
        "MEMORY:kerbsasl-selftest-{}",
        MEMORY_CCACHE_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let c_ccache = c_string(&ccache_name, "ccache name")?;
    let c_service = c_string(service, "service")?;
    let ctx = context.as_ptr();
    let mut ccache = std::ptr::null_mut();
    // SAFETY: valid context, NUL-terminated name, out-pointer.
    let code = unsafe { krb5_cc_resolve(ctx, c_ccache.as_ptr(), &mut ccache) };
    if code != 0 {
        return Err(context.error(code));
    }
    let outcome = {
        let principal = context.parse_name(client);
        let keytab = context.resolve(keytab);
        match (principal, keytab) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(principal), Ok(keytab)) => {
                get_creds(&context, ccache, principal.0, keytab.handle, &c_service)
            }
        }
    };
    // SAFETY: removes the hook whose data lives in the caller's frame.
    unsafe { krb5_set_kdc_recv_hook(ctx, None, std::ptr::null_mut()) };
    let ccache = MemoryCcache {
        handle: ccache,
        name: ccache_name,
        context,
    };
    outcome.map(|authtime| IssuedTicket { authtime, ccache })
}

/// The AS exchange proper; returns the ticket's authtime.
fn get_creds(
    context: &Krb5Context,
    ccache: *mut KCcache,
    client: *mut KPrincipal,
    keytab: *mut KKeytab,
    service: &std::ffi::CStr,
) -> Result<i64, Krb5Error> {
    let ctx = context.as_ptr();
    let mut options = std::ptr::null_mut();
    // SAFETY: valid context and out-pointer; freed below.
    let code = unsafe { krb5_get_init_creds_opt_alloc(ctx, &mut options) };
    if code != 0 {
        return Err(context.error(code));
    }
    // SAFETY: `options` is valid; libkrb5 initialises the ccache with the
    // client and stores the ticket (and the KDC's time offset) in it.
    let code = unsafe {
        krb5_get_init_creds_opt_set_tkt_life(options, TICKET_LIFETIME_SECONDS);
        krb5_get_init_creds_opt_set_out_ccache(ctx, options, ccache)
    };
    let result = if code != 0 {
        Err(context.error(code))
    } else {
        // SAFETY: an all-zero krb5_creds is a valid out-parameter.
        let mut creds: KCreds = unsafe { std::mem::zeroed() };
        // SAFETY: every handle is valid for the call; the creds' contents
        // are freed right after reading the time.
        let code = unsafe {
            krb5_get_init_creds_keytab(
                ctx,
                &mut creds,
                client,
                keytab,
                0,
                service.as_ptr(),
                options,
            )
        };
        if code != 0 {
            Err(context.error(code))
        } else {
            let authtime = i64::from(creds.times.authtime as u32);
            // SAFETY: filled by a successful call, freed once.
            unsafe { krb5_free_cred_contents(ctx, &mut creds) };
            Ok(authtime)
        }
    };
    // SAFETY: allocated above, freed once.
    unsafe { krb5_get_init_creds_opt_free(ctx, options) };
    result
}

/// libkrb5's post-receive hook: copies each KDC reply, changes nothing.
unsafe extern "C" fn record_reply(
    _context: *mut KContext,
    data: *mut c_void,
    code: Krb5ErrorCode,
    _realm: *const KData,
    _message: *const KData,
    reply: *const KData,
    _new_reply: *mut *mut KData,
) -> Krb5ErrorCode {
    if code == 0 && !data.is_null() && !reply.is_null() {
        // SAFETY: `data` is the Vec registered by ticket_from_keytab, used
        // on this thread only during the exchange; `reply` is a valid
        // krb5_data for the call.
        unsafe {
            let replies = &mut *data.cast::<Vec<Vec<u8>>>();
            let reply = &*reply;
            if !reply.data.is_null() {
                let bytes =
                    std::slice::from_raw_parts(reply.data.cast::<u8>(), reply.length as usize);
                replies.push(bytes.to_vec());
            }
        }
    }
    code
}
