//! A simulated Huawei Cloud IAM v5 endpoint (binary `iam-simulator`), for tests,
//! benchmarks and the README demo. HTTP/1.1 and HTTP/2 (h2c prior knowledge).
//!
//! It checks SDK-HMAC-SHA256 signatures as the API gateway does (against the `Host` it
//! receives, 15 minutes of skew) and serves:
//!
//! - `DELETE /v5/virtual-mfa-devices?user_id=&serial_number=`: 204 no body; 400
//!   `{error_code, error_msg}`; 403 `{error_code, error_msg, request_id,
//!   encoded_authorization_message}` for denied callers; 404 `{error_code, error_msg,
//!   request_id}` for an unknown device.
//! - `GET /v5/mfa-devices[?user_id=&limit=&marker=]`: 200 `{"mfa_devices": [...],
//!   "page_info": {"next_marker", "current_count"}}`, the shape the Python SDK reads.
//! - anything else: 404 `APIGW.0101`, as the gateway answers for an unknown API; so is a
//!   `Host` other than `--require-host`.
//! - a failed signature check: 401 `APIGW.0301`.
//!
//! Simulator-only endpoints, unauthenticated and not counted in the statistics:
//!
//! - `GET /__sim/stats`: `{"deletions_performed", "requests", "requests_by_path",
//!   "last_requests": [{"method", "target", "version", "headers": [[name, value]...]}]}`,
//!   the last 100 requests, headers verbatim (including `Authorization`: this is a test
//!   double, use example keys). Names are lowercase; values of a repeated header are
//!   listed together in the order received, at the position of its first occurrence
//!   (hyper's `HeaderMap` does not keep the interleaving of different names).
//! - `GET /__sim/devices`: every device, as a JSON list.
//! - `POST /__sim/devices`: add devices in bulk from a JSON list of
//!   `{"user_id", "serial_number", "enabled"?}`; answers `{"added", "devices"}`.
//!
//! Every answer carries a unique `X-Request-Id` (32 hex characters).
//!
//! `--lax` models a sloppy upstream for bypass tests: see [`lax`].

pub mod config;
pub mod devices;
pub mod handler;
pub mod lax;
pub mod query;
pub mod response;
pub mod server;
pub mod stats;

pub use config::{SimArgs, SimConfig, SimConfigError};
pub use devices::{Device, DeviceTable};
pub use server::{run, SimError, Simulator, SimulatorHandle};
pub use stats::{RecordedRequest, StatsSnapshot};
