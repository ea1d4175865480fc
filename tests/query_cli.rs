//! `query` end to end through `query::run`: merging, every filter, formats, errors.

#[path = "common/query.rs"]
mod common;

use common::*;
use mfa_audit_proxy::audit::record::{format_time, CallResult};
use mfa_audit_proxy::query::QueryError;
use serde_json::{json, Value};

/// The shared scenario. Completion order is a, c, b, r, e, f, then d (never completes).
fn scenario() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Log::new(tmp.path());
    log.rotate("20261203T100000Z");
    log.add(lifecycle("ProxyStarted"), &at(0));
    let a = Spec::new("a", 1, 1);
    let b = Spec::new("b", 2, 2);
    let c = Spec::new("c", 1, 2);
    let r = Spec::new("r", 3, 1);
    let d = Spec::new("d", 2, 1);
    log.add(received(&a), &at(10));
    log.add(
        completed(&a, CallResult::Success, 204, Some("req-a")),
        &at(11),
    );
    log.add(received(&b), &at(20));
    log.add(received(&c), &at(21));
    log.add(
        completed(&c, CallResult::Denied, 403, Some("req-c")),
        &at(22),
    );
    log.add(
        completed(&b, CallResult::NotFound, 404, Some("req-b")),
        &at(23),
    );
    log.add(completed(&r, CallResult::Rejected, 400, None), &at(30));
    // Line 9: torn.
    log.raw(b"{\"schema_version\":\"1.0\",\"event\":\"DeleteVirtualMFADeviceV5\",\"sta\n");
    log.add(received(&d), &at(40));
    log.rotate("20261203T100100Z");
    log.add(lifecycle("AuditFileRotated"), &at(60));
    let e = Spec::new("e", 1, 3);
    let f = Spec::new("f", 4, 1);
    log.add(received(&e), &at(70));
    log.add(completed(&e, CallResult::UpstreamError, 502, None), &at(71));
    log.add(received(&f), &at(80));
    log.add(
        completed(&f, CallResult::Failed, 500, Some("req-f")),
        &at(81),
    );
    let dir = tmp.path().to_str().unwrap().to_string();
    (tmp, dir)
}

fn ids(dir: &str, flags: &[&str]) -> Vec<String> {
    let mut args = vec!["--dir", dir];
    args.extend_from_slice(flags);
    let o = run(&args);
    o.ids()
}

#[test]
fn merges_stages_in_completion_order() {
    let (_t, dir) = scenario();
    let o = run(&["--dir", &dir]);
    assert_eq!(o.ids(), ["a", "c", "b", "r", "e", "f", "d"]);
    let first = format!("{dir}/audit-20261203T100000Z-00000000000000000001.jsonl:9: ");
    assert!(o.err.starts_with(&first), "{}", o.err);
    assert_eq!(o.err.lines().count(), 1, "{}", o.err);
}

#[test]
fn merged_shape() {
    let (_t, dir) = scenario();
    let calls = run(&["--dir", &dir]).calls();
    let a = &calls[0];
    let keys: Vec<_> = a.as_object().unwrap().keys().cloned().collect();
    let mut want = [
        "schema_version",
        "event",
        "action",
        "audit_id",
        "time",
        "completed_time",
        "seq_received",
        "seq_completed",
        "caller",
        "target",
        "outcome",
        "request_id",
        "duration_ms",
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(a["time"], at(10));
    assert_eq!(a["completed_time"], at(11));
    assert_eq!(a["seq_received"], 2);
    assert_eq!(a["seq_completed"], 3);
    assert_eq!(a["event"], "DeleteVirtualMFADeviceV5");
    assert_eq!(a["action"], "iam:mfa:deleteVirtualMFADeviceV5");
    assert_eq!(a["target"]["user_id"], user_id(1));
    assert_eq!(a["caller"]["access_key_id"], "AK000000000000000001");
    assert_eq!(a["caller"]["user_agent"], "huaweicloud-sdk-python/3.1");
    assert_eq!(
        a["outcome"],
        json!({"result": "success", "status": 204, "error_code": null, "error_msg": null})
    );
    assert_eq!(a["request_id"], "req-a");
    assert_eq!(a["duration_ms"], 12.5);
    // Key order on the line is the documented one.
    let line = run(&["--dir", &dir])
        .out
        .lines()
        .next()
        .unwrap()
        .to_string();
    let pos = |k: &str| line.find(&format!("\"{k}\":")).unwrap();
    assert!(pos("schema_version") < pos("audit_id"));
    assert!(pos("time") < pos("completed_time"));
    assert!(pos("seq_completed") < pos("caller"));
    assert!(pos("outcome") < pos("request_id"));
}

#[test]
fn missing_completed_is_unknown() {
    let (_t, dir) = scenario();
    let calls = run(&["--dir", &dir]).calls();
    let d = calls.iter().find(|c| c["audit_id"] == "d").unwrap();
    assert_eq!(
        d["outcome"],
        json!({"result": "unknown", "status": null, "error_code": null, "error_msg": null})
    );
    assert_eq!(d["time"], at(40));
    for k in [
        "completed_time",
        "seq_completed",
        "request_id",
        "duration_ms",
    ] {
        assert_eq!(d[k], Value::Null, "{k}");
    }
    assert_eq!(d["target"]["user_id"], user_id(2));
}

#[test]
fn rejected_call_stands_alone() {
    let (_t, dir) = scenario();
    let calls = run(&["--dir", &dir]).calls();
    let r = calls.iter().find(|c| c["audit_id"] == "r").unwrap();
    assert_eq!(r["outcome"]["result"], "rejected");
    assert_eq!(r["outcome"]["status"], 400);
    assert_eq!(r["seq_received"], Value::Null);
    assert_eq!(r["seq_completed"], 8);
    assert_eq!(r["time"], at(30));
    assert_eq!(r["completed_time"], at(30));
}

#[test]
fn each_filter_alone() {
    let (_t, dir) = scenario();
    let u1 = user_id(1);
    let u2sn = Spec::new("", 2, 0).sn;
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--user-id", &u1], vec!["a", "c", "e"]),
        (vec!["--serial-number", &u2sn], vec!["b", "d"]),
        (
            vec!["--access-key-id", "AK000000000000000001"],
            vec!["a", "r", "f", "d"],
        ),
        (vec!["--source-ip", "10.0.0.3"], vec!["c", "b"]),
        (vec!["--result", "success"], vec!["a"]),
        (vec!["--result", "denied"], vec!["c"]),
        (vec!["--result", "not_found"], vec!["b"]),
        (vec!["--result", "failed"], vec!["f"]),
        (vec!["--result", "rejected"], vec!["r"]),
        (vec!["--result", "upstream_error"], vec!["e"]),
        (vec!["--result", "unknown"], vec!["d"]),
        (vec!["--audit-id", "b"], vec!["b"]),
        (vec!["--request-id", "req-b"], vec!["b"]),
        (
            vec!["--since", "2026-12-03T10:00:21Z"],
            vec!["c", "r", "e", "f", "d"],
        ),
        (
            vec!["--since", "2026-12-03T10:00:20Z"],
            vec!["c", "b", "r", "e", "f", "d"],
        ),
        (vec!["--until", "2026-12-03T10:00:21Z"], vec!["a", "b"]),
        (vec!["--user-id", "nobody"], vec![]),
    ];
    for (flags, want) in cases {
        assert_eq!(ids(&dir, &flags), want, "{flags:?}");
    }
}

#[test]
fn outcome_filters_keep_the_received_stage() {
    let (_t, dir) = scenario();
    let calls = run(&["--dir", &dir, "--request-id", "req-c"]).calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["seq_received"], 5);
    assert_eq!(calls[0]["time"], at(21));
    let calls = run(&[
        "--dir",
        &dir,
        "--result",
        "denied",
        "--user-id",
        &user_id(1),
    ])
    .calls();
    assert_eq!(calls[0]["seq_received"], 5);
}

#[test]
fn filters_combine_with_and() {
    let (_t, dir) = scenario();
    let (u1, u2) = (user_id(1), user_id(2));
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--user-id", &u1, "--result", "success"], vec!["a"]),
        (
            vec!["--user-id", &u1, "--access-key-id", "AK000000000000000002"],
            vec!["c"],
        ),
        (vec!["--user-id", &u2, "--result", "unknown"], vec!["d"]),
        (vec!["--request-id", "req-c", "--user-id", &u2], vec![]),
        (
            vec![
                "--since",
                "2026-12-03T10:00:20Z",
                "--until",
                "2026-12-03T10:00:41Z",
            ],
            vec!["c", "b", "r", "d"],
        ),
        (
            vec![
                "--access-key-id",
                "AK000000000000000001",
                "--since",
                "2026-12-03T10:00:30Z",
                "--source-ip",
                "10.0.0.2",
            ],
            vec!["r", "f", "d"],
        ),
    ];
    for (flags, want) in cases {
        assert_eq!(ids(&dir, &flags), want, "{flags:?}");
    }
}

#[test]
fn time_range_skips_files_and_places_calls_by_receipt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let mut log = Log::new(tmp.path());
    log.rotate("20261203T100000Z");
    let x = Spec::new("x", 1, 1);
    let y = Spec::new("y", 2, 1);
    log.add(received(&x), "2026-12-03T10:00:10.000000Z");
    log.add(
        completed(&x, CallResult::Success, 204, None),
        "2026-12-03T10:00:11.000000Z",
    );
    log.raw(b"torn in A\n");
    log.add(received(&y), "2026-12-03T10:59:50.000000Z");
    log.rotate("20261203T110000Z");
    // y completes 31m10s after receipt, in the next file.
    let Entry::Call(mut yc) = completed(&y, CallResult::Success, 204, None) else {
        panic!()
    };
    yc.duration_ms = Some(1_870_000.0);
    log.add(Entry::Call(yc), "2026-12-03T11:31:00.000000Z");
    let z = Spec::new("z", 3, 1);
    log.add(received(&z), "2026-12-03T11:40:00.000000Z");
    log.add(
        completed(&z, CallResult::Success, 204, None),
        "2026-12-03T11:40:01.000000Z",
    );
    log.rotate("20261203T120000Z");
    log.raw(b"torn in C\n");
    let w = Spec::new("w", 4, 1);
    log.add(received(&w), "2026-12-03T12:10:00.000000Z");
    log.add(
        completed(&w, CallResult::Success, 204, None),
        "2026-12-03T12:10:01.000000Z",
    );

    let all = run(&["--dir", dir]);
    assert_eq!(all.ids(), ["x", "y", "z", "w"]);
    assert_eq!(all.err.lines().count(), 2, "{}", all.err);

    // A is skipped unread (y alone is placed by its receipt, before --since); C is not
    // read either: it starts after --until and no call is pending.
    let o = run(&[
        "--dir",
        dir,
        "--since",
        "2026-12-03T11:30:00Z",
        "--until",
        "2026-12-03T11:45:00Z",
    ]);
    assert_eq!(o.ids(), ["z"]);
    assert_eq!(o.err, "");
    let o = run(&["--dir", dir, "--since", "2026-12-03T11:30:00+00:00"]);
    assert_eq!(o.ids(), ["z", "w"]);
    let o = run(&[
        "--dir",
        dir,
        "--since",
        "2026-12-03T10:30:00Z",
        "--until",
        "2026-12-03T11:00:00Z",
    ]);
    assert_eq!(o.ids(), ["y"]);
}

use mfa_audit_proxy::audit::record::Entry;

#[test]
fn until_reads_on_for_completions_within_an_hour() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let mut log = Log::new(tmp.path());
    let [p, q, r] = ["p", "q", "r"].map(|id| Spec::new(id, 1, 1));
    log.rotate("20261203T100000Z");
    log.add(received(&p), "2026-12-03T10:10:00.000000Z");
    log.add(received(&q), "2026-12-03T10:20:00.000000Z");
    log.add(received(&r), "2026-12-03T10:21:00.000000Z");
    log.rotate("20261203T104000Z");
    log.add(
        completed(&p, CallResult::Success, 204, None),
        "2026-12-03T10:40:00.000000Z",
    );
    log.rotate("20261203T120000Z");
    log.add(
        completed(&q, CallResult::Success, 204, None),
        "2026-12-03T12:00:00.000000Z",
    );
    log.rotate("20261203T130000Z");
    log.raw(b"not read\n");
    let o = run(&["--dir", dir, "--until", "2026-12-03T10:30:00Z"]);
    let got: Vec<String> = o
        .calls()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["audit_id"].as_str().unwrap(),
                c["outcome"]["result"].as_str().unwrap()
            )
        })
        .collect();
    // p completes within the hour; q completes later than that and r never: unknown.
    assert_eq!(got, ["p:success", "q:unknown", "r:unknown"]);
    assert_eq!(o.err, "");
}

#[test]
fn spans_count_back_from_now() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let start = now - time::Duration::hours(3);
    let mut log = Log::new(tmp.path());
    log.rotate(&format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        start.year(),
        u8::from(start.month()),
        start.day(),
        start.hour(),
        start.minute(),
        start.second()
    ));
    let old = Spec::new("old", 1, 1);
    let new = Spec::new("new", 1, 1);
    let t = |ago: i64| format_time(now - time::Duration::minutes(ago));
    log.add(received(&old), &t(120));
    log.add(completed(&old, CallResult::Success, 204, None), &t(119));
    log.add(received(&new), &t(10));
    log.add(completed(&new, CallResult::Success, 204, None), &t(9));
    assert_eq!(run(&["--dir", dir, "--since", "1h"]).ids(), ["new"]);
    assert_eq!(run(&["--dir", dir, "--since", "15m"]).ids(), ["new"]);
    assert_eq!(run(&["--dir", dir, "--until", "1h"]).ids(), ["old"]);
    assert_eq!(run(&["--dir", dir, "--since", "1d"]).ids(), ["old", "new"]);
    assert_eq!(
        run(&["--dir", dir, "--since", "3h", "--until", "90m"]).ids(),
        ["old"]
    );
    assert!(run(&["--dir", dir, "--since", "5m"]).ids().is_empty());
}

#[test]
fn table_view_is_aligned() {
    let (_t, dir) = scenario();
    let o = run(&["--dir", &dir, "--format", "table"]);
    assert!(o.result.is_ok());
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(lines.len(), 8);
    let header = lines[0];
    for h in [
        "TIME",
        "RESULT",
        "STATUS",
        "USER_ID",
        "SERIAL_NUMBER",
        "CALLER_AK",
        "SOURCE_IP",
        "REQUEST_ID",
    ] {
        assert!(header.contains(h), "{header}");
    }
    let col = |h: &str| header.find(h).unwrap();
    let a = lines[1];
    assert!(a.starts_with(&at(10)));
    assert_eq!(a.find("success"), Some(col("RESULT")));
    assert_eq!(a.find("204"), Some(col("STATUS")));
    assert_eq!(a.find(&user_id(1)), Some(col("USER_ID")));
    assert_eq!(a.find("AK000000000000000001"), Some(col("CALLER_AK")));
    assert_eq!(a.find("10.0.0.2"), Some(col("SOURCE_IP")));
    assert_eq!(a.find("req-a"), Some(col("REQUEST_ID")));
    let d = lines[7];
    assert_eq!(d.find("unknown"), Some(col("RESULT")));
    assert_eq!(&d[col("STATUS")..col("STATUS") + 1], "-");
    assert!(d.ends_with('-'), "{d}");
    // No match: the header alone.
    let o = run(&["--dir", &dir, "--format", "table", "--user-id", "nobody"]);
    assert_eq!(o.out.lines().count(), 1);
}

#[test]
fn summary_json_and_table() {
    let (_t, dir) = scenario();
    let o = run(&["--dir", &dir, "--summary"]);
    let v: Value = serde_json::from_str(o.out.trim()).unwrap();
    assert_eq!(o.out.lines().count(), 1);
    assert_eq!(v["calls"], 7);
    assert_eq!(
        v["by_result"],
        json!({"success":1,"denied":1,"not_found":1,"failed":1,"rejected":1,"upstream_error":1,"unknown":1})
    );
    assert_eq!(v["by_access_key_id"]["AK000000000000000001"], 4);
    assert_eq!(v["by_access_key_id"]["AK000000000000000002"], 2);
    assert_eq!(v["by_user_id"][user_id(1)], 3);
    assert_eq!(v["by_user_id"][user_id(4)], 1);

    let o = run(&[
        "--dir",
        &dir,
        "--summary",
        "--format",
        "table",
        "--user-id",
        &user_id(1),
    ]);
    assert!(o.out.starts_with("CALLS  3\n"), "{}", o.out);
    assert!(o.out.contains("\nRESULT"), "{}", o.out);
    assert!(o.out.contains(&format!("{}  3", user_id(1))), "{}", o.out);
    assert!(o.out.contains("AK000000000000000002  1"), "{}", o.out);
}

#[test]
fn torn_line_mid_file_is_reported_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let mut log = Log::new(tmp.path());
    let path = log.rotate("20261203T100000Z");
    let a = Spec::new("a", 1, 1);
    let b = Spec::new("b", 1, 1);
    log.add(received(&a), &at(1));
    log.raw(b"{\"schema_version\":\"1.0\",\"stage\":\"completed\",\"audit_id\":\"a\"");
    log.raw(b"\n");
    log.raw(b"\xff\xfe not json\n");
    log.add(received(&b), &at(2));
    log.add(completed(&b, CallResult::Success, 204, None), &at(3));
    log.raw(b"{\"torn at the end"); // no newline: the writer died here
    let o = run(&["--dir", dir]);
    assert_eq!(o.ids(), ["b", "a"]);
    let errs: Vec<&str> = o.err.lines().collect();
    assert_eq!(errs.len(), 3, "{}", o.err);
    let p = path.display().to_string();
    assert!(errs[0].starts_with(&format!("{p}:2: ")), "{}", errs[0]);
    assert!(errs[1].starts_with(&format!("{p}:3: ")), "{}", errs[1]);
    assert!(errs[2].starts_with(&format!("{p}:6: ")), "{}", errs[2]);
}

#[test]
fn values_are_matched_exactly_even_with_escapes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let mut log = Log::new(tmp.path());
    log.rotate("20261203T100000Z");
    let mut odd = Spec::new("odd", 1, 1);
    odd.user = "we\"ird\\ü\u{7}".to_string();
    let mut prefix = Spec::new("prefix", 1, 1);
    prefix.user = "we".to_string();
    log.add(completed(&odd, CallResult::Rejected, 400, None), &at(1));
    log.add(completed(&prefix, CallResult::Rejected, 400, None), &at(2));
    assert_eq!(
        run(&["--dir", dir, "--user-id", "we\"ird\\ü\u{7}"]).ids(),
        ["odd"]
    );
    assert_eq!(run(&["--dir", dir, "--user-id", "we"]).ids(), ["prefix"]);
    // In a table, control characters are escaped.
    let o = run(&["--dir", dir, "--format", "table", "--audit-id", "odd"]);
    assert!(o.out.contains("we\"ird\\ü\\u{7}"), "{}", o.out);
}

#[test]
fn pending_bound_evicts_oldest_as_unknown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let mut log = Log::new(tmp.path());
    log.rotate("20261203T100000Z");
    let s: Vec<Spec> = ["p1", "p2", "p3"]
        .iter()
        .map(|id| Spec::new(id, 1, 1))
        .collect();
    for (i, c) in s.iter().enumerate() {
        log.add(received(c), &at(i as u64));
    }
    log.add(completed(&s[1], CallResult::Success, 204, None), &at(5));
    log.add(completed(&s[2], CallResult::Success, 204, None), &at(6));
    log.add(completed(&s[0], CallResult::Success, 204, None), &at(7));
    let calls = run(&["--dir", dir, "--max-pending", "2"]).calls();
    let got: Vec<_> = calls
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["audit_id"].as_str().unwrap(),
                c["outcome"]["result"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        got,
        ["p1:unknown", "p2:success", "p3:success", "p1:success"]
    );
    assert_eq!(run(&["--dir", dir]).ids(), ["p2", "p3", "p1"]);
}

#[test]
fn directory_from_config() {
    let (_t, dir) = scenario();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!("[upstream]\nurl = \"http://127.0.0.1:1\"\n[audit]\ndir = {dir:?}\n"),
    )
    .unwrap();
    let o = run(&["--config", cfg.to_str().unwrap(), "--result", "success"]);
    assert_eq!(o.ids(), ["a"]);
}

#[test]
fn bad_flags_and_missing_directory() {
    for args in [
        vec!["--result", "bogus"],
        vec!["--dir", "x", "--config", "y"],
        vec!["--summary", "--follow"],
        vec!["--follow-for", "1s"],
        vec!["--format", "xml"],
        vec!["--max-pending", "0"],
        vec!["--user"],
    ] {
        assert!(parse(&args).is_err(), "{args:?}");
    }
    let (_t, dir) = scenario();
    let one_line = |e: &QueryError| {
        let s = e.to_string();
        assert!(!s.contains('\n'), "{s}");
        s
    };
    let o = run(&["--dir", &dir, "--since", "yesterday"]);
    let e = o.result.unwrap_err();
    assert!(matches!(e, QueryError::Time { flag: "since", .. }));
    assert!(one_line(&e).starts_with("--since \"yesterday\": "));
    let e = run(&["--dir", &dir, "--until", "2026-12-03T25:00:00Z"])
        .result
        .unwrap_err();
    assert!(one_line(&e).starts_with("--until"));
    let e = run(&["--dir", &dir, "--since", "1h", "--until", "2h"])
        .result
        .unwrap_err();
    assert!(matches!(e, QueryError::EmptyRange));
    let e = run(&["--dir", "/nonexistent/audit"]).result.unwrap_err();
    assert!(
        one_line(&e).starts_with("--dir /nonexistent/audit: "),
        "{e}"
    );
    let e = run(&["--config", "/nonexistent/config.toml"])
        .result
        .unwrap_err();
    assert!(one_line(&e).starts_with("--config: "), "{e}");
    assert!(matches!(e, QueryError::Config(_)));
}
