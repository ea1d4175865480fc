//! Signed checkpoints: at every rotation and at shutdown the writer records, beside the
//! files, how far a file went (last seq, last hash) and the SHA-256 of its bytes so far,
//! signed with Ed25519. A verifier holding the public key can then tell a truncated, edited
//! or replaced file from an intact one even at the end of the chain.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::files::{self, CHECKPOINT_DIR};
use super::keys::{PublicKey, SigningKey};

pub const CHECKPOINT_SUFFIX: &str = ".checkpoint.json";

/// What a checkpoint asserts; this is what is signed (its JSON serialization, fields in
/// this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointBody {
    pub version: u32,
    /// Name of the audit file (no directory).
    pub file: String,
    /// Seq of the file's first record.
    pub first_seq: u64,
    /// Seq of the last record covered.
    pub last_seq: u64,
    /// Hex SHA-256 of the last covered line: the next record's `prev_hash`.
    pub last_hash: String,
    /// Bytes of the file covered (up to and including the last covered newline).
    pub file_bytes: u64,
    /// Hex SHA-256 of those bytes.
    pub file_sha256: String,
    /// `rotation` or `shutdown`.
    pub reason: String,
    /// RFC 3339 UTC.
    pub time: String,
    /// Identifies the signing key (see `keys::key_id`).
    pub key_id: String,
}

/// A checkpoint as stored: the body plus its signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    #[serde(flatten)]
    pub body: CheckpointBody,
    /// Hex Ed25519 signature of the body's JSON.
    pub signature: String,
}

impl CheckpointBody {
    fn signed_bytes(&self) -> Vec<u8> {
        // A plain struct of strings and integers always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Checkpoint {
    pub fn sign(body: CheckpointBody, key: &SigningKey) -> Checkpoint {
        let signature = key.sign_hex(&body.signed_bytes());
        Checkpoint { body, signature }
    }

    /// Whether the signature is `key`'s over the body.
    pub fn verify(&self, key: &PublicKey) -> bool {
        self.body.key_id == key.key_id() && key.verify(&self.body.signed_bytes(), &self.signature)
    }
}

/// `checkpoints/<file>.<last seq, 20 digits>.checkpoint.json`
pub fn checkpoint_path(dir: &Path, file: &str, last_seq: u64) -> PathBuf {
    dir.join(CHECKPOINT_DIR)
        .join(format!("{file}.{last_seq:020}{CHECKPOINT_SUFFIX}"))
}

/// Writes a checkpoint atomically and durably; returns its path.
pub fn write(dir: &Path, checkpoint: &Checkpoint) -> Result<PathBuf, AuditError> {
    ensure_checkpoint_dir(dir)?;
    let path = checkpoint_path(dir, &checkpoint.body.file, checkpoint.body.last_seq);
    let mut bytes = serde_json::to_vec_pretty(checkpoint).unwrap_or_default();
    bytes.push(b'\n');
    files::write_atomic(&path, &bytes).map_err(|e| AuditError::io(&path, e))?;
    Ok(path)
}

/// Creates `checkpoints/` when missing, durably (its entry in `dir` synced).
fn ensure_checkpoint_dir(dir: &Path) -> Result<PathBuf, AuditError> {
    let cp_dir = dir.join(CHECKPOINT_DIR);
    let existed = cp_dir.is_dir();
    files::ensure_dir(&cp_dir).map_err(|e| AuditError::io(&cp_dir, e))?;
    if !existed {
        files::sync_dir(dir).map_err(|e| AuditError::io(dir, e))?;
    }
    Ok(cp_dir)
}

/// Whether `file` has a checkpoint covering it up to `last_seq`.
pub fn exists(dir: &Path, file: &str, last_seq: u64) -> bool {
    checkpoint_path(dir, file, last_seq).is_file()
}

/// Every checkpoint file of `dir`, sorted by name (file, then seq). Missing dir: none.
pub fn list(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let cp_dir = dir.join(CHECKPOINT_DIR);
    let entries = match fs::read_dir(&cp_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(CHECKPOINT_SUFFIX))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one checkpoint file.
pub fn read(path: &Path) -> Result<Checkpoint, String> {
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not a checkpoint: {e}"))
}

/// File of the signed retention marker, in `checkpoints/`.
pub const PRUNED_FILE: &str = "pruned.json";

/// What retention asserts before deleting files: records up to `through_seq` may be gone.
/// Without it, a chain that does not start at seq 1 is a deletion, not retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedBody {
    pub version: u32,
    /// Every record up to this seq may have been deleted by retention.
    pub through_seq: u64,
    /// The newest file deleted.
    pub through_file: String,
    pub time: String,
    pub key_id: String,
}

/// The retention marker as stored: body plus signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pruned {
    #[serde(flatten)]
    pub body: PrunedBody,
    pub signature: String,
}

impl Pruned {
    pub fn sign(body: PrunedBody, key: &SigningKey) -> Pruned {
        let signature = key.sign_hex(&serde_json::to_vec(&body).unwrap_or_default());
        Pruned { body, signature }
    }

    pub fn verify(&self, key: &PublicKey) -> bool {
        self.body.key_id == key.key_id()
            && key.verify(
                &serde_json::to_vec(&self.body).unwrap_or_default(),
                &self.signature,
            )
    }
}

/// Replaces the retention marker atomically and durably.
pub fn write_pruned(dir: &Path, pruned: &Pruned) -> Result<(), AuditError> {
    let cp_dir = ensure_checkpoint_dir(dir)?;
    let path = cp_dir.join(PRUNED_FILE);
    let mut bytes = serde_json::to_vec_pretty(pruned).unwrap_or_default();
    bytes.push(b'\n');
    files::write_atomic(&path, &bytes).map_err(|e| AuditError::io(&path, e))
}

/// Reads the retention marker; `Ok(None)` when there is none.
pub fn read_pruned(dir: &Path) -> Result<Option<Pruned>, String> {
    let path = dir.join(CHECKPOINT_DIR).join(PRUNED_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("not a retention marker: {e}")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}
