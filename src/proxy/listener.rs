//! Accepts client connections and serves HTTP/1.1 and HTTP/2 (prior knowledge) on them,
//! within the configured limits, until told to stop.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::caller::ConnectionInfo;
use super::Proxy;
use crate::config::LimitsConfig;
use crate::metrics::GaugeGuard;

/// The HTTP server settings that enforce `[limits]`.
pub fn http_builder(limits: &LimitsConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// Serves until `stop` turns true, then waits for open connections to finish their
/// requests (the caller bounds that wait with the grace period).
pub async fn accept_loop(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    mut stop: watch::Receiver<bool>,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(http_builder(&proxy.limits));
    let connections = Arc::new(Semaphore::new(proxy.limits.max_connections));
    loop {
        // Wait for a free connection slot before accepting, so excess clients queue in the
        // kernel's backlog instead of costing memory here.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let open = GaugeGuard::new(&proxy.metrics.open_connections);
        let info = Arc::new(ConnectionInfo {
            remote,
            tls_client_subject: None,
        });
        let header_read_timeout = proxy.limits.header_read_timeout;
        let proxy = proxy.clone();
        let service = service_fn(move |request| {
            let proxy = proxy.clone();
            let info = info.clone();
            async move { Ok::<_, Infallible>(proxy.handle(request, &info).await) }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let mut stopping = stop.clone();
        tokio::spawn(async move {
            // hyper's header_read_timeout starts only once the first bytes have told
            // HTTP/1 from HTTP/2: without this wait, a client that sends nothing (or part
            // of the HTTP/2 preface) would hold its `max_connections` slot forever.
            let spoke = tokio::select! {
                decided = tokio::time::timeout(header_read_timeout, protocol_decided(&stream)) => {
                    matches!(decided, Ok(true))
                }
                _ = stopping.wait_for(|stop| *stop) => false,
            };
            if spoke {
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .into_owned();
                if let Err(e) = watcher.watch(connection).await {
                    tracing::debug!(error = %e, %remote, "client connection ended with an error");
                }
            } else {
                tracing::debug!(%remote, "client connection closed: no request began within header_read_timeout");
            }
            drop((permit, open));
        });
    }
    graceful
}

/// The HTTP/2 connection preface (RFC 9113 section 3.4): hyper-util reads as much of it
/// as the client sends before serving either protocol.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits until the client's first bytes tell HTTP/1 from HTTP/2, without consuming them;
/// false if the client closes first.
async fn protocol_decided(stream: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; H2_PREFACE.len()];
    loop {
        match stream.peek(&mut first).await {
            Ok(0) | Err(_) => return false,
            Ok(n) if n == H2_PREFACE.len() || first[..n] != H2_PREFACE[..n] => return true,
            // Part of the preface: `peek` would return the same bytes at once, so wait a
            // little for the rest (only HTTP/2 clients, which send it whole, and slow ones).
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}
