//! Listening and serving: HTTP/1.1 and h2c (prior knowledge) on one port.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::config::SimConfig;
use super::devices::{Device, DeviceTable};
use super::handler::{self, State};
use super::stats::{Stats, StatsSnapshot};

/// The simulator could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The ready file cannot be written.
    #[error("cannot write ready file {path}: {source}")]
    ReadyFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Waiting for a stop signal failed.
    #[error("cannot wait for a stop signal: {0}")]
    Signal(std::io::Error),
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen` and serves in the background until the handle is dropped.
    /// Does not print or write the ready file ([`run`] does).
    pub async fn start(config: SimConfig) -> Result<SimulatorHandle, SimError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = Arc::new(State {
            credentials: config.credentials,
            denied: config.denied,
            require_host: config.require_host,
            lax: config.lax,
            verify_signatures: config.verify_signatures,
            devices: DeviceTable::new(config.devices),
            stats: Stats::default(),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(SimulatorHandle {
            local_addr,
            state,
            task,
        })
    }
}

/// A running simulator. Dropping it stops accepting and closes every connection.
pub struct SimulatorHandle {
    local_addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl SimulatorHandle {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The same numbers as `GET /__sim/stats`.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Devices removed by DELETE so far.
    pub fn deletions_performed(&self) -> u64 {
        self.state.stats.deletions_performed()
    }

    /// The current devices.
    pub fn devices(&self) -> Vec<Device> {
        self.state.devices.all()
    }

    /// Adds devices.
    pub fn add_devices(&self, devices: impl IntoIterator<Item = Device>) -> usize {
        self.state.devices.extend(devices)
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        // The accept task owns the connection tasks (a JoinSet): aborting it ends all.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "iam-simulator: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = service_fn(move |req| handler::handle(Arc::clone(&state), req));
            let builder = auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "iam-simulator: connection ended with an error");
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

/// The binary's main loop: start, write the ready file, print `listening on ADDR`, serve
/// until SIGINT or SIGTERM.
pub async fn run(config: SimConfig) -> Result<(), SimError> {
    let ready_file = config.ready_file.clone();
    let handle = Simulator::start(config).await?;
    let addr = handle.local_addr();
    // Ready file first: whoever sees the stdout line can rely on the file too.
    if let Some(path) = ready_file {
        write_ready_file(&path, &addr.to_string()).map_err(|source| SimError::ReadyFile {
            path: path.clone(),
            source,
        })?;
    }
    println!("listening on {addr}");
    wait_for_stop().await.map_err(SimError::Signal)?;
    drop(handle);
    Ok(())
}

/// Written whole then renamed, so a reader never sees a partial address.
fn write_ready_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

#[cfg(unix)]
async fn wait_for_stop() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_stop() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
