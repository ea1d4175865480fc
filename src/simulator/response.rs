//! Building answers: JSON bodies, error shapes and `X-Request-Id`.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

/// Body type of every answer.
pub type Body = Full<Bytes>;

/// Gateway: no API matches the method, path or host.
pub const APIGW_NO_API: &str = "APIGW.0101";
/// Gateway: the AK/SK signature check failed.
pub const APIGW_BAD_SIGNATURE: &str = "APIGW.0301";
/// IAM v5: a required parameter is missing.
pub const PAP_MISSING_PARAMETER: &str = "PAP5.0001";
/// IAM v5: a parameter is invalid.
pub const PAP_INVALID_PARAMETER: &str = "PAP5.0002";
/// IAM v5: the caller is not allowed to perform the action.
pub const PAP_ACCESS_DENIED: &str = "PAP5.0003";
/// IAM v5: the virtual MFA device does not exist.
pub const PAP_DEVICE_NOT_FOUND: &str = "PAP5.0004";

/// A fresh request ID: 32 lowercase hex characters.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An answer with `X-Request-Id` and the given body.
pub fn with_body(
    status: StatusCode,
    request_id: &str,
    content_type: Option<&'static str>,
    body: Bytes,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", id);
    }
    if let Some(ct) = content_type {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    response
}

/// A JSON answer.
pub fn json_response(status: StatusCode, request_id: &str, body: &Value) -> Response<Body> {
    with_body(
        status,
        request_id,
        Some("application/json;charset=utf-8"),
        Bytes::from(body.to_string()),
    )
}

/// An answer without a body (204).
pub fn empty(status: StatusCode, request_id: &str) -> Response<Body> {
    with_body(status, request_id, None, Bytes::new())
}

/// A gateway error: `{error_code, error_msg, request_id}`.
pub fn gateway_error(
    status: StatusCode,
    request_id: &str,
    code: &str,
    msg: &str,
) -> Response<Body> {
    json_response(
        status,
        request_id,
        &json!({"error_code": code, "error_msg": msg, "request_id": request_id}),
    )
}

/// IAM 400: `{error_code, error_msg}` (SPEC section 2).
pub fn bad_request(request_id: &str, code: &str, msg: &str) -> Response<Body> {
    json_response(
        StatusCode::BAD_REQUEST,
        request_id,
        &json!({"error_code": code, "error_msg": msg}),
    )
}

/// IAM 404: `{error_code, error_msg, request_id}`.
pub fn not_found(request_id: &str, code: &str, msg: &str) -> Response<Body> {
    gateway_error(StatusCode::NOT_FOUND, request_id, code, msg)
}

/// IAM 403: `{error_code, error_msg, request_id, encoded_authorization_message}`.
pub fn forbidden(request_id: &str, access_key: &str, action: &str) -> Response<Body> {
    // Opaque like the real one; it only has to be stable and carry no secret.
    let encoded = crate::signing::sha256_hex(format!("{access_key}\n{action}").as_bytes());
    json_response(
        StatusCode::FORBIDDEN,
        request_id,
        &json!({
            "error_code": PAP_ACCESS_DENIED,
            "error_msg": format!("Access denied: {access_key} is not authorized to perform {action}"),
            "request_id": request_id,
            "encoded_authorization_message": encoded,
        }),
    )
}
