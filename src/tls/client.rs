//! TLS towards the upstream: certificates always verified against the webpki roots plus
//! `upstream.ca_file` (private endpoints), and an optional client certificate.
//! ALPN is set by the connector (`h2`, `http/1.1`).

use rustls::{ClientConfig, RootCertStore};

use super::{load_certs, load_key, provider, TlsError};
use crate::config::UpstreamConfig;

/// Builds the upstream client's TLS configuration.
pub fn client_config(upstream: &UpstreamConfig) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &upstream.ca_file {
        for cert in load_certs(path, "upstream.ca_file")? {
            roots.add(cert).map_err(|e| TlsError::Rustls {
                key: "upstream.ca_file",
                message: e.to_string(),
            })?;
        }
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls {
            key: "upstream",
            message: e.to_string(),
        })?
        .with_root_certificates(roots);
    match (&upstream.client_cert_file, &upstream.client_key_file) {
        (Some(cert), Some(key)) => {
            let certs = load_certs(cert, "upstream.client_cert_file")?;
            let key = load_key(key, "upstream.client_key_file")?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| TlsError::Rustls {
                    key: "upstream.client_key_file",
                    message: e.to_string(),
                })
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}
