//! Command-line interface (SPEC section 3). Bad arguments exit with status 2 and a one-line
//! error naming the flag (clap's own behaviour for usage errors).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mfa-audit-proxy",
    version,
    about = "Forwards Huawei Cloud IAM traffic and audits every virtual-MFA-device deletion"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy.
    Serve(ConfigArg),
    /// Print audited calls, one merged line per call, filtered.
    Query(Box<crate::query::QueryArgs>),
    /// Check the audit log's integrity chain; exit 1 naming the first break.
    Verify(crate::verify_command::VerifyArgs),
    /// Validate the configuration and print the effective configuration.
    CheckConfig(ConfigArg),
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Configuration file.
    #[arg(long, value_name = "FILE", default_value = "config.toml")]
    pub config: PathBuf,
}
