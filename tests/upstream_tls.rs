//! The upstream over HTTPS, as the real IAM endpoint is: its certificate checked against
//! `upstream.ca_file`, HTTP/2 when it offers `h2` through ALPN and HTTP/1.1 when it does
//! not, a client certificate (`upstream.client_cert_file`) when it asks for one, and an
//! untrusted certificate refused: 502 `upstream_error`, nothing sent. And resign mode as
//! it is deployed: the Python SDK signs for the proxy, the proxy checks that signature and
//! signs again for the HTTPS upstream, which checks it against the host it received.

mod common;

use http::Version;

use common::raw_http::{self, header, send};
use common::tls::{Issued, TestCa};
use common::tls_upstream::{TlsUpstream, TlsUpstreamConfig};
use common::*;

const SERIAL: &str = "iam%3A%3A0123456789abcdef0123456789abcdef%3Amfa%3Aphone";

/// A deletion through the proxy: status, the completed record, the answer's body.
fn delete(proxy: &ProxyProcess) -> (u16, serde_json::Value, serde_json::Value) {
    let request = format!(
        "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={SERIAL} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        proxy.addr
    );
    let (status, headers, body) = send(&proxy.addr, request.as_bytes());
    let audit_id = header(&headers, "x-audit-id").expect("X-Audit-Id");
    let records = call_records(&proxy.audit_dir(), audit_id);
    assert_eq!(records.len(), 2, "received and completed: {records:#?}");
    let body = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (status, records[1].clone(), body)
}

/// The proxy in front of `upstream`, with these lines in `[upstream]`.
fn proxy_for(upstream: &TlsUpstream, upstream_lines: &str) -> ProxyProcess {
    ProxyProcess::start_with_upstream(
        &upstream.url(),
        &format!("request_timeout = \"3s\"\nconnect_timeout = \"2s\"\n{upstream_lines}"),
        "",
    )
}

fn toml_path(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// A test CA written to `ca.pem` in a new directory, and a server certificate from it.
fn upstream_certificate() -> (tempfile::TempDir, std::path::PathBuf, Issued) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("upstream test CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let cert = ca.server(dir.path(), "iam", "iam.test");
    (dir, ca_file, cert)
}

#[test]
fn audited_deletion_and_pass_through_over_https_and_http2() {
    let (_dir, ca_file, cert) = upstream_certificate();
    let upstream = TlsUpstream::start(&cert, &[b"h2", b"http/1.1"], None);
    let proxy = proxy_for(&upstream, &format!("ca_file = \"{}\"", toml_path(&ca_file)));

    let (status, completed, _) = delete(&proxy);
    assert_eq!(status, 204);
    assert_eq!(completed["outcome"]["result"], "success");
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].version, Version::HTTP_2, "ALPN chose h2");
    assert_eq!(seen[0].method, "DELETE");
    assert_eq!(
        seen[0].target,
        format!("/v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={SERIAL}"),
        "the raw query, byte for byte"
    );
    assert_eq!(completed["request_id"], seen[0].request_id.as_str());
    assert_eq!(
        seen[0].host_header.as_deref(),
        Some(proxy.addr.as_str()),
        "passthrough keeps the client's Host field over HTTP/2 too (:authority names the upstream)"
    );

    let (status, _, body) = raw_http::get(&proxy.addr, "/v5/mfa-devices");
    assert_eq!(status, 200);
    assert_eq!(body, b"{\"mfa_devices\":[]}");
    assert_eq!(upstream.seen().len(), 2);

    // Many at once share the HTTP/2 connection.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..32)
            .map(|_| s.spawn(|| raw_http::get(&proxy.addr, "/v5/mfa-devices").0))
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let seen = upstream.seen();
    assert_eq!(seen.len(), 34);
    assert!(seen.iter().all(|r| r.version == Version::HTTP_2));
}

#[test]
fn http1_over_tls_when_the_upstream_offers_only_http1() {
    let (_dir, ca_file, cert) = upstream_certificate();
    let upstream = TlsUpstream::start(&cert, &[b"http/1.1"], None);
    let proxy = proxy_for(&upstream, &format!("ca_file = \"{}\"", toml_path(&ca_file)));

    let (status, completed, _) = delete(&proxy);
    assert_eq!(status, 204);
    let seen = upstream.seen();
    assert_eq!(seen[0].version, Version::HTTP_11);
    assert_eq!(
        seen[0].authority.as_deref(),
        Some(proxy.addr.as_str()),
        "passthrough keeps the client's Host, which its signature covers"
    );
    assert_eq!(completed["request_id"], seen[0].request_id.as_str());
}

#[test]
fn an_untrusted_upstream_certificate_is_refused_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("a CA the proxy does not trust");
    let cert = ca.server(dir.path(), "iam", "iam.test");
    let upstream = TlsUpstream::start(&cert, &[b"h2", b"http/1.1"], None);
    // No ca_file: the public web roots only.
    let proxy = proxy_for(&upstream, "");

    let (status, completed, body) = delete(&proxy);
    assert_eq!(status, 502);
    assert_eq!(body["error_code"], "MAP.0502");
    assert_eq!(completed["outcome"]["result"], "upstream_error");
    let msg = completed["outcome"]["error_msg"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(msg.contains("certificate"), "says why: {msg}");
    assert!(upstream.seen().is_empty(), "nothing reached the upstream");
}

#[test]
fn a_client_certificate_for_an_upstream_that_asks_for_one() {
    let (dir, ca_file, cert) = upstream_certificate();
    let client_ca = TestCa::new("client CA");
    let client = client_ca.client(dir.path(), "proxy", "mfa-audit-proxy", "Security");
    let upstream = TlsUpstream::start(&cert, &[b"h2", b"http/1.1"], Some(&client_ca.cert_pem));

    let without = proxy_for(&upstream, &format!("ca_file = \"{}\"", toml_path(&ca_file)));
    let (status, completed, _) = delete(&without);
    assert_eq!(status, 502, "no client certificate, no connection");
    assert_eq!(completed["outcome"]["result"], "upstream_error");
    assert!(upstream.seen().is_empty());

    let with = proxy_for(
        &upstream,
        &format!(
            "ca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
            toml_path(&ca_file),
            toml_path(&client.cert_file),
            toml_path(&client.key_file)
        ),
    );
    let (status, completed, _) = delete(&with);
    assert_eq!(status, 204);
    assert_eq!(completed["outcome"]["result"], "success");
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].client_certificate);
}

#[test]
fn resign_mode_signs_again_for_the_https_upstream() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, ca_file, cert) = upstream_certificate();
    let upstream = TlsUpstream::start_with(
        &cert,
        TlsUpstreamConfig {
            alpn: &[b"h2", b"http/1.1"],
            client_ca_pem: None,
            credential: Some((AK, SK)),
        },
    );
    let sk_file = dir.path().join("ak.sk");
    std::fs::write(&sk_file, format!("{SK}\n")).unwrap();
    std::fs::set_permissions(&sk_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let proxy = ProxyProcess::start_with_upstream(
        &upstream.url(),
        &format!(
            "mode = \"resign\"\nrequest_timeout = \"3s\"\nconnect_timeout = \"2s\"\nca_file = \"{}\"",
            toml_path(&ca_file)
        ),
        &format!(
            "[[credentials]]\naccess_key_id = \"{AK}\"\nsecret_key_file = \"{}\"\n",
            toml_path(&sk_file)
        ),
    );

    let serial = "iam::0123456789abcdef:mfa:phone-1";
    let deleted = sdk_call(
        &proxy.url(),
        AK,
        SK,
        &["delete", "--user-id", USER_ID, "--serial-number", serial],
    );
    assert_eq!(deleted["status"], 204, "{deleted}");
    let records = call_records(&proxy.audit_dir(), deleted["x_audit_id"].as_str().unwrap());
    assert_eq!(records[1]["caller"]["signature_verified"], true);
    assert_eq!(records[1]["target"]["serial_number"], serial);
    assert_eq!(records[1]["request_id"], deleted["x_request_id"]);
    let listed = sdk_call(&proxy.url(), AK, SK, &["list"]);
    assert_eq!(listed["status"], 200, "{listed}");

    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    for request in &seen {
        assert_eq!(request.version, Version::HTTP_2);
        assert_eq!(
            request.authority.as_deref(),
            Some(upstream.addr.as_str()),
            "signed for the upstream's own host"
        );
        assert_eq!(request.signature, Some(Ok(())), "{request:?}");
    }
}
