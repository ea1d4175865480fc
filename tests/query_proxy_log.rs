//! `query` over a log written by the proxy itself: every filter alone and combined, the
//! table view, and a call left `unknown` by a proxy killed while the upstream was silent.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::raw_http::{header, send};
use common::*;

const OTHER_USER: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn delete(
    proxy: &ProxyProcess,
    user: &str,
    serial: &str,
    ak: &str,
    forwarded_ip_header: &str,
) -> (u16, String) {
    let request = format!(
        "DELETE /v5/virtual-mfa-devices?user_id={user}&serial_number={serial} HTTP/1.1\r\nHost: {}\r\nAuthorization: SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host, Signature={}\r\n{forwarded_ip_header}Content-Length: 0\r\nConnection: close\r\n\r\n",
        proxy.addr,
        "0".repeat(64)
    );
    let (status, headers, _) = send(&proxy.addr, request.as_bytes());
    (
        status,
        header(&headers, "x-audit-id")
            .unwrap_or_default()
            .to_string(),
    )
}

fn query(dir: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
        .arg("query")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "query {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn filters_on_a_log_written_by_the_proxy() {
    let sim = SimulatorProcess::start(&[
        "--no-verify",
        "--deny",
        "AKDENIED",
        "--device",
        &format!("{USER_ID}:s1"),
        "--device",
        &format!("{OTHER_USER}:s2"),
        "--device",
        &format!("{USER_ID}:s3"),
    ]);
    let proxy = ProxyProcess::start(&sim.url(), "");
    let (s, ok1) = delete(&proxy, USER_ID, "s1", "AKONE", "");
    assert_eq!(s, 204);
    let (s, _ok2) = delete(&proxy, OTHER_USER, "s2", "AKTWO", "");
    assert_eq!(s, 204);
    let (s, missing) = delete(&proxy, USER_ID, "nope", "AKONE", "");
    assert_eq!(s, 404);
    let (s, denied) = delete(&proxy, USER_ID, "s3", "AKDENIED", "");
    assert_eq!(s, 403);
    let (s, rejected) = delete(&proxy, "short", "s3", "AKONE", "");
    assert_eq!(s, 400);
    let dir = proxy.audit_dir();

    let all = query(&dir, &[]);
    assert_eq!(all.len(), 5, "one line per call: {all:#?}");
    let ids = |rows: &[serde_json::Value]| -> Vec<String> {
        let mut v: Vec<String> = rows
            .iter()
            .map(|r| r["audit_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(query(&dir, &["--user-id", OTHER_USER]).len(), 1);
    assert_eq!(query(&dir, &["--user-id", USER_ID]).len(), 3);
    assert_eq!(
        ids(&query(&dir, &["--serial-number", "s1"])),
        vec![ok1.clone()]
    );
    assert_eq!(query(&dir, &["--access-key-id", "AKONE"]).len(), 3);
    assert_eq!(query(&dir, &["--source-ip", "127.0.0.1"]).len(), 5);
    assert_eq!(query(&dir, &["--source-ip", "10.9.9.9"]).len(), 0);
    assert_eq!(
        ids(&query(&dir, &["--result", "not_found"])),
        vec![missing.clone()]
    );
    assert_eq!(
        ids(&query(&dir, &["--result", "denied"])),
        vec![denied.clone()]
    );
    assert_eq!(
        ids(&query(&dir, &["--result", "rejected"])),
        vec![rejected.clone()]
    );
    assert_eq!(query(&dir, &["--result", "success"]).len(), 2);
    assert_eq!(ids(&query(&dir, &["--audit-id", &ok1])), vec![ok1.clone()]);
    let request_id = all.iter().find(|r| r["audit_id"] == ok1).unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ids(&query(&dir, &["--request-id", &request_id])),
        vec![ok1.clone()]
    );
    assert_eq!(query(&dir, &["--since", "1h"]).len(), 5);
    assert_eq!(query(&dir, &["--until", "2000-01-01T00:00:00Z"]).len(), 0);
    assert_eq!(
        query(
            &dir,
            &[
                "--since",
                "2000-01-01T00:00:00Z",
                "--until",
                "2999-01-01T00:00:00Z"
            ]
        )
        .len(),
        5
    );
    // Combined: AND.
    assert_eq!(
        ids(&query(
            &dir,
            &[
                "--user-id",
                USER_ID,
                "--access-key-id",
                "AKONE",
                "--result",
                "success"
            ]
        )),
        vec![ok1.clone()]
    );
    assert_eq!(
        sorted(ids(&query(
            &dir,
            &[
                "--user-id",
                USER_ID,
                "--access-key-id",
                "AKONE",
                "--since",
                "1h"
            ]
        ))),
        sorted(vec![ok1.clone(), missing.clone()])
    );
    assert!(query(&dir, &["--user-id", OTHER_USER, "--result", "denied"]).is_empty());

    // The table view: a header line and one aligned line per call.
    let output = Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
        .args(["query", "--format", "table", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6, "{table}");
    assert!(lines[0].to_ascii_lowercase().contains("result"));
    assert!(table.contains("not_found") && table.contains(&request_id));
}

#[test]
fn a_call_cut_off_by_a_crash_shows_as_unknown() {
    // An upstream that accepts and never answers keeps the call in flight.
    let addr = silent_upstream();
    let mut proxy = ProxyProcess::start_with_upstream(
        &format!("http://{addr}"),
        "request_timeout = \"60s\"",
        "",
    );
    let proxy_addr = proxy.addr.clone();
    std::thread::spawn(move || {
        let request = format!(
            "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number=cut HTTP/1.1\r\nHost: {proxy_addr}\r\nConnection: close\r\n\r\n"
        );
        let _ = std::panic::catch_unwind(|| send(&proxy_addr, request.as_bytes()));
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while all_call_records(&proxy.audit_dir()).is_empty() {
        assert!(Instant::now() < deadline, "received record written");
        std::thread::sleep(Duration::from_millis(20));
    }
    proxy.child.kill().unwrap(); // SIGKILL: no completed record
    proxy.child.wait().unwrap();
    let rows = query(&proxy.audit_dir(), &[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"]["result"], "unknown");
    assert_eq!(rows[0]["target"]["serial_number"], "cut");
    assert_eq!(query(&proxy.audit_dir(), &["--result", "unknown"]).len(), 1);
}
