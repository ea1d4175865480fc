//! Which audit files to read, in chain order.
//!
//! Names are `audit-<UTC start YYYYMMDDTHHMMSSZ>-<first seq, 20 digits>.jsonl`, so the
//! lexical order is the chain order. Only names ending in `.jsonl` hold records; torn
//! remains (`*.jsonl.torn-1`) and checkpoints are not read. A file whose name carries no
//! start time is read whatever the time range.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// How far a file's records may stray past the next file's start: the start is truncated
/// to the second, and a generous allowance covers small clock steps.
const SPAN_SLACK: time::Duration = time::Duration::minutes(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFile {
    pub path: PathBuf,
    /// The start time from the file name, if it follows the naming scheme.
    pub start: Option<OffsetDateTime>,
}

/// The audit files in `dir`, in lexical (chain) order.
pub fn list(dir: &Path) -> io::Result<Vec<AuditFile>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        // Non-UTF-8 names are not ours: the writer only creates ASCII names.
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(".jsonl") || entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        names.push(name.to_string());
    }
    names.sort_unstable();
    Ok(names
        .into_iter()
        .map(|name| AuditFile {
            start: parse_start(&name),
            path: dir.join(name),
        })
        .collect())
}

/// `audit-20261203T120000Z-00000000000000000001.jsonl` -> 2026-12-03 12:00:00 UTC.
pub fn parse_start(name: &str) -> Option<OffsetDateTime> {
    let rest = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    let (stamp, seq) = rest.split_once('-')?;
    if seq.len() != 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let b = stamp.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| stamp.get(r)?.parse::<u32>().ok();
    let date = Date::from_calendar_date(
        num(0..4)? as i32,
        Month::try_from(num(4..6)? as u8).ok()?,
        num(6..8)? as u8,
    )
    .ok()?;
    let time = Time::from_hms(num(9..11)? as u8, num(11..13)? as u8, num(13..15)? as u8).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Whether `files[i]` holds only records before `since`: the next file's start bounds
/// its records (the last file is open-ended, so never skipped).
pub fn ends_before(files: &[AuditFile], i: usize, since: OffsetDateTime) -> bool {
    match files.get(i + 1).and_then(|f| f.start) {
        // Near the end of year 9999 there is no later time: keep the file.
        Some(next) => next.checked_add(SPAN_SLACK).is_some_and(|end| end <= since),
        None => false,
    }
}

/// How long after `--until` reading goes on for the completions of calls received before
/// it. The proxy's timeouts end a call within minutes; a call still open this long after
/// `--until` is shown as `unknown` rather than reading every later file for it (calls
/// whose proxy died never complete).
pub const COMPLETION_HORIZON: time::Duration = time::Duration::hours(1);

/// Whether `file` holds only records at or after `t`.
pub fn starts_after(file: &AuditFile, t: OffsetDateTime) -> bool {
    match (file.start, t.checked_add(SPAN_SLACK)) {
        (Some(start), Some(bound)) => start >= bound,
        _ => false,
    }
}

/// The 1-based line number at byte `offset` of `path`, for error messages (computed only
/// when a line is reported, so scanning need not count lines).
pub fn line_number(path: &Path, offset: u64) -> Option<u64> {
    let mut file = std::fs::File::open(path).ok()?.take(offset);
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 1u64;
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            return Some(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn start_time_from_name() {
        assert_eq!(
            parse_start("audit-20261203T120001Z-00000000000000000042.jsonl"),
            Some(datetime!(2026-12-03 12:00:01 UTC))
        );
        assert_eq!(parse_start("audit.jsonl"), None);
        assert_eq!(
            parse_start("audit-20261303T120001Z-00000000000000000042.jsonl"),
            None
        );
        assert_eq!(parse_start("audit-20261203T120001Z-42.jsonl"), None);
    }

    #[test]
    fn lists_only_jsonl_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "audit-20261203T120000Z-00000000000000000100.jsonl",
            "audit-20261203T110000Z-00000000000000000001.jsonl",
            "audit-20261203T110000Z-00000000000000000001.jsonl.torn-1",
            "checkpoint.json",
        ] {
            std::fs::write(dir.path().join(n), b"").unwrap();
        }
        let names: Vec<_> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|f| f.path.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "audit-20261203T110000Z-00000000000000000001.jsonl",
                "audit-20261203T120000Z-00000000000000000100.jsonl"
            ]
        );
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let last = datetime!(9999-12-31 23:59:59 UTC);
        let files = [
            AuditFile {
                path: "a".into(),
                start: Some(last),
            },
            AuditFile {
                path: "b".into(),
                start: Some(last),
            },
        ];
        assert!(!ends_before(&files, 0, last));
        assert!(!starts_after(&files[0], last));
    }

    #[test]
    fn line_numbers_count_from_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"a\nbb\nccc\n").unwrap();
        assert_eq!(line_number(&p, 0), Some(1));
        assert_eq!(line_number(&p, 5), Some(3));
    }
}
