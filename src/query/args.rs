//! The `query` command line (SPEC section 3).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::audit::record::CallResult;

/// `mfa-audit-proxy query [--config FILE | --dir DIR] [filters]`.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Configuration file whose `audit.dir` holds the audit files (default ./config.toml).
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    pub config: Option<PathBuf>,
    /// Audit directory to read, instead of the configuration's `audit.dir`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only calls targeting this IAM user ID.
    #[arg(long, value_name = "ID")]
    pub user_id: Option<String>,
    /// Only calls deleting this virtual MFA device (percent-decoded).
    #[arg(long, value_name = "SN")]
    pub serial_number: Option<String>,
    /// Only calls signed with this access key ID.
    #[arg(long, value_name = "AK")]
    pub access_key_id: Option<String>,
    /// Only calls from this client IP address.
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<String>,
    /// Only calls with this outcome.
    #[arg(long, value_enum, value_name = "RESULT")]
    pub result: Option<CallResult>,
    /// Only calls received at or after this time: RFC 3339, or a span back from now (15m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only calls received before this time: RFC 3339, or a span back from now (15m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only the call with this audit ID (the X-Audit-Id the client got).
    #[arg(long, value_name = "ID")]
    pub audit_id: Option<String>,
    /// Only the call with this upstream request ID (X-Request-Id).
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    /// Output format: one JSON object per line, or an aligned table for people.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Print counts (by result, caller access key and target user) instead of the calls.
    #[arg(long, conflicts_with = "follow")]
    pub summary: bool,
    /// Keep printing calls as they are written, across file rotations, until interrupted.
    #[arg(long)]
    pub follow: bool,
    /// Stop following after this long (tests).
    #[arg(long, hide = true, requires = "follow", value_parser = humantime::parse_duration)]
    pub follow_for: Option<Duration>,
    /// How often `--follow` polls for new lines and files.
    #[arg(long, hide = true, default_value = "200ms", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
    /// Most calls kept waiting for their `completed` stage before the oldest is printed
    /// as `unknown` (bounds memory).
    #[arg(long, hide = true, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pending: u64,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
}
