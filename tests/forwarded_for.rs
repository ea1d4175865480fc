//! `X-Forwarded-For` is believed only from `[forwarding] trusted_proxies`: from such a
//! peer the audited source is the right-most untrusted address in the header; from any
//! other peer it is the socket's. The header reaches the upstream untouched.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use common::raw_http::{header, parse_response};
use common::*;

const XFF: &str = "198.51.100.1, 203.0.113.7, 127.0.0.9";

/// Sends a deletion from the local address `from` (a loopback address) and returns the
/// audit ID.
fn delete_from(from: &str, proxy: &ProxyProcess) -> String {
    let mut stream = connect_from(from, &proxy.addr);
    let request = format!(
        "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number=x HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nX-Forwarded-For: {XFF}\r\nConnection: close\r\n\r\n",
        proxy.addr
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let (_, headers, _) = parse_response(&raw);
    header(&headers, "x-audit-id").unwrap().to_string()
}

/// A std TCP stream to `to` from the local address `from` (port chosen by the OS).
fn connect_from(from: &str, to: &str) -> std::net::TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(format!("{from}:0").parse::<SocketAddr>().unwrap())
            .unwrap();
        socket
            .connect(to.parse::<SocketAddr>().unwrap())
            .await
            .unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

#[test]
fn forwarded_for_from_trusted_and_untrusted_peers() {
    let sim = SimulatorProcess::start(&["--credential", &format!("{AK}:{SK}")]);
    let proxy = ProxyProcess::start(
        &sim.url(),
        "\n[forwarding]\ntrusted_proxies = [\"127.0.0.1/32\", \"127.0.0.8/30\"]\n",
    );

    // From a trusted proxy: the right-most hop that is not trusted (127.0.0.9 is).
    let trusted = delete_from("127.0.0.1", &proxy);
    let records = call_records(&proxy.audit_dir(), &trusted);
    assert_eq!(records.len(), 2, "{records:#?}");
    for r in &records {
        assert_eq!(r["caller"]["source_ip"], "203.0.113.7");
        assert!(r["caller"]["source_port"].is_null());
    }

    // From a peer that is not trusted: its own address and port, whatever it claims.
    let untrusted = delete_from("127.0.0.2", &proxy);
    let records = call_records(&proxy.audit_dir(), &untrusted);
    assert_eq!(records.len(), 2, "{records:#?}");
    for r in &records {
        assert_eq!(r["caller"]["source_ip"], "127.0.0.2");
        assert!(r["caller"]["source_port"].as_u64().unwrap() > 0);
    }

    // Forwarded untouched (passthrough mode changes nothing the client sent).
    let stats = sim.stats();
    let seen: Vec<String> = stats["last_requests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["headers"].as_array().unwrap().clone())
        .filter(|h| {
            h[0].as_str()
                .unwrap()
                .eq_ignore_ascii_case("x-forwarded-for")
        })
        .map(|h| h[1].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, vec![XFF.to_string(), XFF.to_string()]);
}

#[test]
fn without_trusted_proxies_the_socket_address_counts() {
    let sim = SimulatorProcess::start(&["--credential", &format!("{AK}:{SK}")]);
    let proxy = ProxyProcess::start(&sim.url(), "");
    let id = delete_from("127.0.0.1", &proxy);
    let records = call_records(&proxy.audit_dir(), &id);
    assert_eq!(records[1]["caller"]["source_ip"], "127.0.0.1");
    assert!(records[1]["caller"]["source_port"].as_u64().unwrap() > 0);
}
