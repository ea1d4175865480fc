use std::process::ExitCode;

use clap::Parser;

use mfa_audit_proxy::cli::{Cli, Command};
use mfa_audit_proxy::config::Config;
use mfa_audit_proxy::query::QueryError;
use mfa_audit_proxy::verify_command::VerifyOutcome;

/// Exit status for bad arguments or configuration (SPEC section 3).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match cli.command {
        Command::Serve(args) => {
            let config = match Config::load_with_files(&args.config) {
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
        Command::Query(args) => {
            let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
            match mfa_audit_proxy::query::run(&args, &mut out, &mut err) {
                Ok(()) => ExitCode::SUCCESS,
                // `query ... | head` closes the pipe: a normal end, not an error.
                Err(QueryError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    ExitCode::SUCCESS
                }
                Err(e @ QueryError::Output(_)) => {
                    eprintln!("mfa-audit-proxy: {e}");
                    ExitCode::FAILURE
                }
                Err(e) => usage_error(e),
            }
        }
        Command::Verify(args) => match mfa_audit_proxy::verify_command::run(&args) {
            Ok(VerifyOutcome::Intact(summary)) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Ok(VerifyOutcome::Broken(first_break)) => {
                eprintln!("mfa-audit-proxy: audit log broken: {first_break}");
                ExitCode::FAILURE
            }
            Err(e) => usage_error(e),
        },
        Command::CheckConfig(args) => match Config::load_with_files(&args.config) {
            Ok(config) => {
                print!("{}", config.to_toml());
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(e),
        },
    }
}

/// Help and version go out as clap renders them; usage errors become one line naming the
/// flag (clap's first line), with exit status 2.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(EXIT_USAGE)
        } else {
            ExitCode::SUCCESS
        };
    }
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    usage_error(first.trim_start_matches("error: "))
}

fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("mfa-audit-proxy: {e}");
    ExitCode::from(EXIT_USAGE)
}
