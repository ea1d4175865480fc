//! The client-facing TLS configuration, reloaded from its files while the proxy runs.
//!
//! A background task checks the files' metadata every `tls.reload_interval`; when one
//! changed it builds a new `ServerConfig` and swaps it in for NEW handshakes. Open
//! connections keep the configuration they were made with, so nothing is dropped. A new
//! file that does not load (half-written, key not matching) is logged once and the old
//! configuration kept; the files are tried again at the next check.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use sha2::{Digest, Sha256};

use super::subject::subject_of;
use super::{load_certs, load_key, provider, TlsConfig, TlsError};
use crate::audit::record::{Entry, LifecycleRecord};
use crate::audit::AuditLog;

/// ALPN: HTTP/2 preferred, HTTP/1.1 for the rest (the Python SDK speaks HTTP/1.1).
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Builds the server configuration from the files `tls` names.
pub fn server_config(tls: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let certs = load_certs(&tls.cert_file, "tls.cert_file")?;
    let key = load_key(&tls.key_file, "tls.key_file")?;
    let rustls_error = |key: &'static str| {
        move |e: rustls::Error| TlsError::Rustls {
            key,
            message: e.to_string(),
        }
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rustls_error("tls"))?;
    let builder = match &tls.client_ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(path, "tls.client_ca_file")? {
                roots
                    .add(cert)
                    .map_err(rustls_error("tls.client_ca_file"))?;
            }
            // Built without `allow_unauthenticated`: a client without a certificate
            // signed by these CAs fails the handshake.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| TlsError::Rustls {
                    key: "tls.client_ca_file",
                    message: e.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(rustls_error("tls.key_file"))?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// What identifies a file's content cheaply: modification time, size and inode (a file
/// replaced by rename keeps neither).
type Stamp = Option<(SystemTime, u64, u64)>;

/// The current server configuration and the file versions it was built from.
pub struct ServerTls {
    config: TlsConfig,
    current: RwLock<Arc<ServerConfig>>,
    loaded: Mutex<Vec<Stamp>>,
    /// The stamps of the last failed attempt, so a bad file is logged once, not every check.
    failed: Mutex<Vec<Stamp>>,
}

impl ServerTls {
    pub fn new(config: &TlsConfig) -> Result<Arc<ServerTls>, TlsError> {
        let stamps = stamps(config);
        let server = server_config(config)?;
        Ok(Arc::new(ServerTls {
            config: config.clone(),
            current: RwLock::new(Arc::new(server)),
            loaded: Mutex::new(stamps),
            failed: Mutex::new(Vec::new()),
        }))
    }

    /// The configuration new handshakes use.
    pub fn current(&self) -> Arc<ServerConfig> {
        // A poisoned lock still holds a complete Arc: keep serving with it.
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The TLS handshake on an accepted connection, with the current configuration.
    pub async fn accept(&self, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        TlsAcceptor::from(self.current()).accept(stream).await
    }

    /// Rebuilds the configuration when a file changed. Returns whether it was swapped.
    pub fn reload_if_changed(&self) -> bool {
        let now = stamps(&self.config);
        if *lock(&self.loaded) == now {
            return false;
        }
        match server_config(&self.config) {
            Ok(server) => {
                match self.current.write() {
                    Ok(mut c) => *c = Arc::new(server),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(server),
                }
                *lock(&self.loaded) = now;
                lock(&self.failed).clear();
                tracing::info!(cert_file = %self.config.cert_file.display(), "TLS certificate reloaded; new connections use it");
                true
            }
            Err(e) => {
                let mut failed = lock(&self.failed);
                if *failed != now {
                    tracing::warn!(key = e.key(), error = %e, "new TLS files do not load; keeping the previous certificate");
                    *failed = now;
                }
                false
            }
        }
    }

    /// Checks the files every `tls.reload_interval` until `stop` turns true. A swap is a
    /// configuration change, recorded in the audit chain (`TlsCertificateReloaded`).
    pub fn spawn_reloader(self: Arc<Self>, audit: AuditLog, mut stop: watch::Receiver<bool>) {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.config.reload_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stop.changed() => return,
                }
                let this = self.clone();
                // Reading files blocks; keep it off the runtime's workers.
                let swapped = tokio::task::spawn_blocking(move || this.reload_if_changed()).await;
                if matches!(swapped, Ok(true)) {
                    let details = self.leaf_details();
                    let record =
                        Entry::Lifecycle(LifecycleRecord::new("TlsCertificateReloaded", details));
                    if let Err(e) = audit.append(record).await {
                        tracing::error!(error = %e, "audit log refused the certificate reload record");
                    }
                }
            }
        });
    }
}

impl ServerTls {
    /// The files and the new leaf certificate's subject and SHA-256 fingerprint.
    fn leaf_details(&self) -> serde_json::Value {
        let leaf = load_certs(&self.config.cert_file, "tls.cert_file")
            .ok()
            .and_then(|certs| certs.into_iter().next());
        serde_json::json!({
            "cert_file": self.config.cert_file,
            "client_ca_file": self.config.client_ca_file,
            "subject": leaf.as_ref().and_then(|c| subject_of(c)),
            "sha256": leaf.as_ref().map(|c| hex::encode(Sha256::digest(c))),
        })
    }
}

fn stamps(config: &TlsConfig) -> Vec<Stamp> {
    let files: Vec<&PathBuf> = [Some(&config.cert_file), Some(&config.key_file)]
        .into_iter()
        .chain([config.client_ca_file.as_ref()])
        .flatten()
        .collect();
    files
        .into_iter()
        .map(|path| {
            let m = std::fs::metadata(path).ok()?;
            Some((m.modified().ok()?, m.len(), m.ino()))
        })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &std::path::Path, stem: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (
            dir.join(format!("{stem}.pem")),
            dir.join(format!("{stem}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    fn config(cert_file: PathBuf, key_file: PathBuf) -> TlsConfig {
        TlsConfig {
            cert_file,
            key_file,
            client_ca_file: None,
            reload_interval: std::time::Duration::from_secs(10),
        }
    }

    #[test]
    fn loads_offers_alpn_and_names_the_key_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        let (other_cert, other_key) = write_pair(dir.path(), "b");
        let loaded = server_config(&config(cert.clone(), key.clone())).unwrap();
        assert_eq!(
            loaded.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        let e = server_config(&config(cert.clone(), other_key)).unwrap_err();
        assert_eq!(e.key(), "tls.key_file", "{e}");
        let e = server_config(&config(dir.path().join("none.pem"), key.clone())).unwrap_err();
        assert_eq!(e.key(), "tls.cert_file");
        let mut with_ca = config(cert, key);
        with_ca.client_ca_file = Some(dir.path().join("none.pem"));
        assert_eq!(
            server_config(&with_ca).unwrap_err().key(),
            "tls.client_ca_file"
        );
        with_ca.client_ca_file = Some(other_cert);
        assert!(server_config(&with_ca).is_ok());
    }

    #[test]
    fn a_bad_new_file_keeps_the_old_config() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        let tls = ServerTls::new(&config(cert.clone(), key)).unwrap();
        let before = tls.current();
        assert!(!tls.reload_if_changed(), "nothing changed");
        std::fs::write(&cert, "garbage").unwrap();
        assert!(!tls.reload_if_changed());
        assert!(Arc::ptr_eq(&before, &tls.current()));
        let (new_cert, new_key) = write_pair(dir.path(), "b");
        std::fs::rename(new_key, dir.path().join("a.key")).unwrap();
        std::fs::rename(new_cert, &cert).unwrap();
        assert!(tls.reload_if_changed());
        assert!(!Arc::ptr_eq(&before, &tls.current()));
    }
}
