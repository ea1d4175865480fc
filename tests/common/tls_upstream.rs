//! An HTTPS upstream, as the real IAM endpoint is: a server certificate from a test CA,
//! the ALPN protocols a test asks for (`h2`, `http/1.1`), optionally a required client
//! certificate. It answers like IAM (`204` with an `X-Request-Id` for deletions, `200` with
//! a small JSON list otherwise) and records what each request looked like on arrival.
//! Given a credential, it also checks each request's SDK-HMAC-SHA256 signature against
//! the host it received, as the IAM gateway does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mfa_audit_proxy::signing::{sha256_hex, verify, Secret};

use super::tls::{roots, Issued};

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
    /// With a credential to check against: `Ok` or why the signature failed.
    pub signature: Option<Result<(), String>>,
}

/// What the upstream serves with.
pub struct TlsUpstreamConfig<'a> {
    pub alpn: &'a [&'a [u8]],
    /// Every client must present a certificate issued by this CA.
    pub client_ca_pem: Option<&'a str>,
    /// `(access key, secret key)` to check signatures with.
    pub credential: Option<(&'a str, &'a str)>,
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
        Self::start_with(
            cert,
            TlsUpstreamConfig {
                alpn,
                client_ca_pem,
                credential: None,
            },
        )
    }

    pub fn start_with(cert: &Issued, options: TlsUpstreamConfig<'_>) -> TlsUpstream {
        let TlsUpstreamConfig {
            alpn,
            client_ca_pem,
            credential,
        } = options;
        let credential = credential.map(|(ak, sk)| (ak.to_string(), sk.to_string()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots(pem)),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(cert.chain(), cert.key()).unwrap();
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
                let (acceptor, record, counter, credential) = (
                    acceptor.clone(),
                    record.clone(),
                    counter.clone(),
                    credential.clone(),
                );
                tokio::spawn(async move {
                    // A handshake the client aborts (an untrusted certificate) ends here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let client_certificate = tls.get_ref().1.peer_certificates().is_some();
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (record, counter, credential) =
                            (record.clone(), counter.clone(), credential.clone());
                        async move {
                            let n = counter.fetch_add(1, Ordering::SeqCst);
                            let request_id = format!("tls-upstream-{n:04}");
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes());
                            let body = body.unwrap_or_default();
                            let signature = credential.map(|(ak, sk)| {
                                verify(
                                    &parts,
                                    &sha256_hex(&body),
                                    |key| (key == ak).then(|| Secret::new(sk.as_bytes())),
                                    time::OffsetDateTime::now_utc(),
                                )
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                            });
                            let header = |name: http::header::HeaderName| {
                                parts
                                    .headers
                                    .get(name)
                                    .and_then(|h| h.to_str().ok())
                                    .map(str::to_string)
                            };
                            record.lock().unwrap().push(Seen {
                                version: parts.version,
                                method: parts.method.to_string(),
                                target: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                authority: parts
                                    .uri
                                    .authority()
                                    .map(|a| a.to_string())
                                    .or_else(|| header(http::header::HOST)),
                                host_header: header(http::header::HOST),
                                client_certificate,
                                request_id: request_id.clone(),
                                signature,
                            });
                            let response = if parts.method == http::Method::DELETE {
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
                            Ok::<_, std::convert::Infallible>(response.unwrap())
                        }
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
