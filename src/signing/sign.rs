//! Computing signatures, and signing a request as the Python SDK does.

use hmac::{Hmac, Mac};
use http::header::{HeaderValue, AUTHORIZATION, HOST};
use sha2::{Digest, Sha256};

use super::authorization::{is_valid_access_key, Authorization};
use super::canonical::{canonical_request, string_to_sign, CanonicalError};
use super::sdk_date::parse_sdk_date;
use super::secret::Secret;

/// Headers signed when present, the ones the Python SDK sets (it signs every header it
/// sets). Sorted, because the SDK sorts its signed header list.
pub const SIGNABLE_HEADERS: [&str; 7] = [
    "content-type",
    "host",
    "user-agent",
    "x-domain-id",
    "x-project-id",
    "x-sdk-date",
    "x-security-token",
];

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The access key is empty, too long or not ASCII letters and digits.
    #[error("access key is empty, too long or has characters other than letters and digits")]
    InvalidAccessKey,
    /// The date given is not `YYYYMMDDTHHMMSSZ`.
    #[error("X-Sdk-Date to sign with is not a valid YYYYMMDDTHHMMSSZ date")]
    InvalidDate,
    /// Neither a `Host` header nor a URI authority names the host to sign.
    #[error("request has no Host header and no authority in its URI")]
    MissingHost,
    /// A header that would be signed appears more than once; a verifier would refuse it.
    #[error("header {name:?} to be signed appears more than once")]
    DuplicateHeader {
        /// The repeated header (lowercase).
        name: &'static str,
    },
    /// A header to be signed could not be canonicalised.
    #[error("cannot build the canonical request: {0}")]
    Canonical(#[from] CanonicalError),
}

/// Hex SHA-256 of `data`, the body hash of the canonical request.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Hex HMAC-SHA256 of the string to sign with the secret key.
pub fn signature(secret: &[u8], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(secret, string_to_sign).finalize().into_bytes())
}

/// HMAC state over the string to sign; shared by [`signature`] and the verifier, which
/// compares in constant time with `verify_slice`.
pub(crate) fn hmac_sha256(secret: &[u8], string_to_sign: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this never fails; no input reaches the panic.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac
}

/// Signs a request in place: sets `X-Sdk-Date` to `sdk_date`, sets `Host` from the URI
/// authority when absent, and sets `Authorization` over the [`SIGNABLE_HEADERS`] present.
///
/// The path and raw query are signed as they are in `parts.uri`; `body` is hashed (an
/// `X-Sdk-Content-Sha256` header is not honoured: the payload is always signed).
pub fn sign(
    parts: &mut http::request::Parts,
    body: &[u8],
    access_key: &str,
    secret_key: &Secret,
    sdk_date: &str,
) -> Result<(), SignError> {
    if !is_valid_access_key(access_key) {
        return Err(SignError::InvalidAccessKey);
    }
    parse_sdk_date(sdk_date).map_err(|_| SignError::InvalidDate)?;
    let date = HeaderValue::from_str(sdk_date).map_err(|_| SignError::InvalidDate)?;
    parts.headers.insert("x-sdk-date", date);

    if !parts.headers.contains_key(HOST) {
        let authority = parts.uri.authority().ok_or(SignError::MissingHost)?;
        let host = HeaderValue::from_str(without_userinfo(authority))
            .map_err(|_| SignError::MissingHost)?;
        parts.headers.insert(HOST, host);
    }
    parts.headers.remove(AUTHORIZATION);

    let mut signed_headers = Vec::new();
    for name in SIGNABLE_HEADERS {
        match parts.headers.get_all(name).iter().count() {
            0 => {}
            1 => signed_headers.push(name.to_owned()),
            _ => return Err(SignError::DuplicateHeader { name }),
        }
    }

    let canonical = canonical_request(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &signed_headers,
        &sha256_hex(body),
    )?;
    let to_sign = string_to_sign(sdk_date, &canonical);
    let authorization = Authorization {
        access_key: access_key.to_owned(),
        signed_headers,
        signature: signature(secret_key.expose_secret(), &to_sign),
    };
    // Letters, digits, header names and hex: always a valid header value.
    let value = HeaderValue::from_str(&authorization.to_header_value())
        .map_err(|_| SignError::InvalidAccessKey)?;
    parts.headers.insert(AUTHORIZATION, value);
    Ok(())
}

/// `host[:port]` of an authority: `user:password@` must never reach a header.
pub(crate) fn without_userinfo(authority: &http::uri::Authority) -> &str {
    let a = authority.as_str();
    a.rsplit_once('@').map_or(a, |(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> http::request::Parts {
        let (parts, ()) = http::Request::builder()
            .method("DELETE")
            .uri(uri)
            .header("content-type", "application/json")
            .body(())
            .expect("valid request")
            .into_parts();
        parts
    }

    #[test]
    fn sets_host_date_and_authorization() {
        let mut p = parts("http://127.0.0.1:9000/v5/virtual-mfa-devices?user_id=u");
        sign(&mut p, b"", "AK1", &Secret::from("sk"), "20261203T160704Z").expect("signs");
        assert_eq!(p.headers["host"], "127.0.0.1:9000");
        assert_eq!(p.headers["x-sdk-date"], "20261203T160704Z");
        let auth = p.headers["authorization"].to_str().expect("ascii");
        let auth = Authorization::parse(auth).expect("parses");
        assert_eq!(auth.signed_headers, ["content-type", "host", "x-sdk-date"]);
    }

    #[test]
    fn host_from_authority_drops_userinfo() {
        let mut p = parts("http://user:pw@h:1/v5");
        sign(&mut p, b"", "AK1", &Secret::from("sk"), "20261203T160704Z").expect("signs");
        assert_eq!(p.headers["host"], "h:1");
    }

    #[test]
    fn refuses_bad_inputs() {
        let sk = Secret::from("sk");
        let mut p = parts("/v5");
        assert_eq!(
            sign(&mut p, b"", "AK1", &sk, "20261203T160704Z"),
            Err(SignError::MissingHost)
        );
        let mut p = parts("http://h/v5");
        assert_eq!(
            sign(&mut p, b"", "AK 1", &sk, "20261203T160704Z"),
            Err(SignError::InvalidAccessKey)
        );
        assert_eq!(
            sign(&mut p, b"", "AK1", &sk, "yesterday"),
            Err(SignError::InvalidDate)
        );
        p.headers
            .append("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(
            sign(&mut p, b"", "AK1", &sk, "20261203T160704Z"),
            Err(SignError::DuplicateHeader {
                name: "content-type"
            })
        );
    }
}
