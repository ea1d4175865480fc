//! Checking a signed request the way the API gateway does.

use hmac::Mac;
use http::header::{AUTHORIZATION, HOST};
use time::OffsetDateTime;

use super::authorization::{Authorization, AuthorizationError};
use super::canonical::{build, string_to_sign, CanonicalError};
use super::sdk_date::parse_sdk_date;
use super::secret::Secret;
use super::sign::{hmac_sha256, without_userinfo};

/// The gateway refuses an `X-Sdk-Date` further than this from its clock, either way.
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(15);

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The caller's access key ID, now proven.
    pub access_key: String,
}

/// Why a request's signature was refused. Messages never include the signature, a
/// security token or a secret key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `Authorization` header.
    #[error("Authorization header is missing")]
    MissingAuthorization,
    /// More than one `Authorization` header: which one counts would be ambiguous.
    #[error("Authorization header appears more than once")]
    MultipleAuthorization,
    /// The `Authorization` header is not visible ASCII.
    #[error("Authorization header is not visible ASCII")]
    NonAsciiAuthorization,
    /// The `Authorization` header does not parse.
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(#[from] AuthorizationError),
    /// `host` is not among the signed headers, so the request could be replayed to
    /// another host.
    #[error("SignedHeaders does not include host")]
    HostNotSigned,
    /// Neither a `Host` header nor a URI authority.
    #[error("request has no Host header and no authority")]
    MissingHost,
    /// The `Host` header and the URI authority (absolute-form or HTTP/2) differ.
    #[error("Host header and request authority differ")]
    HostMismatch,
    /// A signed header is absent from the request.
    #[error("signed header {name:?} is missing from the request")]
    MissingSignedHeader {
        /// The absent header (lowercase).
        name: String,
    },
    /// A signed header appears more than once: its signed value would be ambiguous.
    #[error("signed header {name:?} appears more than once")]
    DuplicateSignedHeader {
        /// The repeated header (lowercase).
        name: String,
    },
    /// A signed header's value is not UTF-8.
    #[error("signed header {name:?} has a value that is not UTF-8")]
    NonUtf8HeaderValue {
        /// The header (lowercase).
        name: String,
    },
    /// No `X-Sdk-Date` header (or more than one).
    #[error("X-Sdk-Date header is missing or repeated")]
    MissingDate,
    /// `X-Sdk-Date` is not `YYYYMMDDTHHMMSSZ`.
    #[error("X-Sdk-Date is not a valid YYYYMMDDTHHMMSSZ date")]
    InvalidDate,
    /// `X-Sdk-Date` is more than [`MAX_CLOCK_SKEW`] away from the server clock.
    #[error("X-Sdk-Date is {skew_seconds}s away from the server clock (at most 900s allowed)")]
    DateOutOfRange {
        /// Request date minus server time, in seconds (negative: in the past).
        skew_seconds: i64,
    },
    /// No secret key is known for this access key.
    #[error("access key {access_key} is not known")]
    UnknownAccessKey {
        /// The access key from the request (letters and digits, not a secret).
        access_key: String,
    },
    /// The signature does not match the request.
    #[error("signature does not match the request")]
    SignatureMismatch,
}

impl From<CanonicalError> for VerifyError {
    fn from(e: CanonicalError) -> Self {
        match e {
            CanonicalError::MissingSignedHeader { name } => Self::MissingSignedHeader { name },
            CanonicalError::NonUtf8HeaderValue { name } => Self::NonUtf8HeaderValue { name },
        }
    }
}

/// Verifies a request signed with SDK-HMAC-SHA256.
///
/// `body_sha256_hex` is the hex SHA-256 of the body as received. The host checked is the
/// `Host` header (HTTP/1.1) or else the URI authority (HTTP/2 `:authority`); when both
/// are present they must agree. Checks, in order: Authorization parses; `host` is signed;
/// every signed header is present exactly once; `X-Sdk-Date` parses and is within
/// [`MAX_CLOCK_SKEW`] of `now`; the access key is known; the signature matches
/// (constant-time comparison).
///
/// The body hash is always `body_sha256_hex`: an `X-Sdk-Content-Sha256:
/// UNSIGNED-PAYLOAD` header is not honoured, so the payload is always covered.
pub fn verify(
    parts: &http::request::Parts,
    body_sha256_hex: &str,
    lookup_secret: impl Fn(&str) -> Option<Secret>,
    now: OffsetDateTime,
) -> Result<Verified, VerifyError> {
    let auth = authorization(&parts.headers)?;
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(VerifyError::HostNotSigned);
    }
    let host = effective_host(parts)?;
    for name in &auth.signed_headers {
        if name == "host" {
            continue;
        }
        match parts.headers.get_all(name.as_str()).iter().count() {
            0 => return Err(VerifyError::MissingSignedHeader { name: name.clone() }),
            1 => {}
            _ => return Err(VerifyError::DuplicateSignedHeader { name: name.clone() }),
        }
    }

    let date = single(&parts.headers, "x-sdk-date").ok_or(VerifyError::MissingDate)?;
    let date = date.to_str().map_err(|_| VerifyError::InvalidDate)?;
    let signed_at = parse_sdk_date(date).map_err(|_| VerifyError::InvalidDate)?;
    let skew = signed_at - now;
    if skew.abs() > MAX_CLOCK_SKEW {
        return Err(VerifyError::DateOutOfRange {
            skew_seconds: skew.whole_seconds(),
        });
    }

    let secret = lookup_secret(&auth.access_key).ok_or_else(|| VerifyError::UnknownAccessKey {
        access_key: auth.access_key.clone(),
    })?;

    let canonical = build(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &auth.signed_headers,
        body_sha256_hex,
        |name| {
            if name == "host" {
                Some(host)
            } else {
                parts.headers.get(name).map(|v| v.as_bytes())
            }
        },
    )?;
    let expected = hmac_sha256(secret.expose_secret(), &string_to_sign(date, &canonical));
    // Parse guarantees 64 lowercase hex digits; a decode failure is still a mismatch.
    let given = hex::decode(&auth.signature).map_err(|_| VerifyError::SignatureMismatch)?;
    expected
        .verify_slice(&given)
        .map_err(|_| VerifyError::SignatureMismatch)?;
    Ok(Verified {
        access_key: auth.access_key,
    })
}

fn authorization(headers: &http::HeaderMap) -> Result<Authorization, VerifyError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(VerifyError::MissingAuthorization)?;
    if values.next().is_some() {
        return Err(VerifyError::MultipleAuthorization);
    }
    let value = value
        .to_str()
        .map_err(|_| VerifyError::NonAsciiAuthorization)?;
    Ok(Authorization::parse(value)?)
}

/// The host the client addressed: the `Host` header, else the URI authority.
fn effective_host(parts: &http::request::Parts) -> Result<&[u8], VerifyError> {
    let mut hosts = parts.headers.get_all(HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return Err(VerifyError::DuplicateSignedHeader {
            name: "host".to_owned(),
        });
    }
    let authority = parts
        .uri
        .authority()
        .map(|a| without_userinfo(a).as_bytes());
    match (header, authority) {
        (Some(h), Some(a)) if !h.as_bytes().eq_ignore_ascii_case(a) => {
            Err(VerifyError::HostMismatch)
        }
        (Some(h), _) => Ok(h.as_bytes()),
        (None, Some(a)) => Ok(a),
        (None, None) => Err(VerifyError::MissingHost),
    }
}

fn single<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a http::HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::super::sign::sign;
    use super::*;
    use time::macros::datetime;

    const AK: &str = "HPUAEXAMPLEAK0000001";
    const SK: &str = "ExampleSecretKey0123456789abcdefghijklmn";
    const NOW: OffsetDateTime = datetime!(2026-12-03 16:07:04 UTC);
    const DATE: &str = "20261203T160704Z";

    fn secrets(ak: &str) -> Option<Secret> {
        (ak == AK).then(|| Secret::from(SK))
    }

    fn signed(uri: &str) -> http::request::Parts {
        let (mut parts, ()) = http::Request::builder()
            .method("DELETE")
            .uri(uri)
            .header("host", "127.0.0.1:9000")
            .header("content-type", "application/json")
            .body(())
            .expect("valid request")
            .into_parts();
        sign(&mut parts, b"", AK, &Secret::from(SK), DATE).expect("signs");
        parts
    }

    const URI: &str = "/v5/virtual-mfa-devices?user_id=a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6&serial_number=iam%3A%3Aa%3Amfa%3Ab";

    fn check(parts: &http::request::Parts) -> Result<Verified, VerifyError> {
        verify(parts, super::super::EMPTY_BODY_SHA256, secrets, NOW)
    }

    #[test]
    fn accepts_own_signature() {
        assert_eq!(
            check(&signed(URI)),
            Ok(Verified {
                access_key: AK.into()
            })
        );
    }

    #[test]
    fn skew_limits() {
        let parts = signed(URI);
        let ok = verify(
            &parts,
            super::super::EMPTY_BODY_SHA256,
            secrets,
            NOW + MAX_CLOCK_SKEW,
        );
        assert!(ok.is_ok());
        let stale = verify(
            &parts,
            super::super::EMPTY_BODY_SHA256,
            secrets,
            NOW + time::Duration::minutes(16),
        );
        assert_eq!(
            stale,
            Err(VerifyError::DateOutOfRange { skew_seconds: -960 })
        );
        let future = verify(
            &parts,
            super::super::EMPTY_BODY_SHA256,
            secrets,
            NOW - time::Duration::minutes(16),
        );
        assert_eq!(
            future,
            Err(VerifyError::DateOutOfRange { skew_seconds: 960 })
        );
    }

    #[test]
    fn wrong_secret_unknown_key_and_tampering() {
        let parts = signed(URI);
        let wrong = verify(
            &parts,
            super::super::EMPTY_BODY_SHA256,
            |_| Some(Secret::from("other")),
            NOW,
        );
        assert_eq!(wrong, Err(VerifyError::SignatureMismatch));
        let unknown = verify(&parts, super::super::EMPTY_BODY_SHA256, |_| None, NOW);
        assert_eq!(
            unknown,
            Err(VerifyError::UnknownAccessKey {
                access_key: AK.into()
            })
        );

        let mut tampered = signed(URI);
        tampered.uri = URI.replace("mfa%3Ab", "mfa%3Ac").parse().expect("uri");
        assert_eq!(check(&tampered), Err(VerifyError::SignatureMismatch));

        let mut body = signed(URI);
        body.method = http::Method::GET;
        assert_eq!(check(&body), Err(VerifyError::SignatureMismatch));

        let parts = signed(URI);
        assert_eq!(
            verify(&parts, &"0".repeat(64), secrets, NOW),
            Err(VerifyError::SignatureMismatch)
        );

        let mut other_host = signed(URI);
        other_host
            .headers
            .insert("host", "127.0.0.1:9001".parse().expect("value"));
        assert_eq!(check(&other_host), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn header_rules() {
        let mut no_host_signed = signed(URI);
        let auth = no_host_signed.headers["authorization"]
            .to_str()
            .expect("ascii")
            .replace("content-type;host;x-sdk-date", "content-type;x-sdk-date");
        no_host_signed
            .headers
            .insert("authorization", auth.parse().expect("value"));
        assert_eq!(check(&no_host_signed), Err(VerifyError::HostNotSigned));

        let mut missing = signed(URI);
        missing.headers.remove("content-type");
        assert_eq!(
            check(&missing),
            Err(VerifyError::MissingSignedHeader {
                name: "content-type".into()
            })
        );

        let mut dup = signed(URI);
        dup.headers
            .append("content-type", "text/plain".parse().expect("value"));
        assert_eq!(
            check(&dup),
            Err(VerifyError::DuplicateSignedHeader {
                name: "content-type".into()
            })
        );

        let mut two_auth = signed(URI);
        let a = two_auth.headers["authorization"].clone();
        two_auth.headers.append("authorization", a);
        assert_eq!(check(&two_auth), Err(VerifyError::MultipleAuthorization));

        let mut none = signed(URI);
        none.headers.remove("authorization");
        assert_eq!(check(&none), Err(VerifyError::MissingAuthorization));

        let mut bad_date = signed(URI);
        bad_date
            .headers
            .insert("x-sdk-date", "2026-12-03".parse().expect("value"));
        assert_eq!(check(&bad_date), Err(VerifyError::InvalidDate));

        let mut mismatch = signed(URI);
        mismatch.uri = format!("http://example.com{URI}").parse().expect("uri");
        assert_eq!(check(&mismatch), Err(VerifyError::HostMismatch));
    }

    #[test]
    fn non_utf8_signed_header_is_refused() {
        let mut parts = signed(URI);
        parts.headers.insert(
            "content-type",
            http::HeaderValue::from_bytes(b"application/json\xff").expect("obs-text"),
        );
        assert_eq!(
            check(&parts),
            Err(VerifyError::NonUtf8HeaderValue {
                name: "content-type".into()
            })
        );
    }

    #[test]
    fn http2_uses_authority() {
        let mut parts = signed(URI);
        parts.headers.remove("host");
        parts.uri = format!("http://127.0.0.1:9000{URI}").parse().expect("uri");
        assert!(check(&parts).is_ok());
    }

    #[test]
    fn error_messages_hold_no_secrets() {
        let parts = signed(URI);
        let auth = Authorization::parse(parts.headers["authorization"].to_str().expect("ascii"))
            .expect("parses");
        for e in [
            VerifyError::SignatureMismatch,
            VerifyError::UnknownAccessKey {
                access_key: AK.into(),
            },
        ] {
            let msg = e.to_string();
            assert!(!msg.contains(&auth.signature) && !msg.contains(SK), "{msg}");
        }
    }
}
