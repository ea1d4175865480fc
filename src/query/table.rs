//! `--format table`: aligned columns for people.
//!
//! Column widths come from the first rows (up to 1000, or all of them when fewer, or
//! those printed before `--follow` first waits): those rows are held back, measured, then
//! printed; later rows use the same widths, and a longer value pushes the rest of its row
//! right rather than being cut. Control characters in values are escaped so a crafted
//! serial number cannot drive the terminal.

use std::io::{self, Write};

use super::call::Call;
use super::output::Sink;

const HEADERS: [&str; 8] = [
    "TIME",
    "RESULT",
    "STATUS",
    "USER_ID",
    "SERIAL_NUMBER",
    "CALLER_AK",
    "SOURCE_IP",
    "REQUEST_ID",
];
/// Rows measured before the widths are fixed.
const MEASURED_ROWS: usize = 1000;

type Row = [String; 8];

#[derive(Default)]
pub struct Table {
    held: Vec<Row>,
    widths: Option<[usize; 8]>,
}

impl Table {
    /// Fixes the widths from the rows held so far and prints them under the header.
    fn settle(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.widths.is_some() {
            return Ok(());
        }
        let mut widths = HEADERS.map(str::len);
        for row in &self.held {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        self.widths = Some(widths);
        print_row(&HEADERS.map(str::to_string), &widths, out)?;
        for row in std::mem::take(&mut self.held) {
            print_row(&row, &widths, out)?;
        }
        Ok(())
    }
}

impl Sink for Table {
    fn call(&mut self, call: &Call, out: &mut dyn Write) -> io::Result<()> {
        let opt = |v: &Option<String>| v.as_deref().map_or("-".to_string(), clean);
        let row = [
            clean(&call.time),
            call.outcome.result.as_str().to_string(),
            call.outcome
                .status
                .map_or("-".to_string(), |s| s.to_string()),
            opt(&call.target.user_id),
            opt(&call.target.serial_number),
            opt(&call.caller.access_key_id),
            opt(&call.caller.source_ip),
            opt(&call.request_id),
        ];
        match self.widths {
            Some(widths) => print_row(&row, &widths, out),
            None => {
                self.held.push(row);
                if self.held.len() >= MEASURED_ROWS {
                    self.settle(out)?;
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        self.settle(out)
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.settle(out)
    }
}

fn print_row(cells: &Row, widths: &[usize; 8], out: &mut dyn Write) -> io::Result<()> {
    let mut line = String::with_capacity(200);
    for (cell, width) in cells.iter().zip(widths) {
        if !line.is_empty() {
            line.push_str("  ");
        }
        line.push_str(cell);
        let shown = cell.chars().count();
        if shown < *width {
            line.extend(std::iter::repeat_n(' ', width - shown));
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// The value with control characters escaped.
pub fn clean(v: &str) -> String {
    if !v.chars().any(char::is_control) {
        return v.to_string();
    }
    v.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(
            clean("iam::1:mfa:\u{1b}[31mx\n"),
            "iam::1:mfa:\\u{1b}[31mx\\n"
        );
        assert_eq!(clean("plain é"), "plain é");
    }
}
