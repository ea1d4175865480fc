//! Crash recovery: a torn tail is moved aside (never deleted) and the chain continues.

#[path = "common/audit.rs"]
mod audit_common;

use std::io::Write;

use audit_common::*;
use mfa_audit_proxy::audit::verify_dir;

#[tokio::test]
async fn torn_tail_is_moved_aside_and_the_chain_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let cfg = config(&dir);
    let log = open(&cfg);
    for i in 0..10 {
        log.append(received(i)).await.unwrap();
    }
    // Simulate a crash: no shutdown, then a partial line at the end of the file.
    drop(log);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let file = audit_files(&dir).pop().unwrap();
    let intact = std::fs::read(&file).unwrap();
    let torn = br#"{"schema_version":"1.0","event":"DeleteVirtualMFADeviceV5","stage":"rec"#;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(torn)
        .unwrap();

    let log = open(&cfg);
    let next = log.append(completed(3)).await.unwrap();
    log.shutdown().await.unwrap();

    // The main file lost exactly the torn bytes, which now sit in a non-.jsonl file.
    let torn_files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| name(p).contains(".torn-"))
        .collect();
    assert_eq!(torn_files.len(), 1);
    assert!(!name(&torn_files[0]).ends_with(".jsonl"));
    assert_eq!(std::fs::read(&torn_files[0]).unwrap(), torn);
    assert!(std::fs::read(&file).unwrap().starts_with(&intact));

    let recovered = events(&dir, "AuditLogRecovered");
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0]["seq"], 11);
    assert_eq!(recovered[0]["details"]["torn_bytes"], torn.len());
    assert_eq!(
        recovered[0]["details"]["moved_to"],
        name(&torn_files[0]).as_str()
    );
    assert_eq!(next.seq, 12);

    let report = verify_dir(&dir, None).unwrap();
    assert_eq!(report.records, 12);
    assert_eq!(report.torn_files, torn_files);
}

#[tokio::test]
async fn a_complete_but_unparseable_last_line_is_torn_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let cfg = config(&dir);
    let log = open(&cfg);
    log.append(received(1)).await.unwrap();
    drop(log);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let file = audit_files(&dir).pop().unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"\0\0\0\0\n")
        .unwrap();
    let log = open(&cfg);
    assert_eq!(log.append(received(2)).await.unwrap().seq, 3);
    log.shutdown().await.unwrap();
    verify_dir(&dir, None).unwrap();
    assert_eq!(events(&dir, "AuditLogRecovered").len(), 1);
}

#[tokio::test]
async fn calls_without_completed_stay_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let cfg = config(&dir);
    let log = open(&cfg);
    log.append(received(1)).await.unwrap();
    drop(log);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = open(&cfg);
    log.append(lifecycle("ProxyStarted")).await.unwrap();
    log.shutdown().await.unwrap();
    let recs = records(&dir);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["stage"], "received");
    assert!(
        events(&dir, "AuditLogRecovered").is_empty(),
        "nothing was torn"
    );
    verify_dir(&dir, None).unwrap();
}

#[tokio::test]
async fn foreign_bytes_appended_while_running_are_moved_aside_and_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let log = open(&config(&dir));
    log.append(received(1)).await.unwrap();
    let file = audit_files(&dir).pop().unwrap();
    let foreign = b"{\"seq\":2,\"prev_hash\":\"forged\"}\n";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(foreign)
        .unwrap();
    assert_eq!(log.append(received(2)).await.unwrap().seq, 3);
    log.shutdown().await.unwrap();
    let repaired = events(&dir, "AuditFileRepaired");
    assert_eq!(repaired.len(), 1);
    let moved = dir.join(repaired[0]["details"]["moved_to"].as_str().unwrap());
    assert_eq!(std::fs::read(moved).unwrap(), foreign);
    verify_dir(&dir, None).unwrap();
}

#[tokio::test]
async fn a_file_truncated_while_running_is_given_up_and_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let log = open(&config(&dir));
    log.append(received(1)).await.unwrap();
    let file = audit_files(&dir).pop().unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(0)
        .unwrap();
    log.append(received(2)).await.unwrap();
    log.shutdown().await.unwrap();
    let lost = events(&dir, "AuditFileLost");
    assert_eq!(lost.len(), 1, "{lost:?}");
    let reason = lost[0]["details"]["reason"].as_str().unwrap();
    assert!(reason.contains("shrank"), "{reason}");
    assert_eq!(
        audit_files(&dir).len(),
        2,
        "the records go on in a new file, the truncated one is left as it is"
    );
}

/// Whatever the last file holds, open and append answer without panicking, and no byte of
/// the file is lost: what is not kept in the file is in a torn file.
#[test]
fn open_never_panics_and_never_loses_bytes_on_hostile_files() {
    use proptest::prelude::*;
    let line = prop_oneof![
        (any::<u64>(), "[0-9a-f]{0,64}")
            .prop_map(|(seq, h)| format!("{{\"seq\":{seq},\"prev_hash\":\"{h}\"}}\n").into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    let file = proptest::collection::vec(line, 0..6).prop_map(|ls| ls.concat());
    let cases = ProptestConfig {
        cases: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    proptest!(cases, |(content in file)| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("audit-20261203T000000Z-00000000000000000001.jsonl");
        std::fs::write(&path, &content).unwrap();
        if let Ok(log) = mfa_audit_proxy::audit::AuditLog::open(&config(&dir)) {
            rt.block_on(async {
                let _ = log.append(received(1)).await;
                let _ = log.shutdown().await;
            });
        }
        let kept = std::fs::read(&path).unwrap();
        let torn: Vec<u8> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| name(p).contains(".torn-"))
            .flat_map(|p| std::fs::read(p).unwrap())
            .collect();
        let cut = content.len() - torn.len();
        prop_assert_eq!(&kept[..cut], &content[..cut]);
        prop_assert_eq!(&torn[..], &content[cut..]);
    });
}
