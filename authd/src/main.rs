//! kerbsasl-authd: Kerberos (HTTP Negotiate) single sign-on for any HTTP
//! service behind a reverse proxy. The proxy asks it about each request
//! (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth); it
//! answers 200 with the identity in headers, or 401 Negotiate.

mod answer;
mod client;
mod logger;
mod options;
mod serve;
mod session;

use answer::App;
use options::Settings;
use session::Sessions;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

/// Bad options, or a server the library cannot set up.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let settings = match Settings::from_args() {
        Ok(settings) => settings,
        Err(message) => return fail(EXIT_USAGE, &message),
    };
    logger::init(settings.log_level);
    let server = match kerbsasl::Server::from_options(settings.library_options()) {
        Ok(server) => server,
        Err(e) => {
            let code = kerbsasl::ffi::kerbsasl_result::from(e.kind());
            return fail(EXIT_USAGE, &format!("cannot start: {code:?}: {e}"));
        }
    };
    let sessions = match settings
        .sessions
        .as_ref()
        .map(|s| Sessions::load(s, &settings.library, server.local_realms()))
    {
        None => None,
        Some(Ok(sessions)) => Some(sessions),
        Some(Err(message)) => return fail(EXIT_USAGE, &message),
    };
    let app = Arc::new(App {
        server,
        sessions,
        health_path: settings.health_path.clone(),
    });
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // HTTP handling is a few µs a request: one async worker per four
        // cores keeps up, and fewer workers wake each other less (measured:
        // 15% less CPU per cookie request on 2 cores than one per core).
        .worker_threads(cores.div_ceil(4))
        // Kerberos accepts; more than a few per core only queue inside MIT.
        .max_blocking_threads(4 * cores)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
    };
    let status = runtime.block_on(run(&settings, app));
    // A Kerberos accept still running on the blocking pool gets a moment.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    status
}

async fn run(settings: &Settings, app: Arc<App>) -> ExitCode {
    let stop = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(terminate), Ok(interrupt)) => serve::Stop {
            terminate,
            interrupt,
        },
        (Err(e), _) | (_, Err(e)) => return fail(1, &format!("cannot handle signals: {e}")),
    };
    let listener = match tokio::net::TcpListener::bind(&settings.listen).await {
        Ok(listener) => listener,
        Err(e) => return fail(1, &format!("cannot listen on {}: {e}", settings.listen)),
    };
    let address = listener
        .local_addr()
        .map_or_else(|_| settings.listen.clone(), |a| a.to_string());
    let sessions = match &app.sessions {
        Some(s) => format!("on (cookie {})", s.cookie_name()),
        None => "off".to_string(),
    };
    log::info!(
        "kerbsasl-authd {} listening on {address}; health check at {}; sessions {sessions}",
        env!("CARGO_PKG_VERSION"),
        settings.health_path
    );
    serve::serve(listener, app, stop).await;
    log::info!("stopped");
    ExitCode::SUCCESS
}

fn fail(status: u8, message: &str) -> ExitCode {
    eprintln!("kerbsasl-authd: {message}");
    ExitCode::from(status)
}
