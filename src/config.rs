//! The configuration file (SPEC section 4), its defaults, environment overrides and checks.
//!
//! Every section denies unknown keys so a typo is an error naming the key, never a
//! silently ignored setting. `MFA_AUDIT_PROXY_<SECTION>__<KEY>` environment variables
//! override file values (a double underscore separates levels, since keys hold single
//! underscores): `MFA_AUDIT_PROXY_UPSTREAM__URL=http://...`, `MFA_AUDIT_PROXY_LISTEN=...`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::AuditConfig;
use crate::diagnostics::DiagnosticsConfig;

pub const ENV_PREFIX: &str = "MFA_AUDIT_PROXY_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the proxy listens on for IAM clients.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// On SIGTERM or SIGINT, how long calls in flight may take to finish.
    #[serde(default = "default_shutdown_grace", with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Threads serving client connections; 0: one per CPU core available to the process.
    #[serde(default)]
    pub workers: usize,
    pub upstream: UpstreamConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub diagnostics: DiagnosticsConfig,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CredentialConfig>,
    /// TLS for clients; absent: plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::TlsConfig>,
    /// Peers whose `X-Forwarded-For` names the caller.
    #[serde(default)]
    pub forwarding: crate::proxy::forwarded_for::ForwardingConfig,
}

/// More threads than this is a typo, not a machine.
const MAX_WORKERS: usize = 1024;

fn default_shutdown_grace() -> Duration {
    Duration::from_secs(30)
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamMode {
    /// Forward what the client signed untouched.
    #[default]
    Passthrough,
    /// Verify the caller's signature, then sign again for the upstream's host.
    Resign,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `https://iam.myhuaweicloud.com`; `http://` is allowed for simulators and tests.
    pub url: String,
    #[serde(default)]
    pub mode: UpstreamMode,
    /// Time allowed to open a connection (TCP and TLS) to the upstream.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed from forwarding a request to the upstream's response head.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Pooled connections idle this long are closed, before the upstream closes them.
    #[serde(default = "default_pool_idle_timeout", with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// Resign mode: what to do with temporary credentials (X-Security-Token).
    #[serde(default)]
    pub temporary_credentials: TemporaryCredentials,
    /// Extra CA certificates (PEM) trusted for the upstream, besides the webpki roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) presented to the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
    /// Private key (PEM) of `client_cert_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<PathBuf>,
}

/// Resign mode cannot re-sign a request made with temporary credentials: their secret
/// key is issued with the token and unknown to the proxy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemporaryCredentials {
    /// Answer 401 (`MAP.0401`) without forwarding.
    #[default]
    Refuse,
    /// Forward as in passthrough mode, recorded with `signature_verified: false`.
    ForwardUnverified,
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_pool_idle_timeout() -> Duration {
    Duration::from_secs(50)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of /healthz, /readyz and /metrics; keep it off the client network.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
}

fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_admin_listen(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// A client must send a whole request head within this time (slowloris).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Largest request head accepted, in bytes.
    pub max_header_bytes: usize,
    /// Most header fields accepted in one request.
    pub max_headers: usize,
    /// Largest pass-through request body, in bytes (IAM itself accepts 12 MB).
    pub max_body_bytes: u64,
    /// Most client connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_body_bytes: 12 * 1024 * 1024,
            max_connections: 4096,
        }
    }
}

/// A caller the proxy can verify in resign mode. The secret itself is never in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    pub access_key_id: String,
    /// Name of an environment variable holding the secret key.
    pub secret_key_env: Option<String>,
    /// A file holding the secret key; it must not be readable by group or others.
    pub secret_key_file: Option<PathBuf>,
}

/// A configuration problem, always naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    /// A key has a value of the wrong type or form, or is unknown.
    #[error("config key `{key}`: {message}")]
    Key { key: String, message: String },
}

impl ConfigError {
    fn key(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl Config {
    /// Reads `path`, applies `MFA_AUDIT_PROXY_*` overrides from the process environment and
    /// checks every value. The files it names (secret keys, certificates) are not read
    /// here: `serve` and `check-config` add [`Config::check_files`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(&text, path, std::env::vars())
    }

    /// [`Config::load`] plus [`Config::check_files`]: what `serve` and `check-config` use.
    pub fn load_with_files(path: &Path) -> Result<Config, ConfigError> {
        let config = Config::load(path)?;
        config.check_files()?;
        Ok(config)
    }

    /// The audit directory for the offline commands (`query`, `verify`): `dir` if given,
    /// else `audit.dir` of the configuration file (default `./config.toml`). Only the
    /// configuration is read, never the secrets or certificates it names: an auditor
    /// needs the audit files, not the proxy's keys.
    pub fn audit_dir(dir: Option<&Path>, config: Option<&Path>) -> Result<PathBuf, ConfigError> {
        match dir {
            Some(dir) => Ok(dir.to_path_buf()),
            None => Ok(Config::load(config.unwrap_or(Path::new("config.toml")))?
                .audit
                .dir),
        }
    }

    /// Loads what the configuration only names (secret keys, certificates), so that
    /// `check-config` finds the same problems `serve` would. Nothing loaded is printed.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        crate::credentials::Credentials::load(&self.credentials)
            .map_err(|e| ConfigError::key(e.key(), e.to_string()))?;
        if let Some(tls) = &self.tls {
            crate::tls::server::server_config(tls)
                .map_err(|e| ConfigError::key(e.key(), e.to_string()))?;
        }
        crate::tls::client::client_config(&self.upstream)
            .map_err(|e| ConfigError::key(e.key(), e.to_string()))?;
        Ok(())
    }

    /// Parses configuration text with the given environment (for tests).
    pub fn from_toml(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut value: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: one_line(e.message()),
                })?;
        apply_env_overrides(&mut value, env)?;
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(value)).map_err(|e| {
                let key = e.path().to_string();
                let message = one_line(&e.into_inner().to_string());
                // serde_path_to_error already ends the path with an unknown key, but not
                // with a missing one.
                let parent = |field: &str| {
                    if key == "." {
                        field.to_string()
                    } else {
                        format!("{key}.{field}")
                    }
                };
                if unknown_field(&message).is_some() {
                    let key = if key == "." {
                        unknown_field(&message).unwrap_or_default().to_string()
                    } else {
                        key
                    };
                    ConfigError::key(key, "unknown key")
                } else if let Some(field) = missing_field(&message) {
                    ConfigError::key(parent(field), "is required")
                } else {
                    ConfigError::key(key, message)
                }
            })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.audit
            .check()
            .map_err(|(key, message)| ConfigError::key(key, message))?;
        let url: http::Uri = self
            .upstream
            .url
            .parse()
            .map_err(|e| ConfigError::key("upstream.url", format!("not a URL: {e}")))?;
        match url.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(ConfigError::key(
                    "upstream.url",
                    "must start with http:// or https://",
                ))
            }
        }
        if url.host().is_none() {
            return Err(ConfigError::key("upstream.url", "has no host"));
        }
        if url.path() != "/" && !url.path().is_empty() {
            return Err(ConfigError::key(
                "upstream.url",
                "must not have a path: the proxy forwards paths as sent",
            ));
        }
        for (i, c) in self.credentials.iter().enumerate() {
            if c.access_key_id.is_empty() {
                return Err(ConfigError::key(
                    format!("credentials[{i}].access_key_id"),
                    "must not be empty",
                ));
            }
            if c.secret_key_env.is_some() == c.secret_key_file.is_some() {
                return Err(ConfigError::key(
                    format!("credentials[{i}]"),
                    "set exactly one of secret_key_env and secret_key_file",
                ));
            }
        }
        if self.upstream.client_cert_file.is_some() != self.upstream.client_key_file.is_some() {
            return Err(ConfigError::key(
                "upstream.client_key_file",
                "set both client_cert_file and client_key_file, or neither",
            ));
        }
        crate::proxy::forwarded_for::TrustedProxies::parse(&self.forwarding.trusted_proxies)
            .map_err(|e| ConfigError::key(e.key(), e.to_string()))?;
        if let Some(tls) = &self.tls {
            if tls.reload_interval.is_zero() {
                return Err(ConfigError::key(
                    "tls.reload_interval",
                    "must be more than zero",
                ));
            }
        }
        // Zero would leave a proxy that starts, says it is ready and serves nobody
        // (max_connections = 0 never accepts; a zero timeout fails every request).
        for (key, zero) in [
            ("limits.max_connections", self.limits.max_connections == 0),
            ("limits.max_headers", self.limits.max_headers == 0),
            ("limits.max_header_bytes", self.limits.max_header_bytes == 0),
            ("limits.idle_timeout", self.limits.idle_timeout.is_zero()),
            (
                "limits.header_read_timeout",
                self.limits.header_read_timeout.is_zero(),
            ),
            (
                "upstream.connect_timeout",
                self.upstream.connect_timeout.is_zero(),
            ),
            (
                "upstream.request_timeout",
                self.upstream.request_timeout.is_zero(),
            ),
        ] {
            if zero {
                return Err(ConfigError::key(key, "must be greater than 0"));
            }
        }
        if self.workers > MAX_WORKERS {
            return Err(ConfigError::key(
                "workers",
                format!("must be at most {MAX_WORKERS} (0: one per CPU core)"),
            ));
        }
        if self.upstream.mode == UpstreamMode::Resign && self.credentials.is_empty() {
            return Err(ConfigError::key(
                "credentials",
                "resign mode needs at least one [[credentials]] entry",
            ));
        }
        Ok(())
    }

    /// How many worker threads `workers` asks for (0: one per available core).
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// The effective configuration as TOML, for `check-config`. Secrets never live in the
    /// configuration (only the names of their variables or files), so nothing needs masking
    /// beyond what this prints.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Extracts `foo` from serde's "unknown field `foo`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Extracts `foo` from serde's "missing field `foo`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// `MFA_AUDIT_PROXY_AUDIT__DIR=/x` sets `audit.dir`. A value that parses as a TOML value
/// (number, boolean, array) is taken as such; anything else is a string.
fn apply_env_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::key(name.clone(), "malformed override name"));
        }
        let value = parse_env_value(&raw);
        let mut cursor = &mut *table;
        for part in &path[..path.len() - 1] {
            let entry = cursor
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cursor = entry.as_table_mut().ok_or_else(|| {
                ConfigError::key(name.clone(), format!("`{part}` is not a section"))
            })?;
        }
        cursor.insert(path[path.len() - 1].clone(), value);
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match probe.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"), Vec::new())
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let c = parse("[upstream]\nurl = \"http://127.0.0.1:1\"\n").unwrap();
        assert_eq!(c.listen, default_listen());
        assert_eq!(c.upstream.mode, UpstreamMode::Passthrough);
        assert_eq!(c.audit.dir, PathBuf::from("audit"));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("[upstream]\nurl = \"http://x\"\nmdoe = \"resign\"\n").unwrap_err();
        assert_eq!(e.to_string(), "config key `upstream.mdoe`: unknown key");
        let e = parse("lisen = \"1.2.3.4:5\"\n[upstream]\nurl = \"http://x\"\n").unwrap_err();
        assert_eq!(e.to_string(), "config key `lisen`: unknown key");
    }

    #[test]
    fn bad_value_names_key() {
        let e = parse("[upstream]\nurl = \"http://x\"\nmode = \"mirror\"\n").unwrap_err();
        assert!(
            e.to_string().starts_with("config key `upstream.mode`:"),
            "{e}"
        );
        let e = parse("[upstream]\nurl = \"ftp://x\"\n").unwrap_err();
        assert!(
            e.to_string().starts_with("config key `upstream.url`:"),
            "{e}"
        );
    }

    #[test]
    fn env_overrides_file() {
        let env = vec![
            (
                "MFA_AUDIT_PROXY_UPSTREAM__URL".to_string(),
                "http://10.0.0.1:9".to_string(),
            ),
            (
                "MFA_AUDIT_PROXY_LIMITS__MAX_HEADERS".to_string(),
                "7".to_string(),
            ),
        ];
        let c = Config::from_toml("[upstream]\nurl = \"http://x\"\n", Path::new("t"), env).unwrap();
        assert_eq!(c.upstream.url, "http://10.0.0.1:9");
        assert_eq!(c.limits.max_headers, 7);
    }
}
