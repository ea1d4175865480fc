//! The client certificate's subject as an RFC 4514 string (`CN=alice,O=Example`): most
//! specific attribute first, the usual short names, special characters escaped. Control
//! characters are escaped too, so a subject cannot forge lines in logs.

use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::X509Name;

/// The subject of a DER certificate, or `None` if it does not parse.
pub fn subject_of(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(rfc4514(cert.subject()))
}

fn rfc4514(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let oid = attr.attr_type();
                    let short = x509_parser::objects::oid2abbrev(oid, registry)
                        .map(str::to_string)
                        .unwrap_or_else(|_| oid.to_id_string());
                    let value = match attr.as_str() {
                        Ok(s) => escape(s),
                        // Not a string type: RFC 4514's `#` hex form of the DER value.
                        Err(_) => format!("#{}", hex::encode(attr.attr_value().data)),
                    };
                    format!("{short}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    // Certificates list the least specific RDN first; RFC 4514 starts with the most.
    rdns.reverse();
    rdns.join(",")
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape(" x "), "\\ x\\ ");
        assert_eq!(escape("#x"), "\\#x");
        assert_eq!(escape("a\nb"), "a\\0Ab");
        assert_eq!(escape("alice"), "alice");
    }

    #[test]
    fn most_specific_first() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example, Inc.");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "alice");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_of(cert.der()).as_deref(),
            Some("CN=alice,O=Example\\, Inc.")
        );
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(subject_of(b"not a certificate"), None);
    }
}
