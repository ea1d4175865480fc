//! Property: whatever the log and the filters, `query` prints exactly the calls a naive
//! model selects, in completion order then pending calls by receipt. This guards the raw
//! prefilter (it must never drop a line whose call matches) and the merge.

#[path = "common/query.rs"]
mod common;

use common::*;
use mfa_audit_proxy::audit::record::{CallResult, Entry};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Gen {
    user: usize,
    ak: usize,
    /// 0: both stages, 1: received only, 2: completed only (rejected).
    kind: u8,
    result: usize,
    /// How many slots later the call completes.
    delay: usize,
}

const RESULTS: [(CallResult, u16, &str); 5] = [
    (CallResult::Success, 204, "success"),
    (CallResult::Denied, 403, "denied"),
    (CallResult::NotFound, 404, "not_found"),
    (CallResult::Failed, 500, "failed"),
    (CallResult::UpstreamError, 502, "upstream_error"),
];

fn gen() -> impl Strategy<Value = Gen> {
    (
        0..3usize,
        0..3usize,
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        0..5usize,
        0..4usize,
    )
        .prop_map(|(user, ak, kind, result, delay)| Gen {
            user,
            ak,
            kind,
            result,
            delay,
        })
}

#[derive(Debug, Clone)]
struct Flt {
    user: Option<usize>,
    ak: Option<usize>,
    result: Option<&'static str>,
    since: Option<u64>,
    request: Option<usize>,
}

fn flt() -> impl Strategy<Value = Flt> {
    (
        proptest::option::of(0..3usize),
        proptest::option::of(0..3usize),
        proptest::option::of(prop_oneof![
            Just("success"),
            Just("denied"),
            Just("rejected"),
            Just("unknown"),
            Just("failed")
        ]),
        proptest::option::of(0..40u64),
        proptest::option::weighted(0.2, 0..20usize),
    )
        .prop_map(|(user, ak, result, since, request)| Flt {
            user,
            ak,
            result,
            since,
            request,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn output_matches_model(calls in proptest::collection::vec(gen(), 0..20), f in flt(), split in 0..40u64) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_str().unwrap();
        // Events: call i is received at slot 2i and completes at 2i + 1 + 2*delay.
        let mut events: Vec<(u64, usize, bool)> = Vec::new();
        for (i, c) in calls.iter().enumerate() {
            let r = 2 * i as u64;
            if c.kind != 2 { events.push((r, i, false)); }
            if c.kind != 1 { events.push((r + 1 + 2 * c.delay as u64, i, true)); }
        }
        events.sort();
        let mut log = Log::new(tmp.path());
        log.rotate("20261203T100000Z");
        let mut rotated = false;
        for &(slot, i, done) in &events {
            // One rotation somewhere, as the writer would.
            if !rotated && slot >= split {
                log.rotate(&format!("20261203T1000{:02}Z", slot));
                rotated = true;
            }
            let c = &calls[i];
            let s = Spec::new(&format!("id{i}"), c.user, c.ak);
            if done {
                let (res, status) = if c.kind == 2 { (CallResult::Rejected, 400) } else { (RESULTS[c.result].0, RESULTS[c.result].1) };
                log.add(completed(&s, res, status, Some(&format!("req{i}"))), &at(slot));
            } else {
                log.add(received(&s), &at(slot));
            }
        }
        // The model.
        let mut want: Vec<(u64, u64, usize)> = Vec::new();
        for (i, c) in calls.iter().enumerate() {
            let r = 2 * i as u64;
            let (time, result, order) = match c.kind {
                0 => (r, RESULTS[c.result].2, (0, r + 1 + 2 * c.delay as u64)),
                1 => (r, "unknown", (1, r)),
                _ => (r + 1 + 2 * c.delay as u64, "rejected", (0, r + 1 + 2 * c.delay as u64)),
            };
            let ok = f.user.is_none_or(|u| u == c.user)
                && f.ak.is_none_or(|a| a == c.ak)
                && f.result.is_none_or(|x| x == result)
                && f.since.is_none_or(|s| time >= s)
                && f.request.is_none_or(|q| q == i && c.kind != 1);
            if ok { want.push((order.0, order.1, i)); }
        }
        want.sort();
        let want: Vec<String> = want.into_iter().map(|w| format!("id{}", w.2)).collect();

        let (u, a, s, q);
        let mut args = vec!["--dir", dir];
        if let Some(x) = f.user { u = user_id(x); args.extend(["--user-id", &u]); }
        if let Some(x) = f.ak { a = Spec::new("", 0, x).ak; args.extend(["--access-key-id", &a]); }
        if let Some(x) = f.result { args.extend(["--result", x]); }
        if let Some(x) = f.since { s = format!("{}Z", &at(x)[..19]); args.extend(["--since", &s]); }
        if let Some(x) = f.request { q = format!("req{x}"); args.extend(["--request-id", &q]); }
        let o = run(&args);
        prop_assert_eq!(o.ids(), want, "{:?} {:?}", args, events);
        prop_assert_eq!(o.err, "");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]
    /// Damaged files never stop a query or panic it: every bad line is reported as
    /// `file:line: reason` and the good ones still come out.
    #[test]
    fn garbage_is_reported_never_fatal(
        junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..8),
        cut in 0..400usize,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_str().unwrap();
        let mut log = Log::new(tmp.path());
        let path = log.rotate("20261203T100000Z");
        let a = Spec::new("a", 1, 1);
        log.add(received(&a), &at(1));
        let mut bad = 0;
        for j in &junk {
            let line: Vec<u8> = j.iter().copied().filter(|b| *b != b'\n').collect();
            if !line.iter().all(u8::is_ascii_whitespace) {
                bad += 1;
            }
            log.raw(&line);
            log.raw(b"\n");
        }
        log.add(completed(&a, CallResult::Success, 204, None), &at(2));
        // A torn last record, cut anywhere.
        let Entry::Call(mut b) = received(&Spec::new("b", 1, 1)) else { unreachable!() };
        b.time = at(3);
        let line = Entry::Call(b).to_line();
        let cut = cut.min(line.len() - 1);
        log.raw(&line[..cut]);
        if cut > 0 && !line[..cut].iter().all(u8::is_ascii_whitespace) {
            bad += 1;
        }
        for flags in [vec![], vec!["--user-id", "u0000000000000000000000000000001"], vec!["--format", "table"]] {
            let mut args = vec!["--dir", dir];
            args.extend(flags.iter().copied());
            let o = run(&args);
            prop_assert!(o.result.is_ok());
            for l in o.err.lines() {
                prop_assert!(l.starts_with(&format!("{}:", path.display())), "{}", l);
            }
            if flags.is_empty() {
                prop_assert_eq!(o.ids(), ["a"]);
                prop_assert_eq!(o.err.lines().count(), bad, "{}", o.err);
            }
        }
    }
}
