//! Builds the request sent upstream. In passthrough mode nothing the signature covers
//! changes: method, raw path and query, body, and every header but the hop-by-hop ones
//! (Host included), so the upstream verifies the caller's own signature.

use http::header::HOST;
use http::request::Parts;
use http::{HeaderValue, Request, Response, Version};
use hyper::body::Incoming;

use super::body::{stream, ProxyBody};
use super::hop_by_hop::strip_hop_by_hop;
use super::upstream::Upstream;

/// Turns the client's request head into the upstream's, keeping the client's Host.
pub fn upstream_request(
    mut parts: Parts,
    body: ProxyBody,
    upstream: &Upstream,
) -> Request<ProxyBody> {
    strip_hop_by_hop(&mut parts.headers);
    if !parts.headers.contains_key(HOST) {
        // HTTP/2 clients send the host as :authority; the signature covers it as `host`.
        if let Some(value) = parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            parts.headers.insert(HOST, value);
        }
    }
    parts.uri = upstream.uri_for(parts.uri.path_and_query());
    // The pool picks the upstream protocol (HTTP/2 only through ALPN); the client's own
    // version says nothing about the upstream connection.
    parts.version = Version::HTTP_11;
    Request::from_parts(parts, body)
}

/// The upstream's answer as the client gets it: hop-by-hop headers removed, body streamed.
pub fn client_response(response: Response<Incoming>) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, stream(body))
}
