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

use http::{Request, Response};
use hyper::body::Incoming;

use crate::audit::AuditLog;
use crate::config::{Config, LimitsConfig};
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
}

impl Proxy {
    pub fn new(config: &Config, audit: AuditLog) -> Result<Proxy, upstream::UpstreamSetupError> {
        Ok(Proxy { upstream: Upstream::new(&config.upstream)?, audit, limits: config.limits.clone() })
    }

    pub async fn handle(&self, request: Request<Incoming>, connection: &ConnectionInfo) -> Response<ProxyBody> {
        let route = classify(request.method(), request.uri().path(), request.uri().query(), request.headers());
        match route {
            Route::PassThrough => self.pass_through(request).await,
            Route::DeleteVirtualMfaDevice => self.audited_delete(request, connection, None).await,
            Route::LookAlike(why) => self.audited_delete(request, connection, Some(why)).await,
        }
    }
}
