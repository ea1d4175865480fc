//! The proxy: accept -> classify -> (pass through | validate -> `received` -> forward ->
//! `completed`) -> answer.

mod audited;
pub mod body;
pub mod caller;
pub mod classify;
pub mod error_answer;
pub mod forward;
pub mod hop_by_hop;
pub mod listener;
mod pass_through;
pub mod serve;
pub mod upstream;
pub mod upstream_answer;
pub mod validate;

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::audit::AuditLog;
use crate::config::{Config, LimitsConfig};
use crate::metrics::{GaugeGuard, Metrics};
use body::ProxyBody;
use caller::ConnectionInfo;
use classify::{classify, Route};
use upstream::Upstream;

pub use serve::serve;

/// Everything a request handler needs, shared by all connections.
pub struct Proxy {
    pub upstream: Upstream,
    pub audit: AuditLog,
    pub limits: LimitsConfig,
    pub metrics: Arc<Metrics>,
}

impl Proxy {
    pub fn new(
        config: &Config,
        audit: AuditLog,
        metrics: Arc<Metrics>,
    ) -> Result<Proxy, upstream::UpstreamSetupError> {
        Ok(Proxy {
            upstream: Upstream::new(&config.upstream)?,
            audit,
            limits: config.limits.clone(),
            metrics,
        })
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
            Route::PassThrough => ("pass_through", self.pass_through(request).await),
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
        route: &str,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, upstream::UpstreamError> {
        let started = Instant::now();
        let result = self.upstream.send(request).await;
        self.metrics.observe_upstream(route, started.elapsed());
        result
    }
}
