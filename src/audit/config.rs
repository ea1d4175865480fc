//! The `[audit]` configuration section.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Name of the generated signing key inside the audit directory (PKCS#8 DER, 0600).
pub const DEFAULT_KEY_FILE: &str = "audit-signing.key";
/// Name of the public key file (hex) the writer keeps beside the audit files.
pub const PUBLIC_KEY_FILE: &str = "audit-signing.pub";

/// The `[audit]` configuration section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Directory holding the audit files (created 0700).
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// `fsync` (default): every record is on disk before `append` returns. `flush`: written
    /// to the OS only; a process crash loses nothing, a power loss or kernel crash may lose
    /// the last records.
    #[serde(default)]
    pub durability: Durability,
    /// A file is closed and a new one started once it holds this many bytes.
    #[serde(default = "default_rotate_bytes")]
    pub rotate_bytes: u64,
    /// A file is closed and a new one started once it is this old.
    #[serde(default = "default_rotate_after", with = "humantime_serde")]
    pub rotate_after: Duration,
    /// Keep at most this many audit files (the current one included); unset keeps all.
    #[serde(default)]
    pub keep_files: Option<usize>,
    /// Delete closed files that ended longer ago than this; unset keeps all.
    #[serde(default, with = "humantime_serde")]
    pub keep_for: Option<Duration>,
    /// Ed25519 key (PKCS#8 DER) signing checkpoints; generated on first start when missing.
    /// Defaults to `<dir>/audit-signing.key`.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// How long `append` of a `completed` or lifecycle record waits while the writer
    /// retries a failing disk; the writer keeps retrying after that.
    #[serde(default = "default_completed_retry_for", with = "humantime_serde")]
    pub completed_retry_for: Duration,
}

fn default_dir() -> PathBuf {
    PathBuf::from("audit")
}
fn default_rotate_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_rotate_after() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_completed_retry_for() -> Duration {
    Duration::from_secs(10)
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            dir: default_dir(),
            durability: Durability::default(),
            rotate_bytes: default_rotate_bytes(),
            rotate_after: default_rotate_after(),
            keep_files: None,
            keep_for: None,
            signing_key_file: None,
            completed_retry_for: default_completed_retry_for(),
        }
    }
}

impl AuditConfig {
    /// A configuration with defaults for the given directory (handy in tests).
    pub fn for_dir(dir: impl Into<PathBuf>) -> AuditConfig {
        AuditConfig {
            dir: dir.into(),
            ..AuditConfig::default()
        }
    }

    /// Where the signing key lives.
    pub fn signing_key_path(&self) -> PathBuf {
        self.signing_key_file
            .clone()
            .unwrap_or_else(|| self.dir.join(DEFAULT_KEY_FILE))
    }

    /// Where verifiers find the public key by default.
    pub fn public_key_path(&self) -> PathBuf {
        self.dir.join(PUBLIC_KEY_FILE)
    }

    /// Checks values serde cannot; the error names the key (`audit.rotate_bytes`, ...).
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, m: &str| Err((format!("audit.{k}"), m.to_string()));
        if self.dir.as_os_str().is_empty() {
            return bad("dir", "must not be empty");
        }
        if self.rotate_bytes < 4096 {
            return bad("rotate_bytes", "must be at least 4096");
        }
        if self.rotate_after < Duration::from_secs(1) {
            return bad("rotate_after", "must be at least 1s");
        }
        if self.keep_files == Some(0) {
            return bad(
                "keep_files",
                "must be at least 1 (the current file is always kept)",
            );
        }
        Ok(())
    }
}

/// When `append` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// After `fdatasync`: the record survives power loss.
    #[default]
    Fsync,
    /// After `write`: the record survives a process crash, not a power loss.
    Flush,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_print_and_round_trip() {
        let c: AuditConfig = toml::from_str(
            "dir = \"/var/log/mfa\"\ndurability = \"flush\"\nrotate_bytes = 1048576\n\
             rotate_after = \"1h\"\nkeep_files = 30\nkeep_for = \"90days\"\n\
             signing_key_file = \"/etc/k.key\"\ncompleted_retry_for = \"3s\"\n",
        )
        .unwrap();
        assert_eq!(c.durability, Durability::Flush);
        assert_eq!(c.keep_for, Some(Duration::from_secs(90 * 86400)));
        assert_eq!(c.keep_files, Some(30));
        assert!(c.check().is_ok());
        let printed = toml::to_string(&c).unwrap();
        let again: AuditConfig = toml::from_str(&printed).unwrap();
        assert_eq!(again.keep_for, c.keep_for);
        assert_eq!(again.signing_key_path(), PathBuf::from("/etc/k.key"));

        let d: AuditConfig = toml::from_str("").unwrap();
        assert_eq!(d.rotate_bytes, 64 * 1024 * 1024);
        assert_eq!(d.rotate_after, Duration::from_secs(86400));
        assert_eq!(d.completed_retry_for, Duration::from_secs(10));
        assert_eq!((d.keep_files, d.keep_for), (None, None));
        assert!(toml::to_string(&d).is_ok(), "unset options print");
        assert!(toml::from_str::<AuditConfig>("rotate_byte = 1").is_err());
        let bad = AuditConfig {
            keep_files: Some(0),
            ..d
        };
        assert_eq!(bad.check().unwrap_err().0, "audit.keep_files");
    }
}
