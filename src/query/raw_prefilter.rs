//! Dropping lines on raw bytes, before any JSON parsing.
//!
//! A filter on a field that both stages of a call carry with the same value (target
//! user and serial number, caller access key and source IP, audit ID) becomes a needle
//! such as `"user_id":"X"`: the writer serializes records with serde_json in compact form
//! (`Entry::to_line`), so a line whose call matches always contains the needle, with the
//! value escaped exactly as serde_json escapes it here. A line without every needle
//! cannot belong to a matching call, whichever stage it is. A needle may also appear in a
//! line that does not match (e.g. inside another field's text): such lines are parsed and
//! filtered precisely afterwards, so the prefilter only ever over-selects.
//!
//! Outcome filters (`--result`, `--request-id`) and the time range are not prefiltered:
//! they are known only from the `completed` stage or the merged call, and dropping a
//! `received` line on their account would lose the call or turn it into a lone record.

use memchr::memmem::Finder;

use super::filter::Filter;

#[derive(Debug, Default)]
pub struct Prefilter {
    /// Needles a line must all contain; the first is the one scanned for.
    needles: Vec<Finder<'static>>,
}

impl Prefilter {
    pub fn new(filter: &Filter) -> Prefilter {
        let fields = [
            ("audit_id", &filter.audit_id),
            ("user_id", &filter.user_id),
            ("serial_number", &filter.serial_number),
            ("access_key_id", &filter.access_key_id),
            ("source_ip", &filter.source_ip),
        ];
        let mut needles: Vec<Vec<u8>> = fields
            .into_iter()
            .filter_map(|(key, value)| value.as_deref().map(|v| needle(key, v)))
            .collect();
        // The longest needle is the likeliest to be rare, and memmem skips faster on it.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Prefilter {
            needles: needles
                .into_iter()
                .map(|n| Finder::new(&n).into_owned())
                .collect(),
        }
    }

    /// The needle to search whole buffers for, if any.
    pub fn scan_needle(&self) -> Option<&Finder<'static>> {
        self.needles.first()
    }

    /// Whether a line (already known to hold the scan needle) holds the others too.
    pub fn rest_match(&self, line: &[u8]) -> bool {
        self.needles.iter().skip(1).all(|n| n.find(line).is_some())
    }
}

/// `"key":<value as serde_json writes it>`.
pub fn needle(key: &str, value: &str) -> Vec<u8> {
    let mut n = Vec::with_capacity(key.len() + value.len() + 6);
    n.push(b'"');
    n.extend_from_slice(key.as_bytes());
    n.extend_from_slice(b"\":");
    // Writing a &str to a Vec cannot fail.
    serde_json::to_writer(&mut n, value).unwrap_or_default();
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{CallRecord, Caller, Entry, Stage, Target};
    use proptest::prelude::*;

    #[test]
    fn needle_escapes_like_serde_json() {
        assert_eq!(
            needle("user_id", "a\"b\\c\u{1}é"),
            r#""user_id":"a\"b\\c\u0001é""#.as_bytes().to_vec()
        );
    }

    proptest! {
        // The prefilter must never drop a line whose fields match.
        #[test]
        fn record_lines_contain_their_needles(user in "\\PC{0,20}", sn in ".{0,40}", ak in "[ -~]{0,20}") {
            let rec = CallRecord::delete_call(
                Stage::Completed,
                "id-1",
                Caller { access_key_id: Some(ak.clone()), ..Caller::default() },
                Target { user_id: Some(user.clone()), serial_number: Some(sn.clone()) },
            );
            let line = Entry::Call(rec).to_line();
            let f = Filter { user_id: Some(user), serial_number: Some(sn), access_key_id: Some(ak), ..Filter::default() };
            let p = Prefilter::new(&f);
            prop_assert!(p.scan_needle().unwrap().find(&line).is_some());
            prop_assert!(p.rest_match(&line));
        }
    }
}
