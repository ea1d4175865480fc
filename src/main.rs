use std::process::ExitCode;

use clap::Parser;

use mfa_audit_proxy::cli::{Cli, Command};
use mfa_audit_proxy::config::Config;

/// Exit status for bad arguments or configuration (SPEC section 3).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match Config::load(&args.config) {
                Ok(c) => c,
                Err(e) => return usage_error(e),
            };
            let _flush_on_exit = mfa_audit_proxy::diagnostics::init(&config.diagnostics);
            match mfa_audit_proxy::proxy::serve(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("mfa-audit-proxy: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig(args) => match Config::load(&args.config) {
            Ok(config) => {
                print!("{}", config.to_toml());
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(e),
        },
    }
}

fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("mfa-audit-proxy: {e}");
    ExitCode::from(EXIT_USAGE)
}
