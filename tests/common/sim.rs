//! Helpers for talking to the IAM simulator: example keys, signed requests, a client.
#![allow(dead_code)] // each test crate uses a different subset

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mfa_audit_proxy::signing::{format_sdk_date, sign, Secret};
use mfa_audit_proxy::simulator::{Device, SimConfig, Simulator, SimulatorHandle};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

pub const AK: &str = "HPUAEXAMPLEAK0000001";
pub const SK: &str = "ExampleSecretKey0123456789abcdefghijklmn";
pub const DENIED_AK: &str = "HPUAEXAMPLEDENIED001";
pub const DENIED_SK: &str = "DeniedSecretKey0123456789abcdefghijklmno";
pub const USER: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
pub const OTHER_USER: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
pub const SERIAL: &str = "iam::0123456789abcdef:mfa:phone-1";

/// A configuration on a free port with [`AK`], [`DENIED_AK`] (denied) and two devices.
pub fn config() -> SimConfig {
    let mut c = SimConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..SimConfig::default()
    };
    c.credentials.insert(AK.into(), Secret::from(SK));
    c.credentials
        .insert(DENIED_AK.into(), Secret::from(DENIED_SK));
    c.denied.insert(DENIED_AK.into());
    c.devices = vec![
        Device::new(USER, SERIAL, true).expect("valid device"),
        Device::new(OTHER_USER, "iam::0123456789abcdef:mfa:tablet", false).expect("valid device"),
    ];
    c
}

pub async fn start(config: SimConfig) -> SimulatorHandle {
    Simulator::start(config).await.expect("simulator starts")
}

/// `/v5/virtual-mfa-devices?user_id=..&serial_number=..`, encoded as the SDK does.
pub fn delete_target(user_id: &str, serial: &str) -> String {
    format!(
        "/v5/virtual-mfa-devices?serial_number={}&user_id={}",
        utf8_percent_encode(serial, NON_ALPHANUMERIC),
        user_id
    )
}

pub fn now_date() -> String {
    format_sdk_date(time::OffsetDateTime::now_utc())
}

/// A request to `http://{addr}{target}` signed with `ak`/`sk` for `Host: {host}`.
pub fn signed_for_host(
    method: &str,
    addr: SocketAddr,
    host: &str,
    target: &str,
    ak: &str,
    sk: &str,
) -> Request<Full<Bytes>> {
    let (mut parts, ()) = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{target}"))
        .header("host", host)
        .header("content-type", "application/json")
        .header("user-agent", "huaweicloud-usdk-python/3.0")
        .body(())
        .expect("valid request")
        .into_parts();
    sign(&mut parts, b"", ak, &Secret::from(sk), &now_date()).expect("signs");
    Request::from_parts(parts, Full::new(Bytes::new()))
}

/// A request signed with [`AK`] for the simulator's own address.
pub fn signed(method: &str, addr: SocketAddr, target: &str) -> Request<Full<Bytes>> {
    signed_for_host(method, addr, &addr.to_string(), target, AK, SK)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// `X-Request-Id`, checked to be 32 hex characters.
    pub fn request_id(&self) -> String {
        let id = self
            .headers
            .get("x-request-id")
            .expect("X-Request-Id present")
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        id
    }
}

/// Sends over HTTP/1.1, or HTTP/2 with prior knowledge.
pub async fn send(req: Request<Full<Bytes>>, http2: bool) -> Reply {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(http2)
        .build_http();
    let resp = client.request(req).await.expect("simulator answers");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// An unsigned GET (for `/__sim/...`).
pub async fn get(addr: SocketAddr, target: &str) -> Reply {
    let req = Request::get(format!("http://{addr}{target}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    send(req, false).await
}
