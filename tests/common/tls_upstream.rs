//! An HTTPS upstream, as the real IAM endpoint is: a server certificate from a test CA,
//! the ALPN protocols a test asks for (`h2`, `http/1.1`), optionally a required client
//! certificate. It answers like IAM (`204` with an `X-Request-Id` for deletions, `200` with
//! a small JSON list otherwise) and records what each request looked like on arrival.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{Request, Response, Version};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::tls::Issued;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub version: Version,
    pub method: String,
    pub target: String,
    /// The `Host` header (HTTP/1.1) or the `:authority` (HTTP/2).
    pub authority: Option<String>,
    /// The `Host` header field, in either version.
    pub host_header: Option<String>,
    pub client_certificate: bool,
    pub request_id: String,
}

pub struct TlsUpstream {
    pub addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl TlsUpstream {
    /// Serves with `cert`, offering `alpn`; with `client_ca_pem`, every client must present
    /// a certificate issued by it.
    pub fn start(cert: &Issued, alpn: &[&[u8]], client_ca_pem: Option<&str>) -> TlsUpstream {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots.add(c.unwrap()).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(
                CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap(),
            )
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let counter = Arc::new(AtomicUsize::new(0));
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, record, counter) =
                    (acceptor.clone(), record.clone(), counter.clone());
                tokio::spawn(async move {
                    // A handshake the client aborts (an untrusted certificate) ends here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let client_certificate = tls.get_ref().1.peer_certificates().is_some();
                    let service = service_fn(move |request: Request<Incoming>| {
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        let request_id = format!("tls-upstream-{n:04}");
                        let authority =
                            request
                                .uri()
                                .authority()
                                .map(|a| a.to_string())
                                .or_else(|| {
                                    request
                                        .headers()
                                        .get(http::header::HOST)
                                        .and_then(|h| h.to_str().ok())
                                        .map(str::to_string)
                                });
                        record.lock().unwrap().push(Seen {
                            version: request.version(),
                            method: request.method().to_string(),
                            target: request
                                .uri()
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            authority,
                            host_header: request
                                .headers()
                                .get(http::header::HOST)
                                .and_then(|h| h.to_str().ok())
                                .map(str::to_string),
                            client_certificate,
                            request_id: request_id.clone(),
                        });
                        let response = if request.method() == http::Method::DELETE {
                            Response::builder()
                                .status(204)
                                .header("x-request-id", request_id)
                                .body(Full::new(Bytes::new()))
                        } else {
                            Response::builder()
                                .status(200)
                                .header("content-type", "application/json")
                                .header("x-request-id", request_id)
                                .body(Full::new(Bytes::from_static(b"{\"mfa_devices\":[]}")))
                        };
                        async move { Ok::<_, std::convert::Infallible>(response.unwrap()) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsUpstream {
            addr,
            seen,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}
