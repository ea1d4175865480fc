//! Routing and the simulated IAM API.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde_json::json;

use super::devices::{is_valid_serial_number, is_valid_user_id, Device, DeviceKey, DeviceTable};
use super::lax;
use super::query::{parse_lax, parse_strict, Params};
use super::response::{self as r, Body};
use super::stats::Stats;
use crate::signing::{self, Authorization, Secret};

/// Bodies larger than this are refused (the API takes no large bodies)...
const MAX_BODY: usize = 1024 * 1024;
/// ...except bulk device loads for load tests.
const MAX_SIM_BODY: usize = 256 * 1024 * 1024;
/// `GET /v5/mfa-devices` page size bounds and default (IAM v5 API reference).
const MAX_LIMIT: usize = 200;
const DEFAULT_LIMIT: usize = 100;

const DELETE_ACTION: &str = "iam:mfa:deleteVirtualMFADeviceV5";
const LIST_ACTION: &str = "iam:mfa:listMFADevicesV5";

/// Everything a request may touch.
#[derive(Debug)]
pub struct State {
    /// Access key ID to secret key.
    pub credentials: BTreeMap<String, Secret>,
    /// Access keys answered 403.
    pub denied: BTreeSet<String>,
    /// The only `Host` served, if set.
    pub require_host: Option<String>,
    /// Sloppy interpretation.
    pub lax: bool,
    /// Check signatures.
    pub verify_signatures: bool,
    /// The devices.
    pub devices: DeviceTable,
    /// What was received.
    pub stats: Stats,
}

/// The hyper service: reads the body, then [`route`]s.
pub async fn handle<B>(state: Arc<State>, req: Request<B>) -> Result<Response<Body>, Infallible>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let id = r::request_id();
    let (parts, body) = req.into_parts();
    let limit = if parts.uri.path().starts_with("/__sim/") {
        MAX_SIM_BODY
    } else {
        MAX_BODY
    };
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(r::gateway_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &id,
                "APIGW.0201",
                "Request body too large or unreadable",
            ))
        }
    };
    Ok(route(&state, &parts, &body, &id))
}

/// The simulated APIs.
enum Api {
    DeleteVirtualMfaDevice,
    ListMfaDevices,
}

/// Answers one request, in the gateway's order: route (method, path, host), then the
/// signature, then the API's own checks.
pub fn route(state: &State, parts: &http::request::Parts, body: &[u8], id: &str) -> Response<Body> {
    if let Some(rest) = parts.uri.path().strip_prefix("/__sim/") {
        return sim_endpoint(state, parts.method.as_str(), rest, body, id);
    }
    state.stats.record(parts);

    if let Some(required) = &state.require_host {
        let host = host_of(parts).unwrap_or_default();
        if !host.eq_ignore_ascii_case(required) {
            return r::not_found(id, r::APIGW_NO_API, "API not found for this host");
        }
    }

    // A lax upstream may take its target from a URL-rewriting header instead.
    let rewritten = state.lax.then(|| lax::rewritten_target(parts)).flatten();
    let (raw_path, raw_query) = match &rewritten {
        Some((path, query)) => (path.as_str(), query.as_deref()),
        None => (parts.uri.path(), parts.uri.query()),
    };
    let lax_params = state.lax.then(|| parse_lax(raw_query));
    let (method, path) = match &lax_params {
        Some(params) => (
            lax::effective_method(parts, params),
            lax::normalize_path(raw_path),
        ),
        None => (parts.method.to_string(), parts.uri.path().to_owned()),
    };
    let api = match (method.as_str(), path.as_str()) {
        ("DELETE", "/v5/virtual-mfa-devices") => Api::DeleteVirtualMfaDevice,
        ("GET", "/v5/mfa-devices") => Api::ListMfaDevices,
        _ => {
            return r::not_found(
                id,
                r::APIGW_NO_API,
                "The API does not exist or has not been published in the environment",
            )
        }
    };

    let caller = if state.verify_signatures {
        let lookup = |ak: &str| state.credentials.get(ak).cloned();
        let now = time::OffsetDateTime::now_utc();
        match signing::verify(parts, &signing::sha256_hex(body), lookup, now) {
            Ok(v) => Some(v.access_key),
            Err(e) => {
                let msg = format!("Incorrect IAM authentication information: {e}");
                return r::gateway_error(
                    StatusCode::UNAUTHORIZED,
                    id,
                    r::APIGW_BAD_SIGNATURE,
                    &msg,
                );
            }
        }
    } else {
        claimed_access_key(parts)
    };

    let params = match lax_params {
        Some(params) => params,
        None => match parse_strict(parts.uri.query()) {
            Ok(params) => params,
            Err(e) => return r::bad_request(id, r::PAP_INVALID_PARAMETER, &e.to_string()),
        },
    };
    let denied = caller.as_deref().filter(|ak| state.denied.contains(*ak));
    match api {
        Api::DeleteVirtualMfaDevice => delete_device(state, &params, denied, id),
        Api::ListMfaDevices => list_devices(state, &params, denied, id),
    }
}

/// `DELETE /v5/virtual-mfa-devices`: validate, authorise, remove.
fn delete_device(state: &State, params: &Params, denied: Option<&str>, id: &str) -> Response<Body> {
    let (user_id, serial) = match delete_params(params) {
        Ok(p) => p,
        Err(e) => return r::bad_request(id, e.code, &e.msg),
    };
    if let Some(ak) = denied {
        return r::forbidden(id, ak, DELETE_ACTION);
    }
    if !state.devices.remove(user_id, serial) {
        return r::not_found(
            id,
            r::PAP_DEVICE_NOT_FOUND,
            "The virtual MFA device does not exist",
        );
    }
    state.stats.count_deletion();
    r::empty(StatusCode::NO_CONTENT, id)
}

/// A 400 answer's code and message (the response needs the request ID too).
struct BadParam {
    code: &'static str,
    msg: String,
}

/// `user_id` and `serial_number`, validated as IAM does (SPEC section 2).
fn delete_params(params: &Params) -> Result<(&str, &str), BadParam> {
    let user_id = required(params, "user_id")?;
    let serial = required(params, "serial_number")?;
    if !is_valid_user_id(user_id) {
        return Err(BadParam {
            code: r::PAP_INVALID_PARAMETER,
            msg: "Invalid parameter user_id: must be 32 letters and digits".into(),
        });
    }
    if !is_valid_serial_number(serial) {
        return Err(BadParam {
            code: r::PAP_INVALID_PARAMETER,
            msg: "Invalid parameter serial_number: must be 1 to 150 characters".into(),
        });
    }
    Ok((user_id, serial))
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, BadParam> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| BadParam {
            code: r::PAP_MISSING_PARAMETER,
            msg: format!("Missing required parameter {name}"),
        })
}

/// `GET /v5/mfa-devices`: validate, authorise, one page with an opaque marker for the
/// next.
fn list_devices(state: &State, params: &Params, denied: Option<&str>, id: &str) -> Response<Body> {
    let user_id = params.get("user_id").map(String::as_str);
    if user_id.is_some_and(|u| !is_valid_user_id(u)) {
        return r::bad_request(
            id,
            r::PAP_INVALID_PARAMETER,
            "Invalid parameter user_id: must be 32 letters and digits",
        );
    }
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => {
            return r::bad_request(
                id,
                r::PAP_INVALID_PARAMETER,
                "Invalid parameter limit: must be an integer from 1 to 200",
            )
        }
    };
    let after = match params.get("marker").map(|m| decode_marker(m)) {
        None => None,
        Some(Some(key)) => Some(key),
        Some(None) => {
            return r::bad_request(id, r::PAP_INVALID_PARAMETER, "Invalid parameter marker")
        }
    };
    if let Some(ak) = denied {
        return r::forbidden(id, ak, LIST_ACTION);
    }
    let (page, next) = state.devices.page(user_id, after.as_ref(), limit);
    let body = json!({
        "mfa_devices": page,
        "page_info": {
            "next_marker": next.map(|k| encode_marker(&k)),
            "current_count": page.len(),
        },
    });
    r::json_response(StatusCode::OK, id, &body)
}

/// Markers are hex of `user_id \n serial`: opaque, 4 to 400 characters of the
/// alphabet IAM documents, and stable while devices come and go.
fn encode_marker(key: &DeviceKey) -> String {
    hex::encode(format!("{}\n{}", key.0, key.1))
}

fn decode_marker(marker: &str) -> Option<DeviceKey> {
    if !(4..=400).contains(&marker.len()) {
        return None;
    }
    let text = String::from_utf8(hex::decode(marker).ok()?).ok()?;
    let (user, serial) = text.split_once('\n')?;
    Some((user.to_owned(), serial.to_owned()))
}

/// `/__sim/...`: statistics and bulk device loading.
fn sim_endpoint(state: &State, method: &str, rest: &str, body: &[u8], id: &str) -> Response<Body> {
    match (method, rest) {
        ("GET", "stats") => match serde_json::to_value(state.stats.snapshot()) {
            Ok(v) => r::json_response(StatusCode::OK, id, &v),
            Err(e) => r::gateway_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                id,
                "SIM.0500",
                &e.to_string(),
            ),
        },
        ("GET", "devices") => r::json_response(StatusCode::OK, id, &json!(state.devices.all())),
        ("POST", "devices") => {
            let devices: Vec<Device> = match serde_json::from_slice(body) {
                Ok(d) => d,
                Err(e) => {
                    return r::bad_request(
                        id,
                        "SIM.0400",
                        &format!("expected a JSON list of devices: {e}"),
                    )
                }
            };
            let mut valid = Vec::with_capacity(devices.len());
            for d in devices {
                match Device::new(d.user_id, d.serial_number, d.enabled) {
                    Ok(d) => valid.push(d),
                    Err(e) => return r::bad_request(id, "SIM.0400", &e.to_string()),
                }
            }
            let added = state.devices.extend(valid);
            r::json_response(
                StatusCode::OK,
                id,
                &json!({"added": added, "devices": state.devices.len()}),
            )
        }
        _ => r::not_found(id, "SIM.0404", "unknown simulator endpoint"),
    }
}

/// The `Host` header, else the URI authority (HTTP/2).
fn host_of(parts: &http::request::Parts) -> Option<&str> {
    parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

/// With `--no-verify`: the access key the request claims, so `--deny` still applies.
fn claimed_access_key(parts: &http::request::Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    Authorization::access_key_of(value).ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trip() {
        let key = ("a".repeat(32), "iam::1:mfa:x".to_owned());
        let m = encode_marker(&key);
        assert!(m.len() <= 400);
        assert_eq!(decode_marker(&m), Some(key));
        assert_eq!(decode_marker("zz"), None);
        assert_eq!(decode_marker("zzzz"), None);
        assert_eq!(decode_marker("61626364"), None);
    }
}
