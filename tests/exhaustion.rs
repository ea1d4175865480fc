//! Resource exhaustion: thousands of idle connections, headers trickled slowly, oversized
//! headers and query strings. Memory stays bounded, the offender is refused or closed,
//! and other clients keep being served. Figures are printed, not timed against.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::raw_http::{self, send};
use common::*;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// A served request: the list passes through to the simulator.
fn served_within(proxy: &ProxyProcess, limit: Duration) -> Duration {
    let started = Instant::now();
    let (status, _, _) = raw_http::get(&proxy.addr, "/v5/mfa-devices");
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(took < limit, "a well-behaved client waited {took:?}");
    took
}

fn proxy_with(sim: &SimulatorProcess, limits: &str) -> ProxyProcess {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n[upstream]\nurl = \"{}\"\n[audit]\ndir = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[limits]\n{limits}\n",
            sim.url(),
            dir.path().join("audit").display()
        ),
    )
    .unwrap();
    ProxyProcess::start_with_config(dir, config)
}

#[test]
fn thousands_of_idle_connections() {
    let sim = SimulatorProcess::start(&["--no-verify"]);
    let proxy = proxy_with(&sim, "header_read_timeout = \"3s\"");
    served_within(&proxy, Duration::from_secs(2));
    let before = rss_kib(proxy.child.id());
    let idle: Vec<TcpStream> = (0..3000)
        .map(|_| TcpStream::connect(&proxy.addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let took = served_within(&proxy, Duration::from_secs(2));
    let during = rss_kib(proxy.child.id());
    println!("3000 idle connections: RSS {before} KiB -> {during} KiB; another client served in {took:?}");
    assert!(
        during - before < 64 * 1024,
        "memory per idle connection stays small"
    );

    // The header read timeout closes them all, without a byte from them.
    std::thread::sleep(Duration::from_secs(4));
    let mut closed = 0;
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 64];
        // EOF or reset: closed by the proxy; a read timeout: still open.
        match s.read(&mut buf) {
            Ok(_) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            Err(_) => {}
        }
    }
    println!("idle connections closed by the proxy: {closed} of 3000");
    assert_eq!(closed, 3000);
    served_within(&proxy, Duration::from_secs(2));
}

#[test]
fn slowly_trickled_headers_are_cut_off() {
    let sim = SimulatorProcess::start(&["--no-verify"]);
    let proxy = proxy_with(&sim, "header_read_timeout = \"2s\"");
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&proxy.addr).unwrap())
        .collect();
    let head = b"GET /v5/mfa-devices HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut cut_off = 0;
    'trickle: for i in 0..40 {
        for s in slow.iter_mut() {
            if s.write_all(&head[i % head.len()..i % head.len() + 1])
                .is_err()
            {
                cut_off += 1;
            }
        }
        if i % 4 == 0 {
            served_within(&proxy, Duration::from_secs(2));
        }
        if started.elapsed() > Duration::from_secs(6) || cut_off > 0 {
            break 'trickle;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    // Each trickler is answered (408 or closed) once the timeout passes.
    let mut refused = 0;
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        refused += 1;
    }
    let took = started.elapsed();
    println!("200 slow clients: all refused or closed after {took:?}");
    assert_eq!(refused, 200);
    assert!(took < Duration::from_secs(12));
    served_within(&proxy, Duration::from_secs(2));
}

#[test]
fn oversized_heads_are_refused() {
    let sim = SimulatorProcess::start(&["--no-verify"]);
    let proxy = proxy_with(&sim, "");
    let before = rss_kib(proxy.child.id());
    for (what, request) in [
        ("a 1 MiB header", format!("GET /v5/mfa-devices HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "a".repeat(1 << 20))),
        ("a 1 MiB query", format!("GET /v5/mfa-devices?q={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(1 << 20))),
        (
            "a 1 MiB deletion query",
            format!("DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(1 << 20)),
        ),
        ("5000 headers", format!("GET /v5/mfa-devices HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n", "X-H: 1\r\n".repeat(5000))),
    ] {
        let mut stream = TcpStream::connect(&proxy.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = stream.write_all(request.as_bytes()); // the proxy may close mid-send
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let status = String::from_utf8_lossy(&answer).split(' ').nth(1).unwrap_or("closed").to_string();
        println!("{what}: {status}");
        assert!(status == "431" || status == "414" || status == "400" || status == "closed", "{what}: {status}");
    }
    let after = rss_kib(proxy.child.id());
    println!("RSS {before} KiB -> {after} KiB");
    assert!(after - before < 32 * 1024);
    assert_eq!(
        sim.stats()["requests"],
        0,
        "nothing oversized reached the upstream"
    );
    served_within(&proxy, Duration::from_secs(2));
    let (status, _, _) = send(
        &proxy.addr,
        b"GET /v5/mfa-devices HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let sim = SimulatorProcess::start(&["--no-verify"]);
    let proxy = proxy_with(&sim, "idle_timeout = \"1s\"");
    let mut stream = TcpStream::connect(&proxy.addr).unwrap();
    stream
        .write_all(b"GET /v5/mfa-devices HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest); // returns at EOF, when the proxy closes
    let took = started.elapsed();
    println!("idle keep-alive connection closed after {took:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[test]
fn idle_http2_connections_are_closed() {
    let sim = SimulatorProcess::start(&["--no-verify"]);
    let proxy = proxy_with(&sim, "header_read_timeout = \"1s\"");
    let mut stream = TcpStream::connect(&proxy.addr).unwrap();
    // The whole HTTP/2 preface and an empty SETTINGS frame, then silence.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(6)))
        .unwrap();
    let started = Instant::now();
    let mut everything = Vec::new();
    let _ = stream.read_to_end(&mut everything); // the server's SETTINGS, then EOF
    let took = started.elapsed();
    println!("idle HTTP/2 connection closed after {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    served_within(&proxy, Duration::from_secs(2));
}
