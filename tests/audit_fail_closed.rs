//! Fail closed: a `received` record that cannot be written fails at once; `completed`
//! records are retried; writing resumes by itself and the chain does not fork.

#[path = "common/audit.rs"]
mod audit_common;

use std::time::{Duration, Instant};

use audit_common::*;
use mfa_audit_proxy::audit::{verify_dir, AuditError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_replaced_by_a_file_fails_received_then_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let moved = tmp.path().join("audit.moved");
    let mut cfg = config(&dir);
    cfg.completed_retry_for = Duration::from_millis(300);
    let log = open(&cfg);
    log.append(received(1)).await.unwrap();
    assert!(log.is_writable());

    // Root ignores modes, so break the path itself.
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();

    let started = Instant::now();
    let err = log.append(received(2)).await.unwrap_err();
    assert!(matches!(err, AuditError::Io { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "received must fail promptly"
    );
    assert!(!log.is_writable());
    assert!(log.write_failures() >= 1);

    // A completed record is not dropped: the call gives up waiting, the writer does not.
    let err = log.append(completed(1)).await.unwrap_err();
    assert!(matches!(err, AuditError::StillRetrying { .. }), "{err}");
    assert!(log.stats().pending_retry >= 1);

    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&moved, &dir).unwrap();
    // The writer notices by itself (readiness must come back without traffic)...
    wait_until(|| log.is_writable()).await;
    // ...and the completed record it kept was written meanwhile.
    wait_until(|| log.stats().pending_retry == 0).await;
    let after = log.append(received(3)).await.unwrap();
    assert!(log.is_writable());
    assert_eq!(log.stats().pending_retry, 0);
    log.shutdown().await.unwrap();

    let recs = records(&dir);
    // Call records only: an idle probe that runs in the instant between removing the file
    // and restoring the directory rightly records `AuditFileLost` and starts a new file.
    let ids: Vec<(&str, &str)> = recs
        .iter()
        .filter(|r| r.get("audit_id").is_some())
        .map(|r| {
            (
                r["audit_id"].as_str().unwrap(),
                r["stage"].as_str().unwrap(),
            )
        })
        .collect();
    // The failed received never landed and consumed no seq; the completed one did land.
    assert_eq!(
        ids,
        vec![
            ("call-1", "received"),
            ("call-1", "completed"),
            ("call-3", "received")
        ]
    );
    // Seqs count every record: call-3's is its place in the log (3, or 4 after an
    // `AuditFileLost`), so the failed received took none.
    let place = recs.iter().position(|r| r["audit_id"] == "call-3").unwrap();
    assert_eq!(after.seq, place as u64 + 1);
    verify_dir(&dir, None).unwrap();
}

async fn wait_until(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not reached in 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_writer_notices_a_lost_directory_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let moved = tmp.path().join("audit.moved");
    let log = open(&config(&dir));
    log.append(received(1)).await.unwrap();
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    // No append: /readyz must still turn not-ready.
    wait_until(|| !log.is_writable()).await;
    assert_eq!(log.write_failures(), 0, "no record failed");
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&moved, &dir).unwrap();
    wait_until(|| log.is_writable()).await;
    assert_eq!(log.append(received(2)).await.unwrap().seq, 2);
    log.shutdown().await.unwrap();
    verify_dir(&dir, None).unwrap();
}

#[tokio::test]
async fn current_file_deleted_underneath_is_noticed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let log = open(&config(&dir));
    log.append(received(1)).await.unwrap();
    log.append(received(2)).await.unwrap();
    let lost = audit_files(&dir).pop().unwrap();
    std::fs::remove_file(&lost).unwrap();

    // The writer does not write into the deleted inode: it starts a new file, saying so.
    let a = log.append(received(3)).await.unwrap();
    assert_eq!(a.seq, 4, "the chain continues after the lost records");
    assert_eq!(log.stats().files_lost, 1);
    log.shutdown().await.unwrap();
    let lost_events = events(&dir, "AuditFileLost");
    assert_eq!(lost_events.len(), 1);
    assert_eq!(lost_events[0]["details"]["file"], name(&lost).as_str());
    // Verify reports the loss: the chain no longer starts at seq 1.
    let f = verify_dir(&dir, None).unwrap_err();
    assert_eq!(f.line, Some(1), "{f}");
}

/// Runs only as the child of `file_size_limit_behaves_like_a_full_disk`.
#[tokio::test]
#[ignore]
async fn child_under_file_size_limit() {
    let Ok(dir) = std::env::var("AUDIT_CHILD_DIR") else {
        return;
    };
    let mut cfg = config(std::path::Path::new(&dir));
    cfg.completed_retry_for = Duration::from_millis(200);
    let log = open(&cfg);
    let mut written = 0;
    loop {
        let started = Instant::now();
        match log.append(received(written)).await {
            Ok(_) => written += 1,
            Err(e) => {
                assert!(matches!(e, AuditError::Io { .. }), "{e}");
                assert!(started.elapsed() < Duration::from_secs(1));
                break;
            }
        }
        assert!(written < 100_000, "the size limit never hit");
    }
    assert!(!log.is_writable());
    let err = log.append(completed(0)).await.unwrap_err();
    assert!(matches!(err, AuditError::StillRetrying { .. }), "{err}");
    // The partial batch was cut off: the file still ends with a whole line.
    let bytes = std::fs::read(audit_files(std::path::Path::new(&dir)).pop().unwrap()).unwrap();
    assert_eq!(bytes.last(), Some(&b'\n'));
    // Shutdown reports the record it never wrote.
    let err = log.shutdown().await.unwrap_err();
    assert!(
        matches!(err, AuditError::Shutdown { unwritten: 1, .. }),
        "{err}"
    );
    println!("CHILD_WROTE {written}");
}

#[tokio::test]
async fn file_size_limit_behaves_like_a_full_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let exe = std::env::current_exe().unwrap();
    // SIGXFSZ ignored, so writes past the limit fail with EFBIG like ENOSPC would.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 32; exec \"$0\" child_under_file_size_limit --exact --ignored --nocapture --test-threads=1")
        .arg(&exe)
        .env("AUDIT_CHILD_DIR", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness prints its own text on the same line: take the number after the marker.
    let written: u64 = stdout
        .split("CHILD_WROTE ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("child ran")
        .parse()
        .unwrap();
    assert!(written > 5);

    // Space is back (no limit here): the chain continues where it stopped, unforked.
    let log = open(&config(&dir));
    let a = log.append(received(999)).await.unwrap();
    assert_eq!(a.seq, written + 1);
    log.shutdown().await.unwrap();
    let report = verify_dir(&dir, None).unwrap();
    assert_eq!(report.records, written + 1);
}
