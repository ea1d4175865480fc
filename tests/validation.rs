//! The validation table: every rule on the deletion's query gives 400, a `rejected`
//! record naming the rule, and nothing at the upstream; valid encoded serials pass.

mod common;

use common::raw_http::{header, send};
use common::*;

fn delete(
    proxy: &ProxyProcess,
    target: &str,
    extra_headers: &str,
    body: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let request = format!(
        "DELETE {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        proxy.addr
    );
    send(&proxy.addr, request.as_bytes())
}

#[test]
fn every_rule_rejects_without_reaching_upstream() {
    let sim = SimulatorProcess::start(&["--no-verify"]);
    let proxy = ProxyProcess::start(&sim.url(), "");
    let u = USER_ID;
    let p = "/v5/virtual-mfa-devices";
    let long = "a".repeat(151);
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            format!("{p}?serial_number=x"),
            "",
            "",
            "user_id is required",
        ),
        (
            format!("{p}?user_id={u}"),
            "",
            "",
            "serial_number is required",
        ),
        (p.to_string(), "", "", "user_id is required"),
        (
            format!("{p}?user_id={u}&user_id={u}&serial_number=x"),
            "",
            "",
            "exactly once",
        ),
        (
            format!("{p}?user_id={u}&serial_number=x&serial_number=y"),
            "",
            "",
            "exactly once",
        ),
        (
            format!("{p}?user_id=abc&serial_number=x"),
            "",
            "",
            "32 ASCII letters or digits",
        ),
        (
            format!("{p}?user_id={}-&serial_number=x", &u[..31]),
            "",
            "",
            "32 ASCII letters or digits",
        ),
        (
            format!("{p}?user_id={u}&serial_number="),
            "",
            "",
            "1 to 150",
        ),
        (
            format!("{p}?user_id={u}&serial_number={long}"),
            "",
            "",
            "1 to 150",
        ),
        (
            format!("{p}?user_id={u}&serial_number=a%09b"),
            "",
            "",
            "control characters",
        ),
        (
            format!("{p}?user_id={u}&serial_number=a%G1"),
            "",
            "",
            "invalid percent-encoding",
        ),
        (
            format!("{p}?user_id={u}&serial_number=%C3%28"),
            "",
            "",
            "invalid UTF-8",
        ),
        (
            format!("{p}?user_id={u}&serial_number=x&force=true"),
            "",
            "",
            "unexpected query parameter",
        ),
        (
            format!("{p}?user_id={u}&serial_number=a+b"),
            "",
            "",
            "raw '+'",
        ),
        (
            format!("{p}?user_id={u};serial_number=x"),
            "",
            "",
            "raw ';'",
        ),
        (
            format!("{p}?user_id={u}&serial_number=x&"),
            "",
            "",
            "empty parameter",
        ),
        (
            format!("{p}?user_id={u}&serial_number=x"),
            "Content-Length: 2\r\n",
            "{}",
            "no request body",
        ),
        (
            format!("{p}?user_id={u}&serial_number=x"),
            "Transfer-Encoding: chunked\r\n",
            "2\r\n{}\r\n0\r\n\r\n",
            "no request body",
        ),
    ];
    for (target, headers, body, rule) in &cases {
        let (status, response_headers, response_body) = delete(&proxy, target, headers, body);
        assert_eq!(status, 400, "{target}");
        assert_eq!(
            header(&response_headers, "content-type"),
            Some("application/json")
        );
        let answer: serde_json::Value = serde_json::from_slice(&response_body).unwrap();
        assert_eq!(answer["error_code"], "MAP.0400", "{target}");
        assert!(
            answer["error_msg"].as_str().unwrap().contains(rule),
            "{target}: {answer}"
        );
        let audit_id =
            header(&response_headers, "x-audit-id").expect("X-Audit-Id on a refused call");
        let records = call_records(&proxy.audit_dir(), audit_id);
        assert_eq!(records.len(), 1, "only a completed record: {records:#?}");
        let record = &records[0];
        assert_eq!(record["stage"], "completed");
        assert_eq!(record["outcome"]["result"], "rejected");
        assert_eq!(record["outcome"]["status"], 400);
        assert_eq!(record["outcome"]["error_code"], "MAP.0400");
        assert!(record["outcome"]["error_msg"]
            .as_str()
            .unwrap()
            .contains(rule));
        assert!(record["request_id"].is_null());
    }
    let stats = sim.stats();
    assert_eq!(stats["requests"], 0, "the upstream saw nothing: {stats}");
}

#[test]
fn valid_encoded_serials_pass() {
    let serials = [
        (
            "iam%3A%3A0123456789abcdef%3Amfa%3Aphone%201",
            "iam::0123456789abcdef:mfa:phone 1",
        ),
        (
            "iam%3A%3Aacct%3Amfa%3At%C3%A9l%C3%A9%2F2~x",
            "iam::acct:mfa:télé/2~x",
        ),
        ("plain-serial_1.x", "plain-serial_1.x"),
    ];
    let devices: Vec<String> = serials
        .iter()
        .map(|(_, s)| format!("{USER_ID}:{s}"))
        .collect();
    let mut args = vec!["--no-verify"];
    for d in &devices {
        args.push("--device");
        args.push(d);
    }
    let sim = SimulatorProcess::start(&args);
    let proxy = ProxyProcess::start(&sim.url(), "");
    for (encoded, decoded) in serials {
        let (status, headers, _) = delete(
            &proxy,
            &format!("/v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={encoded}"),
            "Content-Length: 0\r\n",
            "",
        );
        assert_eq!(status, 204, "{encoded}");
        let records = call_records(&proxy.audit_dir(), header(&headers, "x-audit-id").unwrap());
        assert_eq!(records.len(), 2);
        assert_eq!(records[1]["target"]["serial_number"], decoded);
        assert_eq!(records[1]["outcome"]["result"], "success");
    }
    assert_eq!(sim.stats()["deletions_performed"], 3);
}
