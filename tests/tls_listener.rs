//! The TLS listener: certificates made at test time (rcgen), the Python SDK trusting the
//! test CA, mutual TLS with and without a client certificate, HTTP/2 through ALPN, and
//! certificate reload without dropping open connections.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::tls::{client_config, Issued, TestCa};
use common::*;
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mfa_audit_proxy::signing::{format_sdk_date, sign, Secret};
use mfa_audit_proxy::tls::subject::subject_of;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

const SERIAL_1: &str = "iam::0123456789abcdef:mfa:phone-1";
const SERIAL_2: &str = "iam::0123456789abcdef:mfa:phone-2";
const SERIAL_3: &str = "iam::0123456789abcdef:mfa:phone-3";

fn simulator() -> SimulatorProcess {
    SimulatorProcess::start(&[
        "--credential",
        &format!("{AK}:{SK}"),
        "--device",
        &format!("{USER_ID}:{SERIAL_1}"),
        "--device",
        &format!("{USER_ID}:{SERIAL_2}"),
        "--device",
        &format!("{USER_ID}:{SERIAL_3}"),
    ])
}

fn tls_section(server: &Issued, client_ca: Option<&Path>) -> String {
    let mut s = format!(
        "\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nreload_interval = \"200ms\"\n",
        server.cert_file.display(),
        server.key_file.display()
    );
    if let Some(ca) = client_ca {
        s.push_str(&format!("client_ca_file = \"{}\"\n", ca.display()));
    }
    s
}

async fn connect(
    addr: &str,
    config: rustls::ClientConfig,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap().to_owned(), tcp)
        .await
}

/// The server certificate's subject as seen by a new handshake.
async fn served_subject(addr: &str, ca_pem: &str) -> Option<String> {
    let stream = connect(addr, client_config(ca_pem, None, &[b"http/1.1"]))
        .await
        .ok()?;
    let leaf = stream.get_ref().1.peer_certificates()?.first()?.clone();
    subject_of(&leaf)
}

/// A signed deletion, addressed to `authority` (Host header for HTTP/1.1, the URI for
/// HTTP/2).
fn signed_delete(authority: &str, serial: &str, version: Version) -> Request<Empty<Bytes>> {
    let target = format!(
        "/v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={}",
        percent_encoding::utf8_percent_encode(serial, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut builder = Request::builder()
        .method("DELETE")
        .header("content-type", "application/json");
    builder = if version == Version::HTTP_2 {
        builder.uri(format!("https://{authority}{target}"))
    } else {
        builder.uri(&target).header("host", authority)
    };
    let (mut parts, ()) = builder.body(()).unwrap().into_parts();
    let date = format_sdk_date(time::OffsetDateTime::now_utc());
    sign(&mut parts, b"", AK, &Secret::from(SK), &date).unwrap();
    if version == Version::HTTP_2 {
        // HTTP/2 carries the host as :authority.
        parts.headers.remove("host");
    }
    parts.version = version;
    Request::from_parts(parts, Empty::new())
}

async fn http1(
    stream: TlsStream<TcpStream>,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

fn audit_id(response: &Response<Incoming>) -> String {
    response.headers()["x-audit-id"]
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn python_sdk_over_tls_trusting_the_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("mfa-audit-proxy test CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let server = ca.server(dir.path(), "server", "proxy");
    let sim = simulator();
    let proxy = ProxyProcess::start(&sim.url(), &tls_section(&server, None));
    let endpoint = format!("https://{}", proxy.addr);
    let ca_arg = ca_file.to_str().unwrap();

    let ok = sdk_call(
        &endpoint,
        AK,
        SK,
        &[
            "--ca-file",
            ca_arg,
            "delete",
            "--user-id",
            USER_ID,
            "--serial-number",
            SERIAL_1,
        ],
    );
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["status"], 204);
    let records = call_records(&proxy.audit_dir(), ok["x_audit_id"].as_str().unwrap());
    assert_eq!(records.len(), 2);
    assert!(records[1]["caller"]["tls_client_subject"].is_null());
    assert_eq!(records[1]["outcome"]["result"], "success");

    let list = sdk_call(&endpoint, AK, SK, &["--ca-file", ca_arg, "list"]);
    assert_eq!(list["ok"], true, "{list}");
    assert_eq!(sim.stats()["deletions_performed"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_records_the_subject_and_refuses_clients_without_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("mfa-audit-proxy test CA");
    let client_ca = TestCa::new("mfa-audit-proxy client CA");
    let client_ca_file = client_ca.write(dir.path(), "client-ca.pem");
    let server = ca.server(dir.path(), "server", "proxy");
    let alice = client_ca.client(dir.path(), "alice", "alice", "Example");
    let sim = simulator();
    let proxy = ProxyProcess::start(&sim.url(), &tls_section(&server, Some(&client_ca_file)));

    let stream = connect(
        &proxy.addr,
        client_config(&ca.cert_pem, Some(&alice), &[b"http/1.1"]),
    )
    .await
    .unwrap();
    let mut sender = http1(stream).await;
    let response = sender
        .send_request(signed_delete(&proxy.addr, SERIAL_1, Version::HTTP_11))
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let records = call_records(&proxy.audit_dir(), &audit_id(&response));
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r["caller"]["tls_client_subject"], "CN=alice,O=Example");
    }

    // No client certificate: the handshake is refused (with TLS 1.3 the client learns it
    // on its first read), and nothing is forwarded.
    let requests_before = sim.stats()["requests"].clone();
    let refused = async {
        let stream = connect(
            &proxy.addr,
            client_config(&ca.cert_pem, None, &[b"http/1.1"]),
        )
        .await
        .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        sender
            .send_request(signed_delete(&proxy.addr, SERIAL_2, Version::HTTP_11))
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    assert!(
        refused.is_err(),
        "a client without a certificate got an answer"
    );
    // A certificate from another CA is refused too.
    let mallory = ca.client(dir.path(), "mallory", "mallory", "Elsewhere");
    let wrong_ca = async {
        let stream = connect(
            &proxy.addr,
            client_config(&ca.cert_pem, Some(&mallory), &[b"http/1.1"]),
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut sender = http1(stream).await;
        sender
            .send_request(signed_delete(&proxy.addr, SERIAL_2, Version::HTTP_11))
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    assert!(wrong_ca.is_err());
    assert_eq!(sim.stats()["requests"], requests_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_through_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("mfa-audit-proxy test CA");
    let server = ca.server(dir.path(), "server", "proxy");
    let sim = simulator();
    let proxy = ProxyProcess::start(&sim.url(), &tls_section(&server, None));

    let stream = connect(&proxy.addr, client_config(&ca.cert_pem, None, &[b"h2"]))
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let response = sender
        .send_request(signed_delete(&proxy.addr, SERIAL_1, Version::HTTP_2))
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.status(), 204);
    let records = call_records(&proxy.audit_dir(), &audit_id(&response));
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["outcome"]["result"], "success");
    let _ = response.into_body().collect().await;
    assert_eq!(sim.stats()["deletions_performed"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloaded_certificate_is_used_by_new_handshakes_and_open_connections_survive() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("mfa-audit-proxy test CA");
    let server = ca.server(dir.path(), "server", "first");
    let sim = simulator();
    let proxy = ProxyProcess::start(&sim.url(), &tls_section(&server, None));
    assert_eq!(
        served_subject(&proxy.addr, &ca.cert_pem).await.as_deref(),
        Some("CN=first")
    );

    // A keep-alive connection made with the first certificate.
    let stream = connect(
        &proxy.addr,
        client_config(&ca.cert_pem, None, &[b"http/1.1"]),
    )
    .await
    .unwrap();
    let mut kept = http1(stream).await;
    let response = kept
        .send_request(signed_delete(&proxy.addr, SERIAL_1, Version::HTTP_11))
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let _ = response.into_body().collect().await;

    // Replace the files (written elsewhere, then renamed over, as deploy tools do).
    let staging = tempfile::tempdir().unwrap();
    let second = ca.server(staging.path(), "server", "second");
    std::fs::rename(&second.key_file, &server.key_file).unwrap();
    std::fs::rename(&second.cert_file, &server.cert_file).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = served_subject(&proxy.addr, &ca.cert_pem).await;
        if seen.as_deref() == Some("CN=second") {
            break;
        }
        assert!(Instant::now() < deadline, "still serving {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The connection made before the reload still works.
    let response = kept
        .send_request(signed_delete(&proxy.addr, SERIAL_2, Version::HTTP_11))
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let _ = response.into_body().collect().await;

    // A broken new file is refused; the previous certificate stays in use.
    std::fs::write(&server.cert_file, "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        served_subject(&proxy.addr, &ca.cert_pem).await.as_deref(),
        Some("CN=second")
    );
    assert!(proxy.stderr().contains("keeping the previous certificate"));
    // The swap is in the audit chain, with the new certificate's subject.
    let reloads: Vec<_> = audit_records(&proxy.audit_dir())
        .into_iter()
        .filter(|r| r["event"] == "TlsCertificateReloaded")
        .collect();
    assert!(
        reloads
            .iter()
            .any(|r| r["details"]["subject"] == "CN=second"),
        "{reloads:#?}"
    );
    assert_eq!(sim.stats()["deletions_performed"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_is_cut_off_and_does_not_block_others() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("mfa-audit-proxy test CA");
    let server = ca.server(dir.path(), "server", "proxy");
    let sim = simulator();
    let proxy = ProxyProcess::start(
        &sim.url(),
        &format!(
            "\n[limits]\nheader_read_timeout = \"1s\"\n{}",
            tls_section(&server, None)
        ),
    );
    // Connects and never says hello.
    let mut silent = TcpStream::connect(&proxy.addr).await.unwrap();
    // Meanwhile another client is served.
    assert_eq!(
        served_subject(&proxy.addr, &ca.cert_pem).await.as_deref(),
        Some("CN=proxy")
    );
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
    )
    .await
    .expect("the proxy closes a stalled handshake");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn upstream_tls_with_extra_ca_and_client_certificate() {
    // proxy A (plain) -> proxy B (TLS, mutual) -> simulator: B's audit shows A's client
    // certificate, so A verified B with upstream.ca_file and presented its certificate.
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("mfa-audit-proxy test CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let server = ca.server(dir.path(), "server", "upstream");
    let client_ca = TestCa::new("mfa-audit-proxy client CA");
    let client_ca_file = client_ca.write(dir.path(), "client-ca.pem");
    let sidecar = client_ca.client(dir.path(), "sidecar", "sidecar", "Example");
    let sim = simulator();
    let b = ProxyProcess::start(&sim.url(), &tls_section(&server, Some(&client_ca_file)));
    let a = ProxyProcess::start_with_upstream(
        &format!("https://{}", b.addr),
        &format!(
            "request_timeout = \"3s\"\nca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
            ca_file.display(),
            sidecar.cert_file.display(),
            sidecar.key_file.display()
        ),
        "",
    );
    let ok = sdk_call(
        &a.url(),
        AK,
        SK,
        &["delete", "--user-id", USER_ID, "--serial-number", SERIAL_1],
    );
    assert_eq!(ok["ok"], true, "{ok}");
    let at_b: Vec<_> = all_call_records(&b.audit_dir());
    assert_eq!(at_b.len(), 2);
    assert_eq!(
        at_b[1]["caller"]["tls_client_subject"],
        "CN=sidecar,O=Example"
    );

    // Without the extra CA, B's certificate is not trusted: no answer, 502.
    let c = ProxyProcess::start(&format!("https://{}", b.addr), "");
    let refused = sdk_call(
        &c.url(),
        AK,
        SK,
        &["delete", "--user-id", USER_ID, "--serial-number", SERIAL_2],
    );
    assert_eq!(refused["status"], 502, "{refused}");
    let at_c = all_call_records(&c.audit_dir());
    assert_eq!(at_c[1]["outcome"]["result"], "upstream_error");
    assert_eq!(at_c[1]["outcome"]["error_code"], "MAP.0502");
    let why = at_c[1]["outcome"]["error_msg"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(why.contains("certificate"), "{why}");
    assert_eq!(sim.stats()["deletions_performed"], 1);
}
