//! Retention: which closed files may be deleted. Only a prefix of the chain is ever deleted
//! (never a file in the middle, which would look like tampering), never the current file,
//! and never a file whose full content is not covered by a signed checkpoint: the newest
//! deleted file's checkpoint then anchors the first remaining file for verifiers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::files::parse_file_name;

/// The files to delete, oldest first. `files` is in chain order and ends with `current`.
/// `covered(name, last_seq)` tells whether a checkpoint covers file `name` up to `last_seq`.
pub fn select(
    files: &[PathBuf],
    current: &Path,
    now_unix: i64,
    keep_files: Option<usize>,
    keep_for: Option<Duration>,
    covered: impl Fn(&str, u64) -> bool,
) -> Vec<PathBuf> {
    if keep_files.is_none() && keep_for.is_none() {
        return Vec::new();
    }
    let over_count = keep_files.map_or(0, |k| files.len().saturating_sub(k.max(1)));
    let mut out = Vec::new();
    for (i, pair) in files.windows(2).enumerate() {
        let (file, next) = (&pair[0], &pair[1]);
        if file == current {
            break;
        }
        let (Some(name), Some(next_name)) = (file_name_str(file), file_name_str(next)) else {
            break;
        };
        let (Some(_), Some(next_parsed)) = (parse_file_name(name), parse_file_name(next_name))
        else {
            break;
        };
        // A closed file ends where the next one starts.
        let last_seq = next_parsed.first_seq.saturating_sub(1);
        let ended = next_parsed.started;
        let too_many = i < over_count;
        let too_old = keep_for.is_some_and(|d| {
            ended < now_unix.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        });
        if !(too_many || too_old) || !covered(name, last_seq) {
            break;
        }
        out.push(file.clone());
    }
    out
}

fn file_name_str(p: &Path) -> Option<&str> {
    p.file_name().and_then(|n| n.to_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(starts: &[(i64, u64)]) -> Vec<PathBuf> {
        starts
            .iter()
            .map(|(t, s)| {
                let t = time::OffsetDateTime::from_unix_timestamp(*t).unwrap();
                PathBuf::from(super::super::files::file_name(t, *s))
            })
            .collect()
    }

    #[test]
    fn keeps_everything_by_default_and_never_the_current_file() {
        let f = names(&[(100, 1), (200, 10), (300, 20)]);
        assert!(select(&f, &f[2], 1000, None, None, |_, _| true).is_empty());
        let d = select(&f, &f[2], 1000, Some(1), None, |_, _| true);
        assert_eq!(d, f[..2].to_vec());
    }

    #[test]
    fn stops_at_a_file_without_checkpoint() {
        let f = names(&[(100, 1), (200, 10), (300, 20)]);
        let d = select(&f, &f[2], 1000, Some(1), None, |_, seq| seq != 9);
        assert!(d.is_empty());
        let d = select(&f, &f[2], 1000, Some(1), None, |_, seq| seq != 19);
        assert_eq!(d, vec![f[0].clone()]);
    }

    #[test]
    fn by_age_uses_the_end_of_each_file() {
        let f = names(&[(100, 1), (200, 10), (300, 20)]);
        // File 0 ended at 200, file 1 at 300; keep 150 s back from 400 -> only file 0.
        let d = select(
            &f,
            &f[2],
            400,
            None,
            Some(Duration::from_secs(150)),
            |_, _| true,
        );
        assert_eq!(d, vec![f[0].clone()]);
    }
}
