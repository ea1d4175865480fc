//! Accepts client connections (plain, or TLS with `[tls]`) and serves HTTP/1.1 and
//! HTTP/2 (prior knowledge, or ALPN `h2` over TLS) on them, within the configured limits,
//! until told to stop.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::caller::ConnectionInfo;
use super::idle::{Activity, IdleIo};
use super::Proxy;
use crate::config::LimitsConfig;
use crate::metrics::GaugeGuard;
use crate::tls::subject::subject_of;

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
    if let Some(tls) = &proxy.tls {
        tls.clone()
            .spawn_reloader(proxy.audit.clone(), stop.clone());
    }
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
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let proxy = proxy.clone();
        // The TLS handshake runs here, in the connection's own task, so a slow client
        // never holds up the accept loop.
        tokio::spawn(async move {
            let _slot = (permit, open);
            let Some(tls) = proxy.tls.clone() else {
                let info = ConnectionInfo {
                    remote,
                    tls_client_subject: None,
                };
                return serve_connection(stream, info, proxy, &builder, watcher).await;
            };
            // The header read timeout bounds the handshake too (slowloris over TLS).
            let timeout = proxy.limits.header_read_timeout;
            let stream = match tokio::time::timeout(timeout, tls.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    // Info: under mutual TLS this is a refused client, worth seeing.
                    tracing::info!(error = %e, %remote, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake not completed in time");
                    return;
                }
            };
            let tls_client_subject = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| subject_of(leaf));
            let info = ConnectionInfo {
                remote,
                tls_client_subject,
            };
            serve_connection(stream, info, proxy, &builder, watcher).await;
        });
    }
    graceful
}

/// Serves HTTP/1.1 or HTTP/2 on one connection (plain or TLS) until it closes.
async fn serve_connection<I>(
    io: I,
    info: ConnectionInfo,
    proxy: Arc<Proxy>,
    builder: &auto::Builder<TokioExecutor>,
    watcher: Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let remote = info.remote;
    let info = Arc::new(info);
    let activity = Activity::new();
    let limits = proxy.limits.clone();
    let in_service = activity.clone();
    let service = service_fn(move |request| {
        let proxy = proxy.clone();
        let info = info.clone();
        let in_flight = in_service.request();
        async move {
            let response = proxy.handle(request, &info).await;
            drop(in_flight);
            Ok::<_, Infallible>(response)
        }
    });
    let connection = builder
        .serve_connection(TokioIo::new(IdleIo::new(io, activity.clone())), service)
        .into_owned();
    let connection = watcher.watch(connection);
    tokio::pin!(connection);
    let closed = tokio::select! {
        closed = connection.as_mut() => closed,
        _ = activity.idle(limits.header_read_timeout, limits.idle_timeout) => {
            tracing::debug!(%remote, "closing an idle client connection");
            return;
        }
    };
    if let Err(e) = closed {
        tracing::debug!(error = %e, %remote, "client connection ended with an error");
    }
}
