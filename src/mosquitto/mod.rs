//! The Mosquitto 2 plugin entry points (plugin interface version 5), so
//! that libkerbsasl.so loads directly with a `plugin` line:
//!
//! ```text
//! plugin /usr/lib/x86_64-linux-gnu/libkerbsasl.so
//! plugin_opt_principal mqtt/broker.example.com@EXAMPLE.COM
//! plugin_opt_keytab /etc/mosquitto/mqtt.keytab
//! ```
//!
//! MQTT 5 clients then authenticate with method `GSSAPI-KERBEROS`, and the
//! client's username becomes its Kerberos identity before ACLs are checked.
//! This module holds the unsafe glue; the logic is in `plugin`.

mod broker;
mod plugin;

use crate::logging;
use broker::{
    Broker, Client, DisconnectEvent, ERR_AUTH, ERR_AUTH_CONTINUE, ERR_INVAL, ERR_NOMEM,
    ERR_PLUGIN_DEFER, ERR_SUCCESS, ERR_UNKNOWN, EVT_DISCONNECT, EVT_EXT_AUTH_CONTINUE,
    EVT_EXT_AUTH_START, ExtendedAuthEvent, LOG_ERR, LOG_NOTICE, MosquittoOpt,
    PLUGIN_INTERFACE_VERSION, PluginId,
};
pub(crate) use plugin::PluginOptions;
use plugin::{Outcome, Plugin};
use std::ffi::{CStr, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

/// What userdata points at: the instance and its registration handle.
struct Instance {
    plugin: Plugin,
    identifier: *mut PluginId,
}

const EVENTS: [c_int; 3] = [EVT_EXT_AUTH_START, EVT_EXT_AUTH_CONTINUE, EVT_DISCONNECT];

/// Tells Mosquitto which plugin interface this plugin speaks: 5.
///
/// # Safety
/// `versions` points at `count` ints, as Mosquitto guarantees.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_version(count: c_int, versions: *const c_int) -> c_int {
    if versions.is_null() || count <= 0 {
        return -1;
    }
    // SAFETY: Mosquitto passes `count` readable ints.
    let offered = unsafe { std::slice::from_raw_parts(versions, count as usize) };
    if offered.contains(&PLUGIN_INTERFACE_VERSION) {
        PLUGIN_INTERFACE_VERSION
    } else {
        -1
    }
}

/// Creates an instance from the `plugin_opt_*` lines and registers its
/// callbacks. Bad options make the broker refuse to start, after one log
/// line that says what to fix.
///
/// # Safety
/// Called by Mosquitto with valid pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_init(
    identifier: *mut PluginId,
    userdata: *mut *mut c_void,
    options: *mut MosquittoOpt,
    count: c_int,
) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let broker = Broker::resolve()?;
        if userdata.is_null() {
            return Err("mosquitto passed no userdata pointer".to_string());
        }
        // SAFETY: Mosquitto passes `count` options with NUL-terminated keys
        // and values, valid during the call.
        let options = unsafe { read_options(options, count) }?;
        // First, so that the server's own records (a replay cache warning)
        // reach the broker's log too.
        route_logs(broker);
        let plugin = Plugin::new(broker, &options).map_err(|e| {
            broker.log(LOG_ERR, &format!("kerbsasl: cannot start: {e}"));
            String::new()
        })?;
        let instance = Box::into_raw(Box::new(Instance { plugin, identifier }));
        for event in EVENTS {
            // SAFETY: the broker's register function with our callback; the
            // instance lives until cleanup unregisters it.
            let rc = unsafe {
                (broker.callback_register)(
                    identifier,
                    event,
                    on_event,
                    std::ptr::null(),
                    instance.cast(),
                )
            };
            if rc != ERR_SUCCESS {
                // SAFETY: undo what was registered, then free the instance.
                unsafe { unregister_and_free(instance) };
                return Err(format!(
                    "mosquitto_callback_register({event}) failed with {rc}"
                ));
            }
        }
        // SAFETY: checked non-NULL above.
        unsafe { *userdata = instance.cast() };
        // SAFETY: the instance was just created.
        let method = unsafe { (*instance).plugin.method().to_string() };
        broker.log(
            LOG_NOTICE,
            &format!("kerbsasl: offering MQTT 5 authentication method {method}"),
        );
        Ok(())
    }));
    match result {
        Ok(Ok(())) => ERR_SUCCESS,
        Ok(Err(message)) => {
            if !message.is_empty() {
                report(&message);
            }
            ERR_INVAL
        }
        Err(_) => {
            report("internal error (a bug in kerbsasl) during plugin init");
            ERR_UNKNOWN
        }
    }
}

/// Unregisters the instance's callbacks and frees it with every handshake
/// still in progress.
///
/// # Safety
/// `userdata` is what mosquitto_plugin_init stored, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_cleanup(
    userdata: *mut c_void,
    _options: *mut MosquittoOpt,
    _count: c_int,
) -> c_int {
    if userdata.is_null() {
        return ERR_SUCCESS;
    }
    let freed = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: userdata is the instance from init, cleaned up once.
        unsafe { unregister_and_free(userdata.cast()) }
    }));
    if freed.is_ok() {
        ERR_SUCCESS
    } else {
        ERR_UNKNOWN
    }
}

/// # Safety
/// `instance` came from Box::into_raw in init and is not used afterwards.
unsafe fn unregister_and_free(instance: *mut Instance) {
    // SAFETY: guaranteed by the caller.
    let instance = unsafe { Box::from_raw(instance) };
    let broker = instance.plugin.broker();
    for event in EVENTS {
        // SAFETY: unregistering the callback init registered; a callback
        // that was never registered is reported and ignored by the broker.
        unsafe {
            (broker.callback_unregister)(instance.identifier, event, on_event, std::ptr::null())
        };
    }
}

/// # Safety
/// `options` points at `count` entries with valid strings.
unsafe fn read_options(
    options: *const MosquittoOpt,
    count: c_int,
) -> Result<Vec<(String, String)>, String> {
    if count <= 0 || options.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: guaranteed by the caller.
    let entries = unsafe { std::slice::from_raw_parts(options, count as usize) };
    entries
        .iter()
        .map(|option| {
            if option.key.is_null() || option.value.is_null() {
                return Err("a plugin_opt line without a value".to_string());
            }
            // SAFETY: NUL-terminated strings owned by the broker.
            let (key, value) =
                unsafe { (CStr::from_ptr(option.key), CStr::from_ptr(option.value)) };
            match (key.to_str(), value.to_str()) {
                (Ok(key), Ok(value)) => Ok((key.to_string(), value.to_string())),
                _ => Err(format!(
                    "plugin_opt_{} is not valid UTF-8",
                    key.to_string_lossy()
                )),
            }
        })
        .collect()
}

/// Logs to the broker if it can be found, else to stderr (which Mosquitto
/// also shows when it refuses to start).
fn report(message: &str) {
    let line = format!("kerbsasl: cannot start: {message}");
    match Broker::resolve() {
        Ok(broker) => broker.log(LOG_ERR, &line),
        Err(_) => eprintln!("{line}"),
    }
}

/// Sends kerbsasl's own records (keytab reloads, replay cache warnings) to
/// the broker's log, once per process.
fn route_logs(broker: Broker) {
    static ROUTED: Once = Once::new();
    ROUTED.call_once(|| {
        let sink: logging::Sink = Box::new(move |level, _target, message| {
            broker.log(broker::log_level(level), &format!("kerbsasl: {message}"));
        });
        // Plugin init never runs inside a sink call.
        let _ = logging::set_sink(Some((sink, log::LevelFilter::Info)));
    });
}

/// The one callback for every event; a panic here denies the client
/// instead of unwinding into the broker.
unsafe extern "C" fn on_event(
    event: c_int,
    event_data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    if event_data.is_null() || userdata.is_null() {
        return ERR_INVAL;
    }
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: userdata is our instance, alive until cleanup.
        let plugin = unsafe { &(*(userdata as *const Instance)).plugin };
        match event {
            EVT_DISCONNECT => {
                // SAFETY: Mosquitto passes a disconnect event for this id.
                let data = unsafe { &*(event_data as *const DisconnectEvent) };
                plugin.disconnect(data.client);
                ERR_SUCCESS
            }
            EVT_EXT_AUTH_START | EVT_EXT_AUTH_CONTINUE => {
                // SAFETY: Mosquitto passes an extended-auth event for these.
                let data = unsafe { &mut *(event_data as *mut ExtendedAuthEvent) };
                // SAFETY: the event's fields are valid during the call.
                unsafe { extended_auth(plugin, event, data) }
            }
            _ => ERR_PLUGIN_DEFER,
        }
    }))
    .unwrap_or(ERR_AUTH)
}

/// # Safety
/// `data` is the broker's event, with valid data_in and auth_method.
unsafe fn extended_auth(plugin: &Plugin, event: c_int, data: &mut ExtendedAuthEvent) -> c_int {
    let input: &[u8] = if data.data_in.is_null() || data.data_in_len == 0 {
        &[]
    } else {
        // SAFETY: the broker passes data_in_len readable bytes.
        unsafe { std::slice::from_raw_parts(data.data_in.cast(), usize::from(data.data_in_len)) }
    };
    let client: *mut Client = data.client;
    let outcome = if event == EVT_EXT_AUTH_START {
        let method = (!data.auth_method.is_null())
            // SAFETY: a NUL-terminated method name owned by the broker.
            .then(|| unsafe { CStr::from_ptr(data.auth_method) }.to_str().ok())
            .flatten();
        plugin.auth_start(client, method, input)
    } else {
        plugin.auth_continue(client, input)
    };
    match outcome {
        Outcome::Defer => ERR_PLUGIN_DEFER,
        Outcome::Deny => ERR_AUTH,
        Outcome::Success => ERR_SUCCESS,
        Outcome::Continue(token) if token.is_empty() => ERR_AUTH_CONTINUE,
        Outcome::Continue(token) => {
            // The broker frees data_out with free(): allocate with malloc.
            // SAFETY: plain allocation; checked for NULL below.
            let buffer = unsafe { libc::malloc(token.len()) };
            if buffer.is_null() {
                plugin.disconnect(client);
                return ERR_NOMEM;
            }
            // SAFETY: the buffer holds token.len() bytes; plugin.advance
            // refused tokens longer than u16::MAX.
            unsafe { std::ptr::copy_nonoverlapping(token.as_ptr(), buffer.cast(), token.len()) };
            data.data_out = buffer;
            data.data_out_len = token.len() as u16;
            ERR_AUTH_CONTINUE
        }
    }
}
