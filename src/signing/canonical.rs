//! The canonical request and the string to sign, exactly as
//! `huaweicloudsdkcore/signer/signer.py` (3.1.219) builds them.
//!
//! canonical request = METHOD `\n` URI `\n` query `\n` `name:value\n`... `\n`
//! `a;b;c` `\n` hex(SHA-256(body)).

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use super::authorization::ALGORITHM;

/// Hex SHA-256 of an empty body, what the SDK uses when there is no body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Everything but RFC 3986 unreserved characters is encoded: Python's
/// `quote(s, safe='~')`, which the SDK uses for path segments, query keys and values.
const ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why a canonical request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A header named in `SignedHeaders` is not in the request.
    #[error("signed header {name:?} is missing from the request")]
    MissingSignedHeader {
        /// The absent header (lowercase).
        name: String,
    },
    /// A signed header's value is not UTF-8, which no SDK produces.
    #[error("signed header {name:?} has a value that is not UTF-8")]
    NonUtf8HeaderValue {
        /// The header (lowercase).
        name: String,
    },
}

/// Builds the canonical request.
///
/// `path` and `raw_query` are as received (percent-encoded). `signed_headers` are
/// lowercase names in the order of the `SignedHeaders` list. When a signed header is
/// repeated, the last value is used, as the Python signer's header dict does (verifiers
/// should refuse repeated signed headers; [`crate::signing::verify`] does).
pub fn canonical_request(
    method: &str,
    path: &str,
    raw_query: Option<&str>,
    headers: &http::HeaderMap,
    signed_headers: &[String],
    body_sha256_hex: &str,
) -> Result<String, CanonicalError> {
    build(
        method,
        path,
        raw_query,
        signed_headers,
        body_sha256_hex,
        |name| {
            headers
                .get_all(name)
                .iter()
                .next_back()
                .map(|v| v.as_bytes())
        },
    )
}

/// [`canonical_request`] with header values supplied by `lookup` (lowercase name in,
/// raw value out), so a verifier can supply the HTTP/2 authority as `host`.
pub(crate) fn build<'a>(
    method: &str,
    path: &str,
    raw_query: Option<&str>,
    signed_headers: &[String],
    body_sha256_hex: &str,
    lookup: impl Fn(&str) -> Option<&'a [u8]>,
) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(256);
    out.push_str(&method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(&canonical_uri(path));
    out.push('\n');
    out.push_str(&canonical_query(raw_query));
    out.push('\n');
    for name in signed_headers {
        let raw = lookup(name)
            .ok_or_else(|| CanonicalError::MissingSignedHeader { name: name.clone() })?;
        let value = std::str::from_utf8(raw)
            .map_err(|_| CanonicalError::NonUtf8HeaderValue { name: name.clone() })?;
        out.push_str(name);
        out.push(':');
        // Python's str.strip(): Unicode whitespace at both ends.
        out.push_str(value.trim());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(body_sha256_hex);
    Ok(out)
}

/// The canonical URI: the path percent-decoded (invalid UTF-8 becomes U+FFFD, as in
/// Python's `unquote`), split on `/`, each segment re-encoded, and a trailing `/`.
/// An encoded `%2F` therefore becomes a separator, as in the SDK.
pub fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut uri = decoded
        .split('/')
        .map(|segment| utf8_percent_encode(segment, ENCODE_SET).to_string())
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query: `key=value` pairs percent-decoded, sorted by key then value (as
/// Python sorts its `(key, value)` tuples), re-encoded and joined with `&`. A pair without
/// `=` has an empty value; empty pairs are skipped. `+` is a literal plus, not a space
/// (RFC 3986; the SDK itself always sends `%20` and `%2B`).
pub fn canonical_query(raw_query: Option<&str>) -> String {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode_str(key).decode_utf8_lossy(),
                percent_decode_str(value).decode_utf8_lossy(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, ENCODE_SET),
                utf8_percent_encode(v, ENCODE_SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `SDK-HMAC-SHA256\n<X-Sdk-Date>\n` hex(SHA-256(canonical request)).
pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_reencodes_segments_and_adds_slash() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/v5/mfa-devices"), "/v5/mfa-devices/");
        assert_eq!(canonical_uri("/v5/mfa-devices/"), "/v5/mfa-devices/");
        assert_eq!(canonical_uri("/a%20b/c:d"), "/a%20b/c%3Ad/");
        assert_eq!(canonical_uri("/a%2Fb"), "/a/b/");
        assert_eq!(canonical_uri("/%7e%41"), "/~A/");
        assert_eq!(canonical_uri("/%zz"), "/%25zz/");
        assert_eq!(canonical_uri("/%ff"), "/%EF%BF%BD/");
    }

    #[test]
    fn query_sorted_and_reencoded() {
        assert_eq!(canonical_query(None), "");
        assert_eq!(canonical_query(Some("")), "");
        assert_eq!(canonical_query(Some("b=2&a=1&a=0")), "a=0&a=1&b=2");
        assert_eq!(canonical_query(Some("x&&y=")), "x=&y=");
        assert_eq!(canonical_query(Some("s=a+b%7E%3a")), "s=a%2Bb~%3A");
        assert_eq!(canonical_query(Some("k=a=b")), "k=a%3Db");
    }

    #[test]
    fn repeated_header_uses_last_value() {
        let mut headers = http::HeaderMap::new();
        headers.append("host", "a".parse().expect("static"));
        headers.append("host", "b".parse().expect("static"));
        let c = canonical_request("get", "/", None, &headers, &["host".into()], "h")
            .expect("canonical");
        assert_eq!(c, "GET\n/\n\nhost:b\n\nhost\nh");
    }

    #[test]
    fn missing_header_is_an_error() {
        let headers = http::HeaderMap::new();
        assert_eq!(
            canonical_request("GET", "/", None, &headers, &["host".into()], "h"),
            Err(CanonicalError::MissingSignedHeader {
                name: "host".into()
            })
        );
    }
}
