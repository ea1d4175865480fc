//! `iam-simulator`: a simulated Huawei Cloud IAM v5 endpoint. See
//! `mfa_audit_proxy::simulator` for the endpoints and flags.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use mfa_audit_proxy::simulator::{run, SimArgs};

fn main() -> ExitCode {
    // Warnings (accept failures) to stderr; RUST_LOG=debug shows connection errors.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let config = match SimArgs::parse().into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("iam-simulator: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("iam-simulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iam-simulator: {e}");
            ExitCode::FAILURE
        }
    }
}
