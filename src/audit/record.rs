//! The audit record format, schema 1.0 (SPEC section 5).
//!
//! A record is built by the proxy without its chain fields; the audit writer stamps
//! `time`, `seq` and `prev_hash` under its lock, so the chain order is the file order.
//! Field order in the serialized line is the declaration order below, which keeps the
//! files readable and makes raw-byte filtering in `query` predictable.

use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: &str = "1.0";
pub const DELETE_EVENT: &str = "DeleteVirtualMFADeviceV5";
pub const DELETE_ACTION: &str = "iam:mfa:deleteVirtualMFADeviceV5";
/// `prev_hash` of the very first record of a log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What the writer fills in when it appends a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// RFC 3339 UTC with microseconds.
    pub time: String,
    pub seq: u64,
    pub prev_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Received,
    Completed,
}

/// `outcome.result`. Also the values of `query --result`, where `unknown` selects calls
/// without a `completed` stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum CallResult {
    /// The upstream answered 2xx.
    Success,
    /// The upstream answered 401 or 403, or the proxy refused a bad signature (resign mode).
    Denied,
    /// The upstream answered 404.
    NotFound,
    /// Any other upstream answer.
    Failed,
    /// The proxy refused the call; it was not forwarded.
    Rejected,
    /// No answer from the upstream: refused, reset, TLS failure, timeout.
    UpstreamError,
    /// Only in `query` output: the call has no `completed` record.
    Unknown,
}

impl CallResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Success => "success",
            CallResult::Denied => "denied",
            CallResult::NotFound => "not_found",
            CallResult::Failed => "failed",
            CallResult::Rejected => "rejected",
            CallResult::UpstreamError => "upstream_error",
            CallResult::Unknown => "unknown",
        }
    }

    /// The SPEC's mapping from an upstream status to a result.
    pub fn from_upstream_status(status: u16) -> CallResult {
        match status {
            200..=299 => CallResult::Success,
            401 | 403 => CallResult::Denied,
            404 => CallResult::NotFound,
            _ => CallResult::Failed,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The AK from the Authorization header; never the signature.
    pub access_key_id: Option<String>,
    /// True only when the proxy itself checked the signature (resign mode).
    pub signature_verified: bool,
    /// Whether an X-Security-Token was present (its value is a secret and never recorded).
    pub security_token: bool,
    pub domain_id: Option<String>,
    pub source_ip: Option<String>,
    pub source_port: Option<u16>,
    pub user_agent: Option<String>,
    pub tls_client_subject: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub user_id: Option<String>,
    pub serial_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub result: CallResult,
    /// The status the client received.
    pub status: u16,
    pub error_code: Option<String>,
    pub error_msg: Option<String>,
}

/// One stage of an audited call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub schema_version: String,
    pub event: String,
    pub action: String,
    pub stage: Stage,
    pub audit_id: String,
    pub time: String,
    pub seq: u64,
    pub prev_hash: String,
    pub caller: Caller,
    pub target: Target,
    pub outcome: Option<Outcome>,
    pub request_id: Option<String>,
    pub duration_ms: Option<f64>,
}

impl CallRecord {
    /// A record of the deletion call, not yet stamped by the writer.
    pub fn delete_call(stage: Stage, audit_id: &str, caller: Caller, target: Target) -> CallRecord {
        CallRecord {
            schema_version: SCHEMA_VERSION.to_string(),
            event: DELETE_EVENT.to_string(),
            action: DELETE_ACTION.to_string(),
            stage,
            audit_id: audit_id.to_string(),
            time: String::new(),
            seq: 0,
            prev_hash: String::new(),
            caller,
            target,
            outcome: None,
            request_id: None,
            duration_ms: None,
        }
    }
}

/// The proxy's own lifecycle (start, stop, rotation, recovery, ...): same chain, no stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRecord {
    pub schema_version: String,
    /// e.g. `ProxyStarted`, `ProxyStopped`, `AuditFileRotated`, `AuditLogRecovered`.
    pub event: String,
    pub time: String,
    pub seq: u64,
    pub prev_hash: String,
    /// Event-specific facts; never secrets.
    pub details: serde_json::Value,
}

impl LifecycleRecord {
    pub fn new(event: &str, details: serde_json::Value) -> LifecycleRecord {
        LifecycleRecord {
            schema_version: SCHEMA_VERSION.to_string(),
            event: event.to_string(),
            time: String::new(),
            seq: 0,
            prev_hash: String::new(),
            details,
        }
    }
}

/// Anything the audit writer appends. Each entry is moved once, into the writer, so the
/// size difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Call(CallRecord),
    Lifecycle(LifecycleRecord),
}

impl Entry {
    pub fn stamp(&mut self, stamp: Stamp) {
        let (time, seq, prev_hash) = match self {
            Entry::Call(r) => (&mut r.time, &mut r.seq, &mut r.prev_hash),
            Entry::Lifecycle(r) => (&mut r.time, &mut r.seq, &mut r.prev_hash),
        };
        *time = stamp.time;
        *seq = stamp.seq;
        *prev_hash = stamp.prev_hash;
    }

    /// The record as one JSON line, without the newline.
    pub fn to_line(&self) -> Vec<u8> {
        // Serializing plain structs of strings and numbers cannot fail.
        match self {
            Entry::Call(r) => serde_json::to_vec(r),
            Entry::Lifecycle(r) => serde_json::to_vec(r),
        }
        .expect("audit records always serialize")
    }

    /// Whether losing this entry would lose a fact already acted on (a `completed` record or
    /// a lifecycle record): such entries are retried by the writer instead of failing fast.
    pub fn must_not_fail_fast(&self) -> bool {
        !matches!(
            self,
            Entry::Call(CallRecord {
                stage: Stage::Received,
                ..
            })
        )
    }
}

/// Formats a time as the records do: RFC 3339, UTC, microseconds.
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}
