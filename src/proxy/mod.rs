//! The proxy: accept -> classify -> (pass through | validate -> `received` -> forward ->
//! `completed`) -> answer.

mod audited;
pub mod body;
pub mod body_limit;
pub mod caller;
pub mod classify;
pub mod error_answer;
pub mod forward;
pub mod forwarded_for;
pub mod hop_by_hop;
pub mod idle;
pub mod listener;
mod pass_through;
pub mod pool;
mod resign;
pub mod serve;
pub mod upstream;
pub mod upstream_answer;
pub mod validate;
pub mod workers;

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::audit::AuditLog;
use crate::config::{Config, LimitsConfig, UpstreamMode};
use crate::credentials::Credentials;
use crate::metrics::{GaugeGuard, Metrics};
use crate::tls::server::ServerTls;
use body::ProxyBody;
use caller::ConnectionInfo;
use classify::{classify, Route};
use forwarded_for::TrustedProxies;
use resign::Resigner;
use upstream::Upstream;

pub use serve::{serve, ServeError};

/// Everything a request handler needs. Each worker thread has its own copy
/// ([`Proxy::for_worker`]): the same audit log, keys and metrics, its own upstream pool.
pub struct Proxy {
    pub upstream: Upstream,
    pub audit: AuditLog,
    pub limits: LimitsConfig,
    pub metrics: Arc<Metrics>,
    /// Resign mode's keys and policy; `None` in passthrough mode.
    pub resign: Option<Arc<Resigner>>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// The client-facing TLS configuration; `None`: plain HTTP.
    pub tls: Option<Arc<ServerTls>>,
}

impl Proxy {
    pub fn new(
        config: &Config,
        audit: AuditLog,
        metrics: Arc<Metrics>,
    ) -> Result<Proxy, ServeError> {
        let resign = match config.upstream.mode {
            UpstreamMode::Passthrough => None,
            UpstreamMode::Resign => Some(Arc::new(Resigner {
                credentials: Credentials::load(&config.credentials)?,
                temporary_credentials: config.upstream.temporary_credentials,
            })),
        };
        Ok(Proxy {
            upstream: Upstream::new(&config.upstream)?,
            audit,
            limits: config.limits.clone(),
            metrics,
            resign,
            trusted_proxies: TrustedProxies::parse(&config.forwarding.trusted_proxies)?,
            tls: config.tls.as_ref().map(ServerTls::new).transpose()?,
        })
    }

    /// A copy for one worker thread: everything shared but the upstream connection pool
    /// and the audit answers' relay, whose task the worker must run on its own runtime.
    pub fn for_worker(
        &self,
    ) -> (
        Proxy,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (audit, relay) = self.audit.with_relay();
        let proxy = Proxy {
            upstream: self.upstream.with_own_pool(),
            audit,
            limits: self.limits.clone(),
            metrics: self.metrics.clone(),
            resign: self.resign.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            tls: self.tls.clone(),
        };
        (proxy, relay)
    }

    pub async fn handle(
        &self,
        request: Request<Incoming>,
        connection: &ConnectionInfo,
    ) -> Response<ProxyBody> {
        let _in_flight = GaugeGuard::new(&self.metrics.in_flight);
        let route = classify(
            request.method(),
            request.uri().path(),
            request.uri().query(),
            request.headers(),
        );
        let (name, response) = match route {
            Route::PassThrough => match &self.resign {
                Some(resigner) => (
                    "pass_through",
                    self.resign_pass_through(resigner, request).await,
                ),
                None => ("pass_through", self.pass_through(request).await),
            },
            Route::DeleteVirtualMfaDevice => (
                "audited_delete",
                self.audited_delete(request, connection, None).await,
            ),
            Route::LookAlike(why) => (
                "look_alike",
                self.audited_delete(request, connection, Some(why)).await,
            ),
        };
        self.metrics.count_request(name, response.status().as_u16());
        response
    }

    /// Sends a request upstream, timing it for `/metrics`.
    async fn send_upstream(
        &self,
        route: &'static str,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, upstream::UpstreamError> {
        let started = Instant::now();
        let result = self.upstream.send(request).await;
        self.metrics.observe_upstream(route, started.elapsed());
        result
    }
}
