//! `query --follow`: appended lines, a line written in two pieces, and rotation.

#[path = "common/query.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use mfa_audit_proxy::audit::record::CallResult;
use mfa_audit_proxy::query;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn ids(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!(
                    "{}:{}",
                    v["audit_id"].as_str().unwrap(),
                    v["outcome"]["result"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Waits until `n` calls are printed.
    fn wait_for(&self, n: usize) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let ids = self.ids();
            if ids.len() >= n || t0.elapsed() > Duration::from_secs(10) {
                return ids;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn follows_appends_and_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();
    let mut log = Log::new(tmp.path());
    log.rotate("20261203T100000Z");
    let [a, b, c, d, e, g] = ["a", "b", "c", "d", "e", "g"].map(|id| Spec::new(id, 1, 1));
    log.add(received(&a), &at(1));
    log.add(completed(&a, CallResult::Success, 204, None), &at(2));
    log.add(received(&b), &at(3));

    let (out, err) = (Shared::default(), Shared::default());
    let args = parse(&[
        "--dir",
        &dir,
        "--follow",
        "--follow-for",
        "4s",
        "--poll-interval",
        "50ms",
        "--user-id",
        &user_id(1),
    ])
    .unwrap();
    let worker = {
        let (mut out, mut err) = (out.clone(), err.clone());
        thread::spawn(move || query::run(&args, &mut out, &mut err))
    };
    // Existing calls are printed first (b waits for its completion).
    assert_eq!(out.wait_for(1), ["a:success"]);

    // A line written in two pieces is read once whole.
    let line = {
        let mut e = completed(&b, CallResult::Denied, 403, Some("req-b"));
        e.stamp(mfa_audit_proxy::audit::record::Stamp {
            time: at(4),
            seq: log.seq,
            prev_hash: "0".repeat(64),
        });
        e.to_line()
    };
    log.raw(&line[..40]);
    thread::sleep(Duration::from_millis(200));
    log.raw(&line[40..]);
    log.raw(b"\n");
    log.seq += 1;
    assert_eq!(out.wait_for(2), ["a:success", "b:denied"]);

    // The old file's tail and a new file appear within one poll: the old tail comes first.
    log.add(received(&c), &at(5));
    log.add(completed(&c, CallResult::Success, 204, None), &at(6));
    log.add(received(&d), &at(7));
    log.rotate("20261203T100100Z");
    log.add(lifecycle("AuditFileRotated"), &at(60));
    log.add(completed(&d, CallResult::NotFound, 404, None), &at(61));
    log.add(received(&e), &at(62));
    assert_eq!(
        out.wait_for(4),
        ["a:success", "b:denied", "c:success", "d:not_found"]
    );

    // Another rotation; a call still open when following ends is shown as unknown.
    log.rotate("20261203T100200Z");
    log.add(completed(&e, CallResult::Success, 204, None), &at(121));
    log.add(received(&g), &at(122));
    let result = worker.join().unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        out.ids(),
        [
            "a:success",
            "b:denied",
            "c:success",
            "d:not_found",
            "e:success",
            "g:unknown"
        ]
    );
    assert!(err.0.lock().unwrap().is_empty());
}

#[test]
fn follow_waits_for_the_first_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();
    let out = Shared::default();
    let args = parse(&[
        "--dir",
        &dir,
        "--follow",
        "--follow-for",
        "2s",
        "--poll-interval",
        "50ms",
    ])
    .unwrap();
    let worker = {
        let mut out = out.clone();
        thread::spawn(move || query::run(&args, &mut out, &mut std::io::sink()))
    };
    thread::sleep(Duration::from_millis(200));
    let mut log = Log::new(tmp.path());
    log.rotate("20261203T100000Z");
    let a = Spec::new("a", 1, 1);
    log.add(completed(&a, CallResult::Rejected, 400, None), &at(1));
    assert_eq!(out.wait_for(1), ["a:rejected"]);
    assert!(worker.join().unwrap().is_ok());
}
