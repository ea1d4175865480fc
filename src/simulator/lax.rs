//! `--lax`: how a sloppy upstream reads a request, so bypass tests can show that the
//! proxy audits what such an upstream would execute.
//!
//! - the path is percent-decoded, lowercased, `;matrix` parameters are dropped from each
//!   segment, empty and `.` segments are dropped, `..` removes the previous segment, and
//!   there is no trailing slash: `//V5/./x/../virtual-mfa-devices/;a` is
//!   `/v5/virtual-mfa-devices`;
//! - `X-HTTP-Method-Override`, then `X-Method-Override`, then a `_method` query
//!   parameter replace the method;
//! - the query is form-decoded, and the last of repeated parameters wins
//!   ([`super::query::parse_lax`]).

use percent_encoding::percent_decode_str;

use super::query::Params;

/// The path a sloppy router would match.
pub fn normalize_path(raw: &str) -> String {
    let decoded = percent_decode_str(raw).decode_utf8_lossy().to_lowercase();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment.split(';').next().unwrap_or_default();
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

/// The method a sloppy framework would dispatch on.
pub fn effective_method(parts: &http::request::Parts, params: &Params) -> String {
    ["x-http-method-override", "x-method-override"]
        .iter()
        .find_map(|name| {
            parts
                .headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .or_else(|| params.get("_method").cloned())
        .unwrap_or_else(|| parts.method.to_string())
        .trim()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        for raw in [
            "/v5/virtual-mfa-devices",
            "//V5/virtual-mfa-devices/",
            "/v5/./x/../virtual-mfa-devices;jsessionid=1",
            "/v5/virtual%2Dmfa-devices",
            "/v5%2fvirtual-mfa-devices",
        ] {
            assert_eq!(normalize_path(raw), "/v5/virtual-mfa-devices", "{raw}");
        }
        assert_eq!(normalize_path("/../.."), "/");
    }

    #[test]
    fn method_override() {
        let (parts, ()) = http::Request::post("/")
            .header("x-method-override", "delete")
            .body(())
            .expect("request")
            .into_parts();
        assert_eq!(effective_method(&parts, &Params::new()), "DELETE");
        let (parts, ()) = http::Request::post("/")
            .body(())
            .expect("request")
            .into_parts();
        let params = Params::from([("_method".to_owned(), "Delete".to_owned())]);
        assert_eq!(effective_method(&parts, &params), "DELETE");
        assert_eq!(effective_method(&parts, &Params::new()), "POST");
    }
}
