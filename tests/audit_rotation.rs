//! Rotation by size and age, checkpoints at rotation, retention that deletes only what it may.

#[path = "common/audit.rs"]
mod audit_common;

use std::time::Duration;

use audit_common::*;
use mfa_audit_proxy::audit::verify_dir;

#[tokio::test]
async fn rotation_by_size_makes_many_verifiable_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let mut cfg = config(&dir);
    cfg.rotate_bytes = 4096;
    let log = open(&cfg);
    for i in 0..300 {
        log.append(received(i)).await.unwrap();
        log.append(completed(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();
    let files = audit_files(&dir);
    assert!(files.len() > 20, "only {} files", files.len());
    let rotated = events(&dir, "AuditFileRotated");
    assert_eq!(rotated.len(), files.len() - 1);
    // Each rotation record is the first record of the new file and names its checkpoint.
    for (i, f) in files.iter().enumerate().skip(1) {
        let first: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(f).unwrap().lines().next().unwrap())
                .unwrap();
        assert_eq!(first["event"], "AuditFileRotated");
        assert_eq!(first["details"]["new_file"], name(f).as_str());
        assert_eq!(first["details"]["old_file"], name(&files[i - 1]).as_str());
        let cp = first["details"]["checkpoint"].as_str().unwrap();
        assert!(dir.join("checkpoints").join(cp).is_file());
    }
    for f in &files {
        assert!(
            std::fs::metadata(f).unwrap().len() < 4096 + 2048,
            "{f:?} too big"
        );
    }
    let report = verify_dir(&dir, None).unwrap();
    assert_eq!(report.records, 600 + rotated.len() as u64);
    assert_eq!(report.checkpoints, files.len());
}

#[tokio::test]
async fn rotation_by_age() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let mut cfg = config(&dir);
    cfg.rotate_after = Duration::from_secs(1);
    let log = open(&cfg);
    log.append(received(1)).await.unwrap();
    // Even without traffic the file is rotated (and so checkpointed) once too old.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while audit_files(&dir).len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no rotation while idle"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log.stats().checkpoints_written, 1);
    log.append(received(2)).await.unwrap();
    log.shutdown().await.unwrap();
    let files = audit_files(&dir);
    assert!(files.len() >= 2);
    assert_eq!(events(&dir, "AuditFileRotated").len(), files.len() - 1);
    verify_dir(&dir, None).unwrap();
}

#[tokio::test]
async fn retention_by_count_deletes_only_checkpointed_old_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let mut cfg = config(&dir);
    cfg.rotate_bytes = 4096;
    cfg.keep_files = Some(3);
    let log = open(&cfg);
    for i in 0..200 {
        log.append(received(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();
    let files = audit_files(&dir);
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(log.stats().files_pruned > 5);
    // The pruned prefix is anchored by the last deleted file's checkpoint.
    let report = verify_dir(&dir, None).unwrap();
    assert!(report.first_seq.unwrap() > 1);
    assert!(report.anchored_by.is_some());
    assert!(!events(&dir, "AuditFilesPruned").is_empty());
}

#[tokio::test]
async fn retention_keeps_files_not_covered_by_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let mut cfg = config(&dir);
    cfg.rotate_bytes = 4096;
    let log = open(&cfg);
    for i in 0..40 {
        log.append(received(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();
    let before = audit_files(&dir);
    assert!(before.len() >= 4);
    // Remove the checkpoint of the second file: it and everything after must stay.
    let second = name(&before[1]);
    for cp in std::fs::read_dir(dir.join("checkpoints")).unwrap() {
        let cp = cp.unwrap().path();
        if name(&cp).starts_with(&second) {
            std::fs::remove_file(cp).unwrap();
        }
    }
    cfg.keep_files = Some(1);
    let log = open(&cfg);
    for i in 0..40 {
        log.append(received(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();
    let after = audit_files(&dir);
    assert!(
        !after.contains(&before[0]),
        "the first file was covered and may go"
    );
    for f in &before[1..] {
        assert!(after.contains(f), "{f:?} deleted without a checkpoint");
    }
}

/// Flush mode syncs the file in the background every MiB (so rotation has little left to
/// sync); the files, checkpoints and chain are the same as with fsync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_mode_with_background_syncs_rotates_into_verifiable_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let mut cfg = config(&dir);
    cfg.durability = mfa_audit_proxy::audit::Durability::Flush;
    cfg.rotate_bytes = 3 * 1024 * 1024;
    let log = open(&cfg);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1000 {
                log.append(received(t * 1000 + i)).await.unwrap();
                log.append(completed(t * 1000 + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // About 10 MB written: the background thread synced along the way, not the writer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.stats().background_syncs == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let stats = log.stats();
    assert_eq!(stats.syncs, 0, "{stats:?}");
    assert!(stats.background_syncs >= 1, "{stats:?}");
    assert_eq!(stats.background_sync_failures, 0, "{stats:?}");
    log.shutdown().await.unwrap();
    let files = audit_files(&dir);
    assert!(files.len() >= 2, "only {} files", files.len());
    let rotated = events(&dir, "AuditFileRotated");
    assert_eq!(rotated.len(), files.len() - 1);
    let report = verify_dir(&dir, None).unwrap();
    assert_eq!(report.records, 16_000 + rotated.len() as u64);
    assert_eq!(report.checkpoints, files.len());
    assert_eq!(report.records_after_last_checkpoint, 0);
}
