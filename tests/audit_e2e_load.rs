//! Issue #3: 5,000 deletions at concurrency 64 through the proxy (durability `fsync`, the
//! default) against the simulator: every call answered 204, audited exactly once per
//! stage, matching the deletions the upstream performed, the chain intact, and the
//! writer's group commit at work (more than one record per sync).

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use common::load::{self, assert_verifies, metric, scrape};
use common::*;

const CALLS: usize = 5_000;
const CONCURRENCY: usize = 64;

#[test]
fn five_thousand_concurrent_deletions_are_each_audited_once() {
    let sim = SimulatorProcess::start(&["--no-verify"]);
    load::preload_devices(&sim.addr, CALLS);
    let mut proxy = ProxyProcess::start(&sim.url(), "");

    let started = Instant::now();
    let answers = load::run_blocking(&proxy.addr, 0, CALLS, CONCURRENCY);
    let took = started.elapsed();
    println!(
        "{CALLS} deletions at concurrency {CONCURRENCY} in {took:?} ({:.0}/s)",
        CALLS as f64 / took.as_secs_f64()
    );

    assert_eq!(answers.len(), CALLS);
    let bad: Vec<_> = answers.iter().filter(|a| a.status != Some(204)).collect();
    assert!(
        bad.is_empty(),
        "{} calls not 204: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    let ids: HashSet<&str> = answers
        .iter()
        .map(|a| a.audit_id.as_deref().expect("X-Audit-Id on every answer"))
        .collect();
    assert_eq!(ids.len(), CALLS, "every audit ID distinct");

    // Group commit, read before the stop adds its own records.
    let samples = scrape(&proxy.admin_addr);
    let per_batch = metric(&samples, "mfa_audit_proxy_audit_records_per_batch", &[]);
    let syncs = metric(&samples, "mfa_audit_proxy_audit_syncs", &[]);
    let written = metric(&samples, "mfa_audit_proxy_audit_records_written", &[]);
    println!("group commit: {written} records in {syncs} syncs, {per_batch:.2} records per batch");
    assert!(
        per_batch > 1.0,
        "no group commit: {per_batch} records per batch"
    );
    assert!(written >= (2 * CALLS) as f64);

    let stats = sim.stats();
    assert_eq!(stats["deletions_performed"], CALLS as u64);
    assert!(proxy.terminate().success(), "{}", proxy.stderr());

    // Exactly one `received` and one `completed` record per call, for that call's device.
    let mut stages: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut targets: HashMap<&str, (&str, &str)> = HashMap::new();
    let records = all_call_records(&proxy.audit_dir());
    for r in &records {
        let id = r["audit_id"].as_str().unwrap();
        assert!(ids.contains(id), "a record of an unknown call: {r}");
        let target = (
            r["target"]["user_id"].as_str().unwrap(),
            r["target"]["serial_number"].as_str().unwrap(),
        );
        assert_eq!(*targets.entry(id).or_insert(target), target, "{r}");
        let entry = stages.entry(id).or_default();
        match r["stage"].as_str().unwrap() {
            "received" => entry.0 += 1,
            "completed" => {
                entry.1 += 1;
                assert_eq!(r["outcome"]["result"], "success", "{r}");
                assert_eq!(r["outcome"]["status"], 204, "{r}");
            }
            other => panic!("stage {other}"),
        }
    }
    let received: usize = stages.values().map(|s| s.0).sum();
    let completed: usize = stages.values().map(|s| s.1).sum();
    assert_eq!((received, completed), (CALLS, CALLS));
    assert!(stages.values().all(|&s| s == (1, 1)));
    for a in &answers {
        let (user, serial) = load::device(a.index);
        let id = a.audit_id.as_deref().unwrap();
        assert_eq!(targets[id], (user.as_str(), serial.as_str()), "call {id}");
    }
    assert_verifies(&proxy.audit_dir());
}
