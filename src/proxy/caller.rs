//! Who is calling: what the request and its connection say about the caller, for the
//! audit record. Secrets (the signature, the security token's value) are never copied.

use std::net::SocketAddr;

use http::HeaderMap;

use super::forwarded_for::TrustedProxies;
use crate::audit::record::Caller;

/// Facts about the client connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    /// The subject of the client certificate, under mutual TLS.
    pub tls_client_subject: Option<String>,
}

/// The caller as claimed by the request (`signature_verified` is set by resign mode).
/// The source is the socket's address, or what a trusted proxy says it is.
pub fn caller_of(
    headers: &HeaderMap,
    connection: &ConnectionInfo,
    trusted: &TrustedProxies,
) -> Caller {
    let (source_ip, source_port) = trusted.source(connection.remote, headers);
    Caller {
        access_key_id: header_str(headers, "authorization").and_then(access_key_of),
        signature_verified: false,
        security_token: headers.contains_key("x-security-token"),
        domain_id: header_str(headers, "x-domain-id").map(str::to_string),
        source_ip: Some(source_ip.to_string()),
        source_port,
        user_agent: header_str(headers, "user-agent").map(str::to_string),
        tls_client_subject: connection.tls_client_subject.clone(),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The AK of an `SDK-HMAC-SHA256 Access=AK, SignedHeaders=..., Signature=...` header.
fn access_key_of(authorization: &str) -> Option<String> {
    crate::signing::Authorization::access_key_of(authorization)
        .ok()
        .map(str::to_string)
}
