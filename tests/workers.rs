//! Worker threads (`workers`): each serves the connections it is handed, with its own
//! upstream connection pool, and a new connection goes to the worker with the fewest.

mod common;

use std::net::TcpStream;

use common::echo_upstream::EchoUpstream;
use common::load::write_config;
use common::raw_http::get_keep_alive;
use common::*;

fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn each_worker_has_its_own_pool_and_connections_spread_over_the_workers() {
    for workers in [1usize, 2, 3] {
        let upstream = EchoUpstream::start();
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &upstream.url(),
            &format!("workers = {workers}"),
            "",
            "",
        );
        let mut proxy = ProxyProcess::start_with_config(dir, config);
        let names = thread_names(proxy.child.id());
        for i in 0..workers {
            assert!(names.contains(&format!("worker-{i}")), "{names:?}");
        }
        assert!(!names.contains(&format!("worker-{workers}")), "{names:?}");

        // Two client connections open at once go to two workers when there are two or
        // more. Requests taken in turn, never at the same time, reuse one pooled upstream
        // connection per worker: one in all with one worker, two with more.
        let mut a = TcpStream::connect(&proxy.addr).unwrap();
        let mut b = TcpStream::connect(&proxy.addr).unwrap();
        for _ in 0..3 {
            assert_eq!(get_keep_alive(&mut a, &proxy.addr), 204);
            assert_eq!(get_keep_alive(&mut b, &proxy.addr), 204);
        }
        assert_eq!(
            upstream.connections_opened(),
            workers.min(2),
            "upstream connections with {workers} worker(s)"
        );

        assert!(proxy.terminate().success(), "{}", proxy.stderr());
        let started = audit_records(&proxy.audit_dir())
            .into_iter()
            .find(|r| r["event"] == "ProxyStarted")
            .expect("a start record");
        assert_eq!(started["details"]["workers"], workers, "{started}");
    }
}

#[test]
fn zero_workers_means_one_per_core() {
    let upstream = EchoUpstream::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &upstream.url(), "workers = 0", "", "");
    let mut proxy = ProxyProcess::start_with_config(dir, config);
    let cores = std::thread::available_parallelism().unwrap().get();
    let names = thread_names(proxy.child.id());
    let workers = names.iter().filter(|n| n.starts_with("worker-")).count();
    assert_eq!(workers, cores, "{names:?}");
    assert!(proxy.terminate().success(), "{}", proxy.stderr());
}
