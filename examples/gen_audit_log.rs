//! Writes a realistic audit log for the `query` benchmark (bench/query/run.sh):
//! `gen_audit_log DIR [CALLS] [USERS] [FILE_MIB]` (defaults 1 000 000 calls, 1000 users,
//! 64 MiB files). Calls are spread over 7 days from 2026-11-26; about 1% are rejected
//! (one record), 0.1% never complete; the rest have both stages, sometimes interleaved
//! with the next call. Records are chained with SHA-256 as the writer does, and files
//! are named and rotated as the writer does. Deterministic (fixed seed). Writes
//! `DIR/bench.env` with a sample user ID and a one-hour window for the benchmark.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mfa_audit_proxy::audit::record::{
    format_time, CallRecord, CallResult, Caller, Entry, LifecycleRecord, Outcome, Stage, Stamp,
    Target, GENESIS_HASH,
};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::OffsetDateTime;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
    fn alnum(&mut self, len: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(A[self.below(A.len() as u64) as usize]))
            .collect()
    }
}

struct Writer {
    dir: PathBuf,
    out: Option<BufWriter<File>>,
    size: u64,
    limit: u64,
    seq: u64,
    prev: String,
}

impl Writer {
    fn append(&mut self, mut entry: Entry, at: OffsetDateTime) {
        let time = format_time(at);
        entry.stamp(Stamp {
            time: time.clone(),
            seq: self.seq,
            prev_hash: self.prev.clone(),
        });
        let line = entry.to_line();
        if self.out.is_none() || self.size + line.len() as u64 + 1 > self.limit {
            self.rotate(at);
            // The writer opens each file with a lifecycle record.
            let mut rotated = Entry::Lifecycle(LifecycleRecord::new(
                "AuditFileRotated",
                serde_json::json!({"first_seq": self.seq}),
            ));
            rotated.stamp(Stamp {
                time,
                seq: self.seq,
                prev_hash: self.prev.clone(),
            });
            self.write(&rotated.to_line());
            entry.stamp(Stamp {
                time: format_time(at),
                seq: self.seq,
                prev_hash: self.prev.clone(),
            });
            let line = entry.to_line();
            self.write(&line);
        } else {
            self.write(&line);
        }
    }

    fn write(&mut self, line: &[u8]) {
        let out = self.out.as_mut().expect("a file is open");
        out.write_all(line)
            .and_then(|_| out.write_all(b"\n"))
            .expect("write audit file");
        self.size += line.len() as u64 + 1;
        self.prev = hex::encode(Sha256::digest(line));
        self.seq += 1;
    }

    fn rotate(&mut self, at: OffsetDateTime) {
        if let Some(mut out) = self.out.take() {
            out.flush().expect("flush audit file");
        }
        let name = format!(
            "audit-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:020}.jsonl",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            self.seq
        );
        self.out = Some(BufWriter::with_capacity(
            1 << 20,
            File::create(self.dir.join(name)).expect("create audit file"),
        ));
        self.size = 0;
    }
}

struct User {
    id: String,
    serial: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: gen_audit_log DIR [CALLS] [USERS] [FILE_MIB]");
        std::process::exit(2);
    };
    let num = |i: usize, d: u64| args.get(i).map_or(d, |v| v.parse().expect("a number"));
    let (calls, users, mib) = (num(2, 1_000_000), num(3, 1000), num(4, 64));
    let dir = Path::new(dir);
    std::fs::create_dir_all(dir).expect("create directory");

    let mut rng = Rng(0x5eed);
    let accounts: Vec<String> = (0..20).map(|_| rng.hex(32)).collect();
    let users: Vec<User> = (0..users)
        .map(|i| {
            let account = &accounts[(i % 20) as usize];
            User {
                id: rng.alnum(32),
                serial: format!("iam::{account}:mfa:user-{i}"),
            }
        })
        .collect();
    let aks: Vec<(String, String)> = (0..50)
        .map(|_| (format!("HPUA{}", rng.alnum(16).to_uppercase()), rng.hex(32)))
        .collect();
    let ips: Vec<String> = (0..200)
        .map(|i| format!("10.{}.{}.{}", i / 100, i % 100, 10 + i % 7))
        .collect();

    let start = datetime!(2026-11-26 00:00:00 UTC);
    let span_us = 7 * 24 * 3600 * 1_000_000u64;
    let gap = span_us / calls.max(1);
    let mut w = Writer {
        dir: dir.to_path_buf(),
        out: None,
        size: 0,
        limit: mib << 20,
        seq: 1,
        prev: GENESIS_HASH.to_string(),
    };
    let mut t_us = 0u64;
    // Completions waiting for their time: (time, record).
    let mut due: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut waiting: std::collections::HashMap<u64, CallRecord> = Default::default();
    let at = |us: u64| start + time::Duration::microseconds(us as i64);
    for n in 0..calls {
        t_us += 1 + rng.below(2 * gap);
        while let Some(Reverse((due_us, id))) = due.peek().copied() {
            if due_us > t_us {
                break;
            }
            due.pop();
            let rec = waiting.remove(&id).expect("waiting call");
            w.append(Entry::Call(rec), at(due_us));
        }
        let user = &users[rng.below(users.len() as u64) as usize];
        let (ak, domain) = &aks[rng.below(aks.len() as u64) as usize];
        let caller = Caller {
            access_key_id: Some(ak.clone()),
            signature_verified: false,
            security_token: rng.below(10) == 0,
            domain_id: Some(domain.clone()),
            source_ip: Some(ips[rng.below(ips.len() as u64) as usize].clone()),
            source_port: Some(30000 + rng.below(30000) as u16),
            user_agent: Some("huaweicloud-usdk-python/3.1.86".to_string()),
            tls_client_subject: None,
        };
        let target = Target {
            user_id: Some(user.id.clone()),
            serial_number: Some(user.serial.clone()),
        };
        let audit_id = format!(
            "{}-{}-7{}-{}-{}",
            rng.hex(8),
            rng.hex(4),
            rng.hex(3),
            rng.hex(4),
            rng.hex(12)
        );
        let roll = rng.below(1000);
        let mut done =
            CallRecord::delete_call(Stage::Completed, &audit_id, caller.clone(), target.clone());
        if roll < 10 {
            done.outcome = Some(Outcome {
                result: CallResult::Rejected,
                status: 400,
                error_code: Some("MFAPROXY.0400".into()),
                error_msg: Some("serial_number is required".into()),
            });
            done.duration_ms = Some(0.1);
            w.append(Entry::Call(done), at(t_us));
            continue;
        }
        w.append(
            Entry::Call(CallRecord::delete_call(
                Stage::Received,
                &audit_id,
                caller,
                target,
            )),
            at(t_us),
        );
        if roll < 11 {
            continue; // never completes
        }
        let (result, status, code) = match roll {
            11..=50 => (CallResult::Denied, 403, Some("PAP5.0003")),
            51..=80 => (CallResult::NotFound, 404, Some("PAP5.0404")),
            81..=90 => (CallResult::Failed, 500, Some("PAP5.0500")),
            91..=100 => (CallResult::UpstreamError, 504, Some("MFAPROXY.0504")),
            _ => (CallResult::Success, 204, None),
        };
        let dur_us = 20_000 + rng.below(280_000);
        done.outcome = Some(Outcome {
            result,
            status,
            error_code: code.map(str::to_string),
            error_msg: code.map(|_| "The request failed.".to_string()),
        });
        done.request_id = (result != CallResult::UpstreamError).then(|| rng.hex(32));
        done.duration_ms = Some(dur_us as f64 / 1000.0);
        waiting.insert(n, done);
        due.push(Reverse((t_us + dur_us, n)));
    }
    while let Some(Reverse((due_us, id))) = due.pop() {
        let rec = waiting.remove(&id).expect("waiting call");
        w.append(Entry::Call(rec), at(due_us));
    }
    if let Some(mut out) = w.out.take() {
        out.flush().expect("flush audit file");
    }
    let since = at(span_us / 2);
    let until = at(span_us / 2 + 3_600_000_000);
    let env = format!(
        "USER_ID={}\nSINCE={}\nUNTIL={}\n",
        users[7].id,
        format_time(since),
        format_time(until)
    );
    std::fs::write(dir.join("bench.env"), env).expect("write bench.env");
    eprintln!("{} records in {}", w.seq - 1, dir.display());
}
