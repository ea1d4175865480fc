//! mfa-audit-proxy: a sidecar that forwards Huawei Cloud IAM traffic and audits every
//! virtual-MFA-device deletion. See `SPEC.md` in the shared folder and the README.
#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod diagnostics;
pub mod metrics;
pub mod proxy;
pub mod query;
pub mod signing;
pub mod simulator;
pub mod tls;
pub mod verify_command;
