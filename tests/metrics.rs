//! `/metrics` after a known mix of calls: 2 successful deletions, 1 of an unknown device,
//! 1 by a denied caller, 1 refused by validation, and 3 pass-through requests. Every
//! counter matches the mix exactly; gauges are back to 0; `/healthz` and `/readyz` 200.

mod common;

use std::time::{Duration, Instant};

use common::load::{metric, scrape, Sample};
use common::raw_http::{self, send};
use common::*;

const DENIED: &str = "HPUAEXAMPLEDENIED001";

fn delete(proxy: &ProxyProcess, user: &str, serial: &str, ak: &str) -> u16 {
    let request = format!(
        "DELETE /v5/virtual-mfa-devices?user_id={user}&serial_number={serial} HTTP/1.1\r\nHost: {}\r\n\
         Authorization: SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host, Signature={}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
        proxy.addr,
        "0123456789abcdef".repeat(4)
    );
    send(&proxy.addr, request.as_bytes()).0
}

#[test]
fn counters_match_a_known_mix_of_calls() {
    let sim = SimulatorProcess::start(&[
        "--no-verify",
        "--deny",
        DENIED,
        "--device",
        &format!("{USER_ID}:s1"),
        "--device",
        &format!("{USER_ID}:s2"),
        "--device",
        &format!("{USER_ID}:s3"),
    ]);
    let proxy = ProxyProcess::start(&sim.url(), "");

    assert_eq!(delete(&proxy, USER_ID, "s1", AK), 204);
    assert_eq!(delete(&proxy, USER_ID, "s2", AK), 204);
    assert_eq!(delete(&proxy, USER_ID, "nope", AK), 404);
    assert_eq!(delete(&proxy, USER_ID, "s3", DENIED), 403);
    assert_eq!(delete(&proxy, "short", "s3", AK), 400);
    for _ in 0..3 {
        assert_eq!(raw_http::get(&proxy.addr, "/v5/mfa-devices").0, 200);
    }

    // Connections close just after the answers: wait for the gauge to settle.
    let deadline = Instant::now() + Duration::from_secs(5);
    let samples: Vec<Sample> = loop {
        let samples = scrape(&proxy.admin_addr);
        if metric(&samples, "mfa_audit_proxy_open_connections", &[]) == 0.0
            || Instant::now() > deadline
        {
            break samples;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let m = |name: &str, labels: &[(&str, &str)]| metric(&samples, name, labels);
    // Zeros below must be real samples, not misspelt names.
    for name in [
        "mfa_audit_proxy_audit_write_failures_total",
        "mfa_audit_proxy_in_flight_requests",
        "mfa_audit_proxy_open_connections",
        "mfa_audit_proxy_audit_pending_retry_records",
    ] {
        assert!(samples.iter().any(|s| s.name == name), "{name} missing");
    }

    let requests = "mfa_audit_proxy_requests_total";
    for (route, status, n) in [
        ("audited_delete", "204", 2.0),
        ("audited_delete", "404", 1.0),
        ("audited_delete", "403", 1.0),
        ("audited_delete", "400", 1.0),
        ("pass_through", "200", 3.0),
    ] {
        assert_eq!(
            m(requests, &[("route", route), ("status", status)]),
            n,
            "{route} {status}"
        );
    }
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == requests)
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 8.0, "nothing else counted");

    let audited = "mfa_audit_proxy_audited_calls_total";
    for (result, n) in [
        ("success", 2.0),
        ("not_found", 1.0),
        ("denied", 1.0),
        ("rejected", 1.0),
        ("failed", 0.0),
        ("upstream_error", 0.0),
    ] {
        assert_eq!(m(audited, &[("result", result)]), n, "{result}");
    }

    // 4 forwarded calls write `received` and `completed`, the refused one `completed` only.
    assert_eq!(m("mfa_audit_proxy_audit_append_seconds_count", &[]), 9.0);
    assert!(m("mfa_audit_proxy_audit_append_seconds_sum", &[]) > 0.0);
    assert_eq!(
        m(
            "mfa_audit_proxy_audit_append_seconds_bucket",
            &[("le", "+Inf")]
        ),
        9.0
    );
    assert_eq!(m("mfa_audit_proxy_audit_write_failures_total", &[]), 0.0);
    // ...plus the `ProxyStarted` record, written by the writer too.
    assert_eq!(m("mfa_audit_proxy_audit_records_written", &[]), 10.0);
    assert_eq!(
        m(
            "mfa_audit_proxy_upstream_seconds_count",
            &[("route", "audited_delete")]
        ),
        4.0
    );
    assert_eq!(
        m(
            "mfa_audit_proxy_upstream_seconds_count",
            &[("route", "pass_through")]
        ),
        3.0
    );
    assert_eq!(m("mfa_audit_proxy_in_flight_requests", &[]), 0.0);
    assert_eq!(m("mfa_audit_proxy_open_connections", &[]), 0.0);
    assert_eq!(m("mfa_audit_proxy_audit_pending_retry_records", &[]), 0.0);

    assert_eq!(raw_http::get(&proxy.admin_addr, "/healthz").0, 200);
    assert_eq!(raw_http::get(&proxy.admin_addr, "/readyz").0, 200);
    // The upstream saw the 4 forwarded deletions and the 3 pass-through requests.
    assert_eq!(sim.stats()["requests"], 7);
}
