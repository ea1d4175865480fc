//! Writer micro-benchmark: appends/s with fsync vs flush at concurrency 1, 16 and 64.
//! Prints figures, asserts nothing about timing. Run it with
//! `cargo test --release --test audit_bench -- --ignored --nocapture`.

#[path = "common/audit.rs"]
mod audit_common;

use std::time::{Duration, Instant};

use audit_common::*;
use mfa_audit_proxy::audit::Durability;

const RUN_FOR: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn audit_writer_throughput() {
    println!("durability concurrency appends/s  records/batch last_sync_us");
    for durability in [Durability::Fsync, Durability::Flush] {
        for concurrency in [1usize, 16, 64] {
            // On the real disk (not a tmpfs), where the audit files would live.
            let tmp =
                tempfile::tempdir_in(std::env::current_dir().unwrap().join("target")).unwrap();
            let mut cfg = config(&tmp.path().join("audit"));
            cfg.durability = durability;
            let log = open(&cfg);
            let started = Instant::now();
            let mut tasks = Vec::new();
            for t in 0..concurrency {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    let mut n = 0usize;
                    while started.elapsed() < RUN_FOR {
                        log.append(received(t * 1_000_000 + n)).await.unwrap();
                        n += 1;
                    }
                    n
                }));
            }
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            let secs = started.elapsed().as_secs_f64();
            let stats = log.stats();
            log.shutdown().await.unwrap();
            println!(
                "{:<10} {:>11} {:>9.0} {:>13.1} {:>13}",
                format!("{durability:?}").to_lowercase(),
                concurrency,
                total as f64 / secs,
                stats.records_per_batch(),
                stats.last_sync_latency.as_micros()
            );
        }
    }
}
