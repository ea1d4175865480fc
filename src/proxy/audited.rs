//! The audited deletion, in the order the SPEC fixes:
//! validate -> write `received` -> forward -> write `completed` -> answer.
//!
//! A refused call (validation, look-alike form, body) is never forwarded and writes only
//! its `completed` record. If the `received` record cannot be written the call is not
//! forwarded either (503): no deletion happens that the log does not know about.

use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::body::{full, ProxyBody};
use super::caller::{caller_of, ConnectionInfo};
use super::error_answer::{ProxyError, AUDIT_ID_HEADER};
use super::hop_by_hop::strip_hop_by_hop;
use super::upstream::UpstreamError;
use super::upstream_answer::outcome_of;
use super::validate::validate_delete_query;
use super::Proxy;
use crate::audit::record::{CallRecord, CallResult, Outcome, PreparedLine, Stage, Target};

/// Largest upstream answer to the deletion the proxy buffers (IAM sends a few hundred
/// bytes); a larger one is treated as a failed upstream.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// How much of a request body is read to decide that the deletion carried one.
const BODY_PROBE_BYTES: usize = 64 * 1024;

/// One audited call in progress: its record, `received` until the outcome is known, is
/// built once and serialized for each stage without being cloned.
struct AuditedCall {
    started: Instant,
    record: CallRecord,
}

impl Proxy {
    /// Handles a request classified as the deletion (or a look-alike, which `refusal` names).
    pub(super) async fn audited_delete(
        &self,
        request: Request<Incoming>,
        connection: &ConnectionInfo,
        refusal: Option<&'static str>,
    ) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let mut call = AuditedCall {
            started: Instant::now(),
            record: CallRecord::delete_call(
                Stage::Received,
                &uuid::Uuid::now_v7().to_string(),
                caller_of(&parts.headers, connection, &self.trusted_proxies),
                Target::default(),
            ),
        };

        // Validate.
        let validated = validate_delete_query(parts.uri.query());
        let (target, rule) = match validated {
            Ok(target) => (target, None),
            Err(invalid) => (invalid.target, Some(invalid.rule)),
        };
        call.record.target = target;
        if let Some(why) = refusal {
            return self.refuse(call, ProxyError::InvalidRequest, why).await;
        }
        if let Some(rule) = rule {
            return self.refuse(call, ProxyError::InvalidRequest, &rule).await;
        }
        if let Err(why) = self.expect_no_body(&parts, body).await {
            return self.refuse(call, ProxyError::InvalidRequest, why).await;
        }

        // Resign mode: the caller's signature, checked before anything is recorded as
        // received; the request is signed again for the upstream.
        let forwarded = match self.forwarded_delete(parts, &mut call.record.caller) {
            Ok(request) => request,
            Err((error, why)) => return self.refuse(call, error, &why).await,
        };

        // Write `received`; without it the call does not go on.
        if let Err(e) = self.append(PreparedLine::call(&call.record)).await {
            let audit_id = &call.record.audit_id;
            tracing::error!(%audit_id, error = %e, "audit log refused the received record; deletion not forwarded");
            let message = "the audit log cannot be written; the deletion was not forwarded";
            let answer = ProxyError::AuditUnavailable.answer(message, Some(audit_id));
            let outcome = proxy_outcome(ProxyError::AuditUnavailable, message);
            // The writer retries this record until the log is writable again; the client
            // need not wait for that.
            let audit = self.audit.clone();
            let line = call.completed(outcome, None);
            tokio::spawn(async move {
                if let Err(e) = audit.append_prepared(line).await {
                    tracing::error!(error = %e, "completed record for a refused deletion still pending");
                }
            });
            return answer;
        }

        // Forward.
        let (response, outcome, request_id) = match self.exchange(forwarded).await {
            Ok((response, outcome, request_id)) => (response, outcome, request_id),
            Err(e) => {
                let kind = ProxyError::for_upstream(&e);
                let message = e.to_string();
                tracing::warn!(audit_id = %call.record.audit_id, error = %message, "audited deletion got no upstream answer");
                let outcome = proxy_outcome(kind, &message);
                (
                    kind.answer(&message, Some(&call.record.audit_id)),
                    outcome,
                    None,
                )
            }
        };

        // Write `completed` before answering.
        self.record_completed(outcome.result, call.completed(outcome, request_id))
            .await;
        with_audit_id(response, &call.record.audit_id)
    }

    /// Reads the upstream's whole (small) answer so its outcome can be recorded.
    async fn exchange(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<(Response<ProxyBody>, Outcome, Option<String>), UpstreamError> {
        let response = self.send_upstream("audited_delete", request).await?;
        let (mut parts, body) = response.into_parts();
        let authority = self.upstream.authority().clone();
        let collected = tokio::time::timeout(
            self.upstream.request_timeout(),
            Limited::new(body, MAX_ANSWER_BYTES).collect(),
        )
        .await;
        let bytes: Bytes = match collected {
            Err(_) => {
                return Err(UpstreamError::Timeout {
                    authority,
                    after: self.upstream.request_timeout(),
                })
            }
            Ok(Err(e)) => {
                return Err(UpstreamError::Unreachable {
                    authority,
                    reason: format!(
                        "reading the answer: {}",
                        super::upstream::error_chain(e.as_ref())
                    ),
                })
            }
            Ok(Ok(c)) => c.to_bytes(),
        };
        let (outcome, request_id) = outcome_of(parts.status.as_u16(), &parts.headers, &bytes);
        strip_hop_by_hop(&mut parts.headers);
        if parts.headers.contains_key(CONTENT_LENGTH) {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        }
        Ok((
            Response::from_parts(parts, full(bytes)),
            outcome,
            request_id,
        ))
    }

    /// The deletion takes no body (SPEC section 2); a body would be forwarded unaudited.
    async fn expect_no_body(&self, parts: &Parts, body: Incoming) -> Result<(), &'static str> {
        const HAS_BODY: &str = "the deletion takes no request body";
        // A chunked framing announces a body, and together with Content-Length it is the
        // classic request-smuggling shape: refuse both outright.
        if parts.headers.contains_key(TRANSFER_ENCODING) {
            return Err("the deletion takes no request body (Transfer-Encoding is not allowed)");
        }
        if let Some(length) = parts.headers.get(CONTENT_LENGTH) {
            if length.as_bytes() != b"0" || parts.headers.get_all(CONTENT_LENGTH).iter().count() > 1
            {
                return Err(HAS_BODY);
            }
        }
        let read = tokio::time::timeout(
            self.upstream.request_timeout(),
            Limited::new(body, BODY_PROBE_BYTES).collect(),
        )
        .await;
        match read.map(|r| r.map(|c| c.to_bytes())) {
            Ok(Ok(collected)) if collected.is_empty() => Ok(()),
            Ok(Ok(_)) => Err(HAS_BODY),
            Ok(Err(_)) => Err("the request body could not be read"),
            Err(_) => Err("the request body was not completed in time"),
        }
    }

    /// Answers a refused call and records it: `completed` only, result `rejected`.
    async fn refuse(
        &self,
        mut call: AuditedCall,
        error: ProxyError,
        message: &str,
    ) -> Response<ProxyBody> {
        tracing::info!(audit_id = %call.record.audit_id, reason = %message, "audited deletion refused");
        let outcome = proxy_outcome(error, message);
        self.record_completed(outcome.result, call.completed(outcome, None))
            .await;
        error.answer(message, Some(&call.record.audit_id))
    }

    /// Appends a record, timing it and counting failures for `/metrics`.
    async fn append(&self, line: PreparedLine) -> Result<(), crate::audit::AuditError> {
        let started = Instant::now();
        let result = self.audit.append_prepared(line).await.map(|_| ());
        self.metrics
            .audit_append_seconds
            .observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.metrics.audit_write_failures.inc();
        }
        result
    }

    async fn record_completed(&self, result: CallResult, line: PreparedLine) {
        self.metrics.count_audited(result.as_str());
        if let Err(e) = self.append(line).await {
            // The writer keeps the record and retries it; the call has already happened,
            // so the client still gets its answer.
            tracing::error!(error = %e, "completed record not yet durable; the writer keeps retrying it");
        }
    }
}

impl AuditedCall {
    /// Turns the record into the `completed` stage and serializes it.
    fn completed(&mut self, outcome: Outcome, request_id: Option<String>) -> PreparedLine {
        let record = &mut self.record;
        record.stage = Stage::Completed;
        record.outcome = Some(outcome);
        record.request_id = request_id;
        // Microsecond precision; whole milliseconds hide the proxy's own cost.
        record.duration_ms = Some((self.started.elapsed().as_micros() as f64) / 1000.0);
        PreparedLine::call(record)
    }
}

fn proxy_outcome(error: ProxyError, message: &str) -> Outcome {
    let result = match error {
        ProxyError::SignatureRejected => CallResult::Denied,
        ProxyError::UpstreamUnreachable | ProxyError::UpstreamTimeout => CallResult::UpstreamError,
        _ => CallResult::Rejected,
    };
    Outcome {
        result,
        status: error.status().as_u16(),
        error_code: Some(error.code().to_string()),
        error_msg: Some(message.to_string()),
    }
}

fn with_audit_id(mut response: Response<ProxyBody>, audit_id: &str) -> Response<ProxyBody> {
    if let Ok(value) = HeaderValue::from_str(audit_id) {
        response.headers_mut().insert(AUDIT_ID_HEADER, value);
    }
    response
}
