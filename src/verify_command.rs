//! `mfa-audit-proxy verify`: checks the integrity chain of an audit directory offline and
//! names the first break (`file:line: what`).

use std::path::PathBuf;

use clap::Args;

use crate::audit::verify::verify_dir;
use crate::config::{Config, ConfigError};

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Configuration file whose `audit.dir` holds the audit files (default ./config.toml).
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    pub config: Option<PathBuf>,
    /// The audit directory itself.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Hex Ed25519 public key file for checkpoint signatures. Without it the key beside
    /// the audit files is used; keep a copy elsewhere so an attacker who can rewrite the
    /// directory cannot also replace the key.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
}

/// The outcome for the CLI: a summary to print on success, or the first break.
pub enum VerifyOutcome {
    Intact(String),
    Broken(String),
}

pub fn run(args: &VerifyArgs) -> Result<VerifyOutcome, ConfigError> {
    let dir = Config::audit_dir(args.dir.as_deref(), args.config.as_deref())?;
    Ok(match verify_dir(&dir, args.public_key.as_deref()) {
        Ok(report) => VerifyOutcome::Intact(format!(
            "intact: {} records (seq {}..{}) in {} files, {} checkpoints verified, {} records after the last checkpoint{}",
            report.records,
            report.first_seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            report.last_seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            report.files.len(),
            report.checkpoints,
            report.records_after_last_checkpoint,
            if report.torn_files.is_empty() {
                String::new()
            } else {
                format!(", {} torn tails set aside", report.torn_files.len())
            },
        )),
        Err(failure) => VerifyOutcome::Broken(failure.to_string()),
    })
}
