//! Audit file naming and the file-system chores around it (modes, directory syncs).
//!
//! Names are `audit-<UTC start YYYYMMDDTHHMMSSZ>-<first seq, 20 digits>.jsonl`, so the
//! lexical order of the names is the chain order. Only record files end in `.jsonl`: a torn
//! tail moved aside is `<name>.torn-<n>`, checkpoints live in `checkpoints/`.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

pub const PREFIX: &str = "audit-";
pub const SUFFIX: &str = ".jsonl";
pub const CHECKPOINT_DIR: &str = "checkpoints";
pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// What an audit file's name says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    /// Start time, seconds since the Unix epoch.
    pub started: i64,
    /// The seq of the file's first record.
    pub first_seq: u64,
}

/// The name of a file started at `started` whose first record has `first_seq`.
pub fn file_name(started: OffsetDateTime, first_seq: u64) -> String {
    let t = started.to_offset(time::UtcOffset::UTC);
    format!(
        "{PREFIX}{:04}{:02}{:02}T{:02}{:02}{:02}Z-{first_seq:020}{SUFFIX}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses a name made by [`file_name`]; `None` for anything else.
pub fn parse_file_name(name: &str) -> Option<FileName> {
    let core = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (stamp, seq) = core.split_once('-')?;
    if stamp.len() != 16 || seq.len() != 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first_seq = seq.parse().ok()?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let started = time::PrimitiveDateTime::parse(stamp, &format)
        .ok()?
        .assume_utc();
    Some(FileName {
        started: started.unix_timestamp(),
        first_seq,
    })
}

/// The audit files of `dir` in chain order (lexical order of their names).
pub fn list_audit_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(name) = entry.file_name().to_str() {
            if parse_file_name(name).is_some() && entry.file_type()?.is_file() {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// Torn tails moved aside by recovery (`*.jsonl.torn-<n>`), sorted by name.
pub fn list_torn_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".jsonl.torn-"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Creates `dir` (and parents) as 0700 and tightens an existing one to 0700.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    let meta = fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    if meta.permissions().mode() & 0o777 != DIR_MODE {
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Makes a created, renamed or deleted entry of `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates a new file (never overwrites) with mode 0600, open for appending.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create_new(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Writes `bytes` to a new 0600 file, synced, then syncs its directory.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(FILE_MODE)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a synced temporary file renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(FILE_MODE)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_in_chain_order() {
        let t = time::macros::datetime!(2026-12-03 16:28:05 UTC);
        let a = file_name(t, 9);
        let b = file_name(t + time::Duration::seconds(1), 10);
        assert_eq!(a, "audit-20261203T162805Z-00000000000000000009.jsonl");
        assert!(a < b);
        let parsed = parse_file_name(&a).unwrap();
        assert_eq!(parsed.first_seq, 9);
        assert_eq!(parsed.started, t.unix_timestamp());
        assert!(
            parse_file_name("audit-20261203T162805Z-00000000000000000009.jsonl.torn-1").is_none()
        );
        assert!(parse_file_name("audit-x.jsonl").is_none());
    }
}
