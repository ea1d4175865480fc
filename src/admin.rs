//! The admin listener: `/healthz` (alive), `/readyz` (audit log writable) and `/metrics`.
//! Keep it on a loopback or pod-internal address: it is unauthenticated.

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use std::sync::Arc;

use crate::audit::AuditLog;
use crate::metrics::Metrics;
use crate::proxy::body::{full, ProxyBody};

pub async fn serve(
    listener: TcpListener,
    audit: AuditLog,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let audit = audit.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let audit = audit.clone();
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(answer(&request, &audit, &metrics)) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(request: &Request<Incoming>, audit: &AuditLog, metrics: &Metrics) -> Response<ProxyBody> {
    let (status, body) = match request.uri().path() {
        "/metrics" => {
            metrics.observe_audit(&audit.stats());
            let mut response = Response::new(full(metrics.encode()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            return response;
        }
        "/healthz" => (StatusCode::OK, "ok\n".to_string()),
        "/readyz" if audit.is_writable() => (StatusCode::OK, "ready\n".to_string()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "audit log not writable\n".to_string(),
        ),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_string()),
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
}
