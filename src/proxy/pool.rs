//! The connections to the upstream of one worker thread: HTTP/1.1 connections, one request
//! at a time each, or one HTTP/2 connection when TLS ALPN chose `h2`.
//!
//! Why not hyper-util's pooled client, which this replaces: it serves any number of hosts
//! from any thread, so every request hashes its pool key (SipHash) into a shared map, and
//! spawns a task that waits for the connection to become ready again before putting it
//! back. That was 19 % of the user-space instructions of a pass-through request under
//! callgrind (`bench/profile.md`). A worker has one upstream and its own pool, so a list
//! does: a connection goes back in the list as soon as its request is handed to it, and
//! is taken again once hyper says it is ready (its answer read to the end).
//!
//! The rules are hyper-util's:
//! - a request hyper hands back unsent (the pooled connection closed under it) is sent on
//!   another connection; a request that was written is never sent again;
//! - on a new connection nothing is retried;
//! - connections unused for `idle_timeout` are closed, by a sweep on the worker's runtime,
//!   before the upstream's own keep-alive timeout would close them under a request.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower_service::Service;

use super::body::ProxyBody;

pub type Connector = HttpsConnector<HttpConnector>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Pooled connections a request may be handed back by, unsent, before it goes on a new one.
const MAX_HANDED_BACK: usize = 3;

/// A worker's connections to the upstream.
pub struct Pool {
    connector: Connector,
    idle_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// HTTP/1.1 connections not in use by a request, the most recently used last. One
    /// whose answer is still being read stays here, not ready, until it is.
    http1: Vec<Pooled<http1::SendRequest<ProxyBody>>>,
    http2: Option<Pooled<http2::SendRequest<ProxyBody>>>,
    sweeping: bool,
}

struct Pooled<S> {
    sender: S,
    last_used: Instant,
}

impl<S> Pooled<S> {
    /// Unused since before `cutoff` ([`Pool::cutoff`]).
    fn expired(&self, cutoff: Option<Instant>) -> bool {
        cutoff.is_some_and(|t| self.last_used <= t)
    }
}

enum Sender {
    Http1(http1::SendRequest<ProxyBody>),
    Http2(http2::SendRequest<ProxyBody>),
}

impl Pool {
    pub fn new(connector: Connector, idle_timeout: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            connector,
            idle_timeout,
            state: Mutex::new(State::default()),
        })
    }

    /// Sends `request` (its URI absolute: scheme, authority, path and query) and waits
    /// for the answer's head.
    pub async fn send(
        self: &Arc<Self>,
        mut request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, BoxError> {
        let uri = request.uri().clone();
        let mut handed_back = 0;
        loop {
            // After a few pooled connections handed the request back, a new one: no loop
            // can spin on a connection hyper keeps refusing.
            let pooled = if handed_back < MAX_HANDED_BACK {
                self.checkout()
            } else {
                None
            };
            let (sender, reused) = match pooled {
                Some(sender) => (sender, true),
                None => (self.connect(&uri).await?, false),
            };
            let http2 = matches!(sender, Sender::Http2(_));
            let result = match sender {
                Sender::Http2(mut sender) => {
                    *request.uri_mut() = uri.clone();
                    sender.try_send_request(request).await
                }
                Sender::Http1(mut sender) => {
                    *request.uri_mut() = origin_form(&uri);
                    let answer = sender.try_send_request(request);
                    // Back in the list at once, not ready until its answer is read: if
                    // this call is dropped (the client left), the connection stays ours.
                    self.checkin(sender);
                    answer.await
                }
            };
            match result {
                Ok(response) => return Ok(response),
                Err(mut e) => match e.take_message() {
                    // Never written: the connection was closing. Another one may do.
                    Some(unsent) if reused => {
                        if http2 {
                            self.lock().http2 = None;
                        }
                        handed_back += 1;
                        request = unsent;
                    }
                    _ => return Err(e.into_error().into()),
                },
            }
        }
    }

    /// A ready connection from the pool, if there is one; drops closed and expired ones.
    fn checkout(&self) -> Option<Sender> {
        let mut state = self.lock();
        if let Some(h2) = &mut state.http2 {
            if h2.sender.is_closed() {
                state.http2 = None;
            } else {
                h2.last_used = Instant::now();
                return Some(Sender::Http2(h2.sender.clone()));
            }
        }
        // Newest first, so that connections beyond what the load needs go unused and
        // expire. Under load the newest are still busy: a step is two atomic loads.
        let cutoff = self.cutoff();
        let mut i = state.http1.len();
        while i > 0 {
            i -= 1;
            let pooled = &state.http1[i];
            if pooled.sender.is_closed() || pooled.expired(cutoff) {
                state.http1.remove(i);
            } else if pooled.sender.is_ready() {
                return Some(Sender::Http1(state.http1.remove(i).sender));
            }
        }
        None
    }

    fn checkin(&self, sender: http1::SendRequest<ProxyBody>) {
        if sender.is_closed() {
            return;
        }
        self.lock().http1.push(Pooled {
            sender,
            last_used: Instant::now(),
        });
    }

    /// A new connection, HTTP/2 if ALPN chose it; its task runs on this worker's runtime.
    async fn connect(self: &Arc<Self>, uri: &Uri) -> Result<Sender, BoxError> {
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx)).await?;
        let io = connector.call(uri.clone()).await?;
        self.start_sweeping();
        if io.connected().is_negotiated_h2() {
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(io)
                .await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "upstream HTTP/2 connection ended");
                }
            });
            self.lock().http2 = Some(Pooled {
                sender: sender.clone(),
                last_used: Instant::now(),
            });
            Ok(Sender::Http2(sender))
        } else {
            let (sender, connection) = http1::handshake(io).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "upstream connection ended");
                }
            });
            Ok(Sender::Http1(sender))
        }
    }

    /// Closes connections unused for `idle_timeout`, checking four times per timeout. The
    /// task ends with the pool.
    fn start_sweeping(self: &Arc<Self>) {
        {
            let mut state = self.lock();
            if state.sweeping {
                return;
            }
            state.sweeping = true;
        }
        let pool: Weak<Pool> = Arc::downgrade(self);
        let every = (self.idle_timeout / 4).max(Duration::from_millis(10));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(pool) = pool.upgrade() else {
                    return;
                };
                let cutoff = pool.cutoff();
                let mut state = pool.lock();
                state
                    .http1
                    .retain(|p| !p.sender.is_closed() && !p.expired(cutoff));
                if state
                    .http2
                    .as_ref()
                    .is_some_and(|p| p.sender.is_closed() || p.expired(cutoff))
                {
                    state.http2 = None;
                }
            }
        });
    }

    /// Connections last used at or before this instant have been idle for `idle_timeout`
    /// (`None` this early after boot: nothing can have been).
    fn cutoff(&self) -> Option<Instant> {
        Instant::now().checked_sub(self.idle_timeout)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a list of connections: always consistent between statements.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `/path?query` for HTTP/1.1, which sends the request target in origin form.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(p) => Uri::from(p.clone()),
        None => Uri::from_static("/"),
    }
}
