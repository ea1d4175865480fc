//! Diagnostic logs (not the audit log): tracing to stderr through tracing-appender's
//! non-blocking writer with `lossy(false)`, so a slow stderr applies back-pressure instead
//! of silently dropping lines. Level from `RUST_LOG` (default `info`).

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The `[diagnostics]` configuration section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnosticsConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

/// Installs the global subscriber. Keep the guard alive until exit: dropping it flushes.
pub fn init(config: &DiagnosticsConfig) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let _ = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}
