//! Shared helpers for the integration tests: real processes (the simulated IAM upstream
//! and the proxy), the Python SDK client, raw HTTP, and reading audit files.
#![allow(dead_code, unused_imports)]

pub mod echo_upstream;
pub mod load;
pub mod process;
pub mod raw_http;
pub mod rsyslog;
pub mod tls;
pub mod tls_upstream;

use std::path::{Path, PathBuf};

pub use process::{ProxyProcess, SimulatorProcess};

pub const AK: &str = "HPUAEXAMPLEAK0000001";
pub const SK: &str = "ExampleSecretKey0123456789abcdefghijklmn";
pub const DENIED_AK: &str = "HPUAEXAMPLEAK0000666";
pub const DENIED_SK: &str = "DeniedSecretKey0123456789abcdefghijklmno";
pub const DOMAIN_ID: &str = "0123456789abcdef0123456789abcdef";
pub const USER_ID: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter of the virtual environment holding the Huawei Cloud SDK
/// (`.ci/run` and `scripts/setup-python` create `.venv`).
pub fn python() -> PathBuf {
    let path = std::env::var_os("AUDIT_PROXY_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} not found: run scripts/setup-python first (it installs huaweicloudsdkiam)",
        path.display()
    );
    path
}

/// Runs one call through the real Python SDK and returns what it printed.
pub fn sdk_call(endpoint: &str, ak: &str, sk: &str, op_args: &[&str]) -> serde_json::Value {
    let output = std::process::Command::new(python())
        .arg(repo_root().join("tests/python/sdk_client.py"))
        .args([
            "--endpoint",
            endpoint,
            "--ak",
            ak,
            "--sk",
            sk,
            "--domain-id",
            DOMAIN_ID,
        ])
        .args(op_args)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "sdk_client.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "sdk_client.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A loopback port that was free a moment ago and has no listener now: connecting to it
/// is refused.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// An upstream that accepts connections and never answers; its address.
pub fn silent_upstream() -> std::net::SocketAddr {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("local addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

/// The serial numbers in what `sdk_client.py list` printed.
pub fn listed_serials(list: &serde_json::Value) -> Vec<&str> {
    list["mfa_devices"]
        .as_array()
        .expect("mfa_devices is a list")
        .iter()
        .map(|d| d["serial_number"].as_str().expect("serial_number"))
        .collect()
}

/// Every record in the audit directory's `.jsonl` files, in file order.
pub fn audit_records(dir: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The call records (not lifecycle records) of one audit ID.
pub fn call_records(dir: &Path, audit_id: &str) -> Vec<serde_json::Value> {
    audit_records(dir)
        .into_iter()
        .filter(|r| r["audit_id"] == audit_id)
        .collect()
}

/// Call records only, no lifecycle records.
pub fn all_call_records(dir: &Path) -> Vec<serde_json::Value> {
    audit_records(dir)
        .into_iter()
        .filter(|r| r.get("stage").is_some())
        .collect()
}
