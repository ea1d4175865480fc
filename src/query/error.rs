//! Errors that stop a query. Problems inside the audit files (torn lines, unreadable
//! files) never stop it: they are reported on stderr and skipped.

use std::path::PathBuf;

use crate::config::ConfigError;

/// Why `query` could not run; each message is one line naming the flag or key at fault.
/// The CLI maps every variant to exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The configuration file (`--config`, or `./config.toml` without `--dir`) could not
    /// be loaded.
    #[error("--config: {0}")]
    Config(#[source] ConfigError),
    /// The audit directory (`--dir`, or the configuration's `audit.dir`) cannot be listed.
    #[error("{origin} {}: {source}", dir.display())]
    Dir {
        /// `--dir` or `audit.dir`: where the directory came from.
        origin: &'static str,
        dir: PathBuf,
        source: std::io::Error,
    },
    /// A `--since` or `--until` value is neither RFC 3339 nor a span.
    #[error("--{flag} {value:?}: expected RFC 3339 (2026-01-02T03:04:05Z) or a span back from now (15m, 24h, 7d): {reason}")]
    Time {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// `--since` is not before `--until`: nothing could match.
    #[error("--since must be before --until")]
    EmptyRange,
    /// Writing the output failed (for example a closed pipe: a CLI may treat
    /// `ErrorKind::BrokenPipe` as a normal end, as `query ... | head` expects).
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}
