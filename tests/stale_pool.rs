//! Pooled upstream connections: a request on a connection the upstream already closed is
//! retried on a fresh one (it provably never reached the upstream), while a request the
//! upstream received and then dropped is never sent twice, nor is one whose client left
//! while it was upstream.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::raw_http::{header, send};
use common::*;

/// Reads one request head (no body) from a connection; `None` at EOF.
fn read_head(reader: &mut BufReader<std::net::TcpStream>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            return Some(head);
        }
        head.push_str(&line);
    }
}

#[test]
fn closed_pooled_connection_is_retried_only_when_the_request_never_left() {
    // Answers each request with keep-alive, then closes the connection shortly after: the
    // proxy's pooled connection is stale by the time the next request comes.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = upstream.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in upstream.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                if read_head(&mut reader).is_some() {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    let _ = writer.write_all(
                        format!("HTTP/1.1 204 No Content\r\nX-Request-Id: r{n}\r\n\r\n").as_bytes(),
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
    });
    let proxy = ProxyProcess::start(&format!("http://{addr}"), "");
    let delete = format!(
        "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number=s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    for round in 1..=3 {
        let (status, headers, _) = send(&proxy.addr, delete.as_bytes());
        assert_eq!(
            status, 204,
            "round {round}: a stale pooled connection is not the client's problem"
        );
        let records = call_records(&proxy.audit_dir(), header(&headers, "x-audit-id").unwrap());
        assert_eq!(records[1]["outcome"]["result"], "success");
        std::thread::sleep(Duration::from_millis(400));
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "each deletion reached the upstream exactly once"
    );
}

#[test]
fn a_request_the_upstream_received_is_not_sent_again() {
    // Reads the request, then closes without answering.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = upstream.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in upstream.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            if read_head(&mut reader).is_some() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let proxy = ProxyProcess::start(&format!("http://{addr}"), "");
    let delete = format!(
        "DELETE /v5/virtual-mfa-devices?user_id={USER_ID}&serial_number=s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (status, headers, _) = send(&proxy.addr, delete.as_bytes());
    assert_eq!(status, 502);
    let records = call_records(&proxy.audit_dir(), header(&headers, "x-audit-id").unwrap());
    assert_eq!(records[1]["outcome"]["result"], "upstream_error");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "a deletion that reached the upstream is never retried"
    );
}

#[test]
fn a_request_whose_client_left_is_not_sent_again_and_the_next_is_served() {
    // Answers every request after 300 ms, keeping the connection alive.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = upstream.local_addr().unwrap();
    let (requests, connections) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (seen, opened) = (requests.clone(), connections.clone());
    std::thread::spawn(move || {
        for stream in upstream.incoming().flatten() {
            opened.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                while read_head(&mut reader).is_some() {
                    let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                    std::thread::sleep(Duration::from_millis(300));
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nX-Request-Id: r{n}\r\nContent-Length: 2\r\n\r\n{{}}"
                    );
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let proxy = ProxyProcess::start(&format!("http://{addr}"), "");
    let list = format!(
        "GET /v5/mfa-devices HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        proxy.addr
    );

    let mut leaving = std::net::TcpStream::connect(&proxy.addr).unwrap();
    leaving.write_all(list.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(leaving);
    // The upstream answers the abandoned request to nobody (hyper then closes that
    // connection, as it cannot tell how much of an unwanted answer is left).
    std::thread::sleep(Duration::from_millis(500));

    let (status, _, body) = send(&proxy.addr, list.as_bytes());
    assert_eq!(status, 200);
    assert_eq!(body, b"{}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "the abandoned request was not sent again"
    );
    assert!(connections.load(Ordering::SeqCst) <= 2);
}
