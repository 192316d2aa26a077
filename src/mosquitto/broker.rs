//! Mosquitto 2.0's plugin interface (version 5): the C types the broker
//! passes to a plugin, and its API resolved at run time.
//!
//! The broker's functions are looked up with dlsym in plugin init rather
//! than linked, so the library still loads in processes that are not
//! Mosquitto (an Erlang VM, a C host, a test).

use std::ffi::{CStr, c_char, c_int, c_void};

/// `struct mosquitto_opt`: one `plugin_opt_KEY VALUE` line.
#[repr(C)]
pub struct MosquittoOpt {
    pub key: *mut c_char,
    pub value: *mut c_char,
}

/// `struct mosquitto_evt_extended_auth`.
#[repr(C)]
pub struct ExtendedAuthEvent {
    pub future: *mut c_void,
    pub client: *mut Client,
    pub data_in: *const c_void,
    pub data_out: *mut c_void,
    pub data_in_len: u16,
    pub data_out_len: u16,
    pub auth_method: *const c_char,
    pub future2: [*mut c_void; 3],
}

/// `struct mosquitto_evt_disconnect`.
#[repr(C)]
pub struct DisconnectEvent {
    pub future: *mut c_void,
    pub client: *mut Client,
    pub reason: c_int,
    pub future2: [*mut c_void; 4],
}

/// Opaque `struct mosquitto` (a client) and `mosquitto_plugin_id_t`.
#[repr(C)]
pub struct Client {
    _private: [u8; 0],
}
#[repr(C)]
pub struct PluginId {
    _private: [u8; 0],
}

pub const PLUGIN_INTERFACE_VERSION: c_int = 5;

pub const EVT_EXT_AUTH_START: c_int = 4;
pub const EVT_EXT_AUTH_CONTINUE: c_int = 5;
pub const EVT_DISCONNECT: c_int = 10;

pub const ERR_SUCCESS: c_int = 0;
pub const ERR_AUTH_CONTINUE: c_int = -4;
pub const ERR_NOMEM: c_int = 1;
pub const ERR_INVAL: c_int = 3;
pub const ERR_UNKNOWN: c_int = 13;
pub const ERR_AUTH: c_int = 11;
pub const ERR_PLUGIN_DEFER: c_int = 17;

pub const LOG_INFO: c_int = 1 << 0;
pub const LOG_NOTICE: c_int = 1 << 1;
pub const LOG_WARNING: c_int = 1 << 2;
pub const LOG_ERR: c_int = 1 << 3;
pub const LOG_DEBUG: c_int = 1 << 4;

/// The broker's log level for one of kerbsasl's records.
pub fn log_level(level: log::Level) -> c_int {
    match level {
        log::Level::Error => LOG_ERR,
        log::Level::Warn => LOG_WARNING,
        log::Level::Info => LOG_INFO,
        log::Level::Debug | log::Level::Trace => LOG_DEBUG,
    }
}

pub type Callback =
    unsafe extern "C" fn(event: c_int, event_data: *mut c_void, userdata: *mut c_void) -> c_int;

type CallbackRegister = unsafe extern "C" fn(
    identifier: *mut PluginId,
    event: c_int,
    callback: Callback,
    event_data: *const c_void,
    userdata: *mut c_void,
) -> c_int;
type CallbackUnregister = unsafe extern "C" fn(
    identifier: *mut PluginId,
    event: c_int,
    callback: Callback,
    event_data: *const c_void,
) -> c_int;
type LogPrintf = unsafe extern "C" fn(level: c_int, fmt: *const c_char, ...);
type SetUsername = unsafe extern "C" fn(client: *mut Client, username: *const c_char) -> c_int;
type ClientId = unsafe extern "C" fn(client: *const Client) -> *const c_char;

/// The broker functions the plugin uses.
#[derive(Clone, Copy)]
pub struct Broker {
    pub callback_register: CallbackRegister,
    pub callback_unregister: CallbackUnregister,
    log_printf: LogPrintf,
    set_username: SetUsername,
    client_id: ClientId,
    client_address: ClientId,
}

/// Looks up `name` among the symbols the broker exports.
fn lookup(name: &CStr) -> Result<*mut c_void, String> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
    let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if symbol.is_null() {
        Err(format!(
            "{} not found: this library is a Mosquitto plugin only when loaded by mosquitto 2.x",
            name.to_string_lossy()
        ))
    } else {
        Ok(symbol)
    }
}

impl Broker {
    /// Resolves the broker's API, or says which function is missing.
    pub fn resolve() -> Result<Broker, String> {
        // SAFETY: each symbol is the broker's exported function of the
        // signature declared by mosquitto_broker.h for plugin version 5.
        unsafe {
            Ok(Broker {
                callback_register: std::mem::transmute::<*mut c_void, CallbackRegister>(lookup(
                    c"mosquitto_callback_register",
                )?),
                callback_unregister: std::mem::transmute::<*mut c_void, CallbackUnregister>(
                    lookup(c"mosquitto_callback_unregister")?,
                ),
                log_printf: std::mem::transmute::<*mut c_void, LogPrintf>(lookup(
                    c"mosquitto_log_printf",
                )?),
                set_username: std::mem::transmute::<*mut c_void, SetUsername>(lookup(
                    c"mosquitto_set_username",
                )?),
                client_id: std::mem::transmute::<*mut c_void, ClientId>(lookup(
                    c"mosquitto_client_id",
                )?),
                client_address: std::mem::transmute::<*mut c_void, ClientId>(lookup(
                    c"mosquitto_client_address",
                )?),
            })
        }
    }

    /// Writes one line to the broker's log.
    pub fn log(&self, level: c_int, message: &str) {
        let message = crate::ffi::c_string(message);
        // SAFETY: a "%s" format with one NUL-terminated argument.
        unsafe { (self.log_printf)(level, c"%s".as_ptr(), message.as_ptr()) };
    }

    /// Makes `username` the client's username, so ACLs use it.
    pub fn set_username(&self, client: *mut Client, username: &str) -> Result<(), c_int> {
        let username = crate::ffi::c_string(username);
        // SAFETY: a live client from the current event; the broker copies
        // the string.
        match unsafe { (self.set_username)(client, username.as_ptr()) } {
            ERR_SUCCESS => Ok(()),
            code => Err(code),
        }
    }

    /// "client-id from address", for log lines.
    pub fn describe_client(&self, client: *mut Client) -> String {
        let read = |pointer: *const c_char| {
            if pointer.is_null() {
                "?".to_string()
            } else {
                // SAFETY: the broker returns a NUL-terminated string owned
                // by the client, valid during the event.
                unsafe { CStr::from_ptr(pointer) }
                    .to_string_lossy()
                    .into_owned()
            }
        };
        // SAFETY: a live client from the current event.
        let (id, address) = unsafe { ((self.client_id)(client), (self.client_address)(client)) };
        format!("client {} from {}", read(id), read(address))
    }
}
