//! No answer from the upstream: refused connections give 502, silence gives 504; both
//! are recorded as `upstream_error` with what went wrong. Pass-through gets the same codes.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::raw_http::{self, header, send};
use common::*;

fn delete_request(addr: &str) -> Vec<u8> {
    format!(
        "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number=x HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

fn assert_upstream_error(proxy: &ProxyProcess, status: u16, code: &str, cause: &str) {
    let (got, headers, body) = send(&proxy.addr, &delete_request(&proxy.addr));
    assert_eq!(got, status);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error_code"], code);
    let records = call_records(&proxy.audit_dir(), header(&headers, "x-audit-id").unwrap());
    assert_eq!(
        records.len(),
        2,
        "received was written before forwarding: {records:#?}"
    );
    let outcome = &records[1]["outcome"];
    assert_eq!(outcome["result"], "upstream_error");
    assert_eq!(outcome["status"], status);
    assert_eq!(outcome["error_code"], code);
    let msg = outcome["error_msg"].as_str().unwrap().to_ascii_lowercase();
    assert!(msg.contains(cause), "error_msg says what went wrong: {msg}");
    assert!(records[1]["request_id"].is_null());
}

#[test]
fn refused_connection_is_502() {
    // A port that was free a moment ago and has no listener now.
    let port = closed_port();
    let proxy = ProxyProcess::start(&format!("http://127.0.0.1:{port}"), "");
    assert_upstream_error(&proxy, 502, "MAP.0502", "refused");
    let (status, _, _) = raw_http::get(&proxy.addr, "/v5/mfa-devices");
    assert_eq!(status, 502, "pass-through too");
}

#[test]
fn silent_upstream_is_504() {
    // Accepts connections and never answers.
    let addr = silent_upstream();
    let proxy = ProxyProcess::start_with_upstream(
        &format!("http://{addr}"),
        "request_timeout = \"1s\"",
        "",
    );
    let started = Instant::now();
    assert_upstream_error(&proxy, 504, "MAP.0504", "no answer within");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn reset_connection_is_502() {
    // Accepts, reads the request, then closes without answering.
    let rude = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = rude.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in rude.incoming().flatten() {
            use std::io::Read;
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            drop(stream);
        }
    });
    let proxy = ProxyProcess::start(&format!("http://{addr}"), "");
    let (status, headers, _) = send(&proxy.addr, &delete_request(&proxy.addr));
    assert_eq!(status, 502);
    let records = call_records(&proxy.audit_dir(), header(&headers, "x-audit-id").unwrap());
    assert_eq!(records[1]["outcome"]["result"], "upstream_error");
}
