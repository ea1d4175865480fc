//! Crash recovery on open: find where the chain stands, and move a torn tail aside.
//!
//! Only the last file can be torn (the writer appends to it alone). Bytes after its last
//! newline, and final lines that do not parse as records, are copied into
//! `<file>.torn-<n>` (synced) before the main file is truncated: no byte is ever deleted.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::chain::{ChainFields, ChainHead};
use super::checkpoint;
use super::error::AuditError;
use super::files::{self, parse_file_name};

/// The last file, to be continued by the writer.
pub struct ExistingFile {
    pub path: PathBuf,
    pub name: String,
    pub started: i64,
    pub first_seq: u64,
    /// Length after recovery (whole records only).
    pub len: u64,
    /// SHA-256 state over those bytes.
    pub hasher: Sha256,
    /// Seq of its last record, if it holds any.
    pub last_seq: Option<u64>,
}

/// A torn tail that was moved aside.
#[derive(Debug, Clone)]
pub struct MovedTail {
    pub file: PathBuf,
    pub moved_to: PathBuf,
    /// Where the tail started in `file`.
    pub offset: u64,
    pub bytes: u64,
}

/// What recovery found.
pub struct Recovered {
    pub head: ChainHead,
    pub current: Option<ExistingFile>,
    pub moved: Option<MovedTail>,
}

/// Reads the existing log in `dir` and repairs a torn tail.
pub fn recover(dir: &Path) -> Result<Recovered, AuditError> {
    let list = files::list_audit_files(dir).map_err(|e| AuditError::io(dir, e))?;
    let Some(last) = list.last() else {
        return Ok(Recovered {
            head: ChainHead::genesis(),
            current: None,
            moved: None,
        });
    };
    let rec_err = |path: &Path, message: String| AuditError::Recovery {
        path: path.to_path_buf(),
        message,
    };
    let bytes = fs::read(last).map_err(|e| AuditError::io(last, e))?;
    let good = complete_prefix(&bytes);
    let moved = if good < bytes.len() {
        Some(move_tail_aside(last, &bytes, good).map_err(|e| AuditError::io(last, e))?)
    } else {
        None
    };
    let name = last
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let parsed =
        parse_file_name(&name).ok_or_else(|| rec_err(last, "unexpected file name".into()))?;
    // Tighten a file created by hand or by an older version.
    let _ = fs::set_permissions(last, fs::Permissions::from_mode(files::FILE_MODE));

    let (head, last_seq) = match last_record(&bytes[..good]) {
        Some((seq, line)) => (ChainHead::after(seq, line), Some(seq)),
        None => (
            head_before(dir, &list[..list.len() - 1], parsed.first_seq)?,
            None,
        ),
    };
    let mut hasher = Sha256::new();
    hasher.update(&bytes[..good]);
    let current = ExistingFile {
        path: last.clone(),
        name,
        started: parsed.started,
        first_seq: parsed.first_seq,
        len: good as u64,
        hasher,
        last_seq,
    };
    Ok(Recovered {
        head,
        current: Some(current),
        moved,
    })
}

/// Length of the prefix made of whole, parseable record lines.
fn complete_prefix(bytes: &[u8]) -> usize {
    let mut end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    while end > 0 {
        let start = bytes[..end - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        if ChainFields::parse(&bytes[start..end - 1]).is_some() {
            break;
        }
        end = start;
    }
    end
}

/// The seq and line of the last record in `bytes` (whole lines only).
fn last_record(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let body = bytes.strip_suffix(b"\n")?;
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let line = &body[start..];
    ChainFields::parse(line).map(|f| (f.seq, line))
}

/// The head when the last file holds no record: from the file before, or from the
/// checkpoint anchoring a pruned prefix, or genesis.
fn head_before(dir: &Path, earlier: &[PathBuf], first_seq: u64) -> Result<ChainHead, AuditError> {
    if let Some(prev) = earlier.last() {
        let bytes = fs::read(prev).map_err(|e| AuditError::io(prev, e))?;
        return last_record(&bytes)
            .map(|(seq, line)| ChainHead::after(seq, line))
            .ok_or_else(|| AuditError::Recovery {
                path: prev.clone(),
                message: "its last line is not a whole record".into(),
            });
    }
    if first_seq <= 1 {
        return Ok(ChainHead::genesis());
    }
    for path in checkpoint::list(dir)
        .map_err(|e| AuditError::io(dir, e))?
        .iter()
        .rev()
    {
        if let Ok(cp) = checkpoint::read(path) {
            if cp.body.last_seq.checked_add(1) == Some(first_seq) {
                return Ok(ChainHead {
                    next_seq: first_seq,
                    prev_hash: cp.body.last_hash,
                });
            }
        }
    }
    Err(AuditError::Recovery {
        path: dir.to_path_buf(),
        message: format!("no record or checkpoint tells what precedes seq {first_seq}"),
    })
}

/// Copies `bytes[good..]` into a new `.torn-<n>` file, syncs it, then truncates `path`.
fn move_tail_aside(path: &Path, bytes: &[u8], good: usize) -> io::Result<MovedTail> {
    move_aside(path, &bytes[good..], good as u64)
}

/// Copies `tail` (the bytes of `path` from `good`) into a new `.torn-<n>` file, syncs it,
/// then truncates `path` to `good`.
pub(crate) fn move_aside(path: &Path, tail: &[u8], good: u64) -> io::Result<MovedTail> {
    let mut n = 1u32;
    let moved_to = loop {
        let mut name = path.as_os_str().to_os_string();
        name.push(format!(".torn-{n}"));
        let candidate = PathBuf::from(name);
        match files::write_new_synced(&candidate, tail) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(e),
        }
    };
    // Only now that the copy is durable may the main file lose those bytes.
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(good)?;
    f.sync_all()?;
    tracing::warn!(
        file = %path.display(), moved_to = %moved_to.display(), bytes = tail.len(),
        "audit log: torn tail moved aside"
    );
    Ok(MovedTail {
        file: path.to_path_buf(),
        moved_to,
        offset: good,
        bytes: tail.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_prefix_drops_partial_and_garbage_lines() {
        let a = br#"{"seq":1,"prev_hash":"x"}"#;
        let mut b = a.to_vec();
        b.push(b'\n');
        let whole = b.len();
        b.extend_from_slice(b"{\"seq\":2,\"pre");
        assert_eq!(complete_prefix(&b), whole);
        let mut c = a.to_vec();
        c.extend_from_slice(b"\nnot json\n");
        assert_eq!(complete_prefix(&c), whole);
        assert_eq!(complete_prefix(b"garbage"), 0);
        assert_eq!(complete_prefix(b""), 0);
    }
}
