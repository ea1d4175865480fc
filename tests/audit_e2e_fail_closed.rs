//! Fail closed, end to end: while the audit directory cannot be written, deletions get
//! 503 `MAP.0503` and never reach the upstream, pass-through still works and `/readyz`
//! says not ready; once the fault is cleared writing resumes by itself and the chain
//! verifies. Three faults (root ignores file modes, so chmod proves nothing):
//!
//! - the audit directory replaced by a regular file;
//! - a full disk: a 64 KiB tmpfs (skipped, saying so, where mounting is not permitted);
//! - `RLIMIT_FSIZE` (`ulimit -S -f` with SIGXFSZ ignored: writes fail with EFBIG; lifted
//!   again with `prlimit`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::load::{self, assert_verifies, write_config};
use common::raw_http::{self, header};
use common::*;

const DEVICES: usize = 2_000;

struct Setup {
    sim: SimulatorProcess,
    base: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        Setup::with_audit("")
    }

    /// With more `[audit]` keys.
    fn with_audit(audit: &str) -> Setup {
        let sim = SimulatorProcess::start(&["--no-verify"]);
        load::preload_devices(&sim.addr, DEVICES);
        let base = tempfile::tempdir().unwrap();
        // A call whose `completed` record cannot be written waits this long, then answers.
        let config = write_config(
            base.path(),
            &sim.url(),
            "",
            "request_timeout = \"5s\"",
            &format!("completed_retry_for = \"1s\"\n{audit}"),
        );
        Setup { sim, base, config }
    }

    fn audit_dir(&self) -> PathBuf {
        self.base.path().join("audit")
    }

    fn start_proxy(&self) -> ProxyProcess {
        let run = tempfile::tempdir_in(self.base.path()).unwrap();
        ProxyProcess::start_with_config(run, self.config.clone())
    }

    fn requests(&self) -> (u64, u64) {
        let s = self.sim.stats();
        (
            s["requests"].as_u64().unwrap(),
            s["deletions_performed"].as_u64().unwrap(),
        )
    }
}

/// One deletion of device `i`: status, `X-Audit-Id`, body.
fn delete(proxy: &ProxyProcess, i: usize) -> (u16, Option<String>, serde_json::Value) {
    let request = format!(
        "DELETE {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        load::delete_target(i),
        proxy.addr
    );
    let (status, headers, body) = raw_http::send(&proxy.addr, request.as_bytes());
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (
        status,
        header(&headers, "x-audit-id").map(str::to_string),
        body,
    )
}

fn readyz(proxy: &ProxyProcess) -> u16 {
    raw_http::get(&proxy.admin_addr, "/readyz").0
}

fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends deletions from device `*next` on until one is refused with 503; every refused
/// one must not have reached the upstream. Collects the audit IDs answered 204.
fn delete_until_refused(
    setup: &Setup,
    proxy: &ProxyProcess,
    next: &mut usize,
    succeeded: &mut Vec<String>,
) -> usize {
    for _ in 0..500 {
        let before = setup.requests();
        let (status, audit_id, body) = delete(proxy, *next);
        *next += 1;
        match status {
            204 => succeeded.push(audit_id.expect("X-Audit-Id")),
            503 => {
                assert_eq!(body["error_code"], "MAP.0503", "{body}");
                assert!(audit_id.is_some(), "X-Audit-Id on the refusal");
                assert_eq!(
                    setup.requests(),
                    before,
                    "a refused deletion reached the upstream"
                );
                println!("first 503 at deletion #{}", *next - 1);
                return *next - 1;
            }
            other => panic!("deletion answered {other}: {body}"),
        }
    }
    panic!("the audit log never refused a record")
}

/// The fault is in place: refusals, pass-through, readiness. Then `clear` fixes it and
/// writing must resume by itself. Ends with a clean stop and `verify`.
fn fails_closed_then_resumes(
    setup: &Setup,
    mut proxy: ProxyProcess,
    mut next: usize,
    clear: impl FnOnce(&ProxyProcess),
) {
    let mut succeeded = Vec::new();
    let refused = delete_until_refused(setup, &proxy, &mut next, &mut succeeded);
    wait_for("/readyz turns 503", Duration::from_secs(5), || {
        readyz(&proxy) == 503
    });
    // Refused again, and still never forwarded.
    let before = setup.requests();
    for _ in 0..3 {
        let (status, _, body) = delete(&proxy, next);
        next += 1;
        assert_eq!(
            (status, &body["error_code"]),
            (503, &serde_json::json!("MAP.0503"))
        );
    }
    assert_eq!(
        setup.requests(),
        before,
        "refused deletions reached the upstream"
    );
    // Pass-through does not need the audit log.
    let (status, _, body) = raw_http::get(&proxy.addr, "/v5/mfa-devices?limit=1");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(setup.requests().0, before.0 + 1);
    assert_eq!(readyz(&proxy), 503);
    assert_eq!(
        raw_http::get(&proxy.admin_addr, "/healthz").0,
        200,
        "alive all along"
    );

    clear(&proxy);
    wait_for("/readyz back to 200", Duration::from_secs(10), || {
        readyz(&proxy) == 200
    });
    let (status, audit_id, body) = delete(&proxy, next);
    assert_eq!(status, 204, "{body}");
    let audit_id = audit_id.unwrap();
    assert!(proxy.terminate().success(), "{}", proxy.stderr());

    let dir = setup.audit_dir();
    // Deletions answered 204 as the disk filled up: a `completed` record that could not
    // be written then was kept and written once the disk came back.
    let records = all_call_records(&dir);
    for id in &succeeded {
        let stages: Vec<_> = records
            .iter()
            .filter(|r| r["audit_id"] == id.as_str())
            .map(|r| r["stage"].as_str().unwrap())
            .collect();
        assert_eq!(stages, ["received", "completed"], "call {id}");
    }
    let stages: Vec<_> = call_records(&dir, &audit_id)
        .iter()
        .map(|r| r["stage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stages, ["received", "completed"]);
    // The refused deletions are in the log as `rejected`, `completed` only (the writer
    // kept those records until the disk came back).
    let refusals: Vec<_> = all_call_records(&dir)
        .into_iter()
        .filter(|r| r["outcome"]["error_code"] == "MAP.0503")
        .collect();
    assert!(refusals.len() >= 4, "{refusals:#?}");
    assert!(refusals.iter().all(|r| r["stage"] == "completed"
        && r["outcome"]["result"] == "rejected"
        && r["outcome"]["status"] == 503));
    let first = load::device(refused).1;
    assert!(refusals
        .iter()
        .any(|r| r["target"]["serial_number"] == first.as_str()));
    assert_verifies(&dir);
}

#[test]
fn audit_directory_replaced_by_a_file() {
    let setup = Setup::new();
    let proxy = setup.start_proxy();
    assert_eq!(delete(&proxy, 0).0, 204);
    let dir = setup.audit_dir();
    let moved = setup.base.path().join("audit.moved");
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    fails_closed_then_resumes(&setup, proxy, 1, |_| {
        std::fs::remove_file(&dir).unwrap();
        std::fs::rename(&moved, &dir).unwrap();
    });
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .ok()?;
        if !out.status.success() {
            println!(
                "SKIPPED: cannot mount a tmpfs here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {size}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_disk_on_a_small_tmpfs() {
    let setup = Setup::new();
    let Some(disk) = Tmpfs::mount(&setup.audit_dir(), "64k") else {
        return;
    };
    let proxy = setup.start_proxy();
    fails_closed_then_resumes(&setup, proxy, 0, |_| disk.resize("4m"));
}

#[test]
fn full_disk_while_rotating_small_files() {
    // Rotation writes a signed checkpoint and opens a new file: both meet the full disk.
    let setup = Setup::with_audit("rotate_bytes = 4096");
    let Some(disk) = Tmpfs::mount(&setup.audit_dir(), "64k") else {
        return;
    };
    let proxy = setup.start_proxy();
    fails_closed_then_resumes(&setup, proxy, 0, |_| disk.resize("4m"));
}

/// The proxy started by `sh`, under `ulimit -S -f` (512-byte blocks) with SIGXFSZ ignored;
/// the hard limit stays unlimited so the soft one can be lifted again without privileges.
fn start_under_file_size_limit(setup: &Setup, blocks: u32) -> ProxyProcess {
    let run = tempfile::tempdir_in(setup.base.path()).unwrap();
    let stderr = std::fs::File::create(run.path().join("proxy.stderr")).unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -S -f {blocks}; exec \"$0\" serve --config \"$1\""
        ))
        .arg(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
        .arg(&setup.config)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut addr, mut admin_addr) = (String::new(), String::new());
    while addr.is_empty() || admin_addr.is_empty() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the proxy prints its addresses");
        if let Some(a) = line.strip_prefix("admin listening on ") {
            admin_addr = a.to_string();
        } else if let Some(a) = line.strip_prefix("listening on ") {
            addr = a.to_string();
        }
    }
    ProxyProcess {
        child,
        addr,
        admin_addr,
        dir: run,
        config_path: setup.config.clone(),
    }
}

#[test]
fn file_size_limit() {
    let setup = Setup::new();
    let proxy = start_under_file_size_limit(&setup, 64);
    fails_closed_then_resumes(&setup, proxy, 0, |proxy| {
        // `exec` kept the PID: lift the proxy's own limit.
        let status = Command::new("prlimit")
            .arg("--pid")
            .arg(proxy.child.id().to_string())
            .arg("--fsize=unlimited:unlimited")
            .status()
            .expect("prlimit (util-linux) runs");
        assert!(status.success());
    });
}
