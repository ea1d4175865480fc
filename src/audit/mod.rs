//! The audit log: records every audited call in a hash-chained JSON Lines log.
//!
//! [`AuditLog`] is a cheap handle to a dedicated writer thread (`writer`), which
//! group-commits appends, rotates files, signs checkpoints and applies retention. Opening
//! the log runs crash recovery (`recovery`). [`verify::verify_dir`] checks a directory.
//!
//! # Durability
//! `durability = "fsync"` (default): `append` returns once the record is on disk
//! (`fdatasync`); concurrent appends share one write and one sync. `"flush"`: it returns
//! once the OS has the record: a process crash loses nothing, a power loss or kernel crash
//! may lose the last records (and leave a torn line, moved aside on the next start).
//!
//! # Failures
//! A `received` record that cannot be written fails at once (the proxy answers 503).
//! `completed` and lifecycle records are kept and retried with backoff; `append` waits up
//! to `completed_retry_for` for them, then fails while the writer keeps retrying. A failed
//! batch consumes no seq. Before every batch the writer checks that the path still names
//! its open file (inode): if the file was deleted or replaced, it starts a new file whose
//! first record is `AuditFileLost`. Whatever is unwritten at shutdown is logged as an error
//! and reported by `shutdown`.
//!
//! # Files in `dir` (0700; files 0600)
//! - `audit-<UTC start YYYYMMDDTHHMMSSZ>-<first seq, 20 digits>.jsonl`: records only;
//!   lexical order is chain order ([`files::list_audit_files`]). The newest is current.
//! - `<file>.jsonl.torn-<n>`: a torn tail moved aside by recovery (`AuditLogRecovered`).
//! - `checkpoints/<file>.<last seq, 20 digits>.checkpoint.json`: signed checkpoint of a
//!   file at rotation and at shutdown; `checkpoints/pruned.json`: signed retention marker.
//! - `audit-signing.key` (PKCS#8, unless `signing_key_file` points elsewhere) and
//!   `audit-signing.pub` (hex public key; keep a copy outside `dir` for verification).
//!
//! # Configuration (`[audit]`)
//! `dir = "audit"`, `durability = "fsync"`, `rotate_bytes = 67108864`,
//! `rotate_after = "24h"`, `keep_files` (unset: keep all), `keep_for` (unset: keep all),
//! `signing_key_file` (unset: `<dir>/audit-signing.key`), `completed_retry_for = "10s"`.
//! Retention deletes only the oldest files, never the current one, and only files fully
//! covered by a checkpoint.
//!
//! One process must own a directory: two writers on one directory would fork the chain.

pub mod chain;
pub mod checkpoint;
pub mod config;
mod dir_lock;
pub mod error;
pub mod files;
pub mod keys;
pub mod record;
pub mod recovery;
pub mod relay;
pub mod retention;
pub mod stats;
pub mod verify;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::oneshot;

pub use config::{AuditConfig, Durability};
pub use error::AuditError;
pub use stats::AuditStats;
pub use verify::{verify_dir, VerifyFailure, VerifyReport};

use keys::SigningKey;
use record::{Entry, LifecycleRecord, PreparedLine};
use relay::{Relay, Reply};
use stats::Counters;
use writer::{Request, Writer};

/// Where a record landed.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: u64,
    /// hex SHA-256 of the record's line.
    pub hash: String,
}

/// Handle to the audit log; clones share one writer.
#[derive(Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
    /// Where this handle's answers come back through ([`AuditLog::with_relay`]).
    relay: Option<Relay>,
}

struct Shared {
    tx: mpsc::Sender<Request>,
    closed: AtomicBool,
    counters: Arc<Counters>,
    wait_for: Duration,
    public_key_hex: String,
    config: AuditConfig,
    /// Held until shutdown (or the last handle is dropped): one writer per directory.
    dir_lock: std::sync::Mutex<Option<std::fs::File>>,
}

impl AuditLog {
    /// Opens (creating if needed) the log in `config.dir`: fixes the directory mode, loads or
    /// generates the signing key, recovers a torn tail (recording `AuditLogRecovered`), and
    /// starts the writer thread.
    pub fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        config
            .check()
            .map_err(|(key, message)| AuditError::Config { key, message })?;
        files::ensure_dir(&config.dir).map_err(|e| AuditError::io(&config.dir, e))?;
        let dir_lock = dir_lock::lock_dir(&config.dir)?;
        let key_path = config.signing_key_path();
        let key = SigningKey::load_or_generate(&key_path)?;
        key.write_public(&config.public_key_path())?;
        if config.signing_key_file.is_some() {
            key.write_public(&key_path.with_extension("pub"))?;
        }
        let public_key_hex = key.public_hex();
        let recovered = recovery::recover(&config.dir)?;
        let counters = Arc::new(Counters::default());
        counters.writable.store(true, Relaxed);
        let mut writer = Writer::new(
            config,
            key,
            recovered.head,
            recovered.current,
            counters.clone(),
        )?;
        writer.apply_retention();
        if let Some(m) = recovered.moved {
            let name =
                |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
            writer.write_now(Entry::Lifecycle(LifecycleRecord::new(
                "AuditLogRecovered",
                json!({
                    "file": name(&m.file),
                    "torn_bytes": m.bytes,
                    "torn_offset": m.offset,
                    "moved_to": name(&m.moved_to),
                }),
            )))?;
        }
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AuditError::io(&config.dir, e))?;
        Ok(AuditLog {
            shared: Arc::new(Shared {
                tx,
                closed: AtomicBool::new(false),
                counters,
                wait_for: config.completed_retry_for,
                public_key_hex,
                config: config.clone(),
                dir_lock: std::sync::Mutex::new(Some(dir_lock)),
            }),
            relay: None,
        })
    }

    /// A handle for one worker thread: its appends are answered through a relay, one
    /// wakeup per batch for all of the worker's waiting calls ([`relay`]). The returned
    /// task must run on that worker's runtime.
    pub fn with_relay(
        &self,
    ) -> (
        AuditLog,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (relay, task) = Relay::new();
        let log = AuditLog {
            shared: self.shared.clone(),
            relay: Some(relay),
        };
        (log, task)
    }

    /// Appends one record; returns once it is durable as configured. A `received` record
    /// that cannot be written fails at once; other records are retried by the writer, and
    /// this call gives up waiting after `completed_retry_for` (the writer does not give up).
    pub async fn append(&self, entry: Entry) -> Result<Appended, AuditError> {
        self.append_prepared(PreparedLine::new(&entry)).await
    }

    /// [`append`](Self::append) for a record the caller has already serialized
    /// ([`PreparedLine`]), which keeps that work off the single writer thread.
    pub async fn append_prepared(&self, line: PreparedLine) -> Result<Appended, AuditError> {
        if self.shared.closed.load(Relaxed) {
            return Err(AuditError::Closed);
        }
        let (waiter, answer) = oneshot::channel();
        let reply = Reply::new(waiter, self.relay.clone());
        self.shared
            .tx
            .send(Request::Append { line, reply })
            .map_err(|_| AuditError::Closed)?;
        let started = Instant::now();
        match tokio::time::timeout(self.shared.wait_for, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AuditError::Closed),
            Err(_) => Err(AuditError::StillRetrying {
                waited_ms: started.elapsed().as_millis(),
            }),
        }
    }

    /// Writes what is still queued, then the final checkpoint; after it `append` fails.
    /// Records that could not be written are logged loudly and counted in the error.
    pub async fn shutdown(&self) -> Result<(), AuditError> {
        if self.shared.closed.swap(true, Relaxed) {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.shared
            .tx
            .send(Request::Shutdown { reply })
            .map_err(|_| AuditError::Closed)?;
        let result = answer.await.unwrap_or(Err(AuditError::Closed));
        // The writer has stopped: another process may take the directory now.
        drop(
            self.shared
                .dir_lock
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        result
    }

    /// Whether the last write succeeded and the log is open (for /readyz).
    pub fn is_writable(&self) -> bool {
        !self.shared.closed.load(Relaxed) && self.shared.counters.writable.load(Relaxed)
    }

    /// Batches that failed to write or sync since open.
    pub fn write_failures(&self) -> u64 {
        self.shared.counters.write_failures.load(Relaxed)
    }

    /// A snapshot of the writer's counters (for /metrics).
    pub fn stats(&self) -> AuditStats {
        self.shared.counters.snapshot()
    }

    /// The checkpoint-signing public key, hex (for operators and verifiers).
    pub fn public_key_hex(&self) -> &str {
        &self.shared.public_key_hex
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &AuditConfig {
        &self.shared.config
    }
}
