//! The `Authorization` header of an SDK-HMAC-SHA256 request:
//! `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>`.
//!
//! Parsing is strict and total: every malformed input is an [`AuthorizationError`], never
//! a panic. It tolerates what the gateway tolerates: one or more spaces or tabs after the
//! scheme and around the commas, and the three parts in any order. Error messages never
//! echo client text except the access key, which is not a secret.

use std::fmt;

/// The scheme, and the first line of the string to sign.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Real access keys are 20 characters; the bound only stops absurd input.
const MAX_ACCESS_KEY_LEN: usize = 128;
/// Hex of a SHA-256 HMAC.
const SIGNATURE_HEX_LEN: usize = 64;
/// More than the SDKs ever sign; bounds the work done on hostile input.
const MAX_SIGNED_HEADERS: usize = 64;

/// A parsed `Authorization` header. `Debug` redacts the signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The caller's access key ID (ASCII letters and digits).
    pub access_key: String,
    /// Signed header names, lowercase, in the order the caller listed them.
    pub signed_headers: Vec<String>,
    /// 64 lowercase hex digits.
    pub signature: String,
}

/// Why an `Authorization` header value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// The value does not start with `SDK-HMAC-SHA256` followed by whitespace.
    #[error("authorization scheme is not SDK-HMAC-SHA256")]
    UnsupportedAlgorithm,
    /// A comma-separated part is empty or is not `Name=value`.
    #[error("authorization part {index} is not of the form Name=value")]
    MalformedPart {
        /// Zero-based position of the part after the scheme.
        index: usize,
    },
    /// A part name other than `Access`, `SignedHeaders` or `Signature`.
    #[error("authorization part {index} has an unknown name")]
    UnknownPart {
        /// Zero-based position of the part after the scheme.
        index: usize,
    },
    /// `Access`, `SignedHeaders` or `Signature` appears more than once.
    #[error("authorization part {name} appears more than once")]
    DuplicatePart {
        /// The repeated part.
        name: &'static str,
    },
    /// `Access`, `SignedHeaders` or `Signature` is absent.
    #[error("authorization part {name} is missing")]
    MissingPart {
        /// The absent part.
        name: &'static str,
    },
    /// The access key is empty, too long, or not ASCII letters and digits.
    #[error("access key is empty, too long or has characters other than letters and digits")]
    InvalidAccessKey,
    /// `SignedHeaders` is empty, has an empty name, a character not allowed in a header
    /// name, or too many names.
    #[error("SignedHeaders is not a ;-separated list of header names")]
    InvalidSignedHeaders,
    /// A name appears twice in `SignedHeaders`.
    #[error("SignedHeaders lists {name:?} more than once")]
    DuplicateSignedHeader {
        /// The repeated header name (validated, lowercase).
        name: String,
    },
    /// `Signature` is not 64 lowercase hex digits.
    #[error("signature is not 64 lowercase hex digits")]
    InvalidSignature,
}

/// The three parts of a valid header value, borrowed from it.
struct Parts<'a> {
    access: &'a str,
    signed: &'a str,
    signature: &'a str,
}

impl Authorization {
    /// Parses an `Authorization` header value.
    pub fn parse(header_value: &str) -> Result<Self, AuthorizationError> {
        let parts = validate(header_value)?;
        Ok(Self {
            access_key: parts.access.to_owned(),
            signed_headers: parts
                .signed
                .split(';')
                .map(str::to_ascii_lowercase)
                .collect(),
            signature: parts.signature.to_owned(),
        })
    }

    /// The access key of a header value that [`Authorization::parse`] accepts, borrowed
    /// from it. The proxy records the AK of every audited call; this checks the header
    /// just as strictly without copying the signature and the signed header names.
    pub fn access_key_of(header_value: &str) -> Result<&str, AuthorizationError> {
        validate(header_value).map(|parts| parts.access)
    }

    /// The header value, formatted exactly as the Python SDK formats it.
    pub fn to_header_value(&self) -> String {
        format!(
            "{ALGORITHM} Access={}, SignedHeaders={}, Signature={}",
            self.access_key,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The signature is a bearer credential for 15 minutes: never print it.
        f.debug_struct("Authorization")
            .field("access_key", &self.access_key)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"[redacted]")
            .finish()
    }
}

/// Checks a header value completely and returns its parts; the one parser behind
/// [`Authorization::parse`] and [`Authorization::access_key_of`].
fn validate(header_value: &str) -> Result<Parts<'_>, AuthorizationError> {
    let rest = header_value
        .strip_prefix(ALGORITHM)
        .ok_or(AuthorizationError::UnsupportedAlgorithm)?;
    let params = rest.trim_start_matches(is_space);
    // "SDK-HMAC-SHA256X..." or a bare scheme is another scheme, not ours.
    if params.len() == rest.len() {
        return Err(AuthorizationError::UnsupportedAlgorithm);
    }

    let mut access = None;
    let mut signed = None;
    let mut signature = None;
    for (index, part) in params.split(',').enumerate() {
        let part = part.trim_matches(is_space);
        let (name, value) = part
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or(AuthorizationError::MalformedPart { index })?;
        let (slot, name) = match name {
            "Access" => (&mut access, "Access"),
            "SignedHeaders" => (&mut signed, "SignedHeaders"),
            "Signature" => (&mut signature, "Signature"),
            _ => return Err(AuthorizationError::UnknownPart { index }),
        };
        if slot.replace(value).is_some() {
            return Err(AuthorizationError::DuplicatePart { name });
        }
    }

    let access = access.ok_or(AuthorizationError::MissingPart { name: "Access" })?;
    let signed = signed.ok_or(AuthorizationError::MissingPart {
        name: "SignedHeaders",
    })?;
    let signature = signature.ok_or(AuthorizationError::MissingPart { name: "Signature" })?;

    if !is_valid_access_key(access) {
        return Err(AuthorizationError::InvalidAccessKey);
    }
    validate_signed_headers(signed)?;
    if signature.len() != SIGNATURE_HEX_LEN
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(AuthorizationError::InvalidSignature);
    }
    Ok(Parts {
        access,
        signed,
        signature,
    })
}

/// Access keys are ASCII letters and digits; anything else is refused so it cannot
/// smuggle separators into logs or audit records.
pub(crate) fn is_valid_access_key(access_key: &str) -> bool {
    !access_key.is_empty()
        && access_key.len() <= MAX_ACCESS_KEY_LEN
        && access_key.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Names are checked in order, so the first bad one decides the error. Duplicates are
/// found by comparing with the names before (at most 64), which allocates nothing.
fn validate_signed_headers(value: &str) -> Result<(), AuthorizationError> {
    for (count, name) in value.split(';').enumerate() {
        if name.is_empty() || !name.bytes().all(is_tchar) || count == MAX_SIGNED_HEADERS {
            return Err(AuthorizationError::InvalidSignedHeaders);
        }
        if value
            .split(';')
            .take(count)
            .any(|earlier| earlier.eq_ignore_ascii_case(name))
        {
            return Err(AuthorizationError::DuplicateSignedHeader {
                name: name.to_ascii_lowercase(),
            });
        }
    }
    Ok(())
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 9110 `tchar`, the characters of a header field name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "df98e8d0ce79cadee7b9ae97d8fcad90adc73e63e53dd270d086279045dc6119";

    fn header(parts: &str) -> String {
        format!("SDK-HMAC-SHA256 {parts}")
    }

    #[test]
    fn parses_python_sdk_format() {
        let a = Authorization::parse(&header(&format!(
            "Access=AK1, SignedHeaders=content-type;host;x-sdk-date, Signature={SIG}"
        )))
        .expect("valid");
        assert_eq!(a.access_key, "AK1");
        assert_eq!(a.signed_headers, ["content-type", "host", "x-sdk-date"]);
        assert_eq!(a.signature, SIG);
        assert_eq!(
            a.to_header_value(),
            header(&format!(
                "Access=AK1, SignedHeaders=content-type;host;x-sdk-date, Signature={SIG}"
            ))
        );
    }

    #[test]
    fn tolerates_whitespace_and_order() {
        let a = Authorization::parse(&format!(
            "SDK-HMAC-SHA256   Signature={SIG} ,SignedHeaders=Host;X-Sdk-Date,\tAccess=AK1 "
        ))
        .expect("valid");
        assert_eq!(a.signed_headers, ["host", "x-sdk-date"]);
    }

    #[test]
    fn debug_redacts_signature() {
        let a = Authorization::parse(&header(&format!(
            "Access=AK1, SignedHeaders=host, Signature={SIG}"
        )))
        .expect("valid");
        let shown = format!("{a:?}");
        assert!(!shown.contains(SIG), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn rejects_malformed() {
        use AuthorizationError as E;
        let ok_sig = format!("Signature={SIG}");
        let cases: Vec<(String, E)> = vec![
            (String::new(), E::UnsupportedAlgorithm),
            ("SDK-HMAC-SHA256".into(), E::UnsupportedAlgorithm),
            (
                format!("SDK-HMAC-SHA256X Access=A, SignedHeaders=host, {ok_sig}"),
                E::UnsupportedAlgorithm,
            ),
            (
                format!("sdk-hmac-sha256 Access=A, SignedHeaders=host, {ok_sig}"),
                E::UnsupportedAlgorithm,
            ),
            (
                header(&format!("Access=A, SignedHeaders=host, {ok_sig},")),
                E::MalformedPart { index: 3 },
            ),
            (
                header(&format!("Access=A SignedHeaders=host, {ok_sig}")),
                E::MissingPart {
                    name: "SignedHeaders",
                },
            ),
            (
                header(&format!("Access=A, SignedHeaders=host, {ok_sig}, Extra=1")),
                E::UnknownPart { index: 3 },
            ),
            (
                header(&format!("Access=A, Access=B, SignedHeaders=host, {ok_sig}")),
                E::DuplicatePart { name: "Access" },
            ),
            (
                header(&format!("SignedHeaders=host, {ok_sig}")),
                E::MissingPart { name: "Access" },
            ),
            (
                header("Access=A, SignedHeaders=host"),
                E::MissingPart { name: "Signature" },
            ),
            (
                header(&format!("Access=, SignedHeaders=host, {ok_sig}")),
                E::InvalidAccessKey,
            ),
            (
                header(&format!("Access=A, SignedHeaders=, {ok_sig}")),
                E::InvalidSignedHeaders,
            ),
            (
                header(&format!("Access=A, SignedHeaders=host;;x, {ok_sig}")),
                E::InvalidSignedHeaders,
            ),
            (
                header(&format!("Access=A, SignedHeaders=host;Host, {ok_sig}")),
                E::DuplicateSignedHeader {
                    name: "host".into(),
                },
            ),
            (
                header("Access=A, SignedHeaders=host, Signature=abc"),
                E::InvalidSignature,
            ),
            (
                header(&format!(
                    "Access=A, SignedHeaders=host, Signature={}",
                    SIG.to_uppercase()
                )),
                E::InvalidSignature,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Authorization::parse(&input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn errors_never_echo_the_signature() {
        let err = Authorization::parse(&header(&format!(
            "Access=A, SignedHeaders=host, Signatur={SIG}"
        )))
        .expect_err("unknown part");
        assert!(!err.to_string().contains(SIG));
    }
}
