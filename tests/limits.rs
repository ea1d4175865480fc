//! Issue #6: every user-facing limit, provoked once.
//!
//! `[limits]`: `header_read_timeout` (a slow head and a silent connection are closed while
//! other clients are served), `idle_timeout` (a keep-alive connection between requests), `max_header_bytes` (431), `max_headers` (431),
//! `max_body_bytes` (413 `MAP.0413` by Content-Length, and for a chunked body over it,
//! which never reaches the upstream whole), `max_connections` (a third connection waits for a slot).
//! `[upstream]`: `connect_timeout` (a loopback listener whose accept queue is full drops
//! SYNs), `request_timeout` (504), `pool_idle_timeout` (idle pooled connections closed
//! before the upstream would). Zero for a count or timeout is a configuration error.
//! Connections refused or closed before a request reaches the handler (431, 400 for a
//! malformed head, header and idle timeouts) are counted on `/metrics`.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::echo_upstream::EchoUpstream;
use common::load::{metric, scrape, write_config, Sample};
use common::raw_http::{self, get_keep_alive, parse_response, send};
use common::*;

fn start(upstream: &str, upstream_lines: &str, rest: &str) -> ProxyProcess {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), upstream, "", upstream_lines, rest);
    ProxyProcess::start_with_config(dir, config)
}

fn sim() -> SimulatorProcess {
    SimulatorProcess::start(&["--no-verify"])
}

/// Reads until the peer closes (or `within` passes): what arrived and when it closed.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Option<Duration>, Vec<u8>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < within {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (Some(started.elapsed()), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (Some(started.elapsed()), got),
        }
    }
    (None, got)
}

/// A limit closed the connection neither before `from_ms` nor after `to_ms`.
fn assert_closed_between(closed: Duration, from_ms: u64, to_ms: u64) {
    assert!(
        closed >= Duration::from_millis(from_ms),
        "closed early: {closed:?}"
    );
    assert!(
        closed < Duration::from_millis(to_ms),
        "closed late: {closed:?}"
    );
}

#[test]
fn header_read_timeout_closes_a_slow_head_while_others_are_served() {
    let sim = sim();
    let proxy = start(&sim.url(), "", "[limits]\nheader_read_timeout = \"1s\"");
    let mut slow = TcpStream::connect(&proxy.addr).unwrap();
    let head = format!(
        "GET /v5/mfa-devices HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
        proxy.addr
    );
    let started = Instant::now();
    let mut closed = None;
    let mut answer = Vec::new();
    // One byte every 100 ms: half a head, never finished.
    for (i, byte) in head.bytes().chain(std::iter::repeat(b'a')).enumerate() {
        if slow.write_all(&[byte]).is_err() {
            closed = Some(started.elapsed());
            break;
        }
        if i == 3 {
            // Another client is served meanwhile.
            assert_eq!(raw_http::get(&proxy.addr, "/v5/mfa-devices").0, 200);
        }
        let (gone, got) = read_until_closed(&mut slow, Duration::from_millis(100));
        answer.extend(got);
        if let Some(_after) = gone {
            closed = Some(started.elapsed());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never closed");
    }
    let closed = closed.unwrap();
    println!(
        "slow head closed after {closed:?}, answer {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert_closed_between(closed, 900, 2500);
    if !answer.is_empty() {
        assert_eq!(parse_response(&answer).0, 408);
    }
    assert_eq!(raw_http::get(&proxy.addr, "/v5/mfa-devices").0, 200);
    wait_for_client_errors(&proxy, "header_timeout", 1.0);
}

#[test]
fn header_read_timeout_closes_connections_that_never_begin_a_request() {
    let sim = sim();
    let proxy = start(
        &sim.url(),
        "",
        "[limits]\nheader_read_timeout = \"1s\"\nidle_timeout = \"2s\"",
    );
    // Nothing at all, and the start of the HTTP/2 preface (which the server must read
    // whole to tell HTTP/1 from HTTP/2).
    for (what, first) in [
        ("nothing", &b""[..]),
        ("part of the HTTP/2 preface", b"PRI * HT"),
    ] {
        let mut silent = TcpStream::connect(&proxy.addr).unwrap();
        silent.write_all(first).unwrap();
        let (closed, _) = read_until_closed(&mut silent, Duration::from_secs(4));
        println!("a client that sent {what} was closed after {closed:?}");
        let closed = closed.unwrap_or_else(|| panic!("a client that sent {what} stays open"));
        assert_closed_between(closed, 900, 2500);
    }
    // A keep-alive connection idle after its request is closed after idle_timeout, not
    // after header_read_timeout (hyper's own header timer would have closed it at 1 s).
    let mut idle = TcpStream::connect(&proxy.addr).unwrap();
    assert_eq!(get_keep_alive(&mut idle, &proxy.addr), 200);
    let (closed, _) = read_until_closed(&mut idle, Duration::from_secs(5));
    println!("an idle keep-alive connection was closed after {closed:?}");
    let closed = closed.expect("an idle keep-alive connection stays open");
    assert_closed_between(closed, 1900, 3500);
    // The silent one and the keep-alive one were idle; the half preface is a head that
    // never completed.
    wait_for_client_errors(&proxy, "idle_timeout", 2.0);
    wait_for_client_errors(&proxy, "header_timeout", 1.0);
}

#[test]
fn oversized_head_is_refused_with_431() {
    let sim = sim();
    // hyper's smallest read buffer is 8 KiB.
    let proxy = start(&sim.url(), "", "[limits]\nmax_header_bytes = 8192");
    let request = |filler: usize| {
        format!(
            "GET /v5/mfa-devices HTTP/1.1\r\nHost: {}\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
            proxy.addr,
            "a".repeat(filler)
        )
    };
    assert_eq!(send(&proxy.addr, request(4000).as_bytes()).0, 200);
    assert_refused_with_431(&sim, &proxy, &request(16_000));
}

#[test]
fn too_many_headers_are_refused_with_431() {
    let sim = sim();
    let proxy = start(&sim.url(), "", "[limits]\nmax_headers = 10");
    let request = |n: usize| {
        let fields: String = (0..n).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
        format!(
            "GET /v5/mfa-devices HTTP/1.1\r\nHost: {}\r\n{fields}Connection: close\r\n\r\n",
            proxy.addr
        )
    };
    // Host, Connection and 8 more: 10.
    assert_eq!(send(&proxy.addr, request(8).as_bytes()).0, 200);
    assert_refused_with_431(&sim, &proxy, &request(20));
}

#[test]
fn a_malformed_head_gets_400_and_is_counted() {
    let sim = sim();
    let proxy = start(&sim.url(), "", "");
    let before = sim.stats()["requests"].as_u64().unwrap();
    let request = format!(
        "GET /v5/mfa-devices HTTP/1.1\r\nHost: {}\r\nNot a header line\r\n\r\n",
        proxy.addr
    );
    assert_eq!(send(&proxy.addr, request.as_bytes()).0, 400);
    assert_eq!(sim.stats()["requests"].as_u64().unwrap(), before);
    wait_for_client_errors(&proxy, "malformed", 1.0);
}

/// Waits until `/metrics` counts `n` client connection errors of `kind` (the count is
/// taken when the connection task ends, just after the client sees the close).
fn wait_for_client_errors(proxy: &ProxyProcess, kind: &str, n: f64) {
    let name = "mfa_audit_proxy_client_connection_errors_total";
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = metric(&scrape(&proxy.admin_addr), name, &[("kind", kind)]);
        if got == n {
            return;
        }
        let all: Vec<Sample> = scrape(&proxy.admin_addr)
            .into_iter()
            .filter(|s| s.name == name)
            .collect();
        assert!(
            Instant::now() < deadline,
            "{name}{{kind={kind}}}: {got}, want {n}; all kinds: {all:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The request gets 431 (or a closed connection) and the upstream sees nothing; the
/// refusal is counted on `/metrics`.
fn assert_refused_with_431(sim: &SimulatorProcess, proxy: &ProxyProcess, request: &str) {
    let before = sim.stats()["requests"].as_u64().unwrap();
    let mut stream = TcpStream::connect(&proxy.addr).unwrap();
    let _ = stream.write_all(request.as_bytes());
    let (closed, answer) = read_until_closed(&mut stream, Duration::from_secs(5));
    assert!(closed.is_some(), "connection closed");
    if !answer.is_empty() {
        assert_eq!(parse_response(&answer).0, 431);
    }
    assert_eq!(
        sim.stats()["requests"].as_u64().unwrap(),
        before,
        "not forwarded"
    );
    wait_for_client_errors(proxy, "head_too_large", 1.0);
}

#[test]
fn pass_through_body_over_the_limit_never_reaches_the_upstream_whole() {
    let upstream = EchoUpstream::start();
    let proxy = start(&upstream.url(), "", "[limits]\nmax_body_bytes = 1000");
    let post = |framing: &str, body: &[u8]| {
        let mut request = format!(
            "POST /v5/agencies HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{framing}Connection: close\r\n\r\n",
            proxy.addr
        )
        .into_bytes();
        request.extend_from_slice(body);
        send(&proxy.addr, &request)
    };
    let chunked = |body: &[u8]| {
        let mut out = Vec::new();
        for chunk in body.chunks(300) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    };

    // At the limit: forwarded whole, both framings.
    let fits = vec![b'x'; 1000];
    assert_eq!(post("Content-Length: 1000\r\n", &fits).0, 204);
    assert_eq!(
        post("Transfer-Encoding: chunked\r\n", &chunked(&fits)).0,
        204
    );
    assert_eq!(upstream.received().len(), 2);
    assert!(upstream.received().iter().all(|r| r.body == fits));

    // Declared too large: refused before anything is forwarded.
    let big = vec![b'y'; 2000];
    let (status, _, body) = post("Content-Length: 2000\r\n", &big);
    assert_eq!(status, 413);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error_code"], "MAP.0413");

    // Chunked, so only known too large on the way: cut off, the upstream never gets it
    // whole (and so never answers it); the client is told why.
    let (status, _, body) = post("Transfer-Encoding: chunked\r\n", &chunked(&big));
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error_code"], "MAP.0413");
    assert_eq!(
        upstream.received().len(),
        2,
        "no request over the limit arrived whole"
    );
}

#[test]
fn silent_upstream_times_out_with_504() {
    let addr = silent_upstream();
    let proxy = start(&format!("http://{addr}"), "request_timeout = \"1s\"", "");
    let started = Instant::now();
    let (status, _, body) = raw_http::get(&proxy.addr, "/v5/mfa-devices");
    let took = started.elapsed();
    assert_eq!(status, 504);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error_code"], "MAP.0504");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

/// A loopback listener with a backlog of 0 and nobody accepting: once its accept queue
/// is full, Linux drops further SYNs, so a connect hangs like one to a blackhole.
/// `None` where that cannot be arranged.
fn blackhole() -> Option<(SocketAddr, tokio::runtime::Runtime, Vec<TcpStream>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        socket.listen(0).unwrap()
    });
    let addr = listener.local_addr().unwrap();
    std::mem::forget(listener);
    let mut queued = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => queued.push(s),
            Err(_) => return Some((addr, runtime, queued)),
        }
    }
    None
}

#[test]
fn upstream_connect_timeout() {
    let Some((addr, _runtime, _queued)) = blackhole() else {
        println!("SKIPPED: cannot make a loopback connect hang on this machine");
        return;
    };
    let proxy = start(
        &format!("http://{addr}"),
        "connect_timeout = \"1s\"\nrequest_timeout = \"20s\"",
        "",
    );
    let started = Instant::now();
    let (status, _, body) = raw_http::get(&proxy.addr, "/v5/mfa-devices");
    let took = started.elapsed();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    println!("connect to a full accept queue: {status} after {took:?}: {answer}");
    assert_eq!(status, 502, "cannot be reached");
    assert_eq!(answer["error_code"], "MAP.0502");
    let msg = answer["error_msg"].as_str().unwrap().to_ascii_lowercase();
    assert!(
        msg.contains("deadline") || msg.contains("timed out"),
        "{msg}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn max_connections_makes_a_third_connection_wait() {
    let sim = sim();
    let proxy = start(&sim.url(), "", "[limits]\nmax_connections = 2");
    let mut first = TcpStream::connect(&proxy.addr).unwrap();
    let mut second = TcpStream::connect(&proxy.addr).unwrap();
    assert_eq!(get_keep_alive(&mut first, &proxy.addr), 200);
    assert_eq!(get_keep_alive(&mut second, &proxy.addr), 200);

    // The kernel completes the handshake; the proxy does not take the connection yet.
    let mut third = TcpStream::connect(&proxy.addr).unwrap();
    third
        .write_all(
            format!(
                "GET /v5/mfa-devices HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                proxy.addr
            )
            .as_bytes(),
        )
        .unwrap();
    let (closed, got) = read_until_closed(&mut third, Duration::from_millis(700));
    assert!(
        closed.is_none() && got.is_empty(),
        "the third connection was served"
    );
    // Both open ones are still served.
    assert_eq!(get_keep_alive(&mut second, &proxy.addr), 200);

    drop(first);
    let (closed, got) = read_until_closed(&mut third, Duration::from_secs(5));
    assert!(closed.is_some(), "served once a slot was free");
    assert_eq!(parse_response(&got).0, 200);
}

#[test]
fn idle_pooled_upstream_connections_are_closed_first() {
    // Keeps connections open and answers every request; counts connections and notes
    // when the proxy closes one.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let opened = Arc::new(AtomicUsize::new(0));
    let closed_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    {
        let (opened, closed_at) = (opened.clone(), closed_at.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                opened.fetch_add(1, SeqCst);
                let closed_at = closed_at.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(_) if line == "\r\n" => {
                                let _ = reader.get_mut().write_all(
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
                                );
                            }
                            Ok(_) => {}
                        }
                    }
                    closed_at.lock().unwrap().push(Instant::now());
                });
            }
        });
    }
    // One worker: each worker thread has its own pool, and this test follows one pool.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("http://{addr}"),
        "workers = 1",
        "pool_idle_timeout = \"1s\"",
        "",
    );
    let proxy = ProxyProcess::start_with_config(dir, config);
    let get = || raw_http::get(&proxy.addr, "/v5/mfa-devices").0;
    assert_eq!(get(), 200);
    assert_eq!(get(), 200);
    let last_use = Instant::now();
    assert_eq!(opened.load(SeqCst), 1, "the pooled connection is reused");

    // The proxy closes it by itself after ~1 s idle (the upstream never would).
    let deadline = Instant::now() + Duration::from_secs(4);
    while closed_at.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "idle connection never closed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let idle_for = closed_at.lock().unwrap()[0] - last_use;
    println!("idle pooled connection closed after {idle_for:?}");
    assert!(idle_for >= Duration::from_millis(900), "{idle_for:?}");
    std::thread::sleep(Duration::from_millis(2000).saturating_sub(last_use.elapsed()));
    assert_eq!(get(), 200);
    assert_eq!(opened.load(SeqCst), 2, "a new connection after 2 s idle");
}

#[test]
fn zero_limits_are_configuration_errors() {
    // A proxy with `max_connections = 0` would start, report ready and serve nobody.
    for (section, key) in [
        ("limits", "max_connections = 0"),
        ("limits", "max_headers = 0"),
        ("limits", "max_header_bytes = 0"),
        ("limits", "header_read_timeout = \"0s\""),
        ("upstream", "connect_timeout = \"0s\""),
        ("upstream", "request_timeout = \"0s\""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (upstream, rest) = if section == "limits" {
            ("", format!("[limits]\n{key}"))
        } else {
            (key, String::new())
        };
        let config = write_config(dir.path(), "http://127.0.0.1:9", "", upstream, &rest);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
            .args(["check-config", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = format!("{section}.{}", key.split(' ').next().unwrap());
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&name), "{stderr:?} names {name}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    }
}
