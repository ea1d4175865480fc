//! A small concurrent load client: `concurrency` tasks pull request numbers from a shared
//! counter and send one deletion each (hyper-util's pooled client, keep-alive), recording
//! per request whether an answer arrived, its status and its `X-Audit-Id`.
//!
//! It runs on its own thread and runtime, so a plain `#[test]` can kill or signal the
//! proxy while the load is running and then collect what every request saw.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A request gets no answer after this long (bounded waits everywhere).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What one request saw.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The request number (0-based), also the device number of [`device`].
    pub index: usize,
    /// `None` when no answer arrived (connection refused, reset, timeout).
    pub status: Option<u16>,
    pub audit_id: Option<String>,
    /// Why no answer arrived, or the body of an answer that is not 204.
    pub error: Option<String>,
    /// No answer, and the connection could not even be opened.
    pub connect_failed: bool,
}

impl Answer {
    pub fn answered(&self) -> bool {
        self.status.is_some()
    }
}

/// Device `i`: a distinct 32-character user ID and serial number.
pub fn device(i: usize) -> (String, String) {
    (
        format!("u{i:031}"),
        format!("iam::0123456789:mfa:load-{i:06}"),
    )
}

/// The deletion target of device `i`, encoded as the SDK encodes it.
pub fn delete_target(i: usize) -> String {
    let (user, serial) = device(i);
    format!(
        "/v5/virtual-mfa-devices?serial_number={}&user_id={user}",
        serial.replace(':', "%3A")
    )
}

/// Adds devices `0..n` to a simulator (`POST /__sim/devices`).
pub fn preload_devices(sim_addr: &str, n: usize) {
    let list: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let (user_id, serial_number) = device(i);
            serde_json::json!({ "user_id": user_id, "serial_number": serial_number })
        })
        .collect();
    let body = serde_json::to_vec(&list).unwrap();
    let mut request = format!(
        "POST /__sim/devices HTTP/1.1\r\nHost: {sim_addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let (status, _, answer) = super::raw_http::send(sim_addr, &request);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["added"], n, "{answer}");
}

/// A load running in the background.
pub struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    started: Arc<AtomicUsize>,
    thread: Option<JoinHandle<Vec<Answer>>>,
}

impl Load {
    /// Sends deletions of devices `first..first + total` to `proxy_addr`.
    pub fn start(proxy_addr: &str, first: usize, total: usize, concurrency: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let addr = proxy_addr.to_string();
        let thread = {
            let (stop, answered, started) = (stop.clone(), answered.clone(), started.clone());
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(run(
                        addr,
                        first,
                        total,
                        concurrency,
                        stop,
                        answered,
                        started,
                    ))
            })
        };
        Load {
            stop,
            answered,
            started,
            thread: Some(thread),
        }
    }

    /// Requests answered so far (any status).
    pub fn answered(&self) -> usize {
        self.answered.load(SeqCst)
    }

    /// Waits (bounded) until at least `n` requests were answered.
    pub fn wait_answered(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.answered() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} answers within {within:?}",
                self.answered()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// No new requests start after this; those under way finish (or fail).
    pub fn stop(&self) {
        self.stop.store(true, SeqCst);
    }

    /// Waits for every started request; the answers in request order.
    pub fn join(mut self) -> Vec<Answer> {
        let mut answers = self.thread.take().unwrap().join().expect("load thread");
        answers.sort_by_key(|a| a.index);
        answers
    }

    pub fn requests_started(&self) -> usize {
        self.started.load(SeqCst)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `total` deletions at `concurrency` to completion; the answers in request order.
pub fn run_blocking(
    proxy_addr: &str,
    first: usize,
    total: usize,
    concurrency: usize,
) -> Vec<Answer> {
    Load::start(proxy_addr, first, total, concurrency).join()
}

async fn run(
    addr: String,
    first: usize,
    total: usize,
    concurrency: usize,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    started: Arc<AtomicUsize>,
) -> Vec<Answer> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build_http();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, addr, next, stop, answered, started) = (
            client.clone(),
            addr.clone(),
            next.clone(),
            stop.clone(),
            answered.clone(),
            started.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                if stop.load(SeqCst) {
                    break;
                }
                let n = next.fetch_add(1, SeqCst);
                if n >= total {
                    break;
                }
                started.fetch_add(1, SeqCst);
                let answer = one(&client, &addr, first + n).await;
                if answer.answered() {
                    answered.fetch_add(1, SeqCst);
                }
                mine.push(answer);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("load task"));
    }
    all
}

async fn one(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    addr: &str,
    index: usize,
) -> Answer {
    let request = http::Request::delete(format!("http://{addr}{}", delete_target(index)))
        .header("content-type", "application/json")
        .header("content-length", "0")
        .header(
            "authorization",
            format!(
                "SDK-HMAC-SHA256 Access={}, SignedHeaders=host, Signature={}",
                super::AK,
                "0".repeat(64)
            ),
        )
        .body(Empty::new())
        .unwrap();
    let mut answer = Answer {
        index,
        status: None,
        audit_id: None,
        error: None,
        connect_failed: false,
    };
    let exchange = async {
        let response = client.request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((parts, body))
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Err(_) => answer.error = Some(format!("no answer within {REQUEST_TIMEOUT:?}")),
        Ok(Err(e)) => {
            answer.connect_failed = e
                .downcast_ref::<hyper_util::client::legacy::Error>()
                .is_some_and(|e| e.is_connect());
            answer.error = Some(error_chain(e.as_ref()));
        }
        Ok(Ok((parts, body))) => {
            answer.status = Some(parts.status.as_u16());
            answer.audit_id = parts
                .headers
                .get("x-audit-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if parts.status != http::StatusCode::NO_CONTENT {
                answer.error = Some(String::from_utf8_lossy(&body).into_owned());
            }
        }
    }
    answer
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Writes a proxy configuration into `dir` (audit files in `dir/audit`): `top` goes before
/// the first section, `upstream` into `[upstream]` after `url`, `rest` right after
/// `[audit] dir`: `[audit]` keys first, then whole sections such as
/// `"[limits]\nmax_headers = 5"`. Returns the file's path.
pub fn write_config(
    dir: &std::path::Path,
    upstream_url: &str,
    top: &str,
    upstream: &str,
    rest: &str,
) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\n{top}\n\n[upstream]\nurl = \"{upstream_url}\"\n{upstream}\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n\n[audit]\ndir = \"{}\"\n{rest}\n",
            dir.join("audit").display()
        ),
    )
    .expect("write config");
    path
}

/// `mfa-audit-proxy verify --dir DIR`: panics with its output unless the chain is intact.
pub fn assert_verifies(dir: &std::path::Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
        .arg("verify")
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("verify runs");
    assert!(
        out.status.success(),
        "verify failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `mfa-audit-proxy query --dir DIR`: one merged JSON object per call.
pub fn query_calls(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
        .arg("query")
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("query runs");
    assert!(
        out.status.success(),
        "query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// One sample of the Prometheus text exposition.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// `GET /metrics` on the admin listener, parsed (`# ` comment lines skipped).
pub fn scrape(admin_addr: &str) -> Vec<Sample> {
    let (status, _, body) = super::raw_http::get(admin_addr, "/metrics");
    assert_eq!(status, 200, "/metrics");
    parse_metrics(&String::from_utf8(body).expect("metrics are UTF-8"))
}

pub fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').expect("labels close");
                let labels = inner
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        let (k, v) = l.split_once('=').expect("label=value");
                        (k.to_string(), v.trim_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels)
            }
        };
        samples.push(Sample {
            name,
            labels,
            value: value
                .parse()
                .unwrap_or_else(|_| panic!("value in {line:?}")),
        });
    }
    samples
}

/// The value of the sample named `name` whose labels include all of `labels`
/// (0 when there is none: Prometheus counters start absent).
pub fn metric(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?} is ambiguous: {found:?}"
    );
    found.first().map_or(0.0, |s| s.value)
}
