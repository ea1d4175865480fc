//! Validates the deletion call's query before anything is forwarded (SPEC section 2).
//!
//! The rules decode the query the way a strict upstream does (RFC 3986 percent-decoding,
//! UTF-8) and refuse whatever another upstream could decode differently: a raw `+` (space
//! in form encoding, plus in RFC 3986) and a raw `;` (a pair separator for some servers).

use percent_encoding::percent_decode;

use crate::audit::record::Target;

pub const USER_ID_LEN: usize = 32;
pub const SERIAL_NUMBER_MAX_CHARS: usize = 150;

/// Why a deletion query was refused; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}")]
pub struct Invalid {
    pub rule: String,
    /// What could be read of the target, for the `rejected` record.
    pub target: Target,
}

/// Checks the raw query of `DELETE /v5/virtual-mfa-devices` and returns the decoded target.
pub fn validate_delete_query(raw_query: Option<&str>) -> Result<Target, Invalid> {
    let raw = raw_query.unwrap_or("");
    let mut user_ids: Vec<String> = Vec::new();
    let mut serials: Vec<String> = Vec::new();
    let mut first_error: Option<String> = None;
    let mut fail = |rule: String| {
        first_error.get_or_insert(rule);
    };

    if raw.contains('+') {
        fail("query contains a raw '+', which upstreams decode differently: send a space as %20 and a plus as %2B".into());
    }
    if raw.contains(';') {
        fail("query contains a raw ';', which some upstreams treat as a separator: percent-encode it as %3B".into());
    }
    if raw.contains('#') {
        fail("query contains a raw '#'".into());
    }
    if !raw.is_empty() {
        for pair in raw.split('&') {
            if pair.is_empty() {
                fail("query has an empty parameter ('&&' or a leading or trailing '&')".into());
                continue;
            }
            let Some((raw_key, raw_value)) = pair.split_once('=') else {
                fail(format!(
                    "query parameter '{}' has no '=' and value",
                    lossy(pair)
                ));
                continue;
            };
            let key = match decode(raw_key) {
                Ok(k) => k,
                Err(why) => {
                    fail(format!("query parameter name: {why}"));
                    lossy(raw_key)
                }
            };
            let value = match decode(raw_value) {
                Ok(v) => v,
                Err(why) => {
                    fail(format!("{key}: {why}"));
                    lossy(raw_value)
                }
            };
            match key.as_str() {
                "user_id" => user_ids.push(value),
                "serial_number" => serials.push(value),
                other => fail(format!(
                    "unexpected query parameter '{}': only user_id and serial_number are allowed",
                    other.escape_default()
                )),
            }
        }
    }

    let target = Target {
        user_id: user_ids.first().cloned(),
        serial_number: serials.first().cloned(),
    };
    match user_ids.len() {
        0 => fail("user_id is required".into()),
        1 => {}
        n => fail(format!("user_id must appear exactly once, found {n} times")),
    }
    match serials.len() {
        0 => fail("serial_number is required".into()),
        1 => {}
        n => fail(format!(
            "serial_number must appear exactly once, found {n} times"
        )),
    }
    if let Some(user_id) = user_ids.first() {
        if user_id.len() != USER_ID_LEN || !user_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            fail(format!(
                "user_id must be {USER_ID_LEN} ASCII letters or digits"
            ));
        }
    }
    if let Some(serial) = serials.first() {
        let chars = serial.chars().count();
        if chars == 0 || chars > SERIAL_NUMBER_MAX_CHARS {
            fail(format!(
                "serial_number must be 1 to {SERIAL_NUMBER_MAX_CHARS} characters, got {chars}"
            ));
        } else if serial.chars().any(char::is_control) {
            fail("serial_number must not contain control characters".into());
        }
    }
    match first_error {
        Some(rule) => Err(Invalid { rule, target }),
        None => Ok(target),
    }
}

/// Strict RFC 3986 decoding: every `%` starts two hex digits, and the result is UTF-8.
fn decode(raw: &str) -> Result<String, &'static str> {
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err("invalid percent-encoding");
        }
    }
    percent_decode(bytes)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "percent-decodes to invalid UTF-8")
}

fn lossy(raw: &str) -> String {
    percent_decode(raw.as_bytes())
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

    #[test]
    fn valid_query_decodes() {
        let t = validate_delete_query(Some(&format!(
            "user_id={USER}&serial_number=iam%3A%3A0123%3Amfa%3Aphone%201"
        )))
        .unwrap();
        assert_eq!(t.user_id.as_deref(), Some(USER));
        assert_eq!(t.serial_number.as_deref(), Some("iam::0123:mfa:phone 1"));
    }

    #[test]
    fn order_does_not_matter() {
        assert!(validate_delete_query(Some(&format!("serial_number=x&user_id={USER}"))).is_ok());
    }

    #[test]
    fn each_rule_is_named() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "user_id is required"),
            (format!("user_id={USER}"), "serial_number is required"),
            ("serial_number=x".into(), "user_id is required"),
            (
                format!("user_id={USER}&user_id={USER}&serial_number=x"),
                "exactly once",
            ),
            (
                format!("user_id={USER}&serial_number=x&serial_number=y"),
                "exactly once",
            ),
            (
                "user_id=short&serial_number=x".into(),
                "32 ASCII letters or digits",
            ),
            (
                format!("user_id={}&serial_number=x", "é".repeat(16)),
                "32 ASCII",
            ),
            (format!("user_id={USER}&serial_number="), "1 to 150"),
            (
                format!("user_id={USER}&serial_number={}", "a".repeat(151)),
                "1 to 150",
            ),
            (
                format!("user_id={USER}&serial_number=a%0Ab"),
                "control characters",
            ),
            (
                format!("user_id={USER}&serial_number=a%ZZ"),
                "invalid percent-encoding",
            ),
            (
                format!("user_id={USER}&serial_number=a%"),
                "invalid percent-encoding",
            ),
            (format!("user_id={USER}&serial_number=%FF"), "invalid UTF-8"),
            (
                format!("user_id={USER}&serial_number=x&force=1"),
                "unexpected query parameter",
            ),
            (format!("user_id={USER}&serial_number=a+b"), "raw '+'"),
            (format!("user_id={USER};serial_number=x"), "raw ';'"),
            (
                format!("user_id={USER}&&serial_number=x"),
                "empty parameter",
            ),
            (format!("user_id={USER}&serial_number"), "has no '='"),
        ];
        for (query, expected) in cases {
            let err = validate_delete_query(Some(&query)).unwrap_err();
            assert!(
                err.rule.contains(expected),
                "{query}: {} (wanted {expected})",
                err.rule
            );
        }
    }

    #[test]
    fn serial_length_counts_characters_not_bytes() {
        let serial = "é".repeat(150);
        let encoded: String =
            percent_encoding::utf8_percent_encode(&serial, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert!(
            validate_delete_query(Some(&format!("user_id={USER}&serial_number={encoded}"))).is_ok()
        );
    }

    #[test]
    fn rejected_target_is_best_effort() {
        let err = validate_delete_query(Some(&format!("user_id={USER}&serial_number=x&extra=1")))
            .unwrap_err();
        assert_eq!(err.target.user_id.as_deref(), Some(USER));
        assert_eq!(err.target.serial_number.as_deref(), Some("x"));
    }
}
