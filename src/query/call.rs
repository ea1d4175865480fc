//! The merged form of one audited call: what `query` prints, one per line.

use serde::Serialize;

use crate::audit::record::{CallRecord, CallResult, Caller, Outcome, Target};

/// One call, its stages merged by `audit_id`. As JSON (field order as below):
///
/// ```text
/// {"schema_version":"1.0","event":"DeleteVirtualMFADeviceV5",
///  "action":"iam:mfa:deleteVirtualMFADeviceV5","audit_id":"...",
///  "time":"<received time; the completed time when the call has only that stage>",
///  "completed_time":"<completed time>"|null,
///  "seq_received":N|null,"seq_completed":N|null,
///  "caller":{...},"target":{...},            // from `received` (else `completed`)
///  "outcome":{"result":"...","status":N|null,"error_code":...,"error_msg":...},
///  "request_id":...,"duration_ms":...}        // from `completed`
/// ```
///
/// A call without a `completed` stage has `outcome` `{"result":"unknown","status":null,
/// "error_code":null,"error_msg":null}` and null `completed_time`, `seq_completed`,
/// `request_id` and `duration_ms`. A call rejected by validation has only a `completed`
/// stage: `seq_received` is null and `time` equals `completed_time`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub schema_version: String,
    pub event: String,
    pub action: String,
    pub audit_id: String,
    pub time: String,
    pub completed_time: Option<String>,
    pub seq_received: Option<u64>,
    pub seq_completed: Option<u64>,
    pub caller: Caller,
    pub target: Target,
    pub outcome: CallOutcome,
    pub request_id: Option<String>,
    pub duration_ms: Option<f64>,
}

/// `outcome`, with a null status when the call never completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallOutcome {
    pub result: CallResult,
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub error_msg: Option<String>,
}

impl CallOutcome {
    pub fn unknown() -> CallOutcome {
        CallOutcome {
            result: CallResult::Unknown,
            status: None,
            error_code: None,
            error_msg: None,
        }
    }

    fn from_record(o: Option<Outcome>) -> CallOutcome {
        match o {
            Some(o) => CallOutcome {
                result: o.result,
                status: Some(o.status),
                error_code: o.error_code,
                error_msg: o.error_msg,
            },
            // A `completed` record always carries an outcome; one that lacks it is as
            // good as no completion.
            None => CallOutcome::unknown(),
        }
    }
}

impl Call {
    /// A call whose `completed` stage is missing.
    pub fn from_received(r: CallRecord) -> Call {
        Call {
            schema_version: r.schema_version,
            event: r.event,
            action: r.action,
            audit_id: r.audit_id,
            time: r.time,
            completed_time: None,
            seq_received: Some(r.seq),
            seq_completed: None,
            caller: r.caller,
            target: r.target,
            outcome: CallOutcome::unknown(),
            request_id: None,
            duration_ms: None,
        }
    }

    /// A call with only its `completed` stage (rejected by validation, or its `received`
    /// stage was not read).
    pub fn from_completed(c: CallRecord) -> Call {
        Call {
            schema_version: c.schema_version,
            event: c.event,
            action: c.action,
            audit_id: c.audit_id,
            completed_time: Some(c.time.clone()),
            time: c.time,
            seq_received: None,
            seq_completed: Some(c.seq),
            caller: c.caller,
            target: c.target,
            outcome: CallOutcome::from_record(c.outcome),
            request_id: c.request_id,
            duration_ms: c.duration_ms,
        }
    }

    /// Both stages: the `received` record's fields, the `completed` record's results.
    pub fn merge(r: CallRecord, c: CallRecord) -> Call {
        let mut call = Call::from_received(r);
        call.completed_time = Some(c.time);
        call.seq_completed = Some(c.seq);
        call.outcome = CallOutcome::from_record(c.outcome);
        call.request_id = c.request_id;
        call.duration_ms = c.duration_ms;
        call
    }
}
