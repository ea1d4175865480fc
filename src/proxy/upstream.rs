//! The upstream IAM endpoint: a connection pool per worker ([`super::pool`]), HTTP/1.1,
//! or HTTP/2 where TLS ALPN offers it; certificates always verified (webpki roots); idle
//! connections closed before the upstream would close them; a request timeout up to the
//! response head.

use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;

use super::body::ProxyBody;
use super::pool::{Connector, Pool};
use crate::config::UpstreamConfig;

/// Why the upstream gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No response head within `upstream.request_timeout`.
    #[error("upstream {authority}: no answer within {after:?}")]
    Timeout {
        authority: Authority,
        after: Duration,
    },
    /// Connection refused or reset, TLS failure, protocol error.
    #[error("upstream {authority}: {reason}")]
    Unreachable {
        authority: Authority,
        reason: String,
    },
}

/// Why the upstream client could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    /// `upstream.url` is not an absolute http(s) URL.
    #[error("upstream.url {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The upstream TLS files (`upstream.ca_file`, client certificate) do not load.
    #[error("config key `{key}`: {0}", key = .0.key())]
    Tls(#[from] crate::tls::TlsError),
}

/// The upstream endpoint and a pool of connections to it. Each worker thread has its own
/// pool ([`Upstream::with_own_pool`]), so a pooled connection is driven by the same
/// thread that serves the client: no request crosses threads on its way upstream.
pub struct Upstream {
    pool: Arc<Pool>,
    connector: Connector,
    pool_idle_timeout: Duration,
    scheme: Scheme,
    authority: Authority,
    request_timeout: Duration,
}

impl Upstream {
    pub fn new(config: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
        let bad = |reason: &str| UpstreamSetupError::BadUrl {
            url: config.url.clone(),
            reason: reason.to_string(),
        };
        let uri: Uri = config.url.parse().map_err(|_| bad("not a URL"))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| bad("no scheme"))?;
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host"))?;

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client::client_config(config)?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Ok(Upstream {
            pool: Pool::new(connector.clone(), config.pool_idle_timeout),
            connector,
            pool_idle_timeout: config.pool_idle_timeout,
            scheme,
            authority,
            request_timeout: config.request_timeout,
        })
    }

    /// The same endpoint and settings with a new, empty connection pool. The pool's
    /// connection tasks run on the runtime that first uses it.
    pub fn with_own_pool(&self) -> Upstream {
        Upstream {
            pool: Pool::new(self.connector.clone(), self.pool_idle_timeout),
            connector: self.connector.clone(),
            pool_idle_timeout: self.pool_idle_timeout,
            scheme: self.scheme.clone(),
            authority: self.authority.clone(),
            request_timeout: self.request_timeout,
        }
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The upstream URI for a request target, keeping the raw path and query byte for byte.
    pub fn uri_for(&self, path_and_query: Option<&PathAndQuery>) -> Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(
            path_and_query
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        Uri::from_parts(parts).expect("scheme, authority and path always form a URI")
    }

    /// Sends a request and waits for the response head.
    pub async fn send(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        match tokio::time::timeout(self.request_timeout, self.pool.send(request)).await {
            Err(_) => Err(UpstreamError::Timeout {
                authority: self.authority.clone(),
                after: self.request_timeout,
            }),
            Ok(Err(e)) => Err(UpstreamError::Unreachable {
                authority: self.authority.clone(),
                reason: error_chain(&*e),
            }),
            Ok(Ok(response)) => Ok(response),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

/// hyper's errors say little at the top ("connection error", "tcp connect error"); the
/// cause is deeper.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
