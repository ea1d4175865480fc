//! The pass-through body limit (`limits.max_body_bytes`), checked up front against a
//! declared Content-Length; a chunked body is cut off where it passes the limit.

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Response};

use super::body::ProxyBody;
use super::error_answer::ProxyError;

/// The 413 answer when the request says it is larger than `limit`.
pub fn declared_too_large(headers: &HeaderMap, limit: u64) -> Option<Response<ProxyBody>> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    declared
        .is_some_and(|length| length > limit)
        .then(|| too_large(limit))
}

/// The 413 answer for a body over `limit`.
pub fn too_large(limit: u64) -> Response<ProxyBody> {
    ProxyError::BodyTooLarge.answer(
        &format!("request bodies are limited to {limit} bytes"),
        None,
    )
}
