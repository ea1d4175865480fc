//! Issue #6: an orderly stop. SIGTERM under load: the proxy stops accepting, lets the calls
//! in flight finish (each with its `completed` record and its answer), writes
//! `ProxyStopped` and exits 0 within the grace period. A slow call in flight when SIGTERM
//! arrives is completed, not cut off; one that outlasts the grace period is cut off,
//! recorded as such (`drained: false`) and left `unknown`. A stop while the audit log
//! cannot be written exits non-zero, promptly.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::load::{self, assert_verifies, query_calls, write_config, Load};
use common::raw_http::{self, header};
use common::*;

const GRACE: Duration = Duration::from_secs(10);

fn sigterm(proxy: &ProxyProcess) {
    let status = Command::new("kill")
        .args(["-TERM", &proxy.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits (bounded) for the proxy to exit.
fn wait_exit(proxy: &mut ProxyProcess, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = proxy.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "still running {within:?} after SIGTERM:\n{}",
            proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn start_proxy(upstream: &str) -> ProxyProcess {
    start_proxy_with_grace(upstream, GRACE)
}

fn start_proxy_with_grace(upstream: &str, grace: Duration) -> ProxyProcess {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        upstream,
        &format!("shutdown_grace = \"{}ms\"", grace.as_millis()),
        "request_timeout = \"5s\"",
        "",
    );
    ProxyProcess::start_with_config(dir, config)
}

fn assert_stopped_cleanly(proxy: &ProxyProcess) {
    let records = audit_records(&proxy.audit_dir());
    let last = records.last().unwrap();
    assert_eq!(last["event"], "ProxyStopped", "{last}");
    assert_eq!(last["details"]["signal"], "SIGTERM", "{last}");
    assert_eq!(last["details"]["drained"], true, "{last}");
    assert_verifies(&proxy.audit_dir());
}

#[test]
fn sigterm_under_load_finishes_every_call_in_flight() {
    const CALLS: usize = 4_000;
    let sim = SimulatorProcess::start(&["--no-verify"]);
    load::preload_devices(&sim.addr, CALLS);
    let mut proxy = start_proxy(&sim.url());

    let running = Load::start(&proxy.addr, 0, CALLS, 64);
    running.wait_answered(500, Duration::from_secs(20));
    let signalled = Instant::now();
    sigterm(&proxy);
    let status = wait_exit(&mut proxy, GRACE + Duration::from_secs(5));
    let took = signalled.elapsed();
    running.stop();
    let answers = running.join();
    assert!(status.success(), "exit {status}: {}", proxy.stderr());
    assert!(took < GRACE, "stopping took {took:?}");

    // Every answer that arrived is a proper one: no 5xx caused by the stop.
    let ok: Vec<_> = answers.iter().filter(|a| a.answered()).collect();
    let not_204: Vec<_> = ok.iter().filter(|a| a.status != Some(204)).collect();
    assert!(not_204.is_empty(), "{not_204:?}");
    let refused = answers.iter().filter(|a| a.connect_failed).count();
    let lost: Vec<_> = answers
        .iter()
        .filter(|a| !a.answered() && !a.connect_failed)
        .collect();
    println!(
        "stopped in {took:?}: {} requests, {} answered 204, {refused} refused (new connections after the stop), {} closed unanswered (idle keep-alive connection closed as the request was sent)",
        answers.len(),
        ok.len(),
        lost.len()
    );
    let mut why: Vec<&str> = lost.iter().filter_map(|a| a.error.as_deref()).collect();
    why.dedup();
    println!("unanswered because: {why:?}");

    // The upstream's side: what it deleted is exactly what the client was told about,
    // and each such call has both records.
    let left = sim.remaining_serials();
    let gone: HashSet<usize> = (0..CALLS)
        .filter(|&i| !left.contains(&load::device(i).1))
        .collect();
    let answered: HashSet<usize> = ok.iter().map(|a| a.index).collect();
    assert_eq!(
        gone.symmetric_difference(&answered).collect::<Vec<_>>(),
        Vec::<&usize>::new(),
        "deletions performed but not answered (cut off), or answered but not performed"
    );
    let records = all_call_records(&proxy.audit_dir());
    let completed: HashSet<&str> = records
        .iter()
        .filter(|r| r["stage"] == "completed")
        .map(|r| r["audit_id"].as_str().unwrap())
        .collect();
    for a in &ok {
        let id = a.audit_id.as_deref().unwrap();
        assert!(completed.contains(id), "no completed record for {id}");
    }
    assert_eq!(
        records.iter().filter(|r| r["stage"] == "received").count(),
        completed.len(),
        "a call received but never completed"
    );
    assert_stopped_cleanly(&proxy);
}

/// An upstream that takes `delay` to answer each request (`204`, `Connection: close`),
/// reporting on `started` when a request head has arrived.
fn slow_upstream(delay: Duration) -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (started, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let started = started.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let _ = started.send(());
                std::thread::sleep(delay);
                let _ = reader.get_mut().write_all(
                    b"HTTP/1.1 204 No Content\r\nX-Request-Id: slow-0000000000000000000000000001\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    (format!("http://{addr}"), rx)
}

#[test]
fn slow_call_in_flight_is_completed_not_cut_off() {
    let (upstream, upstream_started) = slow_upstream(Duration::from_secs(1));
    let mut proxy = start_proxy(&upstream);
    let addr = proxy.addr.clone();
    let client = std::thread::spawn(move || {
        let request = format!(
            "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number=slow HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let started = Instant::now();
        let (status, headers, _) = raw_http::send(&addr, request.as_bytes());
        (
            status,
            header(&headers, "x-audit-id").map(str::to_string),
            started.elapsed(),
        )
    });
    upstream_started
        .recv_timeout(Duration::from_secs(10))
        .expect("the call reached the upstream");
    let signalled = Instant::now();
    sigterm(&proxy);

    // Stopped accepting at once, while the call is still in flight.
    let deadline = Instant::now() + Duration::from_millis(800);
    while TcpStream::connect(&proxy.addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting new connections after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        proxy.child.try_wait().unwrap().is_none(),
        "exited with a call in flight"
    );

    let (status, audit_id, took) = client.join().unwrap();
    assert_eq!(status, 204, "the slow call was answered, not cut off");
    assert!(took >= Duration::from_secs(1));
    let exit = wait_exit(&mut proxy, GRACE);
    assert!(exit.success(), "exit {exit}: {}", proxy.stderr());
    let stopped_after = signalled.elapsed();
    assert!(stopped_after < Duration::from_secs(5), "{stopped_after:?}");

    let records = call_records(&proxy.audit_dir(), &audit_id.unwrap());
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(records[1]["stage"], "completed");
    assert_eq!(records[1]["outcome"]["result"], "success");
    assert_eq!(
        records[1]["request_id"],
        "slow-0000000000000000000000000001"
    );
    assert_stopped_cleanly(&proxy);
}

#[test]
fn call_outlasting_the_grace_period_is_cut_off_and_left_unknown() {
    let (upstream, upstream_started) = slow_upstream(Duration::from_secs(4));
    let mut proxy = start_proxy_with_grace(&upstream, Duration::from_secs(1));
    let addr = proxy.addr.clone();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .write_all(
                format!(
                    "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number=slow HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
        answer
    });
    upstream_started
        .recv_timeout(Duration::from_secs(10))
        .expect("the call reached the upstream");
    let signalled = Instant::now();
    sigterm(&proxy);
    let exit = wait_exit(&mut proxy, Duration::from_secs(5));
    let took = signalled.elapsed();
    assert!(exit.success(), "exit {exit}: {}", proxy.stderr());
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "waited the grace period, no longer: {took:?}"
    );
    assert!(
        client.join().unwrap().is_empty(),
        "no answer: the call was cut off"
    );

    let records = audit_records(&proxy.audit_dir());
    let last = records.last().unwrap();
    assert_eq!(last["event"], "ProxyStopped", "{last}");
    assert_eq!(last["details"]["drained"], false, "{last}");
    let calls = query_calls(&proxy.audit_dir());
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["outcome"]["result"], "unknown", "{}", calls[0]);
    assert_verifies(&proxy.audit_dir());
}

#[test]
fn sigterm_while_the_audit_log_cannot_be_written() {
    let sim = SimulatorProcess::start(&["--no-verify", "--device", &format!("{USER_ID}:s1")]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim.url(),
        "shutdown_grace = \"10s\"",
        "",
        "completed_retry_for = \"1s\"",
    );
    let audit = dir.path().join("audit");
    let moved = dir.path().join("audit.moved");
    let mut proxy = ProxyProcess::start_with_config(tempfile::tempdir().unwrap(), config.clone());
    std::fs::rename(&audit, &moved).unwrap();
    std::fs::write(&audit, b"not a directory").unwrap();
    let signalled = Instant::now();
    sigterm(&proxy);
    let exit = wait_exit(&mut proxy, Duration::from_secs(10));
    let took = signalled.elapsed();
    // The stop record cannot be written: the proxy waits `completed_retry_for` for it,
    // then exits non-zero saying why, instead of hanging or claiming a clean stop.
    assert!(!exit.success(), "{exit}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    let stderr = proxy.stderr();
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("mfa-audit-proxy: audit record not yet written")),
        "{stderr}"
    );

    std::fs::remove_file(&audit).unwrap();
    std::fs::rename(&moved, &audit).unwrap();
    assert_verifies(&audit);
    // The next start continues the chain.
    let mut proxy = ProxyProcess::start_with_config(tempfile::tempdir().unwrap(), config);
    assert!(proxy.terminate().success(), "{}", proxy.stderr());
    let events: Vec<_> = audit_records(&audit)
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["ProxyStarted", "ProxyStarted", "ProxyStopped"]);
    assert_verifies(&audit);
}

#[test]
fn sigterm_right_after_start_is_an_orderly_stop() {
    // Scripts take "listening on" as the sign the proxy is up; a stop sent at once must
    // find the signal handlers installed already.
    for _ in 0..20 {
        let mut proxy = start_proxy("http://127.0.0.1:9");
        sigterm(&proxy);
        let exit = wait_exit(&mut proxy, GRACE);
        assert!(exit.success(), "{exit}: {}", proxy.stderr());
        assert_stopped_cleanly(&proxy);
    }
}
