//! `mfa-audit-proxy query`: print the audited calls, stages merged, filtered (issue #4).
//!
//! Files are read in chain order (see [`files`]); files wholly before `--since` are
//! skipped unread, and reading stops past `--until` once no call is left waiting for its
//! `completed` stage, or an hour past it at most ([`files::COMPLETION_HORIZON`]).
//! Lines are dropped on raw bytes before parsing where that is safe (see
//! [`raw_prefilter`]). Stages merge by `audit_id` into one [`Call`] per call, printed as
//! soon as the call completes: output is in completion order (see [`merge`]). A torn or
//! corrupt line is reported as `file:line: reason` on stderr and skipped; lines the
//! prefilter rules out are not parsed, so their damage goes unreported. Lifecycle records
//! (no `stage`) are skipped.

pub mod args;
pub mod call;
mod engine;
pub mod error;
pub mod files;
pub mod filter;
mod follow;
pub mod merge;
mod output;
pub mod raw_prefilter;
mod scan;
mod summary;
mod table;
pub mod time_range;

use std::io::{BufWriter, Write};
use std::path::PathBuf;

pub use args::{Format, QueryArgs};
pub use call::{Call, CallOutcome};
pub use error::QueryError;

use engine::Engine;
use filter::Filter;

/// Runs a query: matching calls to `out`, problems with the audit files to `err`.
/// Returns an error (exit status 2) only for bad flags or configuration, a missing
/// directory, or output that cannot be written.
pub fn run(args: &QueryArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), QueryError> {
    let filter = Filter::from_args(args, time::OffsetDateTime::now_utc())?;
    let (dir, origin) = audit_dir(args)?;
    let list = files::list(&dir).map_err(|source| QueryError::Dir {
        origin,
        dir: dir.clone(),
        source,
    })?;
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let sink = output::sink_for(args.format, args.summary);
    let max_pending = usize::try_from(args.max_pending).unwrap_or(usize::MAX);
    let mut engine = Engine::new(filter, max_pending, sink, &mut out, err);
    if args.follow {
        follow::run(&mut engine, &dir, list, args.poll_interval, args.follow_for)?;
    } else {
        read_all(&mut engine, &list)?;
    }
    engine.finish()
}

/// `--dir`, else the configuration's `audit.dir` (relative paths are taken from the
/// working directory, as the proxy itself does).
fn audit_dir(args: &QueryArgs) -> Result<(PathBuf, &'static str), QueryError> {
    let dir = crate::config::Config::audit_dir(args.dir.as_deref(), args.config.as_deref())
        .map_err(QueryError::Config)?;
    Ok((
        dir,
        if args.dir.is_some() {
            "--dir"
        } else {
            "audit.dir"
        },
    ))
}

fn read_all(engine: &mut Engine<'_>, list: &[files::AuditFile]) -> Result<(), QueryError> {
    let range = engine.filter().range.clone();
    for (i, f) in list.iter().enumerate() {
        if range.since.is_some_and(|s| files::ends_before(list, i, s)) {
            continue;
        }
        // Later files can only complete calls already waiting, and only for so long.
        if let Some(u) = range.until {
            let horizon = u.checked_add(files::COMPLETION_HORIZON);
            if files::starts_after(f, u)
                && (!engine.has_pending() || horizon.is_some_and(|h| files::starts_after(f, h)))
            {
                break;
            }
        }
        engine.read_file(&f.path)?;
    }
    Ok(())
}
