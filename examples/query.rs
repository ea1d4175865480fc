//! A stand-in for `mfa-audit-proxy query` until the CLI wires the subcommand: the same
//! flags, the same exit statuses (2 for a bad flag, configuration or directory).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mfa_audit_proxy::query::{self, QueryArgs};

#[derive(Parser)]
#[command(name = "query")]
struct Cli {
    #[command(flatten)]
    query: QueryArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    match query::run(&cli.query, &mut out, &mut err) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(err, "mfa-audit-proxy query: {e}");
            ExitCode::from(2)
        }
    }
}
