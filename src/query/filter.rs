//! The filters, combined with AND, applied to merged calls.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::args::QueryArgs;
use super::call::Call;
use super::error::QueryError;
use super::time_range::TimeRange;
use crate::audit::record::{CallRecord, CallResult, Caller, Target};

/// What `query` selects; every set field must match (AND).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<String>,
    pub serial_number: Option<String>,
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
    pub audit_id: Option<String>,
    pub result: Option<CallResult>,
    pub request_id: Option<String>,
    pub range: TimeRange,
}

fn eq(want: &Option<String>, have: &Option<String>) -> bool {
    want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
}

impl Filter {
    pub fn from_args(args: &QueryArgs, now: OffsetDateTime) -> Result<Filter, QueryError> {
        Ok(Filter {
            user_id: args.user_id.clone(),
            serial_number: args.serial_number.clone(),
            access_key_id: args.access_key_id.clone(),
            source_ip: args.source_ip.clone(),
            audit_id: args.audit_id.clone(),
            result: args.result,
            request_id: args.request_id.clone(),
            range: TimeRange::parse(args.since.as_deref(), args.until.as_deref(), now)?,
        })
    }

    /// The filters a merged call takes from its `received` stage (caller, target, audit
    /// ID and time): a `received` record failing them dooms its call, whatever completes.
    pub fn matches_received(&self, r: &CallRecord) -> bool {
        self.matches_call_identity(&r.audit_id, &r.caller, &r.target)
            && self.range.contains(&r.time)
    }

    /// The filters on what both stages of a call carry: audit ID, caller and target.
    fn matches_call_identity(&self, audit_id: &str, caller: &Caller, target: &Target) -> bool {
        self.audit_id.as_ref().is_none_or(|a| a == audit_id)
            && eq(&self.user_id, &target.user_id)
            && eq(&self.serial_number, &target.serial_number)
            && eq(&self.access_key_id, &caller.access_key_id)
            && eq(&self.source_ip, &caller.source_ip)
    }

    /// Every filter, on the merged call.
    pub fn matches(&self, call: &Call) -> bool {
        self.matches_call_identity(&call.audit_id, &call.caller, &call.target)
            && self.result.is_none_or(|r| r == call.outcome.result)
            && eq(&self.request_id, &call.request_id)
            && self.time_matches(call)
    }

    /// A call is placed in time by its receipt. For a lone `completed` stage of a
    /// forwarded call (its `received` stage lies in a file skipped by `--since`, or was
    /// lost), receipt is its time minus `duration_ms`, which SPEC defines as "from receipt
    /// to the answer"; without this a call received before `--since` but completed after
    /// it would show up as a lone record.
    fn time_matches(&self, call: &Call) -> bool {
        if self.range.is_open() {
            return true;
        }
        let lone_forwarded = call.seq_received.is_none()
            && call.outcome.result != CallResult::Rejected
            && call.duration_ms.is_some();
        if !lone_forwarded {
            return self.range.contains(&call.time);
        }
        let Ok(done) = OffsetDateTime::parse(&call.time, &Rfc3339) else {
            return false;
        };
        // An absurd duration from a damaged record must not panic: treat it as unplaceable.
        let took =
            time::Duration::checked_seconds_f64(call.duration_ms.unwrap_or(0.0).max(0.0) / 1000.0);
        match took.and_then(|took| done.checked_sub(took)) {
            Some(received) => self.range.contains_time(received),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{CallRecord, Caller, Outcome, Stage, Target};

    #[test]
    fn lone_completed_is_placed_by_receipt_without_panicking() {
        let mut c =
            CallRecord::delete_call(Stage::Completed, "x", Caller::default(), Target::default());
        c.time = "2026-12-03T11:31:00.000000Z".into();
        c.outcome = Some(Outcome {
            result: CallResult::Success,
            status: 204,
            error_code: None,
            error_msg: None,
        });
        let since = time::macros::datetime!(2026-12-03 11:30 UTC);
        let f = Filter {
            range: TimeRange::parse(Some("2026-12-03T11:30:00Z"), None, since).unwrap(),
            ..Filter::default()
        };
        for (ms, want) in [
            (1000.0, true),
            (120_000.0, false),
            (1e300, false),
            (f64::MAX, false),
        ] {
            let mut call = Call::from_completed(c.clone());
            call.duration_ms = Some(ms);
            assert_eq!(f.matches(&call), want, "{ms}");
        }
    }
}
