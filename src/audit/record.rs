//! The audit record format, schema 1.0 (SPEC section 5).
//!
//! A record is built by the proxy without its chain fields; the audit writer stamps
//! `time`, `seq` and `prev_hash` under its lock, so the chain order is the file order.
//! Field order in the serialized line is the declaration order below, which keeps the
//! files readable and makes raw-byte filtering in `query` predictable.
//!
//! [`PreparedLine`] serializes a record on the caller's side (a tokio worker) with blank
//! chain fields; the single writer thread then only splices in `time`, `seq` and
//! `prev_hash`. The spliced line is byte for byte what serde writes for the stamped record.

use std::io::Write;

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

/// The chain fields of an unstamped record as serde writes them. Every record type puts
/// them in this order, right after fields that are all JSON strings, so the first match in
/// a serialized record is always the real one: inside a JSON string a `"` is escaped, and
/// the pattern has a `"` right after `time`, which escaped text can never contain.
const BLANK_STAMP: &[u8] = br#""time":"","seq":0,"prev_hash":"""#;

/// A record serialized by the caller; the writer adds the chain fields
/// ([`PreparedLine::write_stamped`]).
#[derive(Debug, Clone)]
pub struct PreparedLine {
    body: Prepared,
    fail_fast: bool,
}

#[derive(Debug, Clone)]
enum Prepared {
    /// The line with blank chain fields, which start at `at`.
    Spliced { line: Vec<u8>, at: usize },
    /// A record whose chain fields were not blank: serialized whole by the writer.
    Whole(Box<Entry>),
}

impl PreparedLine {
    pub fn new(entry: &Entry) -> PreparedLine {
        match entry {
            Entry::Call(r) => PreparedLine::call(r),
            Entry::Lifecycle(r) => PreparedLine::lifecycle(r),
        }
    }

    /// A call record, serialized without being cloned.
    pub fn call(record: &CallRecord) -> PreparedLine {
        let fail_fast = record.stage == Stage::Received;
        let line = to_vec_sized(record);
        PreparedLine::from_line(line, fail_fast, || Entry::Call(record.clone()))
    }

    pub fn lifecycle(record: &LifecycleRecord) -> PreparedLine {
        let line = to_vec_sized(record);
        PreparedLine::from_line(line, false, || Entry::Lifecycle(record.clone()))
    }

    fn from_line(
        line: serde_json::Result<Vec<u8>>,
        fail_fast: bool,
        whole: impl FnOnce() -> Entry,
    ) -> PreparedLine {
        let at = line
            .as_ref()
            .ok()
            .and_then(|l| memchr::memmem::find(l, BLANK_STAMP));
        let body = match (line, at) {
            (Ok(line), Some(at)) => Prepared::Spliced { line, at },
            // Already stamped (never by the proxy itself): the writer serializes it.
            _ => Prepared::Whole(Box::new(whole())),
        };
        PreparedLine { body, fail_fast }
    }

    /// Appends the record's line (without a newline) with the given chain fields to `out`.
    pub fn write_stamped(&self, out: &mut Vec<u8>, time: &str, seq: u64, prev_hash: &str) {
        match &self.body {
            Prepared::Spliced { line, at } => {
                let (head, tail) = line.split_at(*at);
                out.extend_from_slice(head);
                out.extend_from_slice(br#""time":""#);
                out.extend_from_slice(time.as_bytes());
                out.extend_from_slice(br#"","seq":"#);
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{seq}");
                out.extend_from_slice(br#","prev_hash":""#);
                out.extend_from_slice(prev_hash.as_bytes());
                out.push(b'"');
                out.extend_from_slice(tail.get(BLANK_STAMP.len()..).unwrap_or_default());
            }
            Prepared::Whole(entry) => {
                let mut entry = entry.as_ref().clone();
                entry.stamp(Stamp {
                    time: time.to_string(),
                    seq,
                    prev_hash: prev_hash.to_string(),
                });
                out.extend_from_slice(&entry.to_line());
            }
        }
    }

    /// See [`Entry::must_not_fail_fast`].
    pub fn must_not_fail_fast(&self) -> bool {
        !self.fail_fast
    }

    /// A one-line description for the error log: event, stage and audit_id only (never the
    /// whole record). Only used on error paths, so it parses the line again.
    pub fn describe(&self) -> String {
        #[derive(Deserialize)]
        struct Named {
            event: String,
            stage: Option<Stage>,
            audit_id: Option<String>,
        }
        let named = match &self.body {
            Prepared::Spliced { line, .. } => serde_json::from_slice::<Named>(line).ok(),
            Prepared::Whole(entry) => serde_json::from_slice::<Named>(&entry.to_line()).ok(),
        };
        match named {
            Some(Named {
                event,
                stage: Some(stage),
                audit_id,
            }) => format!(
                "{event} {stage:?} audit_id={}",
                audit_id.unwrap_or_default()
            ),
            Some(n) => n.event,
            None => "unreadable record".to_string(),
        }
    }
}

/// `serde_json::to_vec` into a buffer big enough for a typical record (about 600 bytes),
/// so it is not grown three times on the way.
fn to_vec_sized<T: Serialize>(record: &T) -> serde_json::Result<Vec<u8>> {
    let mut line = Vec::with_capacity(768);
    serde_json::to_writer(&mut line, record)?;
    Ok(line)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stamp(entry: &Entry, time: &str, seq: u64, prev_hash: &str) -> Vec<u8> {
        let mut stamped = entry.clone();
        stamped.stamp(Stamp {
            time: time.to_string(),
            seq,
            prev_hash: prev_hash.to_string(),
        });
        stamped.to_line()
    }

    fn spliced(entry: &Entry, time: &str, seq: u64, prev_hash: &str) -> Vec<u8> {
        let mut out = b"previous line\n".to_vec();
        PreparedLine::new(entry).write_stamped(&mut out, time, seq, prev_hash);
        out.split_off("previous line\n".len())
    }

    fn call(stage: Stage, audit_id: &str, text: &str) -> CallRecord {
        let mut r = CallRecord::delete_call(
            stage,
            audit_id,
            Caller {
                access_key_id: Some(text.to_string()),
                security_token: true,
                source_ip: Some("127.0.0.1".into()),
                source_port: Some(40000),
                user_agent: Some(text.to_string()),
                ..Caller::default()
            },
            Target {
                user_id: Some(text.to_string()),
                serial_number: None,
            },
        );
        if stage == Stage::Completed {
            r.outcome = Some(Outcome {
                result: CallResult::Failed,
                status: 500,
                error_code: Some(text.to_string()),
                error_msg: None,
            });
            r.request_id = Some(text.to_string());
            r.duration_ms = Some(2.133);
        }
        r
    }

    const TIME: &str = "2026-12-03T16:54:09.729137Z";

    #[test]
    fn spliced_lines_equal_serde_output() {
        let hash = "8f30ac8045c98d151be23152ff748dba56d907a82f89d9c4732cf32afb87f3d8";
        let entries = [
            Entry::Call(call(Stage::Received, "01a23cd3-e63e", "plain")),
            Entry::Call(call(Stage::Completed, "01a23cd3-e63e", "plain")),
            Entry::Lifecycle(LifecycleRecord::new(
                "ProxyStarted",
                serde_json::json!({"time": "", "seq": 0, "prev_hash": ""}),
            )),
        ];
        for entry in &entries {
            for seq in [0, 1, 42, u64::MAX] {
                let line = spliced(entry, TIME, seq, hash);
                assert_eq!(line, stamp(entry, TIME, seq, hash));
                assert!(matches!(
                    PreparedLine::new(entry).body,
                    Prepared::Spliced { .. }
                ));
            }
        }
        let line = spliced(&entries[0], TIME, 7, GENESIS_HASH);
        let text = String::from_utf8(line).unwrap();
        assert!(text.starts_with(r#"{"schema_version":"1.0","event":"DeleteVirtualMFADeviceV5","action":"iam:mfa:deleteVirtualMFADeviceV5","stage":"received","audit_id":"01a23cd3-e63e","time":"2026-12-03T16:54:09.729137Z","seq":7,"prev_hash":"0000"#), "{text}");
    }

    #[test]
    fn records_that_look_like_the_placeholder_still_splice_right() {
        let sneaky = r#"","time":"","seq":0,"prev_hash":""#;
        let entries = [
            Entry::Call(call(Stage::Received, sneaky, sneaky)),
            Entry::Lifecycle(LifecycleRecord::new(sneaky, serde_json::json!(sneaky))),
        ];
        for entry in &entries {
            assert_eq!(spliced(entry, TIME, 3, "ab"), stamp(entry, TIME, 3, "ab"));
        }
    }

    #[test]
    fn an_already_stamped_record_is_serialized_whole() {
        let mut record = call(Stage::Completed, "id", "x");
        record.seq = 9;
        record.time = "then".into();
        let entry = Entry::Call(record);
        let prepared = PreparedLine::new(&entry);
        assert!(matches!(prepared.body, Prepared::Whole(_)));
        assert_eq!(spliced(&entry, TIME, 3, "ab"), stamp(&entry, TIME, 3, "ab"));
    }

    #[test]
    fn describe_names_the_record_without_its_details() {
        let received = PreparedLine::call(&call(Stage::Received, "id-1", "secret-ish"));
        assert_eq!(
            received.describe(),
            "DeleteVirtualMFADeviceV5 Received audit_id=id-1"
        );
        assert!(!received.must_not_fail_fast());
        let completed = PreparedLine::call(&call(Stage::Completed, "id-1", "x"));
        assert!(completed.must_not_fail_fast());
        let started = PreparedLine::lifecycle(&LifecycleRecord::new(
            "ProxyStarted",
            serde_json::json!({"k": "v"}),
        ));
        assert_eq!(started.describe(), "ProxyStarted");
        assert!(started.must_not_fail_fast());
    }

    proptest! {
        #[test]
        fn spliced_equals_serde_for_any_text(
            audit_id in any::<String>(),
            text in any::<String>(),
            event in any::<String>(),
            time in "[0-9TZ:.-]{0,30}",
            seq in any::<u64>(),
            prev_hash in "[0-9a-f]{0,64}",
        ) {
            let entries = [
                Entry::Call(call(Stage::Received, &audit_id, &text)),
                Entry::Call(call(Stage::Completed, &audit_id, &text)),
                Entry::Lifecycle(LifecycleRecord::new(&event, serde_json::json!({ "t": text }))),
            ];
            for entry in &entries {
                prop_assert_eq!(
                    spliced(entry, &time, seq, &prev_hash),
                    stamp(entry, &time, seq, &prev_hash)
                );
            }
        }
    }
}
