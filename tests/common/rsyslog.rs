//! A real rsyslogd (Debian package `rsyslog`, installed by `scripts/setup`) running the
//! shipped `deploy/shipping/rsyslog.conf` in the foreground, with every path moved into a
//! temporary directory; and a TCP receiver for its forwarding action. Killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// The strings of the shipped configuration that a test run replaces.
const SHIPPED_AUDIT_GLOB: &str = "/var/lib/mfa-audit-proxy/audit/*.jsonl";
const SHIPPED_WORK_DIR: &str = "/var/lib/rsyslog-mfa-audit";
const SHIPPED_OUTPUT: &str = "/var/log/mfa-audit-proxy/shipped-audit.log";
const SHIPPED_TARGET: &str = "target=\"logs.example.internal\" port=\"514\"";

/// `deploy/shipping/rsyslog.conf` with its paths under `dir` and its forwarding action
/// pointed at `forward_to` (`host:port`). Each replaced string must occur exactly once,
/// so an edit of the shipped file that the test no longer matches fails loudly.
pub fn shipped_config(audit_dir: &Path, dir: &Path, forward_to: &str) -> String {
    let path = super::repo_root().join("deploy/shipping/rsyslog.conf");
    let mut text = std::fs::read_to_string(&path).expect("read deploy/shipping/rsyslog.conf");
    let (host, port) = forward_to.rsplit_once(':').expect("host:port");
    let replacements = [
        (
            SHIPPED_AUDIT_GLOB.to_string(),
            format!("{}/*.jsonl", audit_dir.display()),
        ),
        (
            SHIPPED_WORK_DIR.to_string(),
            work_dir(dir).display().to_string(),
        ),
        (
            SHIPPED_OUTPUT.to_string(),
            output_file(dir).display().to_string(),
        ),
        (
            SHIPPED_TARGET.to_string(),
            format!("target=\"{host}\" port=\"{port}\""),
        ),
    ];
    for (from, to) in replacements {
        assert_eq!(
            text.matches(&from).count(),
            1,
            "{} holds `{from}` exactly once",
            path.display()
        );
        text = text.replace(&from, &to);
    }
    text
}

pub fn work_dir(dir: &Path) -> PathBuf {
    dir.join("work")
}

/// Where the configuration's file action writes (not `.jsonl`, outside the audit dir).
pub fn output_file(dir: &Path) -> PathBuf {
    dir.join("out/shipped-audit.log")
}

pub struct RsyslogProcess {
    child: Option<Child>,
    pub dir: PathBuf,
    config_path: PathBuf,
}

impl RsyslogProcess {
    /// Writes `config` to `dir/rsyslog.conf` and runs `rsyslogd -n` on it; its stderr
    /// (rsyslog's own messages: no action takes them) goes to `dir/rsyslogd.stderr`.
    pub fn start(dir: &Path, config: &str) -> RsyslogProcess {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "{RSYSLOGD} not found: run scripts/setup (Debian package rsyslog)"
        );
        std::fs::create_dir_all(work_dir(dir)).expect("rsyslog work dir");
        let config_path = dir.join("rsyslog.conf");
        std::fs::write(&config_path, config).expect("write rsyslog.conf");
        let mut process = RsyslogProcess {
            child: None,
            dir: dir.to_path_buf(),
            config_path,
        };
        process.restart();
        process
    }

    /// Starts rsyslogd again (after `stop`), with its state files from the last run.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "rsyslogd is already running");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("rsyslogd.stderr"))
            .expect("rsyslogd stderr file");
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&self.config_path)
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("rsyslogd starts");
        self.child = Some(child);
    }

    /// SIGTERM, as an orderly stop (state files and queues saved); waits for the exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    assert!(
                        status.success(),
                        "rsyslogd exited with {status}: {}",
                        self.stderr()
                    );
                    return;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "rsyslogd did not stop within 15 s of SIGTERM: {}",
                        self.stderr()
                    );
                }
            }
        }
    }

    /// Panics with rsyslogd's messages if it has exited on its own.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("rsyslogd exited with {status}: {}", self.stderr());
            }
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("rsyslogd.stderr")).unwrap_or_default()
    }

    /// The lines of the file action's output, without their newlines.
    pub fn output_lines(&self) -> Vec<String> {
        read_lines(&output_file(&self.dir))
    }
}

impl Drop for RsyslogProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The lines of a file (empty if it does not exist yet), without their newlines.
pub fn read_lines(path: &Path) -> Vec<String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .expect("UTF-8")
            .lines()
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A syslog-over-TCP receiver (RFC 6587 octet-counted framing): keeps every frame.
pub struct SyslogReceiver {
    pub addr: String,
    frames: Arc<Mutex<Vec<String>>>,
}

impl SyslogReceiver {
    pub fn start() -> SyslogReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let addr = listener.local_addr().unwrap().to_string();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let sink = frames.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || read_frames(BufReader::new(stream), &sink));
            }
        });
        SyslogReceiver { addr, frames }
    }

    pub fn frames(&self) -> Vec<String> {
        self.frames.lock().unwrap().clone()
    }
}

/// `LEN SP MSG` repeated, until the sender closes the connection.
fn read_frames(mut reader: impl BufRead, sink: &Mutex<Vec<String>>) {
    loop {
        let mut len = Vec::new();
        match reader.read_until(b' ', &mut len) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let len: usize = std::str::from_utf8(&len[..len.len() - 1])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad octet count {:?}", String::from_utf8_lossy(&len)));
        let mut frame = vec![0; len];
        if reader.read_exact(&mut frame).is_err() {
            return;
        }
        sink.lock()
            .unwrap()
            .push(String::from_utf8(frame).expect("UTF-8 frame"));
    }
}
