//! Helpers shared by the audit tests (`#[path = "common/audit.rs"] mod audit_common;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mfa_audit_proxy::audit::files::list_audit_files;
use mfa_audit_proxy::audit::record::{
    CallRecord, CallResult, Caller, Entry, LifecycleRecord, Outcome, Stage, Target,
};
use mfa_audit_proxy::audit::{AuditConfig, AuditLog};

/// A `received` record for call `i`.
pub fn received(i: usize) -> Entry {
    Entry::Call(CallRecord::delete_call(
        Stage::Received,
        &format!("call-{i}"),
        caller(),
        target(i),
    ))
}

/// A `completed` record for call `i`.
pub fn completed(i: usize) -> Entry {
    let mut r =
        CallRecord::delete_call(Stage::Completed, &format!("call-{i}"), caller(), target(i));
    r.outcome = Some(Outcome {
        result: CallResult::Success,
        status: 204,
        error_code: None,
        error_msg: None,
    });
    r.request_id = Some(format!("req-{i}"));
    r.duration_ms = Some(1.5);
    Entry::Call(r)
}

pub fn lifecycle(event: &str) -> Entry {
    Entry::Lifecycle(LifecycleRecord::new(
        event,
        serde_json::json!({ "version": "test" }),
    ))
}

fn caller() -> Caller {
    Caller {
        access_key_id: Some("AKTEST0000000000".into()),
        source_ip: Some("127.0.0.1".into()),
        source_port: Some(40000),
        user_agent: Some("audit-test".into()),
        ..Caller::default()
    }
}

fn target(i: usize) -> Target {
    Target {
        user_id: Some(format!("{i:032}")),
        serial_number: Some(format!("iam::0123:mfa:device-{i}")),
    }
}

/// Defaults with small files, for `dir`.
pub fn config(dir: &Path) -> AuditConfig {
    AuditConfig::for_dir(dir)
}

pub fn open(config: &AuditConfig) -> AuditLog {
    AuditLog::open(config).expect("open audit log")
}

/// Every record of the log, in chain order.
pub fn records(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for f in list_audit_files(dir).unwrap() {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

/// Records of a given lifecycle event.
pub fn events(dir: &Path, event: &str) -> Vec<serde_json::Value> {
    records(dir)
        .into_iter()
        .filter(|r| r["event"] == event)
        .collect()
}

/// Copies a directory tree (files and one level of subdirectories).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

pub fn audit_files(dir: &Path) -> Vec<PathBuf> {
    list_audit_files(dir).unwrap()
}

pub fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}
