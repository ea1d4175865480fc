//! The Python SDK's own signatures (tests/fixtures/sdk-hmac-sha256.jsonl): we must build
//! the same canonical request and string to sign, verify every vector, and sign to the
//! same Authorization header. Plus property tests on the Authorization parser.

use mfa_audit_proxy::signing::{
    canonical_request, sha256_hex, sign, string_to_sign, verify, Authorization, Secret,
    VerifyError, MAX_CLOCK_SKEW,
};
use proptest::prelude::*;
use serde::Deserialize;
use time::OffsetDateTime;

#[derive(Debug, Deserialize)]
struct Vector {
    name: String,
    method: String,
    scheme: String,
    host: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
    access_key: String,
    secret_key: String,
    canonical_request: String,
    string_to_sign: String,
    authorization: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("fixtures/sdk-hmac-sha256.jsonl");
    let vectors: Vec<Vector> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("vector parses"))
        .collect();
    assert!(vectors.len() >= 7, "expected the shared vectors");
    vectors
}

/// The request as the server receives it over HTTP/1.1 (origin-form target).
fn parts(v: &Vector) -> http::request::Parts {
    let mut builder = http::Request::builder()
        .method(v.method.as_str())
        .uri(v.target.as_str());
    for (name, value) in &v.headers {
        builder = builder.header(name, value);
    }
    builder.body(()).expect("vector request").into_parts().0
}

fn date(v: &Vector) -> String {
    v.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-sdk-date"))
        .map(|(_, d)| d.clone())
        .expect("vector has X-Sdk-Date")
}

fn signed_at(v: &Vector) -> OffsetDateTime {
    mfa_audit_proxy::signing::parse_sdk_date(&date(v)).expect("vector date")
}

fn secret_for(v: &Vector) -> impl Fn(&str) -> Option<Secret> + '_ {
    move |ak| (ak == v.access_key).then(|| Secret::from(v.secret_key.as_str()))
}

#[test]
fn canonical_request_and_string_to_sign_match_byte_for_byte() {
    for v in vectors() {
        let p = parts(&v);
        let auth = Authorization::parse(&v.authorization).expect("vector authorization");
        let canonical = canonical_request(
            &v.method,
            p.uri.path(),
            p.uri.query(),
            &p.headers,
            &auth.signed_headers,
            &sha256_hex(v.body.as_bytes()),
        )
        .expect("canonical");
        assert_eq!(canonical, v.canonical_request, "{}", v.name);
        assert_eq!(
            string_to_sign(&date(&v), &canonical),
            v.string_to_sign,
            "{}",
            v.name
        );
    }
}

#[test]
fn every_vector_verifies() {
    for v in vectors() {
        let p = parts(&v);
        assert_eq!(p.headers["host"], v.host.as_str(), "{}", v.name);
        let verified = verify(
            &p,
            &sha256_hex(v.body.as_bytes()),
            secret_for(&v),
            signed_at(&v),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(verified.access_key, v.access_key);
    }
}

#[test]
fn every_vector_verifies_over_http2() {
    // HTTP/2: no Host header, the authority is in the URI.
    for v in vectors() {
        let mut p = parts(&v);
        p.headers.remove("host");
        p.uri = format!("{}://{}{}", v.scheme, v.host, v.target)
            .parse()
            .expect("absolute uri");
        verify(
            &p,
            &sha256_hex(v.body.as_bytes()),
            secret_for(&v),
            signed_at(&v) + MAX_CLOCK_SKEW,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.name));
    }
}

#[test]
fn sign_reproduces_the_sdk_authorization() {
    for v in vectors() {
        let mut p = parts(&v);
        p.headers.remove("authorization");
        sign(
            &mut p,
            v.body.as_bytes(),
            &v.access_key,
            &Secret::from(v.secret_key.as_str()),
            &date(&v),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(
            p.headers["authorization"],
            v.authorization.as_str(),
            "{}",
            v.name
        );
    }
}

#[test]
fn vectors_fail_when_altered() {
    for v in vectors() {
        let body_hash = sha256_hex(v.body.as_bytes());
        let p = parts(&v);
        let stale = signed_at(&v) + time::Duration::minutes(16);
        assert!(matches!(
            verify(&p, &body_hash, secret_for(&v), stale),
            Err(VerifyError::DateOutOfRange { .. })
        ));
        assert_eq!(
            verify(
                &p,
                &body_hash,
                |_| Some(Secret::from("wrong")),
                signed_at(&v)
            ),
            Err(VerifyError::SignatureMismatch),
            "{}",
            v.name
        );
        assert_eq!(
            verify(&p, &body_hash, |_| None, signed_at(&v)),
            Err(VerifyError::UnknownAccessKey {
                access_key: v.access_key.clone()
            })
        );
        let mut tampered = parts(&v);
        let target = if v.target.contains('?') {
            format!("{}&x=1", v.target)
        } else {
            format!("{}?x=1", v.target)
        };
        tampered.uri = target.parse().expect("uri");
        assert_eq!(
            verify(&tampered, &body_hash, secret_for(&v), signed_at(&v)),
            Err(VerifyError::SignatureMismatch),
            "{}",
            v.name
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(s in "\\PC*") {
        let _ = Authorization::parse(&s);
    }

    #[test]
    fn parse_never_panics_near_valid(
        prefix in "(SDK-HMAC-SHA256)?[ \t,]{0,3}",
        parts in proptest::collection::vec("(Access|SignedHeaders|Signature|)[= ,;]{0,2}[a-zA-Z0-9;=, \t-]{0,70}", 0..5),
    ) {
        let s = format!("{prefix}{}", parts.join(","));
        if let Ok(a) = Authorization::parse(&s) {
            // Whatever parses must print back to something that parses the same.
            prop_assert_eq!(Authorization::parse(&a.to_header_value()), Ok(a));
        }
    }

    #[test]
    fn access_key_of_agrees_with_parse(
        prefix in "(SDK-HMAC-SHA256)?[ \t,]{0,3}",
        parts in proptest::collection::vec("(Access|SignedHeaders|Signature|)[= ,;]{0,2}[a-zA-Z0-9;=, \t-]{0,70}", 0..5),
        signed in proptest::collection::vec("[a-zA-Z][a-zA-Z0-9-]{0,3}", 1..5),
        sig in "[0-9a-f]{64}",
    ) {
        // Near-valid noise, and valid headers whose signed names may repeat in other case.
        let noise = format!("{prefix}{}", parts.join(","));
        let valid = format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders={}, Signature={sig}", signed.join(";"));
        for s in [noise, valid] {
            let parsed = Authorization::parse(&s);
            let borrowed = Authorization::access_key_of(&s);
            prop_assert_eq!(borrowed.map(str::to_string), parsed.map(|a| a.access_key));
        }
    }

    #[test]
    fn parse_round_trips(
        ak in "[A-Z0-9]{1,40}",
        headers in proptest::collection::btree_set("[a-z][a-z0-9-]{0,20}", 1..6),
        sig in "[0-9a-f]{64}",
    ) {
        let headers: Vec<String> = headers.into_iter().collect();
        let a = Authorization { access_key: ak, signed_headers: headers, signature: sig };
        prop_assert_eq!(Authorization::parse(&a.to_header_value()), Ok(a));
    }
}

/// Builds a request with arbitrary (decoded) path segments, query pairs and user agent,
/// encoded the way a client might: either fully or leaving RFC 3986 sub-delims bare.
fn arbitrary_request(
    segments: &[String],
    query: &[(String, String)],
    user_agent: &str,
    minimal_encoding: bool,
) -> http::request::Parts {
    use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
    // Characters a URI may carry bare in a path segment or query component, besides
    // the separators the test relies on.
    const MINIMAL: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'&')
        .add(b'/')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}')
        .add(b'=')
        .add(b'+');
    let set = if minimal_encoding {
        MINIMAL
    } else {
        NON_ALPHANUMERIC
    };
    // A fixed first segment keeps the target in origin-form ("//x" would not be).
    let path: String = segments.iter().fold("/v5".to_owned(), |path, s| {
        format!("{path}/{}", utf8_percent_encode(s, set))
    });
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, set),
                utf8_percent_encode(v, set)
            )
        })
        .collect();
    let target = if query.is_empty() {
        format!("{path}/")
    } else {
        format!("{path}?{}", query.join("&"))
    };
    http::Request::builder()
        .method("DELETE")
        .uri(target)
        .header("host", "iam.example.test:8443")
        .header("content-type", "application/json")
        .header("user-agent", user_agent)
        .body(())
        .expect("valid request")
        .into_parts()
        .0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever a client encodes, sign and verify agree; changing any query value breaks it.
    #[test]
    fn sign_then_verify_round_trips(
        segments in proptest::collection::vec("\\PC{0,12}", 0..4),
        query in proptest::collection::vec(("\\PC{1,8}", "\\PC{0,12}"), 0..5),
        user_agent in "[ -~]{0,40}",
        minimal in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut parts = arbitrary_request(&segments, &query, &user_agent, minimal);
        let date = "20261203T160704Z";
        let now = mfa_audit_proxy::signing::parse_sdk_date(date).expect("date");
        let secret = Secret::from("sk");
        sign(&mut parts, &body, "AK1", &secret, date).expect("signs");
        let lookup = |_: &str| Some(Secret::from("sk"));
        prop_assert!(verify(&parts, &sha256_hex(&body), lookup, now).is_ok());

        if let Some(q) = parts.uri.query() {
            let changed = format!("{}?{q}X", parts.uri.path());
            parts.uri = changed.parse().expect("uri");
            prop_assert_eq!(
                verify(&parts, &sha256_hex(&body), lookup, now),
                Err(VerifyError::SignatureMismatch)
            );
        }
    }
}
