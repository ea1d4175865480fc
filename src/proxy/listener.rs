//! Accepts client connections (plain, or TLS with `[tls]`) and serves HTTP/1.1 and
//! HTTP/2 (prior knowledge, or ALPN `h2` over TLS) on them, within the configured limits,
//! until told to stop. Accepting happens on the main runtime; serving on a worker's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::caller::ConnectionInfo;
use super::idle::{Activity, Closed, IdleIo};
use super::workers::Workers;
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
        // Ours runs from a head's first byte, not from the end of the previous answer
        // (see `idle.rs`); hyper's would close idle keep-alive connections too early.
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// Accepts until `stop` turns true and hands each connection to a worker thread; the
/// workers serve them (and drain them at stop, see [`Workers::join`]).
pub async fn accept_loop(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    workers: Workers,
    mut stop: watch::Receiver<bool>,
) -> Workers {
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
        match stream.into_std() {
            Ok(stream) => workers.hand_off(Accepted {
                stream,
                remote,
                slot: (permit, open),
            }),
            Err(e) => tracing::warn!(error = %e, %remote, "cannot hand a connection to a worker"),
        }
    }
    workers
}

/// A client connection on its way to a worker, with the slot it holds until it closes.
pub struct Accepted {
    pub stream: std::net::TcpStream,
    pub remote: SocketAddr,
    pub slot: (OwnedSemaphorePermit, GaugeGuard),
}

/// One client connection, on a worker's runtime: the TLS handshake (with `[tls]`), then
/// HTTP until the connection closes.
pub async fn serve_client(
    accepted: Accepted,
    proxy: Arc<Proxy>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
) {
    let Accepted {
        stream,
        remote,
        slot: _slot,
    } = accepted;
    let stream = match TcpStream::from_std(stream) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, %remote, "cannot register a client connection");
            return;
        }
    };
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
    let metrics = proxy.metrics.clone();
    let in_service = activity.clone();
    let service = service_fn(move |request| {
        let proxy = proxy.clone();
        let info = info.clone();
        let in_flight = in_service.request(request.version());
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
        why = activity.idle(limits.header_read_timeout, limits.idle_timeout) => {
            let kind = match why {
                Closed::SlowHead => "header_timeout",
                Closed::Idle => "idle_timeout",
            };
            tracing::debug!(%remote, kind, "closing a slow or idle client connection");
            metrics.count_client_error(kind);
            return;
        }
    };
    if let Err(e) = closed {
        tracing::debug!(error = %e, %remote, "client connection ended with an error");
        metrics.count_client_error(client_error_kind(e.as_ref()));
    }
}

/// The `kind` label of `client_connection_errors` for an error hyper ended a connection
/// with. Refusals hyper answers itself (431, 400) never reach our handler, so this is
/// where an operator gets to see them.
fn client_error_kind(error: &(dyn std::error::Error + 'static)) -> &'static str {
    let Some(e) = error.downcast_ref::<hyper::Error>() else {
        return "other";
    };
    if e.is_parse_too_large() {
        "head_too_large"
    } else if e.is_parse() {
        "malformed"
    } else if e.is_timeout() {
        "header_timeout"
    } else if e.is_incomplete_message() {
        "incomplete"
    } else {
        "other"
    }
}
