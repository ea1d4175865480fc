//! A minimal, fast upstream for `bench/run`: answers like IAM, and nothing more, so its
//! cost is the same whichever proxy (or none) stands in front of it.
//!
//! - `GET /v5/mfa-devices`: 200, a small JSON list.
//! - `DELETE /v5/virtual-mfa-devices?...`: 204, no body (always: no device table).
//! - `GET /__bench/stats`: request counters as JSON, so the harness can check that the
//!   requests it counted really reached the upstream.
//! - anything else: 404 with an IAM-style error body.
//!
//! Every answer carries an `X-Request-Id` (32 hex digits, as IAM sends).
//!
//! Usage: `bench_upstream [--listen ADDR] [--threads N]`; prints `listening on ADDR`.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const LIST_BODY: &str = concat!(
    r#"{"devices":[{"user_id":"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6","#,
    r#""serial_number":"iam::0123456789abcdef0123456789abcdef:mfa:phone-1","enabled":true}],"#,
    r#""page_info":{"next_marker":null,"current_count":1}}"#
);
const NOT_FOUND_BODY: &str = r#"{"error_code":"APIGW.0101","error_msg":"The API does not exist or has not been published in the environment"}"#;

#[derive(Default)]
struct Counters {
    next_id: AtomicU64,
    list: AtomicU64,
    delete: AtomicU64,
    other: AtomicU64,
}

struct Args {
    listen: SocketAddr,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => {
                args.listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?
            }
            "--threads" => {
                args.threads = value
                    .parse()
                    .map_err(|e| format!("--threads {value}: {e}"))?;
                if args.threads == 0 {
                    return Err("--threads must be at least 1".to_string());
                }
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_upstream: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let result = runtime
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(serve(args.listen)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_upstream: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(listen: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("listen {listen}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {bound}");
        let _ = out.flush();
    }
    let counters = Arc::new(Counters::default());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("bench_upstream: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let counters = counters.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let answer = answer(&request, &counters);
                async move { Ok::<_, Infallible>(answer) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(request: &Request<Incoming>, counters: &Counters) -> Response<Full<Bytes>> {
    let id = counters.next_id.fetch_add(1, Ordering::Relaxed);
    let (status, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/v5/mfa-devices") => {
            counters.list.fetch_add(1, Ordering::Relaxed);
            (StatusCode::OK, Bytes::from_static(LIST_BODY.as_bytes()))
        }
        (&Method::DELETE, "/v5/virtual-mfa-devices") => {
            counters.delete.fetch_add(1, Ordering::Relaxed);
            (StatusCode::NO_CONTENT, Bytes::new())
        }
        (&Method::GET, "/__bench/stats") => {
            let stats = format!(
                r#"{{"list":{},"delete":{},"other":{}}}"#,
                counters.list.load(Ordering::Relaxed),
                counters.delete.load(Ordering::Relaxed),
                counters.other.load(Ordering::Relaxed)
            );
            (StatusCode::OK, Bytes::from(stats))
        }
        _ => {
            counters.other.fetch_add(1, Ordering::Relaxed);
            (
                StatusCode::NOT_FOUND,
                Bytes::from_static(NOT_FOUND_BODY.as_bytes()),
            )
        }
    };
    let has_body = !body.is_empty();
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("{id:032x}")) {
        headers.insert("x-request-id", value);
    }
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
    }
    response
}
