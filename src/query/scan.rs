//! Reading an audit file line by line, ripgrep-style: big reads into one buffer, and with
//! a needle, memmem over the whole buffer so lines without it are never looked at.
//!
//! A scanner keeps its place, so `--follow` calls `scan` again to get appended lines. Line
//! numbers are not counted while scanning (it would cost a pass over every byte); lines
//! are identified by byte offset and numbered only when one has to be reported.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memchr::memmem::Finder;

use super::error::QueryError;

const READ_SIZE: usize = 1 << 20;
/// A longer "line" is not a record: it is reported and skipped without holding it all.
const MAX_LINE: usize = 16 << 20;

/// What the scanner hands out.
pub enum Item<'a> {
    /// A line (without its newline) at this byte offset.
    Line(u64, &'a [u8]),
    /// A line at this byte offset longer than `MAX_LINE`, skipped.
    TooLong(u64),
}

/// Why a scan stopped early.
pub enum ScanError {
    /// The file could not be read.
    Read(io::Error),
    /// The line handler gave up (writing the output failed).
    Stopped(QueryError),
}

pub struct LineScanner {
    file: File,
    buf: Vec<u8>,
    /// First byte not yet handed out.
    start: usize,
    /// End of the data read.
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    /// Inside an over-long line, dropping bytes up to its newline.
    skipping: bool,
}

impl LineScanner {
    pub fn open(path: &Path) -> io::Result<LineScanner> {
        Ok(LineScanner {
            file: File::open(path)?,
            buf: vec![0; 2 * READ_SIZE],
            start: 0,
            end: 0,
            base: 0,
            skipping: false,
        })
    }

    /// Hands every complete line up to the current end of the file to `on_item` (only
    /// lines holding `needle`, when given). With `at_end` (the file will not grow) a last
    /// line without a newline is handed out too; otherwise it waits for its newline.
    pub fn scan(
        &mut self,
        needle: Option<&Finder<'_>>,
        at_end: bool,
        on_item: &mut dyn FnMut(Item<'_>) -> Result<(), QueryError>,
    ) -> Result<(), ScanError> {
        loop {
            self.make_room(on_item)?;
            let n = match self.file.read(&mut self.buf[self.end..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ScanError::Read(e)),
            };
            if n == 0 {
                if at_end {
                    if self.start < self.end && !self.skipping {
                        let tail = &self.buf[self.start..self.end];
                        let wanted = needle.is_none_or(|f| f.find(tail).is_some());
                        if wanted {
                            on_item(Item::Line(self.base + self.start as u64, tail))
                                .map_err(ScanError::Stopped)?;
                        }
                    }
                    self.skipping = false;
                    self.base += self.end as u64;
                    self.start = 0;
                    self.end = 0;
                }
                return Ok(());
            }
            let fresh = self.end;
            self.end += n;
            if self.skipping {
                match memchr::memchr(b'\n', &self.buf[fresh..self.end]) {
                    Some(p) => {
                        self.start = fresh + p + 1;
                        self.skipping = false;
                    }
                    None => {
                        self.start = self.end;
                        continue;
                    }
                }
            }
            // Only the fresh bytes can end a line that was not complete before.
            let from = fresh.max(self.start);
            if let Some(last) = memchr::memrchr(b'\n', &self.buf[from..self.end]) {
                let stop = from + last + 1;
                let block = &self.buf[self.start..stop];
                lines(block, self.base + self.start as u64, needle, on_item)
                    .map_err(ScanError::Stopped)?;
                self.start = stop;
            }
        }
    }

    /// Moves the unfinished line to the front, growing the buffer for long lines and
    /// giving up on over-long ones.
    fn make_room(
        &mut self,
        on_item: &mut dyn FnMut(Item<'_>) -> Result<(), QueryError>,
    ) -> Result<(), ScanError> {
        if self.buf.len() - self.end >= READ_SIZE {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end >= READ_SIZE {
            return Ok(());
        }
        if self.end >= MAX_LINE {
            on_item(Item::TooLong(self.base)).map_err(ScanError::Stopped)?;
            self.base += self.end as u64;
            self.end = 0;
            self.skipping = true;
        } else {
            self.buf.resize(self.end + READ_SIZE, 0);
        }
        Ok(())
    }
}

/// Hands out the lines of `block` (which ends with a newline) that hold `needle`.
fn lines(
    block: &[u8],
    offset: u64,
    needle: Option<&Finder<'_>>,
    on_item: &mut dyn FnMut(Item<'_>) -> Result<(), QueryError>,
) -> Result<(), QueryError> {
    let mut s = 0;
    match needle {
        None => {
            for nl in memchr::memchr_iter(b'\n', block) {
                if nl > s {
                    on_item(Item::Line(offset + s as u64, &block[s..nl]))?;
                }
                s = nl + 1;
            }
        }
        Some(f) => {
            while let Some(h) = f.find(&block[s..]) {
                let h = s + h;
                let ls = memchr::memrchr(b'\n', &block[s..h]).map_or(s, |p| s + p + 1);
                let le = memchr::memchr(b'\n', &block[h..]).map_or(block.len(), |p| h + p);
                on_item(Item::Line(offset + ls as u64, &block[ls..le]))?;
                s = le + 1;
                if s >= block.len() {
                    break;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(
        sc: &mut LineScanner,
        needle: Option<&Finder<'_>>,
        at_end: bool,
    ) -> Vec<(u64, String)> {
        let mut got = Vec::new();
        let r = sc.scan(needle, at_end, &mut |item| {
            match item {
                Item::Line(o, l) => got.push((o, String::from_utf8_lossy(l).into_owned())),
                Item::TooLong(o) => got.push((o, "<too long>".into())),
            }
            Ok(())
        });
        assert!(r.is_ok());
        got
    }

    #[test]
    fn lines_offsets_and_needles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"one\n\ntwo x\nthree\nfour x").unwrap();
        let mut sc = LineScanner::open(&p).unwrap();
        assert_eq!(
            collect(&mut sc, None, false),
            [(0, "one".into()), (5, "two x".into()), (11, "three".into())]
        );
        // The unterminated tail waits for its newline, then comes out whole.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"ty\n").unwrap();
        assert_eq!(collect(&mut sc, None, false), [(17, "four xty".into())]);

        let mut sc = LineScanner::open(&p).unwrap();
        let x = Finder::new("x");
        assert_eq!(
            collect(&mut sc, Some(&x), true),
            [(5, "two x".into()), (17, "four xty".into())]
        );
    }

    #[test]
    fn tail_without_newline_at_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"a\n{\"torn").unwrap();
        let mut sc = LineScanner::open(&p).unwrap();
        assert_eq!(
            collect(&mut sc, None, true),
            [(0, "a".into()), (2, "{\"torn".into())]
        );
    }

    #[test]
    fn long_lines_cross_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let long = "y".repeat(3 * READ_SIZE);
        std::fs::write(&p, format!("a\n{long}\nb\n")).unwrap();
        let mut sc = LineScanner::open(&p).unwrap();
        let got = collect(&mut sc, None, true);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].1.len(), long.len());
        assert_eq!(got[2], ((long.len() + 3) as u64, "b".into()));
    }
}
