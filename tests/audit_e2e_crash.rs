//! SIGKILL during load, five times, each time restarting the proxy on the same audit
//! directory: nothing the client or the upstream saw is missing from the log.
//!
//! - every deletion answered 204 has both its `received` and `completed` records;
//! - every deletion the simulator performed has at least its `received` record (compared
//!   as sets: devices gone from `GET /__sim/devices` vs serials with a `received`);
//! - calls cut off by the kill show as `unknown` in `query` (or have both records);
//! - `verify` passes after every restart (recovery moves torn tails aside: a kill does
//!   not tear a write, so one round leaves half a line behind as a power loss would).

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::load::{self, assert_verifies, query_calls, write_config, Answer, Load};
use common::*;

const PER_ROUND: usize = 1_500;
const CONCURRENCY: usize = 32;
/// Answers seen before the kill, per round: early to late.
const KILL_AFTER: [usize; 5] = [50, 400, 900, 150, 1200];

fn start(base: &Path, config: &Path) -> ProxyProcess {
    let run_dir = tempfile::tempdir_in(base).expect("run dir");
    ProxyProcess::start_with_config(run_dir, config.to_path_buf())
}

/// Appends half a record (no newline) to the newest audit file.
fn tear_tail(audit_dir: &Path) {
    use std::io::Write;
    let mut files: Vec<_> = std::fs::read_dir(audit_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let newest = files.pop().expect("an audit file");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(newest)
        .unwrap();
    file.write_all(br#"{"schema_version":"1.0","event":"DeleteVirtualMFADev"#)
        .unwrap();
}

#[test]
fn sigkill_under_load_loses_no_answered_or_performed_deletion() {
    let started = Instant::now();
    let sim = SimulatorProcess::start(&["--no-verify"]);
    let devices = PER_ROUND * KILL_AFTER.len();
    load::preload_devices(&sim.addr, devices);

    let base = tempfile::tempdir().unwrap();
    // Small files, so kills also land around rotations and their signed checkpoints.
    let config = write_config(
        base.path(),
        &sim.url(),
        "",
        "request_timeout = \"5s\"",
        "rotate_bytes = 65536",
    );
    let audit_dir = base.path().join("audit");

    let mut answers: Vec<Answer> = Vec::new();
    for (round, kill_after) in KILL_AFTER.into_iter().enumerate() {
        let mut proxy = start(base.path(), &config);
        // Recovery ran at start: whatever the last kill left is a valid chain again.
        assert_verifies(&audit_dir);
        let running = Load::start(&proxy.addr, round * PER_ROUND, PER_ROUND, CONCURRENCY);
        running.wait_answered(kill_after, Duration::from_secs(20));
        proxy.child.kill().expect("SIGKILL");
        proxy.child.wait().unwrap();
        running.stop();
        let round_answers = running.join();
        let ok = round_answers
            .iter()
            .filter(|a| a.status == Some(204))
            .count();
        let unanswered = round_answers.iter().filter(|a| !a.answered()).count();
        println!(
            "round {round}: killed after {kill_after}+ answers: {} requests, {ok} answered 204, {unanswered} without an answer",
            round_answers.len()
        );
        let odd: Vec<_> = round_answers
            .iter()
            .filter(|a| a.answered() && a.status != Some(204))
            .collect();
        assert!(odd.is_empty(), "answers other than 204: {odd:?}");
        answers.extend(round_answers);
        if round == 1 {
            // A kill never tears a write(2); a power loss can. Leave half a line behind.
            tear_tail(&audit_dir);
        }
    }

    // A last restart recovers the log of the third kill; then a clean stop.
    let mut proxy = start(base.path(), &config);
    assert_verifies(&audit_dir);
    assert!(proxy.terminate().success(), "{}", proxy.stderr());
    assert_verifies(&audit_dir);

    // Per call: which stages are on disk, and for which device.
    let records = all_call_records(&audit_dir);
    let mut stages: HashMap<String, (usize, usize)> = HashMap::new();
    let mut received_serials: HashSet<String> = HashSet::new();
    for r in &records {
        let id = r["audit_id"].as_str().unwrap().to_string();
        let entry = stages.entry(id).or_default();
        match r["stage"].as_str().unwrap() {
            "received" => {
                entry.0 += 1;
                received_serials.insert(r["target"]["serial_number"].as_str().unwrap().into());
            }
            _ => entry.1 += 1,
        }
    }
    assert!(
        stages.values().all(|&(r, c)| r <= 1 && c <= 1),
        "no stage written twice"
    );

    // Every 204 the client saw has both records.
    let ok: Vec<&Answer> = answers.iter().filter(|a| a.status == Some(204)).collect();
    for a in &ok {
        let id = a.audit_id.as_deref().expect("X-Audit-Id");
        assert_eq!(
            stages.get(id),
            Some(&(1, 1)),
            "answered call {id} (device {})",
            a.index
        );
    }

    // Calls cut off: `unknown` in query, or both records.
    let calls = query_calls(&audit_dir);
    let mut unknown = 0;
    for call in &calls {
        let id = call["audit_id"].as_str().unwrap();
        match stages.get(id) {
            Some((1, 1)) => assert_ne!(call["outcome"]["result"], "unknown", "{call}"),
            Some((1, 0)) => {
                assert_eq!(call["outcome"]["result"], "unknown", "{call}");
                unknown += 1;
            }
            other => panic!("call {id} has stages {other:?}: {call}"),
        }
    }
    assert_eq!(calls.len(), stages.len(), "query shows every call once");

    // The upstream's side: performed ⊆ received, and at least every 204.
    let performed = sim.stats()["deletions_performed"].as_u64().unwrap() as usize;
    assert!(
        performed >= ok.len(),
        "{performed} performed < {} answered 204",
        ok.len()
    );
    let left = sim.remaining_serials();
    let gone: HashSet<String> = (0..devices)
        .map(|i| load::device(i).1)
        .filter(|s| !left.contains(s))
        .collect();
    assert_eq!(gone.len(), performed);
    let unaudited: Vec<&String> = gone.difference(&received_serials).collect();
    assert!(
        unaudited.is_empty(),
        "deleted without a received record: {unaudited:?}"
    );
    let recovered = audit_records(&audit_dir)
        .iter()
        .filter(|r| r["event"] == "AuditLogRecovered")
        .count();
    // At least the tail torn by hand after round 1; a SIGKILL can also cut a large batch
    // write short (the kernel stops a write at a fatal signal), which recovery handles too.
    assert!(
        recovered >= 1,
        "the torn tail left after round 1 was moved aside"
    );
    let files = std::fs::read_dir(&audit_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "jsonl")
        })
        .count();
    assert!(files > 3, "rotations happened: {files} files");
    println!(
        "{} requests, {} answered 204, {performed} deletions performed, {unknown} calls unknown after the kills, {recovered} torn tails moved aside, {files} audit files, {:?}",
        answers.len(),
        ok.len(),
        started.elapsed()
    );
}
