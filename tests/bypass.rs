//! The bypass table: every request form a lax upstream could read as the deletion is
//! either audited correctly (a `completed` record naming the user and serial the upstream
//! acted on) or refused (400, `rejected`). The lax simulator normalises paths, honours
//! method overrides and URL-rewriting headers, takes the last of repeated parameters and
//! reads `+` as a space; it counts what it deleted, and no deletion may lack its record.

mod common;

use std::collections::BTreeSet;

use common::raw_http::{header, send};
use common::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Forwarded and recorded with the target the upstream acted on.
    Audited,
    /// Refused by the proxy (400 + `rejected` record) or by its HTTP parser (400, no
    /// record, nothing forwarded).
    Refused,
    /// Answered as some other, harmless request: the upstream deleted nothing for it.
    NotADeletion,
}
use Verdict::*;

struct Form {
    name: &'static str,
    /// Raw HTTP/1.1 request; `{Q}` is replaced by a valid query for this form's device,
    /// `{S}` by its serial, `{U}` by the user and `{H}` by the proxy's address.
    raw: String,
    verdict: Verdict,
}

fn form(name: &'static str, head: &str, verdict: Verdict) -> Form {
    Form {
        name,
        raw: head.to_string(),
        verdict,
    }
}

fn forms() -> Vec<Form> {
    let base = "Host: {H}\r\nConnection: close\r\n";
    let mut forms = vec![
        form("canonical", "DELETE /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\n", Audited),
        form("trailing slash", "DELETE /v5/virtual-mfa-devices/?{Q} HTTP/1.1\r\n", Refused),
        form("leading double slash", "DELETE //v5/virtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("inner double slash", "DELETE /v5//virtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("upper case", "DELETE /V5/VIRTUAL-MFA-DEVICES?{Q} HTTP/1.1\r\n", Refused),
        form("dot segment", "DELETE /v5/./virtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("dot-dot segment", "DELETE /v5/x/../virtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("matrix parameter", "DELETE /v5/virtual-mfa-devices;jsessionid=1?{Q} HTTP/1.1\r\n", Refused),
        form("encoded slash", "DELETE /v5%2Fvirtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("encoded dash", "DELETE /v5/virtual%2Dmfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("encoded prefix", "DELETE /%76%35/virtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("encoded trailing slash", "DELETE /v5/virtual-mfa-devices%2F?{Q} HTTP/1.1\r\n", Refused),
        form("double-encoded slash", "DELETE /v5%252Fvirtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("absolute form", "DELETE http://iam.example.test/v5/virtual-mfa-devices?{Q} HTTP/1.1\r\n", Audited),
        form("absolute form, odd path", "DELETE http://iam.example.test//v5/virtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form("lower-case method", "delete /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\n", Refused),
        form(
            "X-HTTP-Method-Override",
            "POST /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\nX-HTTP-Method-Override: DELETE\r\nContent-Length: 0\r\n",
            Refused,
        ),
        form(
            "X-Method-Override",
            "POST /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\nX-Method-Override: delete\r\nContent-Length: 0\r\n",
            Refused,
        ),
        form(
            "X-HTTP-Method",
            "POST /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\nX-HTTP-Method: DELETE\r\nContent-Length: 0\r\n",
            Refused,
        ),
        form("_method parameter", "POST /v5/virtual-mfa-devices?{Q}&_method=DELETE HTTP/1.1\r\nContent-Length: 0\r\n", Refused),
        form(
            "X-Original-URL",
            "DELETE /v5/mfa-devices HTTP/1.1\r\nX-Original-URL: /v5/virtual-mfa-devices?{Q}\r\n",
            Refused,
        ),
        form(
            "X-Rewrite-URL",
            "DELETE /v5/mfa-devices HTTP/1.1\r\nX-Rewrite-URL: /v5/virtual-mfa-devices?{Q}\r\n",
            Refused,
        ),
        form(
            "repeated user_id, last wins upstream",
            "DELETE /v5/virtual-mfa-devices?user_id=00000000000000000000000000000000&{Q} HTTP/1.1\r\n",
            Refused,
        ),
        form(
            "repeated serial_number",
            "DELETE /v5/virtual-mfa-devices?serial_number=decoy&{Q} HTTP/1.1\r\n",
            Refused,
        ),
        form("semicolon separator", "DELETE /v5/virtual-mfa-devices?user_id={U};serial_number={S} HTTP/1.1\r\n", Refused),
        form("plus in value", "DELETE /v5/virtual-mfa-devices?user_id={U}&serial_number={S}+x HTTP/1.1\r\n", Refused),
        form("extra parameter", "DELETE /v5/virtual-mfa-devices?{Q}&force=true HTTP/1.1\r\n", Refused),
        form("encoded parameter name", "DELETE /v5/virtual-mfa-devices?user%5Fid={U}&serial_number={S} HTTP/1.1\r\n", Audited),
        form(
            "body on the deletion",
            "DELETE /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            Refused,
        ),
        form(
            "chunked body on the deletion",
            "DELETE /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            Refused,
        ),
        form(
            "Content-Length with Transfer-Encoding",
            "DELETE /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            Refused,
        ),
        form(
            "duplicated Content-Length",
            "DELETE /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nxxxxx",
            Refused,
        ),
        form(
            "deletion smuggled in a pass-through body",
            "POST /v5/mfa-devices HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nDELETE /v5/virtual-mfa-devices?{Q} HTTP/1.1\r\nHost: {H}\r\n\r\n",
            NotADeletion,
        ),
    ];
    for f in &mut forms {
        // Requests with a body already end their head; the rest get the common headers.
        if f.raw.contains("\r\n\r\n") {
            let (head, body) = f.raw.split_once("\r\n\r\n").unwrap();
            f.raw = format!("{head}\r\n{base}\r\n{body}");
        } else {
            f.raw = format!("{}{base}\r\n", f.raw);
        }
    }
    forms
}

#[test]
fn no_form_deletes_without_a_record() {
    let forms = forms();
    let serial = |i: usize| format!("iam::acct:mfa:dev-{i}");
    let mut args: Vec<String> = vec!["--lax".into(), "--no-verify".into()];
    for i in 0..forms.len() + 2 {
        args.push("--device".into());
        args.push(format!("{USER_ID}:{}", serial(i)));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sim = SimulatorProcess::start(&args);
    let proxy = ProxyProcess::start(&sim.url(), "");

    let mut table = Vec::new();
    for (i, f) in forms.iter().enumerate() {
        let s = serial(i);
        let encoded = s.replace(':', "%3A");
        let raw = f
            .raw
            .replace("{Q}", &format!("user_id={USER_ID}&serial_number={encoded}"))
            .replace("{S}", &encoded)
            .replace("{U}", USER_ID)
            .replace("{H}", &proxy.addr);
        let (status, headers, _) = send(&proxy.addr, raw.as_bytes());
        let audit_id = header(&headers, "x-audit-id").map(str::to_string);
        let records = audit_id
            .as_deref()
            .map(|id| call_records(&proxy.audit_dir(), id))
            .unwrap_or_default();
        let got = match (
            status,
            records.last().map(|r| r["outcome"]["result"].clone()),
        ) {
            (204, Some(r)) if r == "success" => {
                assert_eq!(records.len(), 2, "{}", f.name);
                assert_eq!(records[1]["target"]["user_id"], USER_ID, "{}", f.name);
                assert_eq!(records[1]["target"]["serial_number"], s, "{}", f.name);
                Audited
            }
            (400, Some(r)) if r == "rejected" => {
                assert_eq!(records.len(), 1, "{}", f.name);
                Refused
            }
            (400, None) if audit_id.is_none() => Refused, // the HTTP parser refused it
            (_, None) if audit_id.is_none() => NotADeletion, // passed through as what it is
            other => panic!("{}: unexpected answer {other:?}", f.name),
        };
        table.push((f.name, f.verdict, got));
    }

    // HTTP/2 (prior knowledge): the canonical form is audited, a look-alike refused.
    let h2 = h2_deletes(
        &proxy.addr,
        &[
            format!(
                "/v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={}",
                serial(forms.len()).replace(':', "%3A")
            ),
            format!(
                "/v5//virtual-mfa-devices?user_id={USER_ID}&serial_number={}",
                serial(forms.len() + 1).replace(':', "%3A")
            ),
        ],
    );
    table.push((
        "HTTP/2 canonical",
        Audited,
        if h2[0] == 204 { Audited } else { Refused },
    ));
    table.push((
        "HTTP/2 double slash",
        Refused,
        if h2[1] == 400 { Refused } else { Audited },
    ));

    println!("{:<45} {:<9} {:<9}", "form", "expected", "verdict");
    for (name, expected, got) in &table {
        println!("{name:<45} {expected:<9?} {got:<9?}");
    }
    let wrong: Vec<_> = table.iter().filter(|(_, e, g)| e != g).collect();
    assert!(wrong.is_empty(), "verdicts differ: {wrong:?}");

    // What the upstream actually deleted, each with its success record.
    let remaining = sim.remaining_serials();
    let deleted: Vec<String> = (0..forms.len() + 2)
        .map(serial)
        .filter(|s| !remaining.contains(s))
        .collect();
    let recorded: BTreeSet<String> = all_call_records(&proxy.audit_dir())
        .iter()
        .filter(|r| r["stage"] == "completed" && r["outcome"]["result"] == "success")
        .map(|r| r["target"]["serial_number"].as_str().unwrap().to_string())
        .collect();
    let unaudited: Vec<&String> = deleted.iter().filter(|s| !recorded.contains(*s)).collect();
    println!(
        "deletions performed by the lax upstream: {}, unaudited: {}",
        deleted.len(),
        unaudited.len()
    );
    assert_eq!(
        sim.stats()["deletions_performed"].as_u64().unwrap() as usize,
        deleted.len()
    );
    assert!(
        unaudited.is_empty(),
        "deleted without a record: {unaudited:?}"
    );
    let audited_forms = table.iter().filter(|(_, _, g)| *g == Audited).count();
    assert_eq!(deleted.len(), audited_forms);
}

fn h2_deletes(addr: &str, targets: &[String]) -> Vec<u16> {
    use bytes::Bytes;
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http::<Empty<Bytes>>();
        let mut statuses = Vec::new();
        for target in targets {
            let request = http::Request::delete(format!("http://{addr}{target}"))
                .body(Empty::new())
                .unwrap();
            statuses.push(
                client
                    .request(request)
                    .await
                    .expect("h2 request")
                    .status()
                    .as_u16(),
            );
        }
        statuses
    })
}
