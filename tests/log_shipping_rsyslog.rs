//! The shipped rsyslog configuration (`deploy/shipping/rsyslog.conf`), run by a real
//! rsyslogd over the audit directory of a live proxy: every audit line reaches rsyslog's
//! file output and its forwarding action exactly once and byte for byte, across audit
//! file rotations and a stop and restart of rsyslogd (its state files).
//!
//! Needs `/usr/sbin/rsyslogd` (scripts/setup) and an audit writer that rotates on
//! `[audit] rotate_bytes` (the full writer; the placeholder writer has no rotation).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::raw_http::{header, send};
use common::rsyslog::{shipped_config, RsyslogProcess, SyslogReceiver};
use common::*;

/// Small, so that a few calls rotate the audit file several times.
const ROTATE_BYTES: u64 = 4096;
const DEADLINE: Duration = Duration::from_secs(30);

/// An upstream that answers every request `204 No Content` with a fresh `X-Request-Id`.
fn tiny_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().flatten().enumerate() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            // The request head; the audited call has no body.
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                line.clear();
            }
            let answer = format!(
                "HTTP/1.1 204 No Content\r\nX-Request-Id: {n:032x}\r\nConnection: close\r\n\r\n"
            );
            let _ = reader.get_mut().write_all(answer.as_bytes());
        }
    });
    format!("http://{addr}")
}

/// Starts the proxy with a rotating audit log, or explains why this build cannot.
fn start_proxy(upstream: &str) -> ProxyProcess {
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("config.toml");
    std::fs::write(
        &config_path,
        format!(
            "listen = \"127.0.0.1:0\"\n\n[upstream]\nurl = \"{upstream}\"\nrequest_timeout = \"3s\"\n\n\
             [audit]\ndir = \"{}\"\nrotate_bytes = {ROTATE_BYTES}\n\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("audit").display()
        ),
    )
    .expect("write config");
    let check = Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
        .args(["check-config", "--config"])
        .arg(&config_path)
        .output()
        .expect("check-config runs");
    assert!(
        check.status.success(),
        "this build does not take `[audit] rotate_bytes` (the full audit writer, branch `audit`, adds it): {}",
        String::from_utf8_lossy(&check.stderr)
    );
    ProxyProcess::start_with_config(dir, config_path)
}

/// One deletion through the proxy; returns the status.
fn delete(proxy: &ProxyProcess, serial_query: &str, user_agent: &str) -> u16 {
    let request = format!(
        "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={serial_query} HTTP/1.1\r\n\
         Host: {}\r\nUser-Agent: {user_agent}\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n",
        proxy.addr
    );
    let (status, headers, _) = send(&proxy.addr, request.as_bytes());
    assert!(
        header(&headers, "x-audit-id").is_some(),
        "audited call answered {status} without X-Audit-Id"
    );
    status
}

/// Calls that give records with escapes, non-ASCII text and more than 64 KiB in one line.
fn varied_calls(proxy: &ProxyProcess, round: usize) {
    for i in 0..4 {
        assert_eq!(
            delete(
                proxy,
                &format!("iam%3A%3A0123%3Amfa%3Around{round}-{i}"),
                "shipping-test/1.0"
            ),
            204
        );
    }
    // Quotes, a backslash and "é": escaped and raw UTF-8 in the JSON line.
    assert_eq!(
        delete(
            proxy,
            "iam%3A%3A0123%3Amfa%3Aq%22uo%5Cte-%C3%A9",
            "ua \"quoted\" \\ back"
        ),
        204
    );
    // A newline in the serial number: refused, and recorded as `\n` inside one line.
    assert_eq!(delete(proxy, "line%0Abreak", "shipping-test/1.0"), 400);
    if round == 1 {
        // 40 000 quotes escape to 80 000 bytes: more than rsyslog's default and than 64k.
        assert_eq!(
            delete(proxy, "iam%3A%3A0123%3Amfa%3Abig", &"\"".repeat(40_000)),
            204
        );
    }
}

fn audit_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("audit dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

/// Every audit line, with the file it is in.
fn audit_lines(dir: &Path) -> Vec<(PathBuf, String)> {
    audit_files(dir)
        .into_iter()
        .flat_map(|f| {
            common::rsyslog::read_lines(&f)
                .into_iter()
                .map(move |l| (f.clone(), l))
        })
        .collect()
}

/// Waits until rsyslog's file output holds every audit line written so far.
fn wait_until_shipped(proxy: &ProxyProcess, rsyslog: &mut RsyslogProcess) {
    let started = Instant::now();
    loop {
        let shipped: std::collections::HashSet<String> =
            rsyslog.output_lines().into_iter().collect();
        let missing = audit_lines(&proxy.audit_dir())
            .into_iter()
            .filter(|(_, l)| !shipped.contains(l))
            .count();
        if missing == 0 {
            return;
        }
        rsyslog.assert_running();
        assert!(
            started.elapsed() < DEADLINE,
            "{missing} audit lines not in rsyslog's output after {DEADLINE:?}; rsyslogd said: {}",
            rsyslog.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every audit line exactly once in `shipped`, nothing else, in file order within a file.
fn assert_exactly_once(what: &str, audit: &[(PathBuf, String)], shipped: &[String]) {
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (i, (_, line)) in audit.iter().enumerate() {
        assert!(
            position.insert(line, i).is_none(),
            "audit lines are unique (seq, prev_hash)"
        );
    }
    let indices: Vec<usize> = shipped
        .iter()
        .enumerate()
        .map(|(n, line)| match position.get(line.as_str()) {
            Some(&i) => i,
            None => panic!("{what}: line {n} is no audit line (altered or split?): {line:.300}"),
        })
        .collect();
    let mut seen = vec![0usize; audit.len()];
    for &i in &indices {
        seen[i] += 1;
    }
    for (i, count) in seen.iter().enumerate() {
        let (file, line) = &audit[i];
        assert_eq!(
            *count,
            1,
            "{what}: line {i} of {} shipped {count} times: {line:.300}",
            file.display()
        );
    }
    let mut last_in_file: HashMap<&Path, usize> = HashMap::new();
    for &i in &indices {
        let file = audit[i].0.as_path();
        if let Some(previous) = last_in_file.insert(file, i) {
            assert!(
                previous < i,
                "{what}: lines of {} out of order",
                file.display()
            );
        }
    }
}

/// The audit line in an RFC 5424 frame of the forwarding template: what follows the
/// structured data `[file@32473 name="..." offset="..."]`.
fn forwarded_line(frame: &str) -> String {
    let (head, line) = frame
        .split_once("\"] ")
        .unwrap_or_else(|| panic!("frame without structured data: {frame:.300}"));
    assert!(head.starts_with("<182>1 "), "local6.info, RFC 5424: {head}");
    assert!(
        head.contains(" mfa-audit-proxy - audit [file@32473 name=\""),
        "{head}"
    );
    line.to_string()
}

#[test]
fn audit_lines_reach_rsyslog_once_and_unaltered_across_rotation_and_restart() {
    let upstream = tiny_upstream();
    let mut proxy = start_proxy(&upstream);
    let receiver = SyslogReceiver::start();
    let rsyslog_dir = tempfile::tempdir().expect("tempdir");
    let config = shipped_config(&proxy.audit_dir(), rsyslog_dir.path(), &receiver.addr);

    // Records written before rsyslogd starts are read from the start of their files.
    varied_calls(&proxy, 0);
    let mut rsyslog = RsyslogProcess::start(rsyslog_dir.path(), &config);
    wait_until_shipped(&proxy, &mut rsyslog);

    // Live: new lines and rotated-in files, picked up while rsyslogd runs.
    varied_calls(&proxy, 1);
    varied_calls(&proxy, 2);
    wait_until_shipped(&proxy, &mut rsyslog);

    // rsyslogd stopped: records and rotations meanwhile are read from the saved offsets
    // when it is back, and what it had read already is not sent again.
    rsyslog.stop();
    varied_calls(&proxy, 3);
    rsyslog.restart();
    varied_calls(&proxy, 4);

    // The proxy's stop record is the last line.
    assert!(
        proxy.terminate().success(),
        "proxy exits 0: {}",
        proxy.stderr()
    );
    wait_until_shipped(&proxy, &mut rsyslog);
    // An orderly stop writes out what rsyslogd holds: a late duplicate would show now.
    rsyslog.stop();

    let files = audit_files(&proxy.audit_dir());
    assert!(
        files.len() >= 2,
        "the audit log rotated at {ROTATE_BYTES} bytes (needs the full audit writer): {files:?}"
    );
    let audit = audit_lines(&proxy.audit_dir());
    assert!(
        audit.iter().any(|(_, l)| l.len() > 64 * 1024),
        "one record is longer than 64 KiB"
    );
    assert_exactly_once("file output", &audit, &rsyslog.output_lines());

    // rsyslogd has exited; the receiver may still be reading what it sent.
    let started = Instant::now();
    while receiver.frames().len() < audit.len() && started.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(50));
    }
    let forwarded: Vec<String> = receiver
        .frames()
        .iter()
        .map(|f| forwarded_line(f))
        .collect();
    assert_exactly_once("forwarded", &audit, &forwarded);
}
