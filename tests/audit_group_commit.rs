//! Group commit: many concurrent appends share write+sync, and the chain stays contiguous.

#[path = "common/audit.rs"]
mod audit_common;

use std::os::unix::fs::PermissionsExt;

use audit_common::*;
use mfa_audit_proxy::audit::{verify_dir, AuditError, Durability};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_contiguous_and_share_syncs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let log = open(&config(&dir));
    let mut tasks = Vec::new();
    for t in 0..64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..5000 / 64 + 1 {
                let n = t * 100 + i;
                if t + i * 64 >= 5000 {
                    break;
                }
                seqs.push(log.append(received(n)).await.unwrap().seq);
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=5000).collect::<Vec<u64>>());
    let stats = log.stats();
    assert_eq!(stats.records_written, 5000);
    assert!(
        stats.syncs < 2500,
        "group commit did not group: {} syncs",
        stats.syncs
    );
    assert!(stats.records_per_batch() > 2.0, "{stats:?}");
    assert_eq!(log.write_failures(), 0);
    log.shutdown().await.unwrap();

    let recs = records(&dir);
    assert_eq!(recs.len(), 5000);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["seq"], i as u64 + 1);
    }
    let report = verify_dir(&dir, None).unwrap();
    assert_eq!(report.records, 5000);
    assert_eq!(report.last_seq, Some(5000));
    assert_eq!(report.checkpoints, 1, "shutdown writes a checkpoint");
    assert_eq!(report.records_after_last_checkpoint, 0);
}

#[tokio::test]
async fn append_after_shutdown_fails_and_reopen_continues_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let cfg = config(&dir);
    let log = open(&cfg);
    log.append(lifecycle("ProxyStarted")).await.unwrap();
    log.append(received(1)).await.unwrap();
    log.append(lifecycle("ProxyStopped")).await.unwrap();
    log.shutdown().await.unwrap();
    assert!(!log.is_writable());
    assert!(matches!(
        log.append(completed(1)).await,
        Err(AuditError::Closed)
    ));

    let log = open(&cfg);
    assert_eq!(log.append(lifecycle("ProxyStarted")).await.unwrap().seq, 4);
    log.shutdown().await.unwrap();
    let report = verify_dir(&dir, None).unwrap();
    assert_eq!(report.records, 4);
    // One file continued across the restart, with a checkpoint at each shutdown.
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.checkpoints, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_mode_never_syncs_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let mut cfg = config(&dir);
    cfg.durability = Durability::Flush;
    let log = open(&cfg);
    for i in 0..50 {
        log.append(received(i)).await.unwrap();
    }
    assert_eq!(log.stats().syncs, 0);
    assert_eq!(log.stats().records_written, 50);
    log.shutdown().await.unwrap();
    verify_dir(&dir, None).unwrap();
}

#[tokio::test]
async fn modes_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = open(&config(&dir));
    log.append(received(1)).await.unwrap();
    log.shutdown().await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "directory mode fixed on start");
    for f in audit_files(&dir) {
        assert_eq!(mode(&f), 0o600);
    }
    assert_eq!(mode(&dir.join("audit-signing.key")), 0o600);
    assert_eq!(
        std::fs::read_to_string(dir.join("audit-signing.pub"))
            .unwrap()
            .trim()
            .len(),
        64
    );
}
