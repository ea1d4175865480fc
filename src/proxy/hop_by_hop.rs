//! Removes hop-by-hop headers (RFC 9110 section 7.6.1): they describe one connection and
//! must not be forwarded. Everything else, repeated fields included, passes untouched.

use http::header::{HeaderMap, HeaderName, CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};

const KEEP_ALIVE: &str = "keep-alive";

/// Strips `Connection`, every header it names, and the fixed hop-by-hop set.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none of them (a header Connection names is only hop-by-hop with
    // Connection present): one pass over the names tells, without a lookup per name.
    if !headers.keys().any(is_always_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE] {
        headers.remove(name);
    }
    headers.remove(KEEP_ALIVE);
    let proxy_headers: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for name in proxy_headers {
        headers.remove(name);
    }
}

fn is_always_hop_by_hop(name: &HeaderName) -> bool {
    [CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE].contains(name)
        || name.as_str() == KEEP_ALIVE
        || name.as_str().starts_with("proxy-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn strips_fixed_and_named_and_keeps_repeats() {
        let mut h = HeaderMap::new();
        h.append(
            "connection",
            HeaderValue::from_static("keep-alive, X-Drop-Me"),
        );
        h.append("connection", HeaderValue::from_static("x-also"));
        h.append("x-drop-me", HeaderValue::from_static("1"));
        h.append("x-also", HeaderValue::from_static("1"));
        h.append("keep-alive", HeaderValue::from_static("timeout=5"));
        h.append("te", HeaderValue::from_static("trailers"));
        h.append("proxy-authorization", HeaderValue::from_static("Basic x"));
        h.append("proxy-connection", HeaderValue::from_static("close"));
        h.append("x-repeated", HeaderValue::from_static("a"));
        h.append("x-repeated", HeaderValue::from_static("b"));
        h.append(
            "authorization",
            HeaderValue::from_static("SDK-HMAC-SHA256 Access=x"),
        );
        strip_hop_by_hop(&mut h);
        // Order between different names is not kept (nor significant); within a name it is.
        let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, vec!["authorization", "x-repeated"]);
        let repeated: Vec<_> = h.get_all("x-repeated").iter().collect();
        assert_eq!(repeated, vec!["a", "b"]);
    }

    #[test]
    fn each_hop_by_hop_name_alone_is_stripped() {
        let names = [
            "connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "keep-alive",
            "proxy-authenticate",
            "proxy-anything",
        ];
        for name in names {
            let mut h = HeaderMap::new();
            h.append(name, HeaderValue::from_static("x"));
            h.append("x-keep", HeaderValue::from_static("1"));
            strip_hop_by_hop(&mut h);
            let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
            assert_eq!(left, ["x-keep"], "{name}");
        }
    }

    #[test]
    fn a_message_without_them_is_left_as_it_is() {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("host", "a"),
            ("x-b", "1"),
            ("x-b", "2"),
            ("authorization", "c"),
        ] {
            h.append(name, HeaderValue::from_static(value));
        }
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
    }
}
