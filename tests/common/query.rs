//! Audit logs for the `query` tests, written with the shared record types and a real
//! hash chain, independent of the audit writer's implementation.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Parser;
use mfa_audit_proxy::audit::record::{
    CallRecord, CallResult, Caller, Entry, LifecycleRecord, Outcome, Stage, Stamp, Target,
    GENESIS_HASH,
};
use mfa_audit_proxy::query::{self, QueryArgs, QueryError};
use sha2::{Digest, Sha256};

/// Who calls whom.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: String,
    pub user: String,
    pub sn: String,
    pub ak: String,
    pub ip: String,
}

impl Spec {
    /// A call whose fields all derive from `n` and the given user/AK indexes.
    pub fn new(id: &str, user: usize, ak: usize) -> Spec {
        Spec {
            id: id.to_string(),
            user: user_id(user),
            sn: format!("iam::0123456789abcdef0123456789abcdef:mfa:dev{user}"),
            ak: format!("AK{ak:018}"),
            ip: format!("10.0.0.{}", ak % 250 + 1),
        }
    }
}

pub fn user_id(n: usize) -> String {
    format!("u{n:031}")
}

pub fn received(s: &Spec) -> Entry {
    let caller = Caller {
        access_key_id: Some(s.ak.clone()),
        source_ip: Some(s.ip.clone()),
        source_port: Some(40000),
        user_agent: Some("huaweicloud-sdk-python/3.1".into()),
        ..Caller::default()
    };
    let target = Target {
        user_id: Some(s.user.clone()),
        serial_number: Some(s.sn.clone()),
    };
    Entry::Call(CallRecord::delete_call(
        Stage::Received,
        &s.id,
        caller,
        target,
    ))
}

pub fn completed(s: &Spec, result: CallResult, status: u16, request_id: Option<&str>) -> Entry {
    let Entry::Call(mut r) = received(s) else {
        unreachable!()
    };
    r.stage = Stage::Completed;
    r.outcome = Some(Outcome {
        result,
        status,
        error_code: (status >= 400).then(|| "PAP5.0001".to_string()),
        error_msg: (status >= 400).then(|| "nope".to_string()),
    });
    r.request_id = request_id.map(str::to_string);
    r.duration_ms = Some(12.5);
    Entry::Call(r)
}

pub fn lifecycle(event: &str) -> Entry {
    Entry::Lifecycle(LifecycleRecord::new(
        event,
        serde_json::json!({"version": "test"}),
    ))
}

/// `2026-12-03T10:MM:SS.000000Z` from seconds after 10:00.
pub fn at(secs: u64) -> String {
    format!(
        "2026-12-03T{:02}:{:02}:{:02}.000000Z",
        10 + secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Writes audit files as the writer names them, chaining hashes across files.
pub struct Log {
    pub dir: PathBuf,
    file: Option<(PathBuf, File)>,
    pub seq: u64,
    prev_hash: String,
}

impl Log {
    pub fn new(dir: &Path) -> Log {
        Log {
            dir: dir.to_path_buf(),
            file: None,
            seq: 1,
            prev_hash: GENESIS_HASH.into(),
        }
    }

    /// Starts a new file; `start` like `20261203T100000Z`.
    pub fn rotate(&mut self, start: &str) -> PathBuf {
        let path = self
            .dir
            .join(format!("audit-{start}-{:020}.jsonl", self.seq));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        self.file = Some((path.clone(), file));
        path
    }

    pub fn path(&self) -> PathBuf {
        self.file.as_ref().unwrap().0.clone()
    }

    /// Appends a record stamped with `time`; returns its seq.
    pub fn add(&mut self, mut entry: Entry, time: &str) -> u64 {
        let seq = self.seq;
        entry.stamp(Stamp {
            time: time.to_string(),
            seq,
            prev_hash: self.prev_hash.clone(),
        });
        let line = entry.to_line();
        self.prev_hash = hex::encode(Sha256::digest(&line));
        self.raw(&line);
        self.raw(b"\n");
        self.seq += 1;
        seq
    }

    /// Bytes as they are, e.g. a torn line.
    pub fn raw(&mut self, bytes: &[u8]) {
        let f = &mut self.file.as_mut().expect("rotate first").1;
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    q: QueryArgs,
}

pub fn parse(args: &[&str]) -> Result<QueryArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("query").chain(args.iter().copied())).map(|c| c.q)
}

pub struct Output {
    pub result: Result<(), QueryError>,
    pub out: String,
    pub err: String,
}

impl Output {
    /// The printed calls, as JSON.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        assert!(self.result.is_ok(), "{:?}", self.result);
        self.out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn ids(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| c["audit_id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Runs `query` with these flags, through the library.
pub fn run(args: &[&str]) -> Output {
    let args = parse(args).unwrap_or_else(|e| panic!("{e}"));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = query::run(&args, &mut out, &mut err);
    Output {
        result,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}
