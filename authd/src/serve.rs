//! The HTTP/1.1 server: hyper connections on a tokio listener, stopped
//! gracefully by SIGTERM or SIGINT.

use crate::answer::{App, answer};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::Signal;

/// A client must send a request's headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests under way at shutdown get this long to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Largest request head accepted: room for the longest Authorization value
/// the library takes (a 64 KiB Kerberos token in base64) and other headers.
const MAX_HEAD_LEN: usize = kerbsasl::MAX_AUTHORIZATION_LEN + 32 * 1024;

/// The signals that stop the daemon.
pub struct Stop {
    pub terminate: Signal,
    pub interrupt: Signal,
}

/// Serves until a stop signal, then lets open requests finish.
pub async fn serve(listener: TcpListener, app: Arc<App>, mut stop: Stop) {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_LEN);
    let signal = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let app = Arc::clone(&app);
                    let service = service_fn(move |request| {
                        let app = Arc::clone(&app);
                        async move { Ok::<_, Infallible>(answer(app, request, peer).await) }
                    });
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            log::debug!("connection from {peer}: {e}");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors, usually: let some close.
                    log::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.terminate.recv() => break "SIGTERM",
            _ = stop.interrupt.recv() => break "SIGINT",
        }
    };
    drop(listener);
    log::info!("{signal}: shutting down");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            log::warn!("requests still open after {} s; closing them", SHUTDOWN_GRACE.as_secs());
        }
    }
}
