//! Simulator configuration: command-line flags and an optional TOML file.
//!
//! ```toml
//! listen = "127.0.0.1:9000"
//! require_host = "iam.example.com"   # optional
//! lax = false
//! no_verify = false
//! deny = ["AKDENIED"]
//!
//! [[credentials]]
//! access_key_id = "AK..."
//! secret_key = "SK..."
//!
//! [[devices]]
//! user_id = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
//! serial_number = "iam::0123456789abcdef:mfa:phone-1"
//! enabled = true                      # optional, default true
//! ```
//! Flags add to the file's lists and override its single values.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::devices::{Device, DeviceError};
use crate::signing::Secret;

/// Everything the simulator needs to run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Access key ID to secret key.
    pub credentials: BTreeMap<String, Secret>,
    /// Devices present at start.
    pub devices: Vec<Device>,
    /// Access keys answered 403.
    pub denied: BTreeSet<String>,
    /// When set, any other `Host` is answered 404 `APIGW.0101`.
    pub require_host: Option<String>,
    /// Sloppy request interpretation (see [`super::lax`]).
    pub lax: bool,
    /// Check signatures (off with `--no-verify`, for benchmarks).
    pub verify_signatures: bool,
    /// Where to write the bound address once listening.
    pub ready_file: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            credentials: BTreeMap::new(),
            devices: Vec::new(),
            denied: BTreeSet::new(),
            require_host: None,
            lax: false,
            verify_signatures: true,
            ready_file: None,
        }
    }
}

/// A configuration that cannot be used. Messages never include a secret key.
#[derive(Debug, thiserror::Error)]
pub enum SimConfigError {
    /// The configuration file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for the simulator.
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why, naming the key.
        source: toml::de::Error,
    },
    /// A credential is not `AK:SK` with a letters-and-digits AK and a non-empty SK.
    #[error("credential for {access_key:?} is not AK:SK with an AK of letters and digits and a non-empty SK")]
    BadCredential {
        /// What stood before the first colon (never the secret).
        access_key: String,
    },
    /// A `--device` is not `USER_ID:SERIAL`.
    #[error("--device {0:?} is not USER_ID:SERIAL")]
    BadDeviceArg(String),
    /// A device has an invalid user ID or serial number.
    #[error("invalid device: {0}")]
    BadDevice(#[from] DeviceError),
    /// A denied access key is not letters and digits.
    #[error("denied access key {0:?} is not letters and digits")]
    BadDeny(String),
}

/// Command-line flags of `iam-simulator`. No `Debug`: it holds secret keys.
#[derive(clap::Parser)]
#[command(
    name = "iam-simulator",
    about = "A simulated Huawei Cloud IAM v5 endpoint for tests and demos",
    after_help = "APIs (SDK-HMAC-SHA256 signed, checked like the gateway: 401 APIGW.0301):\n  \
        DELETE /v5/virtual-mfa-devices?user_id=&serial_number=   204 / 400 / 403 / 404\n  \
        GET    /v5/mfa-devices[?user_id=&limit=&marker=]         200\n\
        Simulator endpoints (no authentication):\n  \
        GET  /__sim/stats     deletions_performed, requests, requests_by_path, last_requests\n  \
        GET  /__sim/devices   every device\n  \
        POST /__sim/devices   add devices: [{\"user_id\", \"serial_number\", \"enabled\"?}]\n\
        Prints `listening on ADDR` once bound; every answer has an X-Request-Id."
)]
pub struct SimArgs {
    /// Address to listen on (port 0: any free port). Default 127.0.0.1:9000.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// A caller's key pair; repeatable. Visible in `ps`: prefer --config for real keys.
    #[arg(long = "credential", value_name = "AK:SK")]
    pub credentials: Vec<String>,
    /// A virtual MFA device present at start; repeatable.
    #[arg(long = "device", value_name = "USER_ID:SERIAL")]
    pub devices: Vec<String>,
    /// An access key to answer 403; repeatable.
    #[arg(long = "deny", value_name = "AK")]
    pub deny: Vec<String>,
    /// TOML file with listen, credentials, devices, deny, require_host, lax, no_verify.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Answer 404 APIGW.0101 unless the Host header equals this.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub require_host: Option<String>,
    /// Interpret requests sloppily (path normalisation, method override, last repeated
    /// query parameter wins, `+` as space), to test bypasses.
    #[arg(long)]
    pub lax: bool,
    /// Skip signature checks (benchmarks).
    #[arg(long)]
    pub no_verify: bool,
    /// Write the bound address to this file once listening.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
}

impl SimArgs {
    /// The configuration: the file (if any), then the flags.
    pub fn into_config(self) -> Result<SimConfig, SimConfigError> {
        let mut config = match &self.config {
            Some(path) => SimConfig::from_toml_file(path)?,
            None => SimConfig::default(),
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        for credential in &self.credentials {
            config.add_credential_arg(credential)?;
        }
        for device in &self.devices {
            let (user_id, serial_number) = device
                .split_once(':')
                .ok_or_else(|| SimConfigError::BadDeviceArg(device.clone()))?;
            config
                .devices
                .push(Device::new(user_id, serial_number, true)?);
        }
        for ak in self.deny {
            config.add_denied(ak)?;
        }
        if self.require_host.is_some() {
            config.require_host = self.require_host;
        }
        config.lax |= self.lax;
        config.verify_signatures &= !self.no_verify;
        if self.ready_file.is_some() {
            config.ready_file = self.ready_file;
        }
        Ok(config)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    #[serde(default)]
    credentials: Vec<FileCredential>,
    #[serde(default)]
    devices: Vec<Device>,
    #[serde(default)]
    deny: Vec<String>,
    require_host: Option<String>,
    #[serde(default)]
    lax: bool,
    #[serde(default)]
    no_verify: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCredential {
    access_key_id: String,
    secret_key: String,
}

impl SimConfig {
    /// Reads a TOML configuration file.
    pub fn from_toml_file(path: &Path) -> Result<Self, SimConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| match e {
            SimConfigError::Parse { source, .. } => SimConfigError::Parse {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// Parses TOML configuration text.
    pub fn from_toml_str(text: &str) -> Result<Self, SimConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|source| SimConfigError::Parse {
            path: PathBuf::from("<string>"),
            source,
        })?;
        let mut config = SimConfig::default();
        if let Some(listen) = file.listen {
            config.listen = listen;
        }
        for c in file.credentials {
            config.add_credential(c.access_key_id, c.secret_key)?;
        }
        for d in file.devices {
            config
                .devices
                .push(Device::new(d.user_id, d.serial_number, d.enabled)?);
        }
        for ak in file.deny {
            config.add_denied(ak)?;
        }
        config.require_host = file.require_host;
        config.lax = file.lax;
        config.verify_signatures = !file.no_verify;
        Ok(config)
    }

    /// Adds a credential given as `AK:SK` (split at the first colon).
    pub fn add_credential_arg(&mut self, arg: &str) -> Result<(), SimConfigError> {
        let (ak, sk) = arg.split_once(':').unwrap_or((arg, ""));
        self.add_credential(ak.to_owned(), sk.to_owned())
    }

    /// Adds a credential.
    pub fn add_credential(
        &mut self,
        access_key: String,
        secret_key: String,
    ) -> Result<(), SimConfigError> {
        if secret_key.is_empty() || !is_access_key(&access_key) {
            // Shown back to the operator: cut it short in case a secret was pasted here.
            let access_key = access_key.chars().take(32).collect();
            return Err(SimConfigError::BadCredential { access_key });
        }
        self.credentials
            .insert(access_key, Secret::from(secret_key));
        Ok(())
    }

    /// Adds an access key to answer 403.
    pub fn add_denied(&mut self, access_key: String) -> Result<(), SimConfigError> {
        if !is_access_key(&access_key) {
            return Err(SimConfigError::BadDeny(access_key));
        }
        self.denied.insert(access_key);
        Ok(())
    }
}

fn is_access_key(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const USER: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

    #[test]
    fn flags_and_file_merge() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sim.toml");
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:0\"\ndeny = [\"AKD\"]\n\
                 [[credentials]]\naccess_key_id = \"AKF\"\nsecret_key = \"s:k\"\n\
                 [[devices]]\nuser_id = \"{USER}\"\nserial_number = \"iam::1:mfa:a\"\n"
            ),
        )
        .expect("write");
        let args = SimArgs::try_parse_from([
            "iam-simulator",
            "--config",
            path.to_str().expect("utf-8"),
            "--credential",
            "AKC:sec:ret",
            "--device",
            &format!("{USER}:iam::1:mfa:b"),
            "--no-verify",
            "--require-host",
            "h:1",
        ])
        .expect("parses");
        let c = args.into_config().expect("valid");
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.credentials["AKC"].expose_secret(), b"sec:ret");
        assert_eq!(c.credentials["AKF"].expose_secret(), b"s:k");
        assert_eq!(c.devices.len(), 2);
        assert_eq!(c.devices[1].serial_number, "iam::1:mfa:b");
        assert!(c.denied.contains("AKD"));
        assert!(!c.verify_signatures);
        assert_eq!(c.require_host.as_deref(), Some("h:1"));
    }

    #[test]
    fn bad_values_are_errors_without_secrets() {
        let mut c = SimConfig::default();
        let e = c.add_credential_arg("AK-1:topsecret").expect_err("bad ak");
        assert!(!e.to_string().contains("topsecret"));
        assert!(c.add_credential_arg("AK1").is_err());
        assert!(SimConfig::from_toml_str("listen = 1").is_err());
        assert!(SimConfig::from_toml_str("unknown = 1").is_err());
        assert!(SimConfig::from_toml_str(
            "[[devices]]\nuser_id = \"short\"\nserial_number = \"s\"\n"
        )
        .is_err());
    }
}
