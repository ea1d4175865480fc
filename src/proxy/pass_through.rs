//! Everything that is not the audited call: forwarded as is, bodies streamed both ways.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use http::{Request, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::body::{stream, ProxyBody};
use super::body_limit::{declared_too_large, too_large};
use super::error_answer::ProxyError;
use super::forward::{client_response, upstream_request};
use super::Proxy;

impl Proxy {
    pub(super) async fn pass_through(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let limit = self.limits.max_body_bytes;
        if let Some(answer) = declared_too_large(&parts.headers, limit) {
            return answer;
        }
        // A chunked body is cut off at the limit: the upstream sees a broken request, and
        // the client gets 413 (its fault), not 502.
        let over_limit = Arc::new(AtomicBool::new(false));
        let tripped = over_limit.clone();
        let body = stream(
            Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).map_err(move |e| {
                if e.is::<LengthLimitError>() {
                    tripped.store(true, Relaxed);
                }
                e
            }),
        );
        match self
            .send_upstream(
                "pass_through",
                upstream_request(parts, body, &self.upstream),
            )
            .await
        {
            Ok(response) => client_response(response),
            Err(_) if over_limit.load(Relaxed) => too_large(limit),
            Err(e) => {
                tracing::warn!(error = %e, "pass-through request got no upstream answer");
                let kind = ProxyError::for_upstream(&e);
                kind.answer(&e.to_string(), None)
            }
        }
    }
}
