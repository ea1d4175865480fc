//! `--follow`: keep printing calls as they are written.
//!
//! Polls (every `--poll-interval`, 200 ms) the newest file for appended lines and the
//! directory for new files. When rotation creates a file, the old one is read to its end
//! first (the writer has moved on, so it is complete), then the new ones in order. An
//! unterminated last line waits for its newline. Output is flushed after every poll, so
//! an interrupt (Ctrl-C, SIGTERM: the default action ends the process) loses nothing
//! printed; calls still waiting for their `completed` stage are not printed then. With
//! the hidden `--follow-for`, following ends after that long and pending calls are
//! printed as `unknown`, as at the end of any input.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::engine::Engine;
use super::error::QueryError;
use super::files::{self, AuditFile};
use super::scan::LineScanner;

struct Current {
    path: PathBuf,
    scanner: LineScanner,
}

pub fn run(
    engine: &mut Engine<'_>,
    dir: &Path,
    initial: Vec<AuditFile>,
    poll: Duration,
    follow_for: Option<Duration>,
) -> Result<(), QueryError> {
    // A span too long to represent means: follow until interrupted.
    let deadline = follow_for.and_then(|d| Instant::now().checked_add(d));
    let mut current: Option<Current> = None;
    let mut last_name: Option<String> = None;
    advance(engine, &mut current, &mut last_name, initial)?;
    let mut dir_error = false;
    loop {
        engine.flush()?;
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(poll),
                _ => return Ok(()),
            },
            None => poll,
        };
        std::thread::sleep(wait);
        if let Some(cur) = current.as_mut() {
            engine.scan(&mut cur.scanner, &cur.path, false)?;
        }
        match files::list(dir) {
            Ok(list) => {
                dir_error = false;
                let fresh: Vec<AuditFile> = list
                    .into_iter()
                    .filter(|f| {
                        last_name
                            .as_ref()
                            .is_none_or(|n| name_of(&f.path) > n.as_str())
                    })
                    .collect();
                if !fresh.is_empty() {
                    advance(engine, &mut current, &mut last_name, fresh)?;
                }
            }
            Err(e) => {
                // Say it once, not every poll; keep trying (the directory may come back).
                if !dir_error {
                    engine.warn(format_args!("{}: {e}", dir.display()));
                }
                dir_error = true;
            }
        }
    }
}

/// Finishes the current file, reads every new file but the last, and follows the last.
fn advance(
    engine: &mut Engine<'_>,
    current: &mut Option<Current>,
    last_name: &mut Option<String>,
    fresh: Vec<AuditFile>,
) -> Result<(), QueryError> {
    if let Some(mut cur) = current.take() {
        engine.scan(&mut cur.scanner, &cur.path, true)?;
    }
    let since = engine.filter().range.since;
    let count = fresh.len();
    for (i, f) in fresh.iter().enumerate() {
        *last_name = Some(name_of(&f.path).to_string());
        if i + 1 < count {
            if since.is_some_and(|s| files::ends_before(&fresh, i, s)) {
                continue;
            }
            engine.read_file(&f.path)?;
        } else if let Some(mut scanner) = engine.open(&f.path) {
            engine.scan(&mut scanner, &f.path, false)?;
            *current = Some(Current {
                path: f.path.clone(),
                scanner,
            });
        }
    }
    Ok(())
}

fn name_of(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}
