//! Answers the proxy gives itself (SPEC section 6): JSON `{error_code, error_msg}` with
//! codes under the proxy's own `MAP.` prefix, so a client can tell them from IAM's
//! (`PAP5.`, `APIGW.`). The code also says who caused the failure: 04xx the client
//! (downstream), 05xx the upstream or the proxy itself.

use http::{header, HeaderValue, Response, StatusCode};

use super::body::{full, ProxyBody};

pub const AUDIT_ID_HEADER: &str = "x-audit-id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// The request broke a validation rule (downstream's fault).
    InvalidRequest,
    /// The caller's signature did not verify (resign mode; downstream's fault).
    SignatureRejected,
    /// The request body is larger than `limits.max_body_bytes` (downstream's fault).
    BodyTooLarge,
    /// The upstream could not be reached or gave no answer (upstream's fault).
    UpstreamUnreachable,
    /// The audit log could not take the `received` record (the proxy's own fault).
    AuditUnavailable,
    /// The upstream did not answer in time (upstream's fault).
    UpstreamTimeout,
}

impl ProxyError {
    /// The answer for an upstream that gave none: 504 on timeout, 502 otherwise.
    pub fn for_upstream(error: &super::upstream::UpstreamError) -> ProxyError {
        match error {
            super::upstream::UpstreamError::Timeout { .. } => ProxyError::UpstreamTimeout,
            super::upstream::UpstreamError::Unreachable { .. } => ProxyError::UpstreamUnreachable,
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ProxyError::InvalidRequest => StatusCode::BAD_REQUEST,
            ProxyError::SignatureRejected => StatusCode::UNAUTHORIZED,
            ProxyError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::UpstreamUnreachable => StatusCode::BAD_GATEWAY,
            ProxyError::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ProxyError::InvalidRequest => "MAP.0400",
            ProxyError::SignatureRejected => "MAP.0401",
            ProxyError::BodyTooLarge => "MAP.0413",
            ProxyError::UpstreamUnreachable => "MAP.0502",
            ProxyError::AuditUnavailable => "MAP.0503",
            ProxyError::UpstreamTimeout => "MAP.0504",
        }
    }

    /// The JSON answer, with `X-Audit-Id` when the request was an audited call.
    pub fn answer(self, message: &str, audit_id: Option<&str>) -> Response<ProxyBody> {
        let body = serde_json::json!({ "error_code": self.code(), "error_msg": message });
        let mut response = Response::new(full(body.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(id) = audit_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            headers.insert(AUDIT_ID_HEADER, id);
        }
        response
    }
}
