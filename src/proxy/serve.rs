//! `mfa-audit-proxy serve`: start-up, the accept loop, and an orderly stop.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::listener::accept_loop;
use super::workers::Workers;
use super::Proxy;
use crate::admin;
use crate::audit::record::{Entry, LifecycleRecord};
use crate::audit::{AuditError, AuditLog};
use crate::config::Config;
use crate::metrics::Metrics;

/// Why the proxy could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listening socket could not be bound.
    #[error("listen {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// The audit log could not be opened or written at start or stop.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] super::upstream::UpstreamSetupError),
    /// A resign-mode secret key could not be loaded.
    #[error("config key `{key}`: {0}", key = .0.key())]
    Credentials(#[from] crate::credentials::CredentialError),
    /// The client-facing TLS files could not be loaded.
    #[error("config key `{key}`: {0}", key = .0.key())]
    Tls(#[from] crate::tls::TlsError),
    /// `forwarding.trusted_proxies` holds something that is not a CIDR.
    #[error("config key `{key}`: {0}", key = .0.key())]
    Forwarding(#[from] super::forwarded_for::BadTrustedProxy),
    /// The async runtime or a worker thread could not start.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

pub fn serve(config: Config) -> Result<(), ServeError> {
    // The main runtime accepts connections and runs the admin endpoint, the signal
    // handlers and the lifecycle records; the worker threads (`workers`) serve clients.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(run(config))
}

async fn run(config: Config) -> Result<(), ServeError> {
    // Before anything announces the proxy: a SIGTERM right after "listening on" must stop
    // it in order (with its stop record), not kill it by the default action.
    let signals = stop_signals();
    let audit = AuditLog::open(&config.audit)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let admin_listener = TcpListener::bind(config.admin.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.admin.listen,
            source,
        })?;
    let metrics = Arc::new(Metrics::new());
    let proxy = Arc::new(Proxy::new(&config, audit.clone(), metrics.clone())?);
    // Started before the proxy is announced, so a failure here leaves no start record.
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker_count = config.worker_threads();
    let workers = Workers::start(worker_count, &proxy, &stop_rx, config.shutdown_grace)
        .map_err(ServeError::Runtime)?;

    audit
        .append(Entry::Lifecycle(LifecycleRecord::new(
            "ProxyStarted",
            serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "config_sha256": hex::encode(Sha256::digest(config.to_toml())),
                "listen": listener.local_addr().ok(),
                "upstream": config.upstream.url,
                "mode": config.upstream.mode,
                "tls": config.tls.is_some(),
                "mutual_tls": config.tls.as_ref().is_some_and(|t| t.client_ca_file.is_some()),
                "trusted_proxies": config.forwarding.trusted_proxies,
                "workers": worker_count,
                "pid": std::process::id(),
            }),
        )))
        .await?;

    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let admin_bound = admin_listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // Scripts and tests read these lines to learn the ports when configured as :0.
    println!("listening on {bound}");
    println!("admin listening on {admin_bound}");
    tracing::info!(listen = %bound, admin = %admin_bound, upstream = %config.upstream.url, "proxy started");

    let admin_task = tokio::spawn(admin::serve(
        admin_listener,
        audit.clone(),
        metrics,
        stop_rx.clone(),
    ));
    let accept_task = tokio::spawn(accept_loop(listener, proxy, workers, stop_rx));

    let signal = wait_for_stop_signal(signals).await;
    tracing::info!(
        signal,
        "stopping: no new connections; waiting for calls in flight"
    );
    let _ = stop_tx.send(true);
    // Each worker gives its connections the grace period, all at the same time.
    let drained = match accept_task.await {
        Ok(workers) => tokio::task::spawn_blocking(move || workers.join())
            .await
            .unwrap_or(false),
        Err(_) => false,
    };
    if !drained {
        tracing::warn!(grace = ?config.shutdown_grace, "grace period over with calls still in flight");
    }
    let _ = admin_task.await;
    let stopped = audit
        .append(Entry::Lifecycle(LifecycleRecord::new(
            "ProxyStopped",
            serde_json::json!({ "signal": signal, "drained": drained }),
        )))
        .await;
    // The writer's shutdown writes the final checkpoint and reports anything it could not
    // write; it runs even when the stop record failed, so nothing pending goes unreported.
    let shut_down = audit.shutdown().await;
    stopped?;
    shut_down?;
    tracing::info!("stopped");
    Ok(())
}

type StopSignals = Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>;

/// Installs the SIGTERM and SIGINT handlers.
fn stop_signals() -> StopSignals {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => Some((term, int)),
        _ => None,
    }
}

async fn wait_for_stop_signal(signals: StopSignals) -> &'static str {
    let Some((mut term, mut int)) = signals else {
        // Without signal handlers the process can only be killed; keep serving.
        std::future::pending::<()>().await;
        unreachable!()
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
