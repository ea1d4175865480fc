//! Thread-per-core serving. Each worker thread runs its own single-threaded tokio runtime
//! and its own upstream connection pool, like nginx's worker processes. A connection is
//! accepted once, on the main runtime, and handed to the worker with the fewest open
//! connections; from then on its requests, their upstream exchanges and every wakeup
//! between the two stay on that thread.
//!
//! Why not tokio's work-stealing runtime: on the benchmark machine it spent about 20 %
//! more CPU per pass-through request, most of it moving each request between the client
//! connection's task and the pooled upstream connection's task on another thread, and
//! waking that thread (bench/profile.md).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{mpsc, watch};

use super::listener::{http_builder, serve_client, Accepted};
use super::Proxy;

/// The worker threads; [`Workers::hand_off`] gives them connections.
pub struct Workers {
    workers: Vec<Worker>,
}

struct Worker {
    connections: mpsc::UnboundedSender<(Accepted, OpenGuard)>,
    /// Connections handed to this worker and not yet closed.
    open: Arc<AtomicUsize>,
    thread: JoinHandle<bool>,
}

/// Counts a connection against its worker until it closes.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Workers {
    /// Starts `count` workers (at least one). At `stop` each stops taking connections and
    /// gives the ones it has `grace` to finish their requests.
    pub fn start(
        count: usize,
        proxy: &Proxy,
        stop: &watch::Receiver<bool>,
        grace: Duration,
    ) -> std::io::Result<Workers> {
        let mut workers = Vec::with_capacity(count.max(1));
        for index in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (connections, incoming) = mpsc::unbounded_channel();
            let open = Arc::new(AtomicUsize::new(0));
            let (proxy, audit_relay) = proxy.for_worker();
            let proxy = Arc::new(proxy);
            let stop = stop.clone();
            let thread = std::thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || {
                    runtime.block_on(async {
                        tokio::spawn(audit_relay);
                        serve_connections(incoming, proxy, stop, grace).await
                    })
                })?;
            workers.push(Worker {
                connections,
                open,
                thread,
            });
        }
        Ok(Workers { workers })
    }

    /// Gives a connection to the worker with the fewest open connections.
    pub fn hand_off(&self, accepted: Accepted) {
        let Some(worker) = self
            .workers
            .iter()
            .filter(|w| !w.connections.is_closed())
            .min_by_key(|w| w.open.load(Relaxed))
        else {
            // Every worker has stopped (only at shutdown): the connection just closes.
            return;
        };
        worker.open.fetch_add(1, Relaxed);
        // A send to a worker that just stopped drops the connection, and the guard with it.
        let _ = worker
            .connections
            .send((accepted, OpenGuard(worker.open.clone())));
    }

    /// Waits for every worker to finish; true when all drained their connections within
    /// the grace period. Blocks: call it off the runtime.
    pub fn join(self) -> bool {
        let mut drained = true;
        for worker in self.workers {
            drop(worker.connections);
            // A worker that panicked did not drain.
            drained &= worker.thread.join().unwrap_or(false);
        }
        drained
    }
}

/// A worker's body: serves the connections it is handed until `stop`, then drains them.
async fn serve_connections(
    mut incoming: mpsc::UnboundedReceiver<(Accepted, OpenGuard)>,
    proxy: Arc<Proxy>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) -> bool {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(http_builder(&proxy.limits));
    loop {
        let (accepted, counted) = tokio::select! {
            accepted = incoming.recv() => match accepted {
                Some(a) => a,
                None => break,
            },
            _ = stop.changed() => break,
        };
        let serve = serve_client(accepted, proxy.clone(), builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _counted = counted;
            serve.await
        });
    }
    // Connections handed over but not yet taken close with the channel.
    drop(incoming);
    tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_ok()
}
