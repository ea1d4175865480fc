//! Header fidelity: what the upstream receives equals what the client sent, minus the
//! hop-by-hop headers: method, raw target, every signed header, repeated headers in
//! order, header names case-insensitively, and the body.

mod common;

use common::echo_upstream::{EchoUpstream, RawRequest};
use common::raw_http::send;
use common::*;

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "x-named-by-connection",
];

fn client_headers(addr: &str) -> Vec<(String, String)> {
    [
        ("Host", addr),
        ("Content-Type", "application/json"),
        ("User-Agent", "huaweicloud-usdk-python/3.0"),
        ("X-Sdk-Date", "20261203T160704Z"),
        ("X-Domain-Id", DOMAIN_ID),
        ("X-Security-Token", "token-value-that-must-pass"),
        ("X-Project-Id", "p1"),
        ("Authorization", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=content-type;host;user-agent;x-domain-id;x-sdk-date, Signature=00ff"),
        ("X-Repeated", "first"),
        ("x-REPEATED", "second"),
        ("X-Repeated", "third, with comma"),
        ("X-MiXeD-CaSe", "Value Case Kept"),
        ("Connection", "close, X-Named-By-Connection"),
        ("X-Named-By-Connection", "drop me"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn send_with(
    proxy: &ProxyProcess,
    line: &str,
    headers: &[(String, String)],
    body_headers: &str,
    body: &[u8],
) -> u16 {
    let mut request = format!("{line}\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(body_headers);
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    send(&proxy.addr, &bytes).0
}

/// The end-to-end header set the upstream must see: the client's, minus hop-by-hop.
fn assert_forwarded(sent: &[(String, String)], got: &RawRequest) {
    let expected: Vec<(String, String)> = sent
        .iter()
        .filter(|(k, _)| !HOP_BY_HOP.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let framing = ["content-length", "transfer-encoding"];
    let received: Vec<(String, String)> = got
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| !framing.contains(&k.as_str()))
        .collect();
    // Order between different names is not significant; order within a name is.
    let mut names: Vec<&String> = expected.iter().map(|(k, _)| k).collect();
    names.sort();
    names.dedup();
    for name in names {
        let want: Vec<&String> = expected
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        let have: Vec<&String> = received
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(have, want, "header {name}");
    }
    for (k, _) in &received {
        assert!(
            !HOP_BY_HOP.contains(&k.as_str()),
            "hop-by-hop header {k} was forwarded"
        );
        assert!(
            expected.iter().any(|(e, _)| e == k),
            "header {k} was added by the proxy"
        );
    }
}

#[test]
fn audited_deletion_reaches_upstream_unchanged() {
    let upstream = EchoUpstream::start();
    let proxy = ProxyProcess::start(&upstream.url(), "");
    let headers = client_headers(&proxy.addr);
    let target = format!(
        "/v5/virtual-mfa-devices?serial_number=iam%3A%3Aacct%3Amfa%3Ap%201&user_id={USER_ID}"
    );
    let status = send_with(
        &proxy,
        &format!("DELETE {target} HTTP/1.1"),
        &headers,
        "Content-Length: 0\r\n",
        b"",
    );
    assert_eq!(status, 204);
    let got = upstream.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].request_line,
        format!("DELETE {target} HTTP/1.1"),
        "method and raw target byte for byte"
    );
    assert_forwarded(&headers, &got[0]);
    assert!(got[0].body.is_empty());
}

#[test]
fn pass_through_keeps_headers_and_streams_bodies() {
    let upstream = EchoUpstream::start();
    let proxy = ProxyProcess::start(&upstream.url(), "");
    let headers = client_headers(&proxy.addr);
    let body =
        br#"{"virtual_mfa_device":{"name":"phone","user_id":"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}}"#;

    // A fixed-length body.
    let status = send_with(
        &proxy,
        "POST /v5/virtual-mfa-devices?x=%2F%20+&y HTTP/1.1",
        &headers,
        &format!("Content-Length: {}\r\n", body.len()),
        body,
    );
    assert_eq!(status, 204);
    // A chunked body: re-framed by the proxy, same bytes.
    let chunked = format!(
        "{:x}\r\n{}\r\n0\r\n\r\n",
        body.len(),
        String::from_utf8_lossy(body)
    );
    let status = send_with(
        &proxy,
        "PUT /v3.0/OS-USERS/whatever HTTP/1.1",
        &headers,
        "Transfer-Encoding: chunked\r\n",
        chunked.as_bytes(),
    );
    assert_eq!(status, 204);

    let got = upstream.received();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].request_line,
        "POST /v5/virtual-mfa-devices?x=%2F%20+&y HTTP/1.1"
    );
    assert_eq!(got[1].request_line, "PUT /v3.0/OS-USERS/whatever HTTP/1.1");
    for request in &got {
        assert_forwarded(&headers, request);
        assert_eq!(request.body, body);
    }
}
