//! Secrets sweep in passthrough mode: calls carrying a signature and a security token go
//! through every path (success, rejected, look-alike, denied, not found, upstream error,
//! pass-through), with diagnostics at trace level; then every byte the proxy wrote (audit
//! files, checkpoints, diagnostics, /metrics) is searched. None may hold a secret.
//! (`resign_mode.rs` does the same in resign mode, secret keys included.)

mod common;

use std::path::Path;

use common::raw_http::{self, send};
use common::*;

const SIGNATURE: &str = "5f3c9a0d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877";
const TOKEN: &str = "gQpTOKENsecretValue0123456789-temporary-credential-do-not-log";

fn request(proxy: &ProxyProcess, method: &str, target: &str, ak: &str) -> u16 {
    let raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nX-Sdk-Date: 20261203T160704Z\r\nX-Security-Token: {TOKEN}\r\nAuthorization: SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date;x-security-token, Signature={SIGNATURE}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        proxy.addr
    );
    send(&proxy.addr, raw.as_bytes()).0
}

fn all_bytes_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_bytes_under(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn no_signature_or_token_reaches_anything_the_proxy_wrote() {
    std::env::set_var("RUST_LOG", "trace");
    let sim = SimulatorProcess::start(&[
        "--no-verify",
        "--deny",
        "AKDENIED",
        "--device",
        &format!("{USER_ID}:s1"),
    ]);
    let proxy = ProxyProcess::start(&sim.url(), "");
    let port = closed_port();
    let dead = ProxyProcess::start(&format!("http://127.0.0.1:{port}"), "");

    let delete =
        |serial: &str| format!("/v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={serial}");
    assert_eq!(request(&proxy, "DELETE", &delete("s1"), "AKONE"), 204);
    assert_eq!(request(&proxy, "DELETE", &delete("s1"), "AKONE"), 404);
    assert_eq!(request(&proxy, "DELETE", &delete("s2"), "AKDENIED"), 403);
    assert_eq!(
        request(
            &proxy,
            "DELETE",
            "/v5/virtual-mfa-devices?user_id=bad&serial_number=s",
            "AKONE"
        ),
        400
    );
    assert_eq!(
        request(
            &proxy,
            "DELETE",
            &format!("/v5//virtual-mfa-devices?user_id={USER_ID}&serial_number=s"),
            "AKONE"
        ),
        400
    );
    assert_eq!(request(&proxy, "GET", "/v5/mfa-devices", "AKONE"), 200);
    assert_eq!(request(&dead, "DELETE", &delete("s3"), "AKONE"), 502);
    assert_eq!(request(&dead, "GET", "/v5/mfa-devices", "AKONE"), 502);

    let (status, _, metrics) = raw_http::get(&proxy.admin_addr, "/metrics");
    assert_eq!(status, 200);
    let mut written = vec![("metrics".to_string(), metrics)];
    for p in [&proxy, &dead] {
        written.extend(all_bytes_under(p.dir()));
    }
    // The sweep has something to search: trace diagnostics and the audit records.
    let stderr = proxy.stderr();
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "diagnostics at trace level"
    );
    assert!(all_call_records(&proxy.audit_dir()).len() == 8);
    let config = proxy.config_path.display().to_string();
    for (file, bytes) in &written {
        if *file == config {
            continue; // the test's own configuration file, which holds no secret
        }
        let text = String::from_utf8_lossy(bytes);
        for secret in [SIGNATURE, TOKEN, &SIGNATURE[..16], &TOKEN[..16]] {
            assert!(!text.contains(secret), "{file} holds a secret ({secret})");
        }
    }
}
