//! Prometheus metrics (served on the admin listener's `/metrics`), through the
//! `prometheus-client` crate. Names carry the `mfa_audit_proxy_` prefix.

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label values are fixed names: borrowed, so counting a request allocates nothing.
pub type Label = Cow<'static, str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    /// `pass_through`, `audited_delete` or `look_alike`.
    pub route: Label,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// See [`Metrics::count_client_error`].
    pub kind: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: Label,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs to ~6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteStatus, Counter>,
    pub audited_calls: Family<ResultLabel, Counter>,
    pub audit_append_seconds: Histogram,
    pub audit_write_failures: Counter,
    pub upstream_seconds: HistogramFamily<RouteLabel>,
    pub client_connection_errors: Family<KindLabel, Counter>,
    pub in_flight: Gauge,
    pub open_connections: Gauge,
    /// Filled from the audit writer's own statistics at scrape time.
    pub audit_records_written: Gauge,
    pub audit_syncs: Gauge,
    pub audit_last_sync_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub audit_batches: Gauge,
    pub audit_writer_failures: Gauge,
    pub audit_pending_retry: Gauge,
    pub audit_rotations: Gauge,
    pub audit_records_per_batch: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub audit_background_syncs: Gauge,
    pub audit_background_sync_failures: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mfa_audit_proxy");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and status",
            requests.clone(),
        );
        let audited_calls = Family::<ResultLabel, Counter>::default();
        registry.register(
            "audited_calls",
            "Audited deletions, by outcome result",
            audited_calls.clone(),
        );
        let audit_append_seconds = latency_histogram();
        registry.register(
            "audit_append_seconds",
            "Time for an audit record to become durable (write and sync, as configured)",
            audit_append_seconds.clone(),
        );
        let audit_write_failures = Counter::default();
        registry.register(
            "audit_write_failures",
            "Audit records the log refused (received: call not forwarded; completed: retried)",
            audit_write_failures.clone(),
        );
        let client_connection_errors = Family::<KindLabel, Counter>::default();
        registry.register(
            "client_connection_errors",
            "Client connections that ended on an error or a timeout instead of a request \
             (those requests never reach the proxy's handler, so `requests` does not count them)",
            client_connection_errors.clone(),
        );
        let upstream_seconds: HistogramFamily<RouteLabel> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "upstream_seconds",
            "Time from forwarding to the upstream's response head",
            upstream_seconds.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "Requests being handled",
            in_flight.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "Client connections open",
            open_connections.clone(),
        );
        let audit_records_written = Gauge::default();
        registry.register(
            "audit_records_written",
            "Records the audit writer has made durable since start",
            audit_records_written.clone(),
        );
        let audit_syncs = Gauge::default();
        registry.register(
            "audit_syncs",
            "Write-and-sync batches since start (records per sync = records_written / syncs)",
            audit_syncs.clone(),
        );
        let audit_last_sync_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "audit_last_sync_seconds",
            "Duration of the audit writer's latest batch write and sync",
            audit_last_sync_seconds.clone(),
        );
        let audit_batches = Gauge::default();
        registry.register(
            "audit_batches",
            "Group-commit batches written since start",
            audit_batches.clone(),
        );
        let audit_writer_failures = Gauge::default();
        registry.register(
            "audit_writer_failed_batches",
            "Batches the audit writer failed to write or sync since start",
            audit_writer_failures.clone(),
        );
        let audit_pending_retry = Gauge::default();
        registry.register(
            "audit_pending_retry_records",
            "Completed or lifecycle records waiting for the disk to come back",
            audit_pending_retry.clone(),
        );
        let audit_rotations = Gauge::default();
        registry.register(
            "audit_rotations",
            "Audit file rotations since start",
            audit_rotations.clone(),
        );
        let audit_records_per_batch = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "audit_records_per_batch",
            "Average records per write-and-sync batch since start (group commit)",
            audit_records_per_batch.clone(),
        );
        let audit_background_syncs = Gauge::default();
        registry.register(
            "audit_background_syncs",
            "Flush mode: syncs of the current audit file made in the background since start",
            audit_background_syncs.clone(),
        );
        let audit_background_sync_failures = Gauge::default();
        registry.register(
            "audit_background_sync_failures",
            "Flush mode: background syncs of the audit file that failed since start",
            audit_background_sync_failures.clone(),
        );
        Metrics {
            registry,
            audit_background_syncs,
            audit_background_sync_failures,
            audit_batches,
            audit_writer_failures,
            audit_pending_retry,
            audit_rotations,
            audit_records_per_batch,
            requests,
            audited_calls,
            audit_append_seconds,
            audit_write_failures,
            upstream_seconds,
            client_connection_errors,
            in_flight,
            open_connections,
            audit_records_written,
            audit_syncs,
            audit_last_sync_seconds,
        }
    }

    pub fn count_request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&RouteStatus {
                route: Cow::Borrowed(route),
                status,
            })
            .inc();
    }

    pub fn count_audited(&self, result: &'static str) {
        self.audited_calls
            .get_or_create(&ResultLabel {
                result: Cow::Borrowed(result),
            })
            .inc();
    }

    /// A client connection that ended without its request reaching the handler. `kind`:
    /// `head_too_large` (hyper answered 431), `malformed` (hyper answered 400 or 414),
    /// `header_timeout` (a head not complete within `limits.header_read_timeout`),
    /// `idle_timeout` (closed by the proxy after `limits.idle_timeout` or, before any
    /// request, `limits.header_read_timeout`), `incomplete` (the client closed in the middle
    /// of a request), `other` (resets, HTTP/2 protocol errors).
    pub fn count_client_error(&self, kind: &'static str) {
        self.client_connection_errors
            .get_or_create(&KindLabel {
                kind: Cow::Borrowed(kind),
            })
            .inc();
    }

    pub fn observe_upstream(&self, route: &'static str, took: Duration) {
        self.upstream_seconds
            .get_or_create(&RouteLabel {
                route: Cow::Borrowed(route),
            })
            .observe(took.as_secs_f64());
    }

    /// Copies the audit writer's own counters in, just before a scrape.
    pub fn observe_audit(&self, stats: &crate::audit::AuditStats) {
        let gauge = |g: &Gauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        gauge(&self.audit_records_written, stats.records_written);
        gauge(&self.audit_syncs, stats.syncs);
        gauge(&self.audit_batches, stats.batches_written);
        gauge(&self.audit_writer_failures, stats.write_failures);
        gauge(&self.audit_pending_retry, stats.pending_retry);
        gauge(&self.audit_rotations, stats.rotations);
        gauge(&self.audit_background_syncs, stats.background_syncs);
        gauge(
            &self.audit_background_sync_failures,
            stats.background_sync_failures,
        );
        self.audit_last_sync_seconds
            .set(stats.last_sync_latency.as_secs_f64());
        self.audit_records_per_batch.set(stats.records_per_batch());
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Decrements a gauge when dropped, so early returns and cancelled futures still count.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    pub fn new(gauge: &Gauge) -> GaugeGuard {
        gauge.inc();
        GaugeGuard(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
