//! `--format table`: aligned columns for people.
//!
//! Rows are printed as calls arrive (the table streams, and works with `--follow`), so
//! columns have fixed widths fitting the usual values; a longer value pushes the rest of
//! its row right rather than being cut. Control characters in values are escaped so a
//! crafted serial number cannot drive the terminal.

use std::io::{self, Write};

use super::call::Call;
use super::output::Sink;

/// Header and width of each column.
const COLUMNS: [(&str, usize); 8] = [
    ("TIME", 27),
    ("RESULT", 14),
    ("STATUS", 6),
    ("USER_ID", 32),
    ("SERIAL_NUMBER", 44),
    ("CALLER_AK", 20),
    ("SOURCE_IP", 15),
    ("REQUEST_ID", 0),
];

#[derive(Default)]
pub struct Table {
    header_done: bool,
}

impl Table {
    fn header(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            let cells = COLUMNS.map(|(h, _)| h.to_string());
            row(&cells, out)?;
        }
        Ok(())
    }
}

impl Sink for Table {
    fn call(&mut self, call: &Call, out: &mut dyn Write) -> io::Result<()> {
        self.header(out)?;
        let opt = |v: &Option<String>| v.as_deref().map_or("-".to_string(), clean);
        let cells = [
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
        row(&cells, out)
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.header(out)
    }
}

fn row(cells: &[String; 8], out: &mut dyn Write) -> io::Result<()> {
    let mut line = String::with_capacity(200);
    for (cell, (_, width)) in cells.iter().zip(COLUMNS) {
        if !line.is_empty() {
            line.push_str("  ");
        }
        line.push_str(cell);
        let shown = cell.chars().count();
        if shown < width {
            line.extend(std::iter::repeat_n(' ', width - shown));
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// The value with control characters (and the escape-heavy rest of non-printing
/// Unicode formatting marks kept simple: only controls) escaped, and spaces kept.
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
