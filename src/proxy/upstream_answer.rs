//! Reads what IAM answered to an audited call: the outcome and the request ID.

use http::HeaderMap;

use crate::audit::record::{CallResult, Outcome};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Error fields from an IAM error body. IAM v5 and the API gateway send
/// `{error_code, error_msg}`; older IAM APIs nest them as `{"error": {code, message}}`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ErrorBody {
    pub error_code: Option<String>,
    pub error_msg: Option<String>,
    pub request_id: Option<String>,
}

pub fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return ErrorBody::default();
    };
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    let nested = map.get("error").and_then(|e| e.as_object());
    ErrorBody {
        error_code: text(map.get("error_code"))
            .or_else(|| text(nested.and_then(|e| e.get("code")))),
        error_msg: text(map.get("error_msg"))
            .or_else(|| text(nested.and_then(|e| e.get("message")))),
        request_id: text(map.get("request_id")),
    }
}

/// The outcome of a forwarded call and the upstream's request ID (header first, body as
/// a fallback, as SPEC section 2 says).
pub fn outcome_of(status: u16, headers: &HeaderMap, body: &[u8]) -> (Outcome, Option<String>) {
    let result = CallResult::from_upstream_status(status);
    let error = if result == CallResult::Success {
        ErrorBody::default()
    } else {
        parse_error_body(body)
    };
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(error.request_id);
    (
        Outcome {
            result,
            status,
            error_code: error.error_code,
            error_msg: error.error_msg,
        },
        request_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_statuses_and_reads_errors() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, "abc".parse().unwrap());
        let (o, id) = outcome_of(204, &h, b"");
        assert_eq!(
            (o.result, id.as_deref()),
            (CallResult::Success, Some("abc"))
        );
        let (o, id) = outcome_of(
            404,
            &HeaderMap::new(),
            br#"{"error_code":"PAP5.0005","error_msg":"no such device","request_id":"r1"}"#,
        );
        assert_eq!(o.result, CallResult::NotFound);
        assert_eq!(o.error_code.as_deref(), Some("PAP5.0005"));
        assert_eq!(id.as_deref(), Some("r1"));
        assert_eq!(
            outcome_of(403, &h, b"not json").0.result,
            CallResult::Denied
        );
        assert_eq!(outcome_of(401, &h, b"").0.result, CallResult::Denied);
        assert_eq!(outcome_of(500, &h, b"").0.result, CallResult::Failed);
        let nested = parse_error_body(br#"{"error":{"code":"IAM.0001","message":"m"}}"#);
        assert_eq!(nested.error_code.as_deref(), Some("IAM.0001"));
    }
}
