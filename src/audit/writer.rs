//! The writer thread: owns the current file and commits records in groups.
//!
//! Appends arrive over a channel, already serialized by the caller ([`PreparedLine`]). The
//! thread takes everything queued, splices in time, seq and prev_hash in order, hashes each
//! line, writes the batch with one `write_all` and one `sync_data`, then answers every
//! waiter. A failed batch consumes no seq (the chain head
//! only moves after success, and partial bytes are truncated away); `received` records in
//! it fail at once, `completed` and lifecycle records are kept and retried with backoff.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::chain::{line_hash, ChainHead};
use super::checkpoint::{self, Checkpoint, CheckpointBody, Pruned, PrunedBody};
use super::config::{AuditConfig, Durability};
use super::error::AuditError;
use super::files;
use super::keys::SigningKey;
use super::record::{self, Entry, LifecycleRecord, PreparedLine};
use super::recovery::{self, ExistingFile, MovedTail};
use super::relay::{Answers, Reply};
use super::retention;
use super::stats::Counters;
use super::Appended;

/// Most records committed in one batch; the rest wait for the next one.
const MAX_BATCH: usize = 4096;
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often an idle writer checks that its file and directory are still there.
const IDLE_PROBE: Duration = Duration::from_secs(1);
/// Flush mode: once this many bytes were written since the last sync, a helper thread syncs
/// the file, so the sync before a rotation checkpoint finds little left to write.
const BACKGROUND_SYNC_BYTES: u64 = 1024 * 1024;
/// The batch buffer is kept for the next batch (no allocation per group commit) unless
/// a burst grew it beyond this; then it is freed, so one burst does not hold memory.
const KEEP_BATCH_BUF_BYTES: usize = 256 * 1024;

/// What the handles send to the writer thread.
pub(crate) enum Request {
    Append {
        line: PreparedLine,
        reply: Reply,
    },
    Shutdown {
        reply: oneshot::Sender<Result<(), AuditError>>,
    },
}

/// A record waiting to be written; `reply` is `None` for the writer's own records.
struct Pending {
    line: PreparedLine,
    reply: Option<Reply>,
}

/// The file being appended to.
struct Current {
    path: PathBuf,
    name: String,
    file: File,
    dev: u64,
    ino: u64,
    /// Bytes of whole, acknowledged records.
    len: u64,
    started: i64,
    first_seq: u64,
    hasher: Sha256,
    last_seq: Option<u64>,
    checkpointed_seq: Option<u64>,
    /// `len` when a background sync of this file was last requested (flush mode).
    sync_requested_at: u64,
}

pub(crate) struct Writer {
    dir: PathBuf,
    config: AuditConfig,
    key: SigningKey,
    head: ChainHead,
    current: Option<Current>,
    /// Start time of the newest file, so names stay in chain order if the clock steps back.
    last_started: i64,
    /// The writer's own records (rotation, lost file, pruning) to put first in the next batch.
    internal: Vec<Pending>,
    retry: VecDeque<Pending>,
    backoff: Duration,
    next_retry_at: Option<Instant>,
    counters: Arc<Counters>,
    /// Flush mode: the helper thread that syncs the current file in the background.
    background_sync: Option<BackgroundSync>,
    /// The bytes of the batch being written, kept between batches.
    batch_buf: Vec<u8>,
}

impl Writer {
    pub fn new(
        config: &AuditConfig,
        key: SigningKey,
        head: ChainHead,
        existing: Option<ExistingFile>,
        counters: Arc<Counters>,
    ) -> Result<Writer, AuditError> {
        let current = match existing {
            Some(e) => Some(open_existing(e)?),
            None => None,
        };
        Ok(Writer {
            dir: config.dir.clone(),
            config: config.clone(),
            key,
            head,
            last_started: current.as_ref().map_or(i64::MIN, |c| c.started),
            current,
            internal: Vec::new(),
            retry: VecDeque::new(),
            backoff: FIRST_BACKOFF,
            next_retry_at: None,
            counters,
            background_sync: None,
            batch_buf: Vec::new(),
        })
    }

    /// Writes one record synchronously (used by `open` before the thread starts).
    pub fn write_now(&mut self, entry: Entry) -> Result<Appended, AuditError> {
        let mut batch = vec![Pending {
            line: PreparedLine::new(&entry),
            reply: None,
        }];
        let result = self.write_batch(&mut batch);
        result.map(|mut v| {
            v.pop().unwrap_or(Appended {
                seq: 0,
                hash: String::new(),
            })
        })
    }

    /// The thread body: runs until shutdown or until every handle is gone.
    pub fn run(mut self, rx: Receiver<Request>) {
        loop {
            let wait = match self.next_retry_at {
                None => IDLE_PROBE,
                Some(at) => at.saturating_duration_since(Instant::now()),
            };
            let first = rx.recv_timeout(wait);
            if matches!(first, Err(RecvTimeoutError::Timeout)) && self.next_retry_at.is_none() {
                self.probe();
                continue;
            }
            let mut incoming = Vec::new();
            let mut disconnected = false;
            match first {
                Ok(r) => incoming.push(r),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => disconnected = true,
            }
            while incoming.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => incoming.push(r),
                    Err(_) => break,
                }
            }
            let mut batch = Vec::with_capacity(incoming.len());
            let mut shutdown = None;
            for r in incoming {
                match r {
                    Request::Append { line, reply } => batch.push(Pending {
                        line,
                        reply: Some(reply),
                    }),
                    Request::Shutdown { reply } => shutdown = Some(reply),
                }
            }
            self.commit(batch);
            if shutdown.is_some() || disconnected {
                let result = self.finish();
                if let Some(reply) = shutdown {
                    let _ = reply.send(result);
                }
                // Appends queued after the shutdown request get `Closed` when `rx` drops.
                return;
            }
        }
    }

    /// While idle: notices a lost file or directory (so /readyz tells), and recovers from
    /// one without waiting for traffic, which a not-ready proxy would never get. A full disk
    /// cannot be seen without writing: after such a failure the log reads writable again
    /// until the next write fails.
    fn probe(&mut self) {
        let healthy = match self.current.as_mut().map(check_current) {
            Some(Ok(None)) => true,
            Some(Ok(Some(moved))) => {
                self.internal.push(repaired(&moved));
                false
            }
            Some(Err(_)) => false,
            None => self.dir.is_dir(),
        };
        if healthy && !self.rotation_due() {
            self.counters.writable.store(true, Relaxed);
        } else {
            // Reopens, recreates or rotates the file (an idle log still rotates by age, so
            // its tail gets a checkpoint) and writes the writer's own records, if any.
            self.commit_inner(Vec::new(), true);
        }
    }

    /// Whether the current file holds records and is too big or too old.
    fn rotation_due(&self) -> bool {
        self.current.as_ref().is_some_and(|c| {
            c.last_seq.is_some()
                && (c.len >= self.config.rotate_bytes
                    || OffsetDateTime::now_utc()
                        .unix_timestamp()
                        .saturating_sub(c.started)
                        >= i64::try_from(self.config.rotate_after.as_secs()).unwrap_or(i64::MAX))
        })
    }

    /// Writes retried records plus `fresh` as one batch and answers the waiters.
    fn commit(&mut self, fresh: Vec<Pending>) {
        self.commit_inner(fresh, false)
    }

    /// `force`: run the file checks even with nothing to write.
    fn commit_inner(&mut self, fresh: Vec<Pending>, force: bool) {
        let mut batch: Vec<Pending> = self.retry.drain(..).collect();
        batch.extend(fresh);
        if batch.is_empty() && self.internal.is_empty() && !force {
            return;
        }
        match self.write_batch(&mut batch) {
            Ok(appended) => {
                // Before the replies, so a caller that got its answer sees the new state.
                self.counters.writable.store(true, Relaxed);
                self.counters.pending_retry.store(0, Relaxed);
                let mut answers = Answers::default();
                for (p, a) in batch.into_iter().zip(appended) {
                    if let Some(reply) = p.reply {
                        answers.push(reply, Ok(a));
                    }
                }
                answers.send();
                self.backoff = FIRST_BACKOFF;
                self.next_retry_at = None;
            }
            Err(e) if batch.is_empty() => {
                // An idle probe that could not reopen the file: no record failed, so no
                // failure is counted or logged again every second.
                tracing::debug!(error = %e, "audit log still not writable");
                self.counters.writable.store(false, Relaxed);
            }
            Err(e) => {
                self.counters.write_failures.fetch_add(1, Relaxed);
                self.counters.writable.store(false, Relaxed);
                let mut failed_fast = 0;
                for p in batch {
                    if p.line.must_not_fail_fast() {
                        self.retry.push_back(p);
                    } else {
                        failed_fast += 1;
                        if let Some(reply) = p.reply {
                            reply.send(Err(e.duplicate()));
                        }
                    }
                }
                tracing::error!(
                    error = %e, failed = failed_fast, retrying = self.retry.len(),
                    "audit log write failed"
                );
                if !self.retry.is_empty() || !self.internal.is_empty() {
                    self.next_retry_at = Some(Instant::now() + self.backoff);
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.counters
            .pending_retry
            .store((self.retry.len() + self.internal.len()) as u64, Relaxed);
    }

    /// One group commit. On success the chain head moves and the file grows; on failure
    /// neither happens, and the writer's own records are moved into `batch` so the caller
    /// keeps them for retry.
    fn write_batch(&mut self, batch: &mut Vec<Pending>) -> Result<Vec<Appended>, AuditError> {
        let prepared = self.prepare_file();
        // The writer's records describe the file state, so they go first.
        let internal: Vec<Pending> = self.internal.drain(..).collect();
        batch.splice(0..0, internal);
        prepared?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let time = record::format_time(OffsetDateTime::now_utc());
        let mut buf = std::mem::take(&mut self.batch_buf);
        buf.clear();
        let mut appended: Vec<Appended> = Vec::with_capacity(batch.len());
        for p in batch.iter() {
            // Each line chains on the one before it, the first on the head.
            let (seq, prev_hash) = match appended.last() {
                Some(prev) => (prev.seq.saturating_add(1), &prev.hash),
                None => (self.head.next_seq, &self.head.prev_hash),
            };
            let start = buf.len();
            p.line.write_stamped(&mut buf, &time, seq, prev_hash);
            let hash = line_hash(&buf[start..]);
            buf.push(b'\n');
            appended.push(Appended { seq, hash });
        }
        let head = match appended.last() {
            Some(last) => ChainHead {
                next_seq: last.seq.saturating_add(1),
                prev_hash: last.hash.clone(),
            },
            None => self.head.clone(),
        };
        let Some(cur) = self.current.as_mut() else {
            return Err(AuditError::io(
                &self.dir,
                io::Error::other("no current audit file"),
            ));
        };
        let started = Instant::now();
        let fsync = self.config.durability == Durability::Fsync;
        let result =
            cur.file
                .write_all(&buf)
                .and_then(|()| if fsync { cur.file.sync_data() } else { Ok(()) });
        if let Err(e) = result {
            // Bytes of a failed batch must not stay: their seqs will be used again.
            if let Err(t) = cur.file.set_len(cur.len) {
                tracing::warn!(file = %cur.path.display(), error = %t, "cannot truncate a failed batch yet");
            }
            return Err(AuditError::io(&cur.path, e));
        }
        let micros = started.elapsed().as_micros() as u64;
        cur.len += buf.len() as u64;
        cur.hasher.update(&buf);
        let written = buf.len() as u64;
        if buf.capacity() <= KEEP_BATCH_BUF_BYTES {
            self.batch_buf = buf;
        }
        cur.last_seq = Some(head.next_seq - 1);
        self.head = head;
        let c = &self.counters;
        c.last_sync_micros.store(micros, Relaxed);
        c.records_written.fetch_add(appended.len() as u64, Relaxed);
        c.batches_written.fetch_add(1, Relaxed);
        c.bytes_written.fetch_add(written, Relaxed);
        if fsync {
            c.syncs.fetch_add(1, Relaxed);
        } else if cur.len - cur.sync_requested_at >= BACKGROUND_SYNC_BYTES {
            cur.sync_requested_at = cur.len;
            let sync = self
                .background_sync
                .get_or_insert_with(|| BackgroundSync::start(self.counters.clone()));
            sync.request(&cur.path, (cur.dev, cur.ino));
        }
        Ok(appended)
    }

    /// Makes sure the current file is the one at its path, intact, and not due for
    /// rotation; creates a new one when needed.
    fn prepare_file(&mut self) -> Result<(), AuditError> {
        if let Some(cur) = self.current.as_mut() {
            match check_current(cur) {
                Ok(None) => {}
                Ok(Some(moved)) => self.internal.push(repaired(&moved)),
                Err(Lost(reason)) => {
                    // The path no longer names our file: writing on would go nowhere.
                    let cur = self.current.take();
                    let (file, last_seq) = cur.map(|c| (c.name, c.last_seq)).unwrap_or_default();
                    tracing::error!(%file, %reason, "audit file deleted or replaced underneath the writer");
                    self.counters.files_lost.fetch_add(1, Relaxed);
                    self.internal.push(internal(LifecycleRecord::new(
                        "AuditFileLost",
                        json!({ "file": file, "reason": reason, "last_seq_in_file": last_seq }),
                    )));
                }
                Err(Io(e)) => return Err(e),
            }
        }
        let due = self.rotation_due();
        if due {
            self.rotate()?;
        } else if self.current.is_none() {
            self.current = Some(self.create_file()?);
        }
        Ok(())
    }

    /// Closes the current file under a checkpoint and starts the next one.
    fn rotate(&mut self) -> Result<(), AuditError> {
        let checkpoint = self.checkpoint_current("rotation")?;
        let next = self.create_file()?;
        let old = self.current.replace(next);
        let old_name = old.map(|c| c.name).unwrap_or_default();
        let new_name = self
            .current
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        self.counters.rotations.fetch_add(1, Relaxed);
        tracing::info!(old = %old_name, new = %new_name, "audit file rotated");
        self.internal.push(internal(LifecycleRecord::new(
            "AuditFileRotated",
            json!({
                "old_file": old_name,
                "new_file": new_name,
                "checkpoint": checkpoint.as_deref().map(file_name_of),
                "last_seq_in_old_file": self.head.next_seq - 1,
            }),
        )));
        self.apply_retention();
        Ok(())
    }

    fn create_file(&mut self) -> Result<Current, AuditError> {
        files::ensure_dir(&self.dir).map_err(|e| AuditError::io(&self.dir, e))?;
        let now = OffsetDateTime::now_utc();
        let started = now.unix_timestamp().max(self.last_started);
        let started_at = OffsetDateTime::from_unix_timestamp(started).unwrap_or(now);
        let name = files::file_name(started_at, self.head.next_seq);
        let path = self.dir.join(&name);
        let file = files::create_new(&path).map_err(|e| AuditError::io(&path, e))?;
        files::sync_dir(&self.dir).map_err(|e| AuditError::io(&self.dir, e))?;
        let meta = file.metadata().map_err(|e| AuditError::io(&path, e))?;
        self.last_started = started;
        Ok(Current {
            path,
            name,
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            len: 0,
            started,
            first_seq: self.head.next_seq,
            hasher: Sha256::new(),
            last_seq: None,
            checkpointed_seq: None,
            sync_requested_at: 0,
        })
    }

    /// Signs and writes a checkpoint of the current file; `None` when it holds no record.
    fn checkpoint_current(&mut self, reason: &str) -> Result<Option<PathBuf>, AuditError> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(None);
        };
        let Some(last_seq) = cur.last_seq else {
            return Ok(None);
        };
        if cur.checkpointed_seq == Some(last_seq) {
            return Ok(Some(checkpoint::checkpoint_path(
                &self.dir, &cur.name, last_seq,
            )));
        }
        // Before signing, make sure what is signed is on disk (flush mode included).
        cur.file
            .sync_data()
            .map_err(|e| AuditError::io(&cur.path, e))?;
        let body = CheckpointBody {
            version: 1,
            file: cur.name.clone(),
            first_seq: cur.first_seq,
            last_seq,
            last_hash: self.head.prev_hash.clone(),
            file_bytes: cur.len,
            file_sha256: hex::encode(cur.hasher.clone().finalize()),
            reason: reason.to_string(),
            time: record::format_time(OffsetDateTime::now_utc()),
            key_id: self.key.key_id(),
        };
        let path = checkpoint::write(&self.dir, &Checkpoint::sign(body, &self.key))?;
        cur.checkpointed_seq = Some(last_seq);
        self.counters.checkpoints_written.fetch_add(1, Relaxed);
        Ok(Some(path))
    }

    /// Deletes what retention allows; a failure here never fails appends. Runs at every
    /// rotation, and at open so a log that no longer rotates is still pruned by age.
    pub fn apply_retention(&mut self) {
        let Some(current) = self.current.as_ref().map(|c| c.path.clone()) else {
            return;
        };
        let list = match files::list_audit_files(&self.dir) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "audit retention: cannot list files");
                return;
            }
        };
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let dir = self.dir.clone();
        let doomed = retention::select(
            &list,
            &current,
            now,
            self.config.keep_files,
            self.config.keep_for,
            |n, s| checkpoint::exists(&dir, n, s),
        );
        let Some(newest) = doomed.last() else { return };
        // The signed marker goes first: a crash between it and the deletions leaves files
        // that may still be deleted, never deletions nobody vouches for.
        let idx = list.iter().position(|p| p == newest).unwrap_or(0);
        let through_seq = list
            .get(idx + 1)
            .and_then(|p| files::parse_file_name(&file_name_of(p)))
            .map_or(0, |n| n.first_seq.saturating_sub(1));
        let body = PrunedBody {
            version: 1,
            through_seq,
            through_file: file_name_of(newest),
            time: record::format_time(OffsetDateTime::now_utc()),
            key_id: self.key.key_id(),
        };
        if let Err(e) = checkpoint::write_pruned(&self.dir, &Pruned::sign(body, &self.key)) {
            tracing::warn!(error = %e, "audit retention: cannot write the retention marker; nothing deleted");
            return;
        }
        let mut deleted = Vec::new();
        for path in doomed {
            match fs::remove_file(&path) {
                Ok(()) => deleted.push(file_name_of(&path)),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "audit retention: cannot delete");
                    break;
                }
            }
        }
        if deleted.is_empty() {
            return;
        }
        if let Err(e) = files::sync_dir(&self.dir) {
            tracing::warn!(error = %e, "audit retention: cannot sync the directory");
        }
        self.counters
            .files_pruned
            .fetch_add(deleted.len() as u64, Relaxed);
        tracing::info!(files = ?deleted, "audit retention deleted old files");
        self.internal.push(internal(LifecycleRecord::new(
            "AuditFilesPruned",
            json!({ "files": deleted, "through_seq": through_seq }),
        )));
    }

    /// Shutdown: last retries, final checkpoint, loud report of anything unwritten.
    fn finish(&mut self) -> Result<(), AuditError> {
        let deadline = Instant::now() + self.config.completed_retry_for;
        while (!self.retry.is_empty() || !self.internal.is_empty()) && Instant::now() < deadline {
            std::thread::sleep(
                self.backoff
                    .min(deadline.saturating_duration_since(Instant::now())),
            );
            self.commit(Vec::new());
        }
        self.counters.writable.store(false, Relaxed);
        let unwritten: Vec<Pending> = self
            .internal
            .drain(..)
            .chain(self.retry.drain(..))
            .collect();
        for p in &unwritten {
            tracing::error!(record = %p.line.describe(), "audit record NEVER WRITTEN: lost at shutdown");
        }
        let checkpoint = self.checkpoint_current("shutdown");
        match (unwritten.len(), checkpoint) {
            (0, Ok(_)) => Ok(()),
            (n, Ok(_)) => Err(AuditError::Shutdown {
                unwritten: n,
                message: "see the error log".into(),
            }),
            (n, Err(e)) => {
                tracing::error!(error = %e, "audit log: final checkpoint not written");
                Err(AuditError::Shutdown {
                    unwritten: n,
                    message: format!("final checkpoint: {e}"),
                })
            }
        }
    }
}

/// A record of the writer itself.
fn internal(record: LifecycleRecord) -> Pending {
    Pending {
        line: PreparedLine::lifecycle(&record),
        reply: None,
    }
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

enum CheckError {
    /// The path names another file or none: the reason.
    Lost(String),
    Io(AuditError),
}
use CheckError::{Io, Lost};

/// Compares the path's inode with the open file's, and trims bytes of an earlier failed
/// batch that could not be truncated at the time.
fn check_current(cur: &mut Current) -> Result<Option<MovedTail>, CheckError> {
    // One `statx` per batch: when the path names our inode, its size is our file's size.
    let len = match fs::metadata(&cur.path) {
        Ok(m) if m.dev() == cur.dev && m.ino() == cur.ino => m.len(),
        Ok(_) => return Err(Lost("the path now names another file".into())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Lost("the file was deleted".into()))
        }
        Err(e) => return Err(Io(AuditError::io(&cur.path, e))),
    };
    if len != cur.len {
        if len < cur.len {
            return Err(Lost(format!(
                "the file shrank from {} to {len} bytes",
                cur.len
            )));
        }
        // Bytes past the last acknowledged record: a failed batch, or someone else's writes.
        // Keep them aside rather than delete them, then continue the chain after ours.
        let tail = read_from(&cur.path, cur.len).map_err(|e| Io(AuditError::io(&cur.path, e)))?;
        let moved = recovery::move_aside(&cur.path, &tail, cur.len)
            .map_err(|e| Io(AuditError::io(&cur.path, e)))?;
        tracing::warn!(file = %cur.path.display(), moved_to = %moved.moved_to.display(), bytes = moved.bytes, "audit file had unacknowledged bytes; moved aside");
        return Ok(Some(moved));
    }
    Ok(None)
}

/// The record saying bytes nobody acknowledged were moved out of the current file.
fn repaired(m: &MovedTail) -> Pending {
    let name = |p: &Path| file_name_of(p);
    internal(LifecycleRecord::new(
        "AuditFileRepaired",
        json!({
            "file": name(&m.file),
            "moved_to": name(&m.moved_to),
            "bytes": m.bytes,
            "offset": m.offset,
        }),
    ))
}

fn read_from(path: &Path, offset: u64) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

fn open_existing(e: ExistingFile) -> Result<Current, AuditError> {
    let file = fs::OpenOptions::new()
        .append(true)
        .open(&e.path)
        .map_err(|err| AuditError::io(&e.path, err))?;
    let meta = file
        .metadata()
        .map_err(|err| AuditError::io(&e.path, err))?;
    Ok(Current {
        dev: meta.dev(),
        ino: meta.ino(),
        path: e.path,
        name: e.name,
        file,
        len: e.len,
        started: e.started,
        first_seq: e.first_seq,
        hasher: e.hasher,
        last_seq: e.last_seq,
        checkpointed_seq: None,
        sync_requested_at: e.len,
    })
}

/// Flush mode keeps the dirty part of the current file small: a helper thread syncs it
/// every [`BACKGROUND_SYNC_BYTES`], off the appending path. Without it the sync before a
/// rotation checkpoint writes the whole file (64 MiB by default) while every append waits.
/// What a checkpoint vouches for does not change: the writer still syncs the file itself
/// before signing; this only leaves that sync less to do.
struct BackgroundSync {
    /// `None` when the thread could not be started: the checkpoint sync does all the work.
    tx: Option<mpsc::SyncSender<SyncRequest>>,
}

/// The file to sync: its path, and the device and inode it must still name.
type SyncRequest = (PathBuf, (u64, u64));

impl BackgroundSync {
    fn start(counters: Arc<Counters>) -> BackgroundSync {
        // One request in flight at most: a new one while a sync runs is skipped, as the
        // next batch asks again.
        let (tx, rx) = mpsc::sync_channel::<SyncRequest>(1);
        let spawned = std::thread::Builder::new()
            .name("audit-sync".into())
            .spawn(move || {
                for (path, inode) in rx {
                    match sync_by_path(&path, inode) {
                        Ok(false) => 0,
                        Ok(true) => counters.background_syncs.fetch_add(1, Relaxed),
                        Err(e) => {
                            tracing::warn!(file = %path.display(), error = %e, "audit background sync failed");
                            counters.background_sync_failures.fetch_add(1, Relaxed)
                        }
                    };
                }
            });
        match spawned {
            Ok(_) => BackgroundSync { tx: Some(tx) },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the audit background sync thread");
                BackgroundSync { tx: None }
            }
        }
    }

    fn request(&mut self, path: &Path, inode: (u64, u64)) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send((path.to_path_buf(), inode)) {
            Ok(()) | Err(mpsc::TrySendError::Full(_)) => {}
            Err(mpsc::TrySendError::Disconnected(_)) => self.tx = None,
        }
    }
}

/// Syncs the file at `path` through a descriptor of its own, if it is still the inode
/// the writer appends to. Not a clone of the writer's descriptor: a clone shares its
/// write-back error state, so an error this sync consumed would not be reported again to
/// the writer's own sync before a checkpoint, which would then sign bytes that never
/// reached the disk. A separate open file reports such an error to both.
/// False when the path names another file by now.
fn sync_by_path(path: &Path, (dev, ino): (u64, u64)) -> io::Result<bool> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if (meta.dev(), meta.ino()) != (dev, ino) {
        // Rotated or replaced meanwhile: the writer deals with that file itself.
        return Ok(false);
    }
    file.sync_data().map(|()| true)
}
