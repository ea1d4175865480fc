//! `--summary`: counts of the matching calls by result, caller access key and target
//! user, printed once the input is over.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde_json::json;

use super::args::Format;
use super::call::Call;
use super::output::Sink;
use super::table::clean;

/// Key for a missing access key or user ID.
const NONE: &str = "(none)";

pub struct Summary {
    format: Format,
    calls: u64,
    by_result: BTreeMap<&'static str, u64>,
    by_access_key: HashMap<String, u64>,
    by_user: HashMap<String, u64>,
}

impl Summary {
    pub fn new(format: Format) -> Summary {
        Summary {
            format,
            calls: 0,
            by_result: BTreeMap::new(),
            by_access_key: HashMap::new(),
            by_user: HashMap::new(),
        }
    }
}

fn bump(map: &mut HashMap<String, u64>, key: &Option<String>) {
    let key = key.as_deref().unwrap_or(NONE);
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// Most frequent first, then by key, so the output is stable.
fn ranked(map: &HashMap<String, u64>) -> Vec<(&str, u64)> {
    let mut v: Vec<_> = map.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

fn section(out: &mut dyn Write, title: &str, rows: &[(&str, u64)]) -> io::Result<()> {
    let width = rows
        .iter()
        .map(|(k, _)| clean(k).chars().count())
        .chain([title.len()])
        .max()
        .unwrap_or(0);
    writeln!(out)?;
    writeln!(out, "{title:<width$}  CALLS")?;
    for (k, n) in rows {
        writeln!(out, "{:<width$}  {n}", clean(k))?;
    }
    Ok(())
}

impl Sink for Summary {
    fn call(&mut self, call: &Call, _out: &mut dyn Write) -> io::Result<()> {
        self.calls += 1;
        *self
            .by_result
            .entry(call.outcome.result.as_str())
            .or_default() += 1;
        bump(&mut self.by_access_key, &call.caller.access_key_id);
        bump(&mut self.by_user, &call.target.user_id);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let by_ak = ranked(&self.by_access_key);
        let by_user = ranked(&self.by_user);
        match self.format {
            Format::Json => {
                let mut results: Vec<_> = self.by_result.iter().map(|(k, n)| (*k, *n)).collect();
                results.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                let obj = |rows: &[(&str, u64)]| {
                    rows.iter()
                        .map(|(k, n)| (k.to_string(), json!(n)))
                        .collect::<serde_json::Map<_, _>>()
                };
                let v = json!({
                    "calls": self.calls,
                    "by_result": obj(&results),
                    "by_access_key_id": obj(&by_ak),
                    "by_user_id": obj(&by_user),
                });
                serde_json::to_writer(&mut *out, &v)?;
                out.write_all(b"\n")
            }
            Format::Table => {
                writeln!(out, "CALLS  {}", self.calls)?;
                let mut results: Vec<_> = self.by_result.iter().map(|(k, n)| (*k, *n)).collect();
                results.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                section(out, "RESULT", &results)?;
                section(out, "CALLER_AK", &by_ak)?;
                section(out, "USER_ID", &by_user)
            }
        }
    }
}
