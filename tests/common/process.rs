//! Starting the simulator and the proxy as real processes, each in its own temporary
//! directory, on ports the OS picks; killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Reads a child's stdout until it prints `<prefix><addr>`; forwards later lines nowhere.
fn wait_for_line(child: &mut Child, prefixes: &[&str]) -> Result<Vec<String>, String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    let wanted: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
    std::thread::spawn(move || {
        let mut found = vec![String::new(); wanted.len()];
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            for (i, prefix) in wanted.iter().enumerate() {
                if let Some(rest) = line.trim_end().strip_prefix(prefix.as_str()) {
                    found[i] = rest.to_string();
                }
            }
            if !sent && found.iter().all(|f| !f.is_empty()) {
                let _ = tx.send(found.clone());
                sent = true;
            }
            line.clear();
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).map_err(|e| {
        let status = child.try_wait().ok().flatten();
        format!("no listening address within 30 s ({e}); exit status {status:?}")
    })
}

pub struct SimulatorProcess {
    pub child: Child,
    pub addr: String,
}

impl SimulatorProcess {
    pub fn start(args: &[&str]) -> SimulatorProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iam-simulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("iam-simulator starts");
        let addr = wait_for_line(&mut child, &["listening on "])
            .unwrap_or_else(|e| panic!("iam-simulator {args:?}: {e}"))
            .remove(0);
        SimulatorProcess { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The serial numbers of the devices still in the simulator (`GET /__sim/devices`).
    pub fn remaining_serials(&self) -> std::collections::HashSet<String> {
        let (status, _, body) = super::raw_http::get(&self.addr, "/__sim/devices");
        assert_eq!(status, 200, "sim devices");
        serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .expect("device list JSON")
            .iter()
            .map(|d| {
                d["serial_number"]
                    .as_str()
                    .expect("serial_number")
                    .to_string()
            })
            .collect()
    }

    /// The simulator's own counters (`GET /__sim/stats`).
    pub fn stats(&self) -> serde_json::Value {
        let (status, _, body) = super::raw_http::get(&self.addr, "/__sim/stats");
        assert_eq!(status, 200, "sim stats");
        serde_json::from_slice(&body).expect("stats JSON")
    }
}

impl Drop for SimulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct ProxyProcess {
    pub child: Child,
    pub addr: String,
    pub admin_addr: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl ProxyProcess {
    /// Starts the proxy in front of `upstream_url`; `extra` is appended to the config file.
    pub fn start(upstream_url: &str, extra: &str) -> ProxyProcess {
        Self::start_with_upstream(
            upstream_url,
            "request_timeout = \"3s\"\nconnect_timeout = \"2s\"",
            extra,
        )
    }

    /// Like `start`, with `upstream_lines` in the `[upstream]` section after `url`.
    pub fn start_with_upstream(
        upstream_url: &str,
        upstream_lines: &str,
        extra: &str,
    ) -> ProxyProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.toml");
        let audit_dir = dir.path().join("audit");
        std::fs::write(
            &config_path,
            format!(
                "listen = \"127.0.0.1:0\"\n\n[upstream]\nurl = \"{upstream_url}\"\n{upstream_lines}\n\n[audit]\ndir = \"{}\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n{extra}\n",
                audit_dir.display()
            ),
        )
        .expect("write config");
        Self::start_with_config(dir, config_path)
    }

    pub fn start_with_config(dir: tempfile::TempDir, config_path: PathBuf) -> ProxyProcess {
        let stderr = std::fs::File::create(dir.path().join("proxy.stderr")).expect("stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("mfa-audit-proxy starts");
        let found = wait_for_line(&mut child, &["listening on ", "admin listening on "])
            .unwrap_or_else(|e| {
                let stderr =
                    std::fs::read_to_string(dir.path().join("proxy.stderr")).unwrap_or_default();
                panic!("mfa-audit-proxy: {e}\nstderr:\n{stderr}")
            });
        ProxyProcess {
            child,
            addr: found[0].clone(),
            admin_addr: found[1].clone(),
            dir,
            config_path,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn audit_dir(&self) -> PathBuf {
        self.dir.path().join("audit")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("proxy.stderr")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("proxy exits")
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
