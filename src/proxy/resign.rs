//! Resign mode: the caller's SDK-HMAC-SHA256 signature is checked as the API gateway
//! checks it (over what was received, `host` signed, `X-Sdk-Date` within 15 minutes),
//! then the request is signed again with the same credential for the upstream's host.
//! The upstream then sees a request addressed to itself, and the caller is proven.
//!
//! Requests with temporary credentials (`X-Security-Token`) cannot be signed again: their
//! secret key is issued with the token and never configured here. They are refused
//! unless `upstream.temporary_credentials = "forward_unverified"`.

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST};
use http::request::Parts;
use http::{HeaderValue, Request, Response, Version};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use time::OffsetDateTime;

use super::body::{empty, full, ProxyBody};
use super::body_limit::{declared_too_large, too_large};
use super::error_answer::ProxyError;
use super::forward::{client_response, upstream_request};
use super::hop_by_hop::strip_hop_by_hop;
use super::upstream::Upstream;
use super::Proxy;
use crate::audit::record::Caller;
use crate::config::TemporaryCredentials;
use crate::credentials::Credentials;
use crate::signing::{
    format_sdk_date, sha256_hex, sign, verify, Authorization, Secret, SignError, SIGNABLE_HEADERS,
};

const SECURITY_TOKEN: &str = "x-security-token";
const SDK_DATE: &str = "x-sdk-date";
const TEMPORARY_REFUSED: &str = "requests signed with temporary credentials (X-Security-Token) cannot be verified and signed again by this proxy; use a permanent access key configured in its [[credentials]]";

/// What resign mode needs: the callers' keys and the temporary-credentials policy.
pub struct Resigner {
    pub credentials: Credentials,
    pub temporary_credentials: TemporaryCredentials,
}

/// The caller as resign mode sees it.
pub enum CallerCheck {
    /// The signature verified: sign again with this caller's key. `signed_headers` are
    /// the names the caller signed.
    Verified {
        access_key: String,
        secret: Secret,
        signed_headers: Vec<String>,
    },
    /// Temporary credentials, forwarded as received (`forward_unverified`).
    Unverified,
}

impl Resigner {
    /// Checks the caller's signature over the request as received. The error is the
    /// message for the 401 answer; it never holds a signature, token or key.
    pub fn check(
        &self,
        parts: &Parts,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<CallerCheck, String> {
        if parts.headers.contains_key(SECURITY_TOKEN) {
            return match self.temporary_credentials {
                TemporaryCredentials::Refuse => Err(TEMPORARY_REFUSED.to_string()),
                TemporaryCredentials::ForwardUnverified => Ok(CallerCheck::Unverified),
            };
        }
        let verified = verify(
            parts,
            &sha256_hex(body),
            |ak| self.credentials.secret_of(ak),
            now,
        )
        .map_err(|e| format!("signature check failed: {e}"))?;
        let secret = self
            .credentials
            .secret_of(&verified.access_key)
            .ok_or_else(|| "signature check failed: access key is not known".to_string())?;
        // verify() parsed it already; parsing again cannot fail.
        let signed_headers = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Authorization::parse(v).ok())
            .map(|a| a.signed_headers)
            .unwrap_or_default();
        Ok(CallerCheck::Verified {
            access_key: verified.access_key,
            secret,
            signed_headers,
        })
    }
}

/// The request for the upstream, signed again: Host is the upstream's authority,
/// `X-Sdk-Date` is `now`, and `Authorization` is computed with the caller's own key over
/// the headers the SDKs sign. Path, raw query and body are unchanged.
///
/// A header the proxy would sign but the caller did not (`caller_signed`) is dropped:
/// added on the way, it must not be vouched for by the new signature.
pub fn resigned_request(
    mut parts: Parts,
    body: Bytes,
    access_key: &str,
    secret: &Secret,
    caller_signed: &[String],
    upstream: &Upstream,
    now: OffsetDateTime,
) -> Result<Request<ProxyBody>, SignError> {
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(AUTHORIZATION);
    parts.headers.remove(SDK_DATE);
    for name in SIGNABLE_HEADERS {
        if !caller_signed.iter().any(|s| s == name) {
            parts.headers.remove(name);
        }
    }
    let host =
        HeaderValue::from_str(upstream.authority().as_str()).map_err(|_| SignError::MissingHost)?;
    parts.headers.insert(HOST, host);
    parts.uri = upstream.uri_for(parts.uri.path_and_query());
    parts.version = Version::HTTP_11;
    sign(&mut parts, &body, access_key, secret, &format_sdk_date(now))?;
    let body = if body.is_empty() { empty() } else { full(body) };
    Ok(Request::from_parts(parts, body))
}

impl Proxy {
    /// The deletion's upstream request: as received in passthrough mode; in resign mode
    /// only after the caller's signature verified (marked in `caller`), signed again.
    pub(super) fn forwarded_delete(
        &self,
        parts: Parts,
        caller: &mut Caller,
    ) -> Result<Request<ProxyBody>, (ProxyError, String)> {
        let Some(resigner) = &self.resign else {
            return Ok(upstream_request(parts, empty(), &self.upstream));
        };
        let now = OffsetDateTime::now_utc();
        match resigner
            .check(&parts, b"", now)
            .map_err(|why| (ProxyError::SignatureRejected, why))?
        {
            CallerCheck::Unverified => Ok(upstream_request(parts, empty(), &self.upstream)),
            CallerCheck::Verified {
                access_key,
                secret,
                signed_headers,
            } => {
                caller.signature_verified = true;
                caller.access_key_id = Some(access_key.clone());
                resigned_request(
                    parts,
                    Bytes::new(),
                    &access_key,
                    &secret,
                    &signed_headers,
                    &self.upstream,
                    now,
                )
                .map_err(|e| {
                    (
                        ProxyError::InvalidRequest,
                        format!("cannot sign the request for the upstream: {e}"),
                    )
                })
            }
        }
    }

    /// Everything but the deletion, in resign mode: the body is buffered (the signature
    /// covers it), the caller verified, the request signed again and forwarded.
    pub(super) async fn resign_pass_through(
        &self,
        resigner: &Resigner,
        request: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let limit = self.limits.max_body_bytes;
        let too_large = || too_large(limit);
        if let Some(answer) = declared_too_large(&parts.headers, limit) {
            return answer;
        }
        let read = tokio::time::timeout(
            self.upstream.request_timeout(),
            Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).collect(),
        )
        .await;
        let body = match read {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
            Ok(Err(_)) => {
                return ProxyError::InvalidRequest
                    .answer("the request body could not be read", None)
            }
            Err(_) => {
                return ProxyError::InvalidRequest
                    .answer("the request body was not completed in time", None)
            }
        };

        let now = OffsetDateTime::now_utc();
        let forwarded = match resigner.check(&parts, &body, now) {
            Err(why) => {
                tracing::info!(method = %parts.method, path = parts.uri.path(), reason = %why, "request refused: signature check failed");
                return ProxyError::SignatureRejected.answer(&why, None);
            }
            Ok(CallerCheck::Unverified) => upstream_request(parts, full(body), &self.upstream),
            Ok(CallerCheck::Verified {
                access_key,
                secret,
                signed_headers,
            }) => {
                match resigned_request(
                    parts,
                    body,
                    &access_key,
                    &secret,
                    &signed_headers,
                    &self.upstream,
                    now,
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        return ProxyError::InvalidRequest.answer(
                            &format!("cannot sign the request for the upstream: {e}"),
                            None,
                        )
                    }
                }
            }
        };
        match self.send_upstream("pass_through", forwarded).await {
            Ok(response) => client_response(response),
            Err(e) => {
                tracing::warn!(error = %e, "pass-through request got no upstream answer");
                let kind = ProxyError::for_upstream(&e);
                kind.answer(&e.to_string(), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::signing::EMPTY_BODY_SHA256;

    const AK: &str = "HPUAEXAMPLEAK0000001";
    const SK: &str = "ExampleSecretKey0123456789abcdefghijklmn";
    const TARGET: &str = "/v5/mfa-devices?user_id=a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

    fn upstream() -> Upstream {
        let config = Config::from_toml(
            "[upstream]\nurl = \"http://iam.example:9000\"\n",
            std::path::Path::new("t"),
            Vec::new(),
        )
        .unwrap();
        Upstream::new(&config.upstream).unwrap()
    }

    fn resigner() -> Resigner {
        let entry = crate::config::CredentialConfig {
            access_key_id: AK.into(),
            secret_key_env: Some("SK".into()),
            secret_key_file: None,
        };
        Resigner {
            credentials: Credentials::load_with(&[entry], |_| Some(SK.into())).unwrap(),
            temporary_credentials: TemporaryCredentials::Refuse,
        }
    }

    fn signed_by_caller(now: OffsetDateTime) -> Parts {
        let (mut parts, ()) = Request::builder()
            .method("GET")
            .uri(TARGET)
            .header("host", "127.0.0.1:8080")
            .header("content-type", "application/json")
            .header("x-forwarded-for", "192.0.2.1")
            .body(())
            .unwrap()
            .into_parts();
        sign(
            &mut parts,
            b"",
            AK,
            &Secret::from(SK),
            &format_sdk_date(now),
        )
        .unwrap();
        parts
    }

    #[tokio::test]
    async fn verified_then_signed_for_the_upstream_host() {
        let now = OffsetDateTime::now_utc();
        let mut parts = signed_by_caller(now);
        // Added on the way, not signed by the caller: must not be vouched for.
        parts
            .headers
            .insert("x-project-id", HeaderValue::from_static("injected"));
        let CallerCheck::Verified {
            access_key,
            secret,
            signed_headers,
        } = resigner().check(&parts, b"", now).unwrap()
        else {
            panic!("verified")
        };
        let request = resigned_request(
            parts,
            Bytes::new(),
            &access_key,
            &secret,
            &signed_headers,
            &upstream(),
            now,
        )
        .unwrap();
        let (out, _) = request.into_parts();
        assert_eq!(out.headers[HOST], "iam.example:9000");
        assert!(!out.headers.contains_key("x-project-id"));
        assert_eq!(out.headers["x-forwarded-for"], "192.0.2.1");
        assert_eq!(
            out.uri.to_string(),
            format!("http://iam.example:9000{TARGET}")
        );
        let lookup = |ak: &str| (ak == AK).then(|| Secret::from(SK));
        assert!(verify(&out, EMPTY_BODY_SHA256, lookup, now).is_ok());
    }

    #[test]
    fn refusals() {
        let now = OffsetDateTime::now_utc();
        let mut token = signed_by_caller(now);
        token
            .headers
            .insert(SECURITY_TOKEN, HeaderValue::from_static("t"));
        let why = resigner().check(&token, b"", now).err().unwrap();
        assert!(why.contains("temporary credentials"));
        let parts = signed_by_caller(now - time::Duration::minutes(16));
        let why = resigner().check(&parts, b"", now).err().unwrap();
        assert!(why.contains("X-Sdk-Date"), "{why}");
        let parts = signed_by_caller(now);
        let why = resigner().check(&parts, b"body", now).err().unwrap();
        assert!(why.contains("does not match"), "{why}");
    }
}
