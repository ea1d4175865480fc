//! Errors of the audit writer.

use std::io;
use std::path::PathBuf;

/// Why the audit log could not take a record.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The audit directory, a file or a checkpoint could not be opened, written or synced.
    #[error("audit file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// Another process holds the directory's lock: two writers would fork the chain.
    #[error("audit directory {dir} is in use by another process (lock file .lock)")]
    DirectoryInUse { dir: PathBuf },
    /// An `[audit]` setting is out of range (see `AuditConfig::check`).
    #[error("config key `{key}`: {message}")]
    Config { key: String, message: String },
    /// The signing key could not be read, parsed or generated.
    #[error("audit signing key {path}: {message}")]
    Key { path: PathBuf, message: String },
    /// The existing log could not be read back to continue its chain.
    #[error("audit log {path}: cannot continue the chain: {message}")]
    Recovery { path: PathBuf, message: String },
    /// A `completed` or lifecycle record could not be written in time; the writer keeps it
    /// queued and keeps retrying.
    #[error("audit record not yet written after {waited_ms} ms; the writer keeps retrying")]
    StillRetrying { waited_ms: u128 },
    /// The log was shut down (or its writer thread ended); no more records are taken.
    #[error("audit log is shut down")]
    Closed,
    /// Shutdown could not write everything: records still queued or the final checkpoint.
    #[error("audit log shutdown: {unwritten} record(s) never written; {message}")]
    Shutdown { unwritten: usize, message: String },
}

impl AuditError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> AuditError {
        AuditError::Io {
            path: path.into(),
            source,
        }
    }

    /// A copy for answering several waiters with one failure (io::Error is not Clone).
    pub(crate) fn duplicate(&self) -> AuditError {
        match self {
            AuditError::Io { path, source } => AuditError::Io {
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            AuditError::Config { key, message } => AuditError::Config {
                key: key.clone(),
                message: message.clone(),
            },
            AuditError::Key { path, message } => AuditError::Key {
                path: path.clone(),
                message: message.clone(),
            },
            AuditError::Recovery { path, message } => AuditError::Recovery {
                path: path.clone(),
                message: message.clone(),
            },
            AuditError::StillRetrying { waited_ms } => AuditError::StillRetrying {
                waited_ms: *waited_ms,
            },
            AuditError::Closed => AuditError::Closed,
            AuditError::DirectoryInUse { dir } => AuditError::DirectoryInUse { dir: dir.clone() },
            AuditError::Shutdown { unwritten, message } => AuditError::Shutdown {
                unwritten: *unwritten,
                message: message.clone(),
            },
        }
    }
}
