//! The audit log: records every audited call in a hash-chained JSON Lines log.
//!
//! PLACEHOLDER WRITER: a minimal, correct-but-slow implementation (one lock, one fdatasync
//! per record, no rotation) so the proxy can be built against the interface. It is to be
//! replaced by the full writer (group commit, rotation, checkpoints, recovery).

pub mod record;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use record::{Entry, Stamp, GENESIS_HASH};

/// The `[audit]` configuration section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Directory holding the audit files.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// `fsync` (default): every record is on disk before the call goes on.
    #[serde(default)]
    pub durability: Durability,
}

fn default_dir() -> PathBuf {
    PathBuf::from("audit")
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            dir: default_dir(),
            durability: Durability::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    #[default]
    Fsync,
    Flush,
}

/// Where a record landed.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: u64,
    /// hex SHA-256 of the record's line.
    pub hash: String,
}

/// Why the audit log could not take a record.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The audit directory or file could not be opened, written or synced.
    #[error("audit log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Mutex<WriterState>>,
    durability: Durability,
}

struct WriterState {
    path: PathBuf,
    file: File,
    next_seq: u64,
    prev_hash: String,
}

impl AuditLog {
    pub fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        let io = |source| AuditError::Io {
            path: config.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(io)?;
        let path = config.dir.join("audit.jsonl");
        let (next_seq, prev_hash) = match std::fs::read(&path) {
            Ok(bytes) => match bytes.split(|b| *b == b'\n').rfind(|l| !l.is_empty()) {
                Some(last) => {
                    let v: serde_json::Value = serde_json::from_slice(last).unwrap_or_default();
                    (
                        v["seq"].as_u64().unwrap_or(0) + 1,
                        hex::encode(Sha256::digest(last)),
                    )
                }
                None => (1, GENESIS_HASH.to_string()),
            },
            Err(_) => (1, GENESIS_HASH.to_string()),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        Ok(AuditLog {
            inner: Arc::new(Mutex::new(WriterState {
                path,
                file,
                next_seq,
                prev_hash,
            })),
            durability: config.durability,
        })
    }

    /// Appends one record; returns once it is durable as configured.
    pub async fn append(&self, mut entry: Entry) -> Result<Appended, AuditError> {
        let inner = self.inner.clone();
        let durability = self.durability;
        tokio::task::spawn_blocking(move || {
            let mut state = inner.lock().unwrap_or_else(|p| p.into_inner());
            entry.stamp(Stamp {
                time: record::format_time(time::OffsetDateTime::now_utc()),
                seq: state.next_seq,
                prev_hash: state.prev_hash.clone(),
            });
            let mut line = entry.to_line();
            let hash = hex::encode(Sha256::digest(&line));
            line.push(b'\n');
            let path = state.path.clone();
            let io = |source| AuditError::Io {
                path: path.clone(),
                source,
            };
            state.file.write_all(&line).map_err(io)?;
            if durability == Durability::Fsync {
                state.file.sync_data().map_err(io)?;
            }
            let seq = state.next_seq;
            state.next_seq += 1;
            state.prev_hash = hash.clone();
            Ok(Appended { seq, hash })
        })
        .await
        .expect("audit writer task panicked")
    }

    /// Writes what shutdown requires and stops taking records.
    pub async fn shutdown(&self) -> Result<(), AuditError> {
        Ok(())
    }

    /// Whether the last write succeeded (for /readyz).
    pub fn is_writable(&self) -> bool {
        true
    }
}
