//! The checkpoint signing key: configured, generated, reused, refused when broken.

#[path = "common/audit.rs"]
mod audit_common;

use audit_common::*;
use mfa_audit_proxy::audit::{verify_dir, AuditError, AuditLog};

#[tokio::test]
async fn configured_key_path_is_generated_once_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let key = tmp.path().join("keys/signing.key");
    let mut cfg = config(&dir);
    cfg.signing_key_file = Some(key.clone());
    let log = open(&cfg);
    let public = log.public_key_hex().to_string();
    log.append(received(1)).await.unwrap();
    log.shutdown().await.unwrap();
    assert!(key.is_file());
    assert!(
        !dir.join("audit-signing.key").exists(),
        "no second key in the audit dir"
    );
    let pub_beside = std::fs::read_to_string(tmp.path().join("keys/signing.pub")).unwrap();
    assert_eq!(pub_beside.trim(), public);

    let log = open(&cfg);
    assert_eq!(log.public_key_hex(), public, "the key is reused");
    log.append(received(2)).await.unwrap();
    log.shutdown().await.unwrap();
    let report = verify_dir(&dir, Some(&tmp.path().join("keys/signing.pub"))).unwrap();
    assert_eq!(report.checkpoints, 2);
}

#[test]
fn a_broken_key_file_stops_open_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let key = tmp.path().join("bad.key");
    std::fs::write(&key, b"not a key").unwrap();
    let mut cfg = config(&dir);
    cfg.signing_key_file = Some(key.clone());
    let err = AuditLog::open(&cfg).err().expect("open must fail");
    assert!(matches!(err, AuditError::Key { .. }), "{err}");
    assert!(err.to_string().contains("bad.key"), "{err}");
}

#[test]
fn verify_without_any_checkpoint_needs_no_key_and_an_empty_dir_is_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let report = verify_dir(tmp.path(), None).unwrap();
    assert_eq!(report.records, 0);
    let missing = verify_dir(&tmp.path().join("nope"), None).unwrap_err();
    assert!(missing.reason.contains("cannot list"), "{missing}");
}
