//! From lines to printed calls: prefilter, parse, merge, filter, print.

use std::io::Write;
use std::path::Path;

use super::call::Call;
use super::error::QueryError;
use super::files;
use super::filter::Filter;
use super::merge::{Completed, Merger};
use super::output::Sink;
use super::raw_prefilter::Prefilter;
use super::scan::{Item, LineScanner, ScanError};
use crate::audit::record::{CallRecord, Stage};

pub struct Engine<'a> {
    prefilter: Prefilter,
    core: Core<'a>,
}

/// Everything the line handler mutates (apart from the prefilter it reads).
struct Core<'a> {
    filter: Filter,
    merger: Merger,
    sink: Box<dyn Sink>,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

impl<'a> Engine<'a> {
    pub fn new(
        filter: Filter,
        max_pending: usize,
        sink: Box<dyn Sink>,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Engine<'a> {
        Engine {
            prefilter: Prefilter::new(&filter),
            core: Core {
                filter,
                merger: Merger::new(max_pending),
                sink,
                out,
                err,
            },
        }
    }

    pub fn filter(&self) -> &Filter {
        &self.core.filter
    }

    /// Whether calls still wait for their `completed` stage.
    pub fn has_pending(&self) -> bool {
        self.core.merger.has_kept()
    }

    /// Reports a problem with the input on stderr; the query goes on.
    pub fn warn(&mut self, message: std::fmt::Arguments<'_>) {
        // Nowhere left to report a failing stderr; the output itself is what matters.
        let _ = writeln!(self.core.err, "{message}");
    }

    /// Opens a file to read; reports (and returns None) when it cannot be opened.
    pub fn open(&mut self, path: &Path) -> Option<LineScanner> {
        match LineScanner::open(path) {
            Ok(s) => Some(s),
            Err(e) => {
                self.warn(format_args!("{}: {e}", path.display()));
                None
            }
        }
    }

    /// Reads a whole file.
    pub fn read_file(&mut self, path: &Path) -> Result<(), QueryError> {
        match self.open(path) {
            Some(mut s) => self.scan(&mut s, path, true),
            None => Ok(()),
        }
    }

    /// Handles the lines appended to `path` since the last scan.
    pub fn scan(
        &mut self,
        scanner: &mut LineScanner,
        path: &Path,
        at_end: bool,
    ) -> Result<(), QueryError> {
        let prefilter = &self.prefilter;
        let core = &mut self.core;
        let result = scanner.scan(prefilter.scan_needle(), at_end, &mut |item| match item {
            Item::Line(offset, line) => {
                if prefilter.rest_match(line) {
                    core.line(path, offset, line)
                } else {
                    Ok(())
                }
            }
            Item::TooLong(offset) => {
                core.report(path, offset, "line too long for a record, skipped");
                Ok(())
            }
        });
        match result {
            Ok(()) => Ok(()),
            Err(ScanError::Stopped(e)) => Err(e),
            Err(ScanError::Read(e)) => {
                self.warn(format_args!(
                    "{}: read error, rest of file skipped: {e}",
                    path.display()
                ));
                Ok(())
            }
        }
    }

    /// Prints everything held so far (before `--follow` waits, and at the end).
    pub fn flush(&mut self) -> Result<(), QueryError> {
        let core = &mut self.core;
        core.sink.flush(core.out).map_err(QueryError::Output)?;
        core.out.flush().map_err(QueryError::Output)
    }

    /// End of input: calls still waiting for their `completed` stage come out as
    /// `unknown`, then the sink's closing output.
    pub fn finish(&mut self) -> Result<(), QueryError> {
        for call in self.core.merger.drain() {
            self.core.emit(&call)?;
        }
        let core = &mut self.core;
        core.sink.finish(core.out).map_err(QueryError::Output)?;
        self.flush()
    }
}

impl Core<'_> {
    fn line(&mut self, path: &Path, offset: u64, line: &[u8]) -> Result<(), QueryError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        match serde_json::from_slice::<CallRecord>(line) {
            Ok(rec) => self.record(rec),
            Err(_) if is_lifecycle(line) => Ok(()),
            Err(e) => {
                self.report(path, offset, &e.to_string());
                Ok(())
            }
        }
    }

    fn record(&mut self, rec: CallRecord) -> Result<(), QueryError> {
        match rec.stage {
            Stage::Received => {
                let keep = self.filter.matches_received(&rec);
                if let Some(evicted) = self.merger.received(rec, keep) {
                    self.emit(&evicted)?;
                }
            }
            Stage::Completed => match self.merger.completed(rec) {
                Completed::Merged(call) | Completed::Lone(call) => self.emit(&call)?,
                Completed::Discarded => {}
            },
        }
        Ok(())
    }

    fn emit(&mut self, call: &Call) -> Result<(), QueryError> {
        if self.filter.matches(call) {
            self.sink.call(call, self.out).map_err(QueryError::Output)?;
        }
        Ok(())
    }

    /// `file:line: reason` on stderr.
    fn report(&mut self, path: &Path, offset: u64, reason: &str) {
        let line = files::line_number(path, offset)
            .map_or_else(|| format!("@{offset}"), |n| n.to_string());
        let _ = writeln!(self.err, "{}:{line}: {reason}", path.display());
    }
}

/// A lifecycle record (start, stop, rotation...): a JSON object without `stage`.
fn is_lifecycle(line: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.as_object().map(|o| !o.contains_key("stage")))
        .unwrap_or(false)
}
