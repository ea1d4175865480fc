//! Decides what a request is: plain pass-through, the audited deletion, or a request that
//! a lax upstream could read as the deletion although it is not in canonical form.
//!
//! The proxy audits exactly one form (`DELETE /v5/virtual-mfa-devices`). An upstream that
//! normalises paths or honours method overrides could still act on look-alike forms, so
//! those are refused rather than passed through unaudited.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, Method};
use percent_encoding::percent_decode_str;

pub const DELETE_PATH: &str = "/v5/virtual-mfa-devices";

/// Headers some frameworks honour to replace the request method. (Names, not strings:
/// a lookup by string parses the name first, on every request.)
const METHOD_OVERRIDE_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
];
/// Headers some frameworks (IIS, Symfony, Zend) honour to replace the request target.
const URL_REWRITE_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-rewrite-url"),
];
/// Query parameters some frameworks honour to replace the request method.
const METHOD_OVERRIDE_PARAMS: [&str; 2] = ["_method", "method"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Anything that cannot delete a virtual MFA device: forwarded untouched.
    PassThrough,
    /// `DELETE /v5/virtual-mfa-devices` in canonical form: validated and audited.
    DeleteVirtualMfaDevice,
    /// A request an upstream might treat as the deletion; refused and audited as rejected.
    LookAlike(&'static str),
}

pub fn classify(method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> Route {
    if rewrites_to_delete_path(headers) {
        return Route::LookAlike(
            "a URL-rewriting header naming the virtual MFA device path is not allowed",
        );
    }
    let path_is_exact = path == DELETE_PATH;
    let path_looks_alike = path_is_exact || normalize_path(path) == DELETE_PATH;
    if !path_looks_alike {
        return Route::PassThrough;
    }
    let overridden = method_override(headers, query);
    let method_is_delete = *method == Method::DELETE;
    let method_looks_like_delete = method.as_str().eq_ignore_ascii_case("DELETE");
    let override_is_delete = overridden
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("DELETE"));

    if method_is_delete && path_is_exact && overridden.is_none() {
        return Route::DeleteVirtualMfaDevice;
    }
    if !(method_looks_like_delete || override_is_delete) {
        // e.g. the create call (POST) or a GET: nothing here can delete a device.
        return Route::PassThrough;
    }
    if overridden.is_some() {
        Route::LookAlike("method override on the virtual MFA device path is not allowed")
    } else if !method_is_delete {
        Route::LookAlike("method must be exactly DELETE")
    } else {
        Route::LookAlike("path must be exactly /v5/virtual-mfa-devices")
    }
}

fn rewrites_to_delete_path(headers: &HeaderMap) -> bool {
    URL_REWRITE_HEADERS
        .iter()
        .flat_map(|name| headers.get_all(name))
        .any(|value| {
            let value = String::from_utf8_lossy(value.as_bytes());
            let path = value.split('?').next().unwrap_or("");
            normalize_path(path) == DELETE_PATH
        })
}

/// The method an override header or parameter asks for, if any is present.
fn method_override(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    for name in &METHOD_OVERRIDE_HEADERS {
        if let Some(v) = headers.get(name) {
            return Some(String::from_utf8_lossy(v.as_bytes()).trim().to_string());
        }
    }
    let query = query?;
    for pair in query.split(['&', ';']) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_repeatedly(key);
        if METHOD_OVERRIDE_PARAMS
            .iter()
            .any(|param| key.eq_ignore_ascii_case(param))
        {
            return Some(decode_repeatedly(value).into_owned());
        }
    }
    None
}

/// What a lax upstream might make of a path: percent-decoded (repeatedly, for double
/// encoding), lower-cased, `;params` dropped, empty and dot segments resolved, no
/// trailing slash.
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    match already_normal(path) {
        Some(normal) => Cow::Borrowed(normal),
        None => Cow::Owned(normalize_fully(path)),
    }
}

/// Most paths have nothing to decode, fold, drop or resolve: their normal form is
/// themselves without trailing slashes, found without allocating (every pass-through
/// request is classified). `None` when [`normalize_fully`] has work to do.
fn already_normal(path: &str) -> Option<&str> {
    let trimmed = path.trim_end_matches('/');
    let plain = path.starts_with('/')
        && !trimmed.is_empty()
        && !trimmed.contains("//")
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_/".contains(&b));
    plain.then_some(trimmed)
}

fn normalize_fully(path: &str) -> String {
    let decoded = decode_repeatedly(path)
        .to_ascii_lowercase()
        .replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment.split(';').next().unwrap_or("");
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

fn decode_repeatedly(s: &str) -> Cow<'_, str> {
    let mut current = Cow::Borrowed(s);
    // Three rounds cover double and triple encoding; more is not a realistic upstream.
    for _ in 0..3 {
        // Borrowed: nothing was decoded, so this is the final form (and most query keys
        // and values get here without a copy).
        let decoded = match percent_decode_str(&current).decode_utf8_lossy() {
            Cow::Borrowed(_) => None,
            Cow::Owned(next) => Some(next),
        };
        match decoded {
            Some(next) => current = Cow::Owned(next),
            None => break,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str, query: Option<&str>, headers: &[(&str, &str)]) -> Route {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        classify(
            &Method::from_bytes(method.as_bytes()).unwrap(),
            path,
            query,
            &h,
        )
    }

    #[test]
    fn canonical_delete_is_audited() {
        assert_eq!(
            route("DELETE", DELETE_PATH, Some("user_id=a"), &[]),
            Route::DeleteVirtualMfaDevice
        );
    }

    #[test]
    fn other_calls_pass_through() {
        assert_eq!(
            route("GET", "/v5/mfa-devices", None, &[]),
            Route::PassThrough
        );
        assert_eq!(route("POST", DELETE_PATH, None, &[]), Route::PassThrough);
        assert_eq!(
            route("DELETE", "/v5/virtual-mfa-devicesX", None, &[]),
            Route::PassThrough
        );
        assert_eq!(
            route("DELETE", "/v3.0/OS-MFA/virtual-mfa-devices", None, &[]),
            Route::PassThrough
        );
    }

    #[test]
    fn look_alikes_are_refused() {
        for path in [
            "/v5/virtual-mfa-devices/",
            "//v5/virtual-mfa-devices",
            "/v5//virtual-mfa-devices",
            "/V5/Virtual-MFA-Devices",
            "/v5/./virtual-mfa-devices",
            "/v5/x/../virtual-mfa-devices",
            "/v5/virtual-mfa-devices;x=1",
            "/v5%2Fvirtual-mfa-devices",
            "/v5/virtual%2Dmfa%2Ddevices",
            "/v5/virtual-mfa-devices%252F",
            "/v5\\virtual-mfa-devices",
        ] {
            assert!(
                matches!(route("DELETE", path, None, &[]), Route::LookAlike(_)),
                "{path}"
            );
        }
        assert!(matches!(
            route("delete", DELETE_PATH, None, &[]),
            Route::LookAlike(_)
        ));
        assert!(matches!(
            route(
                "POST",
                DELETE_PATH,
                None,
                &[("X-HTTP-Method-Override", "DELETE")]
            ),
            Route::LookAlike(_)
        ));
        assert!(matches!(
            route("POST", DELETE_PATH, Some("_method=delete"), &[]),
            Route::LookAlike(_)
        ));
        assert!(matches!(
            route(
                "DELETE",
                DELETE_PATH,
                None,
                &[("X-Method-Override", "DELETE")]
            ),
            Route::LookAlike(_)
        ));
        let rewrite = [("X-Original-URL", "/v5//virtual-mfa-devices?user_id=x")];
        assert!(matches!(
            route("GET", "/v5/mfa-devices", None, &rewrite),
            Route::LookAlike(_)
        ));
        let harmless = [("X-Rewrite-URL", "/v5/mfa-devices")];
        assert_eq!(
            route("GET", "/v5/mfa-devices", None, &harmless),
            Route::PassThrough
        );
    }

    proptest::proptest! {
        #[test]
        fn the_shortcut_agrees_with_full_normalisation(
            path in proptest::prop_oneof!["/[a-z0-9/_-]{0,40}", "/?[a-z0-9/_.%;A-Z\\\\-]{0,40}"]
        ) {
            if let Some(normal) = already_normal(&path) {
                proptest::prop_assert_eq!(normal, normalize_fully(&path));
            }
        }
    }

    #[test]
    fn the_shortcut_takes_plain_paths_only() {
        assert_eq!(already_normal("/v5/mfa-devices/"), Some("/v5/mfa-devices"));
        for path in [
            "/", "//v5", "/v5//x", "/V5/x", "/v5/./x", "/v5/%78", "/v5;a", "v5",
        ] {
            assert_eq!(already_normal(path), None, "{path}");
        }
    }
}
