//! Opening the log: settings out of range are refused, naming the key.

#[path = "common/audit.rs"]
mod audit_common;

use audit_common::*;
use mfa_audit_proxy::audit::{AuditError, AuditLog};

#[test]
fn open_refuses_an_out_of_range_setting_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&tmp.path().join("audit"));
    cfg.rotate_bytes = 10;
    let err = AuditLog::open(&cfg).err().expect("open must fail");
    assert!(matches!(err, AuditError::Config { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("config key `audit.rotate_bytes`"),
        "{err}"
    );
    assert!(
        !tmp.path().join("audit").exists(),
        "nothing created for a bad config"
    );
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = mfa_audit_proxy::audit::AuditConfig::for_dir(dir.path().join("audit"));
    let first = mfa_audit_proxy::audit::AuditLog::open(&config).expect("first writer");
    let second = mfa_audit_proxy::audit::AuditLog::open(&config);
    assert!(
        matches!(
            second,
            Err(mfa_audit_proxy::audit::AuditError::DirectoryInUse { .. })
        ),
        "two writers would fork the chain"
    );
    drop(first);
}
