//! The caller's address behind trusted proxies (`[forwarding] trusted_proxies`).
//!
//! `X-Forwarded-For` is believed only when the connection comes from a trusted proxy;
//! the source is then the right-most address in the header that is not itself trusted
//! (each trusted hop appends the address it saw; anything left of an untrusted hop could
//! be forged). The header is never changed: it is forwarded as received.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The `[forwarding]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardingConfig {
    /// CIDRs (or single addresses) of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
}

/// An entry of `trusted_proxies` is neither a CIDR nor an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a CIDR (10.0.0.0/8) or an IP address")]
pub struct BadTrustedProxy {
    /// Position in the list.
    pub index: usize,
    /// The entry as configured.
    pub value: String,
}

impl BadTrustedProxy {
    /// The configuration key at fault.
    pub fn key(&self) -> String {
        format!("forwarding.trusted_proxies[{}]", self.index)
    }
}

/// The parsed `trusted_proxies`.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, BadTrustedProxy> {
        entries
            .iter()
            .enumerate()
            .map(|(index, value)| {
                let text = value.trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| BadTrustedProxy {
                        index,
                        value: value.clone(),
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The caller's address and port: the socket's, or, from a trusted proxy, the one
    /// `X-Forwarded-For` names (its port is unknown then).
    pub fn source(&self, remote: SocketAddr, headers: &HeaderMap) -> (IpAddr, Option<u16>) {
        let peer = remote.ip().to_canonical();
        if !self.trusts(peer) {
            return (peer, Some(remote.port()));
        }
        // Repeated headers are one list, in order (RFC 9110 section 5.3).
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut source = None;
        for hop in hops.iter().rev() {
            // Garbage ends the walk: what is left of it cannot be read reliably, and the
            // hop that sent it is the best known source.
            let Some(ip) = parse_hop(hop) else { break };
            source = Some(ip);
            if !self.trusts(ip) {
                break;
            }
        }
        match source {
            Some(ip) => (ip, None),
            None => (peer, Some(remote.port())),
        }
    }
}

/// `1.2.3.4`, `2001:db8::1`, and the `1.2.3.4:5678` / `[2001:db8::1]:5678` forms some
/// proxies write.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or("")
                .parse::<IpAddr>()
        })
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> TrustedProxies {
        TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn untrusted_peer_is_the_source() {
        let remote: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        assert_eq!(
            trusted().source(remote, &xff(&["203.0.113.9"])),
            ("192.0.2.7".parse().unwrap(), Some(4000))
        );
    }

    #[test]
    fn rightmost_untrusted_hop() {
        let remote: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let (ip, port) = trusted().source(remote, &xff(&["1.1.1.1, 203.0.113.9", "10.1.2.3"]));
        assert_eq!((ip, port), ("203.0.113.9".parse().unwrap(), None));
        let (ip, _) = trusted().source(remote, &xff(&["10.9.9.9, 10.1.2.3"]));
        assert_eq!(ip, "10.9.9.9".parse::<IpAddr>().unwrap());
        let (ip, _) = trusted().source(remote, &xff(&["[2001:db8::1]:443"]));
        assert_eq!(ip, "2001:db8::1".parse::<IpAddr>().unwrap());
        let (ip, _) = trusted().source(remote, &xff(&["evil, 10.1.2.3"]));
        assert_eq!(ip, "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(
            trusted().source(remote, &HeaderMap::new()),
            ("127.0.0.1".parse().unwrap(), Some(4000))
        );
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:4000".parse().unwrap();
        assert_eq!(trusted().source(mapped, &xff(&["192.0.2.1"])).1, None);
    }

    #[test]
    fn bad_entry_is_named() {
        let e = TrustedProxies::parse(&["10.0.0.0/8".into(), "ten".into()]).unwrap_err();
        assert_eq!(e.key(), "forwarding.trusted_proxies[1]");
    }
}
