//! Property-based fuzzing (proptest) of everything that reads client input before the
//! audit log does: the deletion query validator and the request classifier. The
//! Authorization parser is fuzzed in `signing_vectors.rs`, the audit readers in
//! `query_model.rs`, `audit_tamper.rs` and `audit_recovery.rs`.
//!
//! CI runs the default case count; a long run: `PROPTEST_CASES=200000 cargo test --release
//! --test fuzz_request_parsing`.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mfa_audit_proxy::proxy::classify::{classify, normalize_path, Route, DELETE_PATH};
use mfa_audit_proxy::proxy::validate::validate_delete_query;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use proptest::prelude::*;

/// What the SDK leaves bare in a query value: RFC 3986 unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn query_bytes() -> impl Strategy<Value = String> {
    // Mostly query-ish characters, so the interesting branches are reached.
    prop::collection::vec(
        prop_oneof![
            Just("user_id=".to_string()),
            Just("serial_number=".to_string()),
            Just("&".to_string()),
            Just("%".to_string()),
            Just("+".to_string()),
            Just(";".to_string()),
            Just("%3A".to_string()),
            Just("%FF".to_string()),
            Just("%00".to_string()),
            "[a-zA-Z0-9]{0,40}",
            any::<char>().prop_map(|c| c.to_string()),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn validator_never_panics(query in query_bytes()) {
        let _ = validate_delete_query(Some(&query));
    }

    #[test]
    fn accepted_queries_round_trip(
        user in "[a-zA-Z0-9]{32}",
        serial in "\\PC{1,150}",
        swap in any::<bool>(),
    ) {
        let encoded = utf8_percent_encode(&serial, QUERY_VALUE).to_string();
        let query = if swap {
            format!("serial_number={encoded}&user_id={user}")
        } else {
            format!("user_id={user}&serial_number={encoded}")
        };
        let target = validate_delete_query(Some(&query));
        prop_assert!(target.is_ok(), "{query}: {:?}", target.err());
        let target = target.unwrap();
        prop_assert_eq!(target.user_id.as_deref(), Some(user.as_str()));
        prop_assert_eq!(target.serial_number.as_deref(), Some(serial.as_str()));
        // What was accepted, encoded again, is accepted again as the same target.
        let again = format!(
            "user_id={}&serial_number={}",
            target.user_id.as_deref().unwrap(),
            utf8_percent_encode(target.serial_number.as_deref().unwrap(), QUERY_VALUE)
        );
        prop_assert_eq!(validate_delete_query(Some(&again)).ok(), Some(target));
    }

    #[test]
    fn accepted_targets_are_always_well_formed(query in query_bytes()) {
        if let Ok(target) = validate_delete_query(Some(&query)) {
            let user = target.user_id.unwrap();
            prop_assert!(user.len() == 32 && user.bytes().all(|b| b.is_ascii_alphanumeric()));
            let serial = target.serial_number.unwrap();
            let n = serial.chars().count();
            prop_assert!((1..=150).contains(&n) && !serial.chars().any(char::is_control));
            prop_assert!(!query.contains('+') && !query.contains(';'));
        }
    }

    #[test]
    fn classifier_never_panics_and_audits_only_the_canonical_form(
        method in prop_oneof![Just("DELETE".to_string()), Just("delete".to_string()), Just("GET".to_string()), Just("POST".to_string()), "[A-Za-z]{1,8}"],
        path in prop_oneof![
            Just(DELETE_PATH.to_string()),
            "/[a-zA-Z0-9%./;\\\\-]{0,40}",
            "(/(v5|V5|%76%35|\\.|\\.\\.|virtual-mfa-devices|virtual%2Dmfa-devices|)){1,5}/?",
        ],
        query in prop::option::of(query_bytes()),
        override_header in prop::option::of(("(x-http-method-override|x-method-override|x-http-method|x-original-url|x-other)", "[ -~]{0,40}")),
    ) {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Ok(()) };
        let mut headers = HeaderMap::new();
        if let Some((name, value)) = &override_header {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.insert(n, v);
            }
        }
        let route = classify(&method, &path, query.as_deref(), &headers);
        if route == Route::DeleteVirtualMfaDevice {
            prop_assert_eq!(&method, &Method::DELETE);
            prop_assert_eq!(path.as_str(), DELETE_PATH);
        }
        // Whatever normalises to the deletion path with a delete-like method is never
        // passed through unaudited.
        let delete_like = method.as_str().eq_ignore_ascii_case("DELETE");
        if delete_like && normalize_path(&path) == DELETE_PATH {
            prop_assert_ne!(route, Route::PassThrough);
        }
    }
}
