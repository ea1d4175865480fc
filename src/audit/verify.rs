//! Offline verification of an audit directory: every link of the chain, every checkpoint
//! signature, and every checkpoint against the bytes of its file. The first break is named
//! as `file:line` plus what broke.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::chain::{ChainFields, ChainHead, GENESIS_HASH};
use super::checkpoint::{self, Checkpoint};
use super::config::PUBLIC_KEY_FILE;
use super::files::{self, parse_file_name};
use super::keys::PublicKey;

/// What an intact directory holds.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Audit files checked, in chain order.
    pub files: Vec<PathBuf>,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Hash of the last record: what the next record's `prev_hash` must be.
    pub last_hash: String,
    /// Checkpoints whose signature and content were checked.
    pub checkpoints: usize,
    /// When older files were deleted by retention: the checkpoint anchoring the first file.
    pub anchored_by: Option<PathBuf>,
    /// Records after the last checkpoint (a truncation there cannot be detected).
    pub records_after_last_checkpoint: u64,
    /// Torn tails moved aside by recovery (kept for inspection, not part of the chain).
    pub torn_files: Vec<PathBuf>,
    /// The public key used, if any checkpoint needed one.
    pub public_key: Option<PathBuf>,
}

/// The first break found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The file (audit file, checkpoint or key) where the break is.
    pub file: PathBuf,
    /// 1-based line in `file`, when the break is at a record.
    pub line: Option<u64>,
    /// What broke.
    pub reason: String,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl std::error::Error for VerifyFailure {}

fn fail(file: &Path, line: Option<u64>, reason: impl Into<String>) -> VerifyFailure {
    VerifyFailure {
        file: file.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Verifies the audit files of `dir`. `public_key` is a file holding the hex Ed25519 public
/// key; without it `<dir>/audit-signing.pub` is used (which an attacker with write access
/// to `dir` could replace: pass a copy kept elsewhere for real assurance).
pub fn verify_dir(dir: &Path, public_key: Option<&Path>) -> Result<VerifyReport, VerifyFailure> {
    let list =
        files::list_audit_files(dir).map_err(|e| fail(dir, None, format!("cannot list: {e}")))?;
    let mut report = VerifyReport {
        torn_files: files::list_torn_files(dir).unwrap_or_default(),
        ..VerifyReport::default()
    };
    let key = load_key(dir, public_key)?;
    report.public_key = key.as_ref().map(|k| k.source.clone());
    let checkpoints = load_checkpoints(dir, key.as_ref())?;
    report.checkpoints = checkpoints.values().map(|m| m.len()).sum();

    let mut head: Option<ChainHead> = None;
    let mut prev_at: Option<(PathBuf, u64)> = None;
    let mut last_cp_seq = 0u64;
    for path in &list {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed =
            parse_file_name(&name).ok_or_else(|| fail(path, None, "not an audit file name"))?;
        let bytes = fs::read(path).map_err(|e| fail(path, None, format!("cannot read: {e}")))?;
        let mut file_cps = checkpoints.get(&name).cloned().unwrap_or_default();
        let mut hasher = Sha256::new();
        let (mut offset, mut line_no) = (0usize, 0u64);
        if bytes.is_empty() {
            if let Some(h) = &head {
                if parsed.first_seq != h.next_seq {
                    return Err(fail(
                        path,
                        None,
                        format!(
                            "empty file named for seq {} where seq {} comes next",
                            parsed.first_seq, h.next_seq
                        ),
                    ));
                }
            }
        }
        while offset < bytes.len() {
            line_no += 1;
            let Some(len) = bytes[offset..].iter().position(|b| *b == b'\n') else {
                return Err(fail(
                    path,
                    Some(line_no),
                    "last line is incomplete: file truncated or torn",
                ));
            };
            let line = &bytes[offset..offset + len];
            offset += len + 1;
            let rec = ChainFields::parse(line).ok_or_else(|| {
                fail(
                    path,
                    Some(line_no),
                    "not a valid record: the line was edited or corrupted",
                )
            })?;
            if line_no == 1 && rec.seq != parsed.first_seq {
                return Err(fail(path, Some(1), format!(
                    "file name says the first seq is {} but the first record has seq {}: file renamed or reordered",
                    parsed.first_seq, rec.seq
                )));
            }
            match &head {
                None => {
                    if rec.seq == 0 {
                        return Err(fail(path, Some(line_no), "seq 0 is not a valid position"));
                    }
                    if rec.seq == 1 {
                        if rec.prev_hash != GENESIS_HASH {
                            return Err(fail(
                                path,
                                Some(line_no),
                                "first record's prev_hash is not the genesis hash",
                            ));
                        }
                    } else {
                        let anchor = find_anchor(&checkpoints, rec.seq - 1, &rec.prev_hash).ok_or_else(|| {
                            fail(path, Some(line_no), format!(
                                "the chain starts at seq {} and no signed checkpoint anchors it: earlier files are missing",
                                rec.seq
                            ))
                        })?;
                        check_pruned(dir, key.as_ref(), rec.seq - 1)
                            .map_err(|reason| fail(path, Some(line_no), reason))?;
                        report.anchored_by = Some(checkpoint::checkpoint_path(
                            dir,
                            &anchor.body.file,
                            anchor.body.last_seq,
                        ));
                    }
                    report.first_seq = Some(rec.seq);
                }
                Some(h) => {
                    if rec.seq != h.next_seq {
                        let what = if rec.seq > h.next_seq {
                            let missing = rec.seq - h.next_seq;
                            if line_no == 1 {
                                format!("{missing} record(s) missing before this file: a file is missing or truncated")
                            } else {
                                format!("{missing} record(s) missing: lines deleted")
                            }
                        } else {
                            "records reordered or duplicated".to_string()
                        };
                        return Err(fail(
                            path,
                            Some(line_no),
                            format!(
                                "seq {} where seq {} was expected: {what}",
                                rec.seq, h.next_seq
                            ),
                        ));
                    }
                    if rec.prev_hash != h.prev_hash {
                        let prev = prev_at
                            .as_ref()
                            .map_or(String::new(), |(p, l)| format!("{}:{l}", p.display()));
                        return Err(fail(path, Some(line_no), format!(
                            "prev_hash does not match the hash of the previous record ({prev}): that line or this link was edited"
                        )));
                    }
                }
            }
            hasher.update(&bytes[offset - len - 1..offset]);
            head = Some(ChainHead::after(rec.seq, line));
            prev_at = Some((path.clone(), line_no));
            report.records += 1;
            report.last_seq = Some(rec.seq);
            if let Some(cp) = file_cps.remove(&rec.seq) {
                let cp_path = checkpoint::checkpoint_path(dir, &name, rec.seq);
                let sha = hex::encode(hasher.clone().finalize());
                let last_hash = head
                    .as_ref()
                    .map(|h| h.prev_hash.as_str())
                    .unwrap_or_default();
                if cp.body.file_bytes != offset as u64
                    || cp.body.file_sha256 != sha
                    || cp.body.last_hash != last_hash
                {
                    return Err(fail(
                        path,
                        Some(line_no),
                        format!(
                        "the file up to this line does not match its signed checkpoint {}: edited",
                        cp_path.display()
                    ),
                    ));
                }
                last_cp_seq = rec.seq;
            }
        }
        if let Some((seq, _)) = file_cps.iter().next() {
            let at = if line_no == 0 { None } else { Some(line_no) };
            return Err(fail(path, at, format!(
                "a signed checkpoint covers this file up to seq {seq}, which is not in it: file truncated"
            )));
        }
        report.files.push(path.clone());
    }
    let last = report.last_seq.unwrap_or(0);
    for (file, cps) in &checkpoints {
        if let Some((&seq, _)) = cps.iter().next_back().filter(|(s, _)| **s > last) {
            return Err(fail(&dir.join(file), None, format!(
                "missing: a signed checkpoint covers it up to seq {seq}, past the last record found (seq {last})"
            )));
        }
    }
    report.last_hash = head
        .map(|h| h.prev_hash)
        .unwrap_or_else(|| GENESIS_HASH.to_string());
    report.records_after_last_checkpoint =
        last.saturating_sub(last_cp_seq.max(report.first_seq.unwrap_or(1).saturating_sub(1)));
    Ok(report)
}

fn load_key(dir: &Path, given: Option<&Path>) -> Result<Option<PublicKey>, VerifyFailure> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => {
            let p = dir.join(PUBLIC_KEY_FILE);
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    PublicKey::read(&path)
        .map(Some)
        .map_err(|e| fail(&path, None, format!("cannot read the public key: {e}")))
}

/// Checkpoints by file name, then by last seq; every signature checked.
fn load_checkpoints(
    dir: &Path,
    key: Option<&PublicKey>,
) -> Result<HashMap<String, BTreeMap<u64, Checkpoint>>, VerifyFailure> {
    let paths = checkpoint::list(dir)
        .map_err(|e| fail(dir, None, format!("cannot list checkpoints: {e}")))?;
    let mut out: HashMap<String, BTreeMap<u64, Checkpoint>> = HashMap::new();
    for path in paths {
        let cp = checkpoint::read(&path).map_err(|e| fail(&path, None, e))?;
        let Some(key) = key else {
            return Err(fail(
                &path,
                None,
                "checkpoint present but no public key to verify it",
            ));
        };
        if !cp.verify(key) {
            return Err(fail(
                &path,
                None,
                "checkpoint signature does not verify: forged or edited",
            ));
        }
        if checkpoint::checkpoint_path(dir, &cp.body.file, cp.body.last_seq) != path {
            return Err(fail(
                &path,
                None,
                "checkpoint file name does not match its signed content",
            ));
        }
        out.entry(cp.body.file.clone())
            .or_default()
            .insert(cp.body.last_seq, cp);
    }
    Ok(out)
}

fn find_anchor<'a>(
    checkpoints: &'a HashMap<String, BTreeMap<u64, Checkpoint>>,
    seq: u64,
    hash: &str,
) -> Option<&'a Checkpoint> {
    checkpoints
        .values()
        .filter_map(|m| m.get(&seq))
        .find(|cp| cp.body.last_hash == hash)
}

/// A chain starting after seq 1 is retention only if a signed marker says records up to
/// `needed` could be deleted.
fn check_pruned(dir: &Path, key: Option<&PublicKey>, needed: u64) -> Result<(), String> {
    let missing = format!("the chain starts at seq {} but no signed retention marker covers the deletion: earlier files are missing", needed.saturating_add(1));
    let pruned = checkpoint::read_pruned(dir)?.ok_or_else(|| missing.clone())?;
    let key = key.ok_or("retention marker present but no public key to verify it")?;
    if !pruned.verify(key) {
        return Err("retention marker signature does not verify: forged or edited".into());
    }
    if pruned.body.through_seq < needed {
        return Err(format!(
            "{missing} (the marker covers seq {} only)",
            pruned.body.through_seq
        ));
    }
    Ok(())
}
