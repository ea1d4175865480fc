//! Resign mode against a simulated IAM that routes on Host (`--require-host`, as the real
//! endpoint does): the proxy verifies the caller's signature and signs again for the
//! upstream's host. Bad signatures never reach the upstream; secrets never reach a file.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::raw_http::{self, header};
use common::*;
use mfa_audit_proxy::signing::{format_sdk_date, sign, Authorization, Secret};

const SERIAL_1: &str = "iam::0123456789abcdef:mfa:phone-1";
const SERIAL_2: &str = "iam::0123456789abcdef:mfa:phone 2";
const UNKNOWN_AK: &str = "HPUAEXAMPLEAK0000999";
const WRONG_SK: &str = "WrongSecretKey0123456789abcdefghijklmnop";
const TOKEN: &str = "SecurityTokenValue0123456789SECRETTOKEN";

/// The simulator on a port chosen here, answering 404 unless Host names that port.
fn host_routing_simulator() -> SimulatorProcess {
    let addr = format!("127.0.0.1:{}", closed_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_iam-simulator"))
        .args(["--listen", &addr, "--require-host", &addr])
        .args(["--credential", &format!("{AK}:{SK}")])
        .args(["--credential", &format!("{DENIED_AK}:{DENIED_SK}")])
        .args(["--deny", DENIED_AK])
        .args(["--device", &format!("{USER_ID}:{SERIAL_1}")])
        .args(["--device", &format!("{USER_ID}:{SERIAL_2}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("iam-simulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), format!("listening on {addr}"));
    SimulatorProcess { child, addr }
}

/// A secret key file, mode 0600.
fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A resign-mode proxy knowing AK and DENIED_AK (secret files in `secrets`).
fn resign_proxy(upstream: &str, secrets: &Path) -> ProxyProcess {
    let ak_file = secret_file(secrets, "ak.sk", SK);
    let denied_file = secret_file(secrets, "denied.sk", DENIED_SK);
    ProxyProcess::start_with_upstream(
        upstream,
        "mode = \"resign\"\nrequest_timeout = \"3s\"\nconnect_timeout = \"2s\"",
        &format!(
            "[[credentials]]\naccess_key_id = \"{AK}\"\nsecret_key_file = \"{}\"\n\n[[credentials]]\naccess_key_id = \"{DENIED_AK}\"\nsecret_key_file = \"{}\"\n",
            ak_file.display(),
            denied_file.display()
        ),
    )
}

/// A request signed by our own signer for `host`, as raw HTTP/1.1; and its signature.
fn signed_raw(
    host: &str,
    method: &str,
    target: &str,
    ak: &str,
    sk: &str,
    date: &str,
    extra: &[(&str, &str)],
) -> (Vec<u8>, String) {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(target)
        .header("host", host)
        .header("content-type", "application/json")
        .header("x-domain-id", DOMAIN_ID);
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let (mut parts, ()) = builder.body(()).unwrap().into_parts();
    sign(&mut parts, b"", ak, &Secret::from(sk), date).unwrap();
    let mut raw = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        raw.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    raw.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    let auth = Authorization::parse(parts.headers["authorization"].to_str().unwrap()).unwrap();
    (raw.into_bytes(), auth.signature)
}

/// A deletion over HTTP/2 and TLS (ALPN h2), signed for the proxy's authority; returns
/// the status and the signature.
fn h2_delete(addr: &str, ca_pem: &str, serial: &str, ak: &str, sk: &str) -> (u16, String) {
    use http_body_util::Empty;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = common::tls::client_config(ca_pem, None, &[b"h2"]);
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(connection);
        let (mut parts, ()) = http::Request::builder()
            .method("DELETE")
            .uri(format!("https://{addr}{}", delete_target(serial)))
            .header("content-type", "application/json")
            .version(http::Version::HTTP_2)
            .body(())
            .unwrap()
            .into_parts();
        sign(&mut parts, b"", ak, &Secret::from(sk), &now_date()).unwrap();
        // HTTP/2 carries the host as :authority.
        parts.headers.remove("host");
        let signature = Authorization::parse(parts.headers["authorization"].to_str().unwrap())
            .unwrap()
            .signature;
        let response = sender
            .send_request(http::Request::from_parts(
                parts,
                Empty::<bytes::Bytes>::new(),
            ))
            .await
            .unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        (response.status().as_u16(), signature)
    })
}

fn now_date() -> String {
    format_sdk_date(time::OffsetDateTime::now_utc())
}

fn delete_target(serial: &str) -> String {
    format!(
        "/v5/virtual-mfa-devices?user_id={USER_ID}&serial_number={}",
        percent_encoding::utf8_percent_encode(serial, percent_encoding::NON_ALPHANUMERIC)
    )
}

#[test]
fn sdk_deletes_and_lists_through_resign_proxy() {
    let sim = host_routing_simulator();
    let secrets = tempfile::tempdir().unwrap();
    let proxy = resign_proxy(&sim.url(), secrets.path());

    let ok = sdk_call(
        &proxy.url(),
        AK,
        SK,
        &["delete", "--user-id", USER_ID, "--serial-number", SERIAL_1],
    );
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["status"], 204);
    let records = call_records(&proxy.audit_dir(), ok["x_audit_id"].as_str().unwrap());
    assert_eq!(records.len(), 2, "{records:#?}");
    for r in &records {
        assert_eq!(r["caller"]["signature_verified"], true);
        assert_eq!(r["caller"]["access_key_id"], AK);
        assert_eq!(r["target"]["serial_number"], SERIAL_1);
    }
    assert_eq!(records[1]["outcome"]["result"], "success");
    assert_eq!(records[1]["request_id"], ok["x_request_id"]);

    // IAM's own denial still comes through, from a verified caller.
    let denied = sdk_call(
        &proxy.url(),
        DENIED_AK,
        DENIED_SK,
        &["delete", "--user-id", USER_ID, "--serial-number", SERIAL_2],
    );
    assert_eq!(denied["status"], 403, "{denied}");
    let records = call_records(&proxy.audit_dir(), denied["x_audit_id"].as_str().unwrap());
    assert_eq!(records[1]["caller"]["signature_verified"], true);
    assert_eq!(records[1]["outcome"]["result"], "denied");

    let list = sdk_call(&proxy.url(), AK, SK, &["list"]);
    assert_eq!(list["ok"], true, "{list}");
    assert_eq!(listed_serials(&list), vec![SERIAL_2]);

    let stats = sim.stats();
    assert_eq!(stats["deletions_performed"], 1);
    // What the upstream saw: its own host, a fresh signature by the same key.
    for seen in stats["last_requests"].as_array().unwrap() {
        let headers = seen["headers"].as_array().unwrap();
        let value = |name: &str| {
            headers
                .iter()
                .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
                .map(|h| h[1].as_str().unwrap().to_string())
        };
        assert_eq!(value("host").as_deref(), Some(sim.addr.as_str()));
        assert!(value("authorization").unwrap().contains("SignedHeaders="));
    }
}

#[test]
fn passthrough_fails_against_a_host_routing_upstream() {
    let sim = host_routing_simulator();
    let proxy = ProxyProcess::start(&sim.url(), "");
    let gone = sdk_call(
        &proxy.url(),
        AK,
        SK,
        &["delete", "--user-id", USER_ID, "--serial-number", SERIAL_1],
    );
    assert_eq!(gone["ok"], false, "{gone}");
    assert_eq!(
        gone["status"], 404,
        "the upstream does not know the proxy's host: {gone}"
    );
    assert_eq!(sim.stats()["deletions_performed"], 0);
}

#[test]
fn bad_signatures_get_401_and_never_reach_the_upstream() {
    let sim = host_routing_simulator();
    let secrets = tempfile::tempdir().unwrap();
    let proxy = resign_proxy(&sim.url(), secrets.path());
    let delete = ["delete", "--user-id", USER_ID, "--serial-number", SERIAL_1];

    let mut audit_ids = Vec::new();
    for (ak, sk, why) in [
        (AK, WRONG_SK, "wrong secret"),
        (UNKNOWN_AK, SK, "unknown key"),
    ] {
        let refused = sdk_call(&proxy.url(), ak, sk, &delete);
        assert_eq!(refused["status"], 401, "{why}: {refused}");
        assert_eq!(refused["error_code"], "MAP.0401", "{why}: {refused}");
        audit_ids.push((refused["x_audit_id"].as_str().unwrap().to_string(), ak));
    }

    // Temporary credentials cannot be signed again: refused by default.
    let mut args = vec!["--security-token", TOKEN];
    args.extend(delete);
    let temporary = sdk_call(&proxy.url(), AK, SK, &args);
    assert_eq!(temporary["status"], 401, "{temporary}");
    assert!(
        temporary["error_msg"]
            .as_str()
            .unwrap()
            .contains("temporary credentials"),
        "{temporary}"
    );
    audit_ids.push((temporary["x_audit_id"].as_str().unwrap().to_string(), AK));

    // A signature older than 15 minutes.
    let stale = format_sdk_date(time::OffsetDateTime::now_utc() - time::Duration::minutes(20));
    let (raw, _) = signed_raw(
        &proxy.addr,
        "DELETE",
        &delete_target(SERIAL_1),
        AK,
        SK,
        &stale,
        &[],
    );
    let (status, headers, body) = raw_http::send(&proxy.addr, &raw);
    assert_eq!(status, 401);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error_code"], "MAP.0401");
    assert!(answer["error_msg"].as_str().unwrap().contains("X-Sdk-Date"));
    audit_ids.push((header(&headers, "x-audit-id").unwrap().to_string(), AK));

    // Pass-through calls are checked too.
    let list = sdk_call(&proxy.url(), AK, WRONG_SK, &["list"]);
    assert_eq!(list["status"], 401, "{list}");
    assert_eq!(list["error_code"], "MAP.0401");

    assert_eq!(sim.stats()["requests"], 0, "nothing reached the upstream");
    for (audit_id, ak) in audit_ids {
        let records = call_records(&proxy.audit_dir(), &audit_id);
        assert_eq!(records.len(), 1, "completed only: {records:#?}");
        let r = &records[0];
        assert_eq!(r["stage"], "completed");
        assert_eq!(r["caller"]["signature_verified"], false);
        assert_eq!(r["caller"]["access_key_id"], ak);
        assert_eq!(r["outcome"]["result"], "denied");
        assert_eq!(r["outcome"]["status"], 401);
        assert_eq!(r["outcome"]["error_code"], "MAP.0401");
        assert_eq!(r["target"]["serial_number"], SERIAL_1);
    }
}

#[test]
fn invalid_query_is_rejected_before_the_signature_check() {
    let sim = host_routing_simulator();
    let secrets = tempfile::tempdir().unwrap();
    let proxy = resign_proxy(&sim.url(), secrets.path());
    let (raw, _) = signed_raw(
        &proxy.addr,
        "DELETE",
        "/v5/virtual-mfa-devices?user_id=short&serial_number=x",
        AK,
        WRONG_SK,
        &now_date(),
        &[],
    );
    let (status, headers, _) = raw_http::send(&proxy.addr, &raw);
    assert_eq!(status, 400);
    let records = call_records(&proxy.audit_dir(), header(&headers, "x-audit-id").unwrap());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["outcome"]["result"], "rejected");
    assert_eq!(sim.stats()["requests"], 0);
}

#[test]
fn our_signature_is_accepted_by_the_simulator_and_matches_the_python_signer() {
    let sim = host_routing_simulator();
    let date = now_date();
    let target = format!("/v5/mfa-devices?user_id={USER_ID}&limit=10");
    let (mut parts, ()) = http::Request::builder()
        .method("GET")
        .uri(&target)
        .header("host", &sim.addr)
        .header("content-type", "application/json")
        .header("x-domain-id", DOMAIN_ID)
        .header("user-agent", "mfa-audit-proxy-test")
        .body(())
        .unwrap()
        .into_parts();
    sign(&mut parts, b"", AK, &Secret::from(SK), &date).unwrap();
    let ours = parts.headers["authorization"].to_str().unwrap().to_string();

    // The simulator (which checks like the gateway) accepts it.
    let mut raw = format!("GET {target} HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        raw.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    raw.push_str("Connection: close\r\n\r\n");
    let (status, _, body) = raw_http::send(&sim.addr, raw.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // The Python SDK's own signer computes the same Authorization.
    let signed = Authorization::parse(&ours).unwrap().signed_headers;
    let headers: serde_json::Map<String, serde_json::Value> = signed
        .iter()
        .map(|name| {
            let value = parts.headers[name.as_str()].to_str().unwrap();
            (name.clone(), serde_json::Value::from(value))
        })
        .collect();
    let spec = serde_json::json!({
        "method": "GET",
        "host": sim.addr,
        "path": "/v5/mfa-devices",
        "query": [["user_id", USER_ID], ["limit", "10"]],
        "headers": headers,
        "body": "",
        "ak": AK,
        "sk": SK,
    });
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/python/signer_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(theirs["authorization"], ours.as_str());
}

#[test]
fn check_config_refuses_bad_secret_sources() {
    let dir = tempfile::tempdir().unwrap();
    let leaky = dir.path().join("leaky.sk");
    std::fs::write(&leaky, SK).unwrap();
    std::fs::set_permissions(&leaky, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cases = [
        (
            format!("secret_key_file = \"{}\"", leaky.display()),
            "credentials[0].secret_key_file",
        ),
        (
            "secret_key_env = \"RESIGN_TEST_UNSET_SECRET\"".to_string(),
            "credentials[0].secret_key_env",
        ),
    ];
    for (source, key) in cases {
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!("[upstream]\nurl = \"http://127.0.0.1:1\"\nmode = \"resign\"\n\n[[credentials]]\naccess_key_id = \"{AK}\"\n{source}\n"),
        )
        .unwrap();
        for command in ["check-config", "serve"] {
            let output = Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
                .args([command, "--config"])
                .arg(&config)
                .env_remove("RESIGN_TEST_UNSET_SECRET")
                .env_remove("MFA_AUDIT_PROXY_PYTHON")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
            assert!(stderr.contains(&format!("`{key}`")), "{stderr}");
            assert!(!stderr.contains(SK) && !String::from_utf8_lossy(&output.stdout).contains(SK));
        }
    }

    // From the environment, it loads; check-config prints only the variable's name.
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[upstream]\nurl = \"http://127.0.0.1:1\"\nmode = \"resign\"\n\n[[credentials]]\naccess_key_id = \"{AK}\"\nsecret_key_env = \"RESIGN_TEST_SECRET\"\n"),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"))
        .args(["check-config", "--config"])
        .arg(&config)
        .env("RESIGN_TEST_SECRET", SK)
        .env_remove("MFA_AUDIT_PROXY_PYTHON")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("RESIGN_TEST_SECRET") && !stdout.contains(SK));
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn metrics(proxy: &ProxyProcess) -> Vec<u8> {
    let (status, _, body) = raw_http::get(&proxy.admin_addr, "/metrics");
    assert_eq!(status, 200);
    body
}

#[test]
fn no_secret_reaches_any_file_under_trace_logging() {
    // Only this test's proxies read it; the other tests' proxies may log at trace too.
    std::env::set_var("RUST_LOG", "trace");
    let sim = host_routing_simulator();
    let secrets = tempfile::tempdir().unwrap();
    let proxy = resign_proxy(&sim.url(), secrets.path());
    let dead = resign_proxy(
        &format!("http://127.0.0.1:{}", closed_port()),
        secrets.path(),
    );
    // Resign mode over TLS and HTTP/2 too: the caller signed :authority as host.
    let ca = common::tls::TestCa::new("mfa-audit-proxy test CA");
    let server = ca.server(secrets.path(), "server", "proxy");
    let h2_sk = secret_file(secrets.path(), "h2.sk", SK);
    let over_tls = ProxyProcess::start_with_upstream(
        &sim.url(),
        "mode = \"resign\"",
        &format!(
            "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\n[[credentials]]\naccess_key_id = \"{AK}\"\nsecret_key_file = \"{}\"\n",
            server.cert_file.display(),
            server.key_file.display(),
            h2_sk.display()
        ),
    );
    let mut signatures = Vec::new();
    let mut send =
        |proxy: &ProxyProcess, target: &str, ak: &str, sk: &str, extra: &[(&str, &str)]| {
            let (raw, signature) =
                signed_raw(&proxy.addr, "DELETE", target, ak, sk, &now_date(), extra);
            signatures.push(signature);
            raw_http::send(&proxy.addr, &raw).0
        };
    let token = [("x-security-token", TOKEN)];
    assert_eq!(send(&proxy, &delete_target(SERIAL_1), AK, SK, &[]), 204);
    assert_eq!(
        send(&proxy, &delete_target(SERIAL_2), DENIED_AK, DENIED_SK, &[]),
        403
    );
    assert_eq!(
        send(&proxy, &delete_target(SERIAL_2), AK, WRONG_SK, &[]),
        401
    );
    assert_eq!(send(&proxy, &delete_target(SERIAL_2), AK, SK, &token), 401);
    assert_eq!(
        send(&proxy, "/v5/virtual-mfa-devices?user_id=x", AK, SK, &[]),
        400
    );
    assert_eq!(send(&dead, &delete_target(SERIAL_2), AK, SK, &[]), 502);
    let (status, signature) = h2_delete(&over_tls.addr, &ca.cert_pem, SERIAL_2, AK, WRONG_SK);
    assert_eq!(status, 401);
    signatures.push(signature);
    let (status, signature) = h2_delete(&over_tls.addr, &ca.cert_pem, SERIAL_2, AK, SK);
    assert_eq!(
        status, 204,
        "resign mode verifies :authority as host over HTTP/2"
    );
    signatures.push(signature);
    // The signatures the proxy made for the upstream are secrets too.
    for seen in sim.stats()["last_requests"].as_array().unwrap() {
        for h in seen["headers"].as_array().unwrap() {
            if h[0].as_str().unwrap().eq_ignore_ascii_case("authorization") {
                let value = h[1].as_str().unwrap();
                signatures.push(Authorization::parse(value).unwrap().signature);
            }
        }
    }
    assert!(signatures.len() >= 10);
    let proxy_metrics = metrics(&proxy);
    let dead_metrics = metrics(&dead);
    let tls_metrics = metrics(&over_tls);
    std::thread::sleep(Duration::from_millis(300));

    let secrets_list: Vec<&[u8]> = [SK, DENIED_SK, WRONG_SK, TOKEN]
        .into_iter()
        .map(str::as_bytes)
        .chain(signatures.iter().map(|s| s.as_bytes()))
        .collect();
    let mut checked = Vec::new();
    for p in [&proxy, &dead, &over_tls] {
        for file in files_under(p.dir()) {
            checked.push((file.display().to_string(), std::fs::read(&file).unwrap()));
        }
    }
    checked.push(("proxy /metrics".into(), proxy_metrics));
    checked.push(("dead /metrics".into(), dead_metrics));
    checked.push(("TLS /metrics".into(), tls_metrics));
    let stderr = proxy.stderr();
    assert!(
        stderr.contains("TRACE") || stderr.contains("trace"),
        "trace logging is on"
    );
    for (name, content) in &checked {
        for secret in &secrets_list {
            assert!(
                !content.windows(secret.len()).any(|w| w == *secret),
                "{name} holds a secret ({} bytes)",
                secret.len()
            );
        }
    }
}

#[test]
fn temporary_credentials_can_be_forwarded_unverified() {
    // An upstream that does not route on Host (the simulator without --require-host).
    let sim = SimulatorProcess::start(&[
        "--credential",
        &format!("{AK}:{SK}"),
        "--device",
        &format!("{USER_ID}:{SERIAL_1}"),
    ]);
    let secrets = tempfile::tempdir().unwrap();
    let sk_file = secret_file(secrets.path(), "ak.sk", SK);
    let proxy = ProxyProcess::start_with_upstream(
        &sim.url(),
        "mode = \"resign\"\ntemporary_credentials = \"forward_unverified\"\nrequest_timeout = \"3s\"",
        &format!(
            "[[credentials]]\naccess_key_id = \"{AK}\"\nsecret_key_file = \"{}\"\n",
            sk_file.display()
        ),
    );
    let ok = sdk_call(
        &proxy.url(),
        AK,
        SK,
        &[
            "--security-token",
            TOKEN,
            "delete",
            "--user-id",
            USER_ID,
            "--serial-number",
            SERIAL_1,
        ],
    );
    assert_eq!(ok["status"], 204, "{ok}");
    let records = call_records(&proxy.audit_dir(), ok["x_audit_id"].as_str().unwrap());
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r["caller"]["signature_verified"], false);
        assert_eq!(r["caller"]["security_token"], true);
        assert!(!r.to_string().contains(TOKEN));
    }
}
