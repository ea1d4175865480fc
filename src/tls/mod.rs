//! TLS: the client-facing listener (`[tls]`, reloadable, optional mutual TLS), the
//! upstream client's configuration, and the client certificate's subject for the audit.

pub mod client;
pub mod server;
pub mod subject;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

/// The `[tls]` section: when present, the listener speaks TLS only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate chain, PEM, leaf first.
    pub cert_file: PathBuf,
    /// The server certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA certificates (PEM) for client certificates; set, it makes them required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<PathBuf>,
    /// How often the files are checked for changes; new handshakes use new files.
    #[serde(default = "default_reload_interval", with = "humantime_serde")]
    pub reload_interval: Duration,
}

fn default_reload_interval() -> Duration {
    Duration::from_secs(10)
}

/// Why a TLS configuration could not be built. Each names the configuration key at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{}: {message}", path.display())]
    Pem {
        key: &'static str,
        path: PathBuf,
        message: String,
    },
    /// rustls refused the certificates or key (e.g. the key does not match).
    #[error("{message}")]
    Rustls { key: &'static str, message: String },
}

impl TlsError {
    /// The configuration key at fault, e.g. `tls.cert_file`.
    pub fn key(&self) -> &'static str {
        match self {
            TlsError::Pem { key, .. } | TlsError::Rustls { key, .. } => key,
        }
    }
}

/// Every certificate in a PEM file; none is an error.
pub(crate) fn load_certs(
    path: &Path,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |message: String| TlsError::Pem {
        key,
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(pem_message(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(pem_message(&e)))?;
    if certs.is_empty() {
        return Err(pem_error("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub(crate) fn load_key(path: &Path, key: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Pem {
        key,
        path: path.to_path_buf(),
        message: pem_message(&e),
    })
}

/// A PEM error in words. pki-types' own messages print file lines as byte arrays; a key
/// file's lines must not reach a log, so only the kind of problem is said.
fn pem_message(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM section of the expected kind in the file".into(),
        Error::MissingSectionEnd { .. } => "a PEM section has no END line".into(),
        Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
        Error::Base64Decode(_) => "a PEM section is not valid base64".into(),
        _ => "the file is not valid PEM".into(),
    }
}

/// The `ring` provider, the only one the proxy builds with.
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
