//! Where matching calls go: JSON Lines, a table, or a summary.

use std::io::{self, Write};

use super::args::Format;
use super::call::Call;
use super::summary::Summary;
use super::table::Table;

pub trait Sink {
    /// One matching call.
    fn call(&mut self, call: &Call, out: &mut dyn Write) -> io::Result<()>;
    /// Output is about to wait (`--follow`): print anything held back.
    fn flush(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// The input is over.
    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()>;
}

pub fn sink_for(format: Format, summary: bool) -> Box<dyn Sink> {
    match (summary, format) {
        (true, format) => Box::new(Summary::new(format)),
        (false, Format::Json) => Box::new(JsonLines),
        (false, Format::Table) => Box::new(Table::default()),
    }
}

/// One JSON object per line (the merged shape of [`Call`]).
pub struct JsonLines;

impl Sink for JsonLines {
    fn call(&mut self, call: &Call, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *out, call)?;
        out.write_all(b"\n")
    }

    fn finish(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}
