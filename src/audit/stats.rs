//! Counters the writer keeps for /metrics and /readyz.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Live counters, shared between the writer thread and the handles.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub records_written: AtomicU64,
    pub batches_written: AtomicU64,
    pub syncs: AtomicU64,
    pub bytes_written: AtomicU64,
    pub write_failures: AtomicU64,
    pub last_sync_micros: AtomicU64,
    pub rotations: AtomicU64,
    pub files_lost: AtomicU64,
    pub pending_retry: AtomicU64,
    pub checkpoints_written: AtomicU64,
    pub files_pruned: AtomicU64,
    pub background_syncs: AtomicU64,
    pub background_sync_failures: AtomicU64,
    /// False after a failed batch until the next successful one, and after shutdown.
    pub writable: AtomicBool,
}

/// A snapshot of the writer's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditStats {
    /// Records written (and synced, with `durability = "fsync"`).
    pub records_written: u64,
    /// Group-commit batches written (one `write` each).
    pub batches_written: u64,
    /// `fdatasync` calls (0 with `durability = "flush"`).
    pub syncs: u64,
    pub bytes_written: u64,
    /// Batches that failed to write or sync.
    pub write_failures: u64,
    /// Duration of the last write plus sync.
    pub last_sync_latency: Duration,
    pub rotations: u64,
    /// Times the current file was found deleted or replaced underneath the writer.
    pub files_lost: u64,
    /// `completed`/lifecycle records waiting for the disk to come back.
    pub pending_retry: u64,
    pub checkpoints_written: u64,
    /// Files deleted by retention.
    pub files_pruned: u64,
    /// Flush mode: syncs of the current file made in the background (every MiB).
    pub background_syncs: u64,
    /// Flush mode: background syncs that failed (the checkpoint's own sync reports the
    /// error again before anything is signed).
    pub background_sync_failures: u64,
}

impl AuditStats {
    /// Average records per batch: how well group commit works.
    pub fn records_per_batch(&self) -> f64 {
        if self.batches_written == 0 {
            0.0
        } else {
            self.records_written as f64 / self.batches_written as f64
        }
    }
}

impl Counters {
    pub fn snapshot(&self) -> AuditStats {
        AuditStats {
            records_written: self.records_written.load(Relaxed),
            batches_written: self.batches_written.load(Relaxed),
            syncs: self.syncs.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
            write_failures: self.write_failures.load(Relaxed),
            last_sync_latency: Duration::from_micros(self.last_sync_micros.load(Relaxed)),
            rotations: self.rotations.load(Relaxed),
            files_lost: self.files_lost.load(Relaxed),
            pending_retry: self.pending_retry.load(Relaxed),
            checkpoints_written: self.checkpoints_written.load(Relaxed),
            files_pruned: self.files_pruned.load(Relaxed),
            background_syncs: self.background_syncs.load(Relaxed),
            background_sync_failures: self.background_sync_failures.load(Relaxed),
        }
    }
}
