//! Query strings as the simulated IAM reads them: strictly by default, sloppily in lax
//! mode.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

/// A query string the strict reader refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A parameter appears more than once: which one counts would be ambiguous.
    #[error("parameter {0} appears more than once")]
    Repeated(String),
    /// A key or value is not valid UTF-8 once percent-decoded.
    #[error("the query string is not valid UTF-8 once percent-decoded")]
    NotUtf8,
}

/// Decoded parameters.
pub type Params = BTreeMap<String, String>;

/// Strict: RFC 3986 percent-decoding (`+` is a plus), UTF-8 required, no repeats.
pub fn parse_strict(raw: Option<&str>) -> Result<Params, QueryError> {
    let mut params = Params::new();
    for (k, v) in pairs(raw) {
        let k = decode_strict(k)?;
        let v = decode_strict(v)?;
        if params.contains_key(&k) {
            return Err(QueryError::Repeated(k));
        }
        params.insert(k, v);
    }
    Ok(params)
}

/// Lax: form decoding (`+` is a space), invalid UTF-8 replaced, the last repeat wins.
pub fn parse_lax(raw: Option<&str>) -> Params {
    pairs(raw)
        .map(|(k, v)| (decode_lax(k), decode_lax(v)))
        .collect()
}

fn pairs(raw: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

fn decode_strict(s: &str) -> Result<String, QueryError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| QueryError::NotUtf8)
}

fn decode_lax(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_lax_differ() {
        let raw = Some("a=1+2&b=%41&a=3");
        assert_eq!(parse_strict(raw), Err(QueryError::Repeated("a".into())));
        let lax = parse_lax(raw);
        assert_eq!(lax["a"], "3");
        assert_eq!(parse_lax(Some("a=1+2"))["a"], "1 2");
        assert_eq!(parse_strict(Some("a=1+2")).expect("valid")["a"], "1+2");
        assert_eq!(parse_strict(Some("a=%ff")), Err(QueryError::NotUtf8));
        assert_eq!(parse_strict(Some("flag&&b=")).expect("valid")["flag"], "");
    }
}
