//! The IAM simulator over real sockets: in-process for most checks, and the
//! `iam-simulator` binary for flags, the ready file and the `listening on` line.

#[path = "common/sim.rs"]
mod sim;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use mfa_audit_proxy::signing::{sign, Secret};
use serde_json::json;
use sim::*;

#[tokio::test]
async fn signed_delete_is_accepted_then_not_found() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    let target = delete_target(USER, SERIAL);

    let first = send(signed("DELETE", addr, &target), false).await;
    assert_eq!(first.status, StatusCode::NO_CONTENT);
    assert!(first.body.is_empty());
    let first_id = first.request_id();
    assert_eq!(simulator.deletions_performed(), 1);
    assert_eq!(simulator.devices().len(), 1);

    let second = send(signed("DELETE", addr, &target), false).await;
    assert_eq!(second.status, StatusCode::NOT_FOUND);
    let body = second.json();
    assert_eq!(body["error_code"], "PAP5.0004");
    assert!(body["error_msg"].is_string());
    assert_eq!(body["request_id"], second.request_id().as_str());
    assert_ne!(second.request_id(), first_id);
    assert_eq!(body.as_object().map(|o| o.len()), Some(3));
    assert_eq!(simulator.deletions_performed(), 1);
}

#[tokio::test]
async fn bad_signatures_get_apigw_0301() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    let target = delete_target(USER, SERIAL);

    let mut tampered = signed("DELETE", addr, &target);
    *tampered.uri_mut() = format!(
        "http://{addr}{}",
        delete_target(USER, "iam::0123456789abcdef:mfa:other")
    )
    .parse()
    .expect("uri");
    let wrong_secret = signed_for_host(
        "DELETE",
        addr,
        &addr.to_string(),
        &target,
        AK,
        "not-the-secret",
    );
    let unknown_ak = signed_for_host(
        "DELETE",
        addr,
        &addr.to_string(),
        &target,
        "HPUAUNKNOWN",
        SK,
    );
    let mut stale = signed("DELETE", addr, &target);
    {
        let (mut parts, body) = stale.into_parts();
        let old = time::OffsetDateTime::now_utc() - Duration::from_secs(16 * 60);
        let date = mfa_audit_proxy::signing::format_sdk_date(old);
        sign(&mut parts, b"", AK, &Secret::from(SK), &date).expect("signs");
        stale = Request::from_parts(parts, body);
    }
    let mut unsigned = signed("DELETE", addr, &target);
    unsigned.headers_mut().remove("authorization");

    for (what, req) in [
        ("tampered query", tampered),
        ("wrong secret", wrong_secret),
        ("unknown access key", unknown_ak),
        ("stale date", stale),
        ("unsigned", unsigned),
    ] {
        let reply = send(req, false).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        let body = reply.json();
        assert_eq!(body["error_code"], "APIGW.0301", "{what}");
        let msg = body["error_msg"].as_str().expect("error_msg");
        assert!(
            msg.starts_with("Incorrect IAM authentication information: "),
            "{msg}"
        );
        assert!(!msg.contains(SK), "{msg}");
        assert_eq!(body["request_id"], reply.request_id().as_str());
    }
    assert_eq!(simulator.deletions_performed(), 0);
}

#[tokio::test]
async fn denied_caller_gets_403() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    let req = signed_for_host(
        "DELETE",
        addr,
        &addr.to_string(),
        &delete_target(USER, SERIAL),
        DENIED_AK,
        DENIED_SK,
    );
    let reply = send(req, false).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let body = reply.json();
    assert_eq!(body["error_code"], "PAP5.0003");
    assert!(body["error_msg"].is_string());
    assert_eq!(body["request_id"], reply.request_id().as_str());
    assert!(body["encoded_authorization_message"].is_string());
    assert_eq!(simulator.deletions_performed(), 0);
    assert_eq!(simulator.devices().len(), 2);
}

#[tokio::test]
async fn invalid_parameters_get_400() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    let long = "x".repeat(151);
    let cases = [
        (
            "/v5/virtual-mfa-devices?serial_number=s".to_owned(),
            "PAP5.0001",
        ),
        (
            format!("/v5/virtual-mfa-devices?user_id={USER}"),
            "PAP5.0001",
        ),
        (
            "/v5/virtual-mfa-devices?user_id=short&serial_number=s".to_owned(),
            "PAP5.0002",
        ),
        (delete_target(USER, &long), "PAP5.0002"),
        (
            format!("{}&user_id={OTHER_USER}", delete_target(USER, SERIAL)),
            "PAP5.0002",
        ),
        (
            format!("/v5/virtual-mfa-devices?user_id={USER}&serial_number=%ff"),
            "PAP5.0002",
        ),
    ];
    for (target, code) in cases {
        let reply = send(signed("DELETE", addr, &target), false).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{target}");
        reply.request_id();
        let body = reply.json();
        assert_eq!(body["error_code"], code, "{target}");
        assert!(body["error_msg"].is_string());
    }
    // 150 characters after decoding is fine (and absent: 404).
    let reply = send(
        signed("DELETE", addr, &delete_target(USER, &"é".repeat(150))),
        false,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(simulator.deletions_performed(), 0);
}

#[tokio::test]
async fn list_pages_devices() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();

    let all = send(signed("GET", addr, "/v5/mfa-devices"), false).await;
    assert_eq!(all.status, StatusCode::OK);
    all.request_id();
    let body = all.json();
    assert_eq!(body["page_info"]["current_count"], 2);
    assert_eq!(body["page_info"]["next_marker"], serde_json::Value::Null);
    let devices = body["mfa_devices"].as_array().expect("list");
    assert_eq!(devices.len(), 2);
    for d in devices {
        assert!(
            d["serial_number"].is_string() && d["user_id"].is_string() && d["enabled"].is_boolean()
        );
    }

    let mine = send(
        signed("GET", addr, &format!("/v5/mfa-devices?user_id={USER}")),
        false,
    )
    .await;
    assert_eq!(
        mine.json()["mfa_devices"],
        json!([{"serial_number": SERIAL, "user_id": USER, "enabled": true}])
    );

    let first = send(signed("GET", addr, "/v5/mfa-devices?limit=1"), false)
        .await
        .json();
    assert_eq!(first["page_info"]["current_count"], 1);
    let marker = first["page_info"]["next_marker"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = send(
        signed(
            "GET",
            addr,
            &format!("/v5/mfa-devices?limit=1&marker={marker}"),
        ),
        false,
    )
    .await
    .json();
    assert_eq!(second["page_info"]["current_count"], 1);
    assert_eq!(second["page_info"]["next_marker"], serde_json::Value::Null);
    assert_ne!(first["mfa_devices"][0], second["mfa_devices"][0]);

    for bad in [
        "limit=0",
        "limit=201",
        "limit=x",
        "marker=zz",
        "user_id=short",
    ] {
        let reply = send(
            signed("GET", addr, &format!("/v5/mfa-devices?{bad}")),
            false,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let denied = signed_for_host(
        "GET",
        addr,
        &addr.to_string(),
        "/v5/mfa-devices",
        DENIED_AK,
        DENIED_SK,
    );
    assert_eq!(send(denied, false).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_apis_get_apigw_0101() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    for (method, target) in [
        ("GET", "/v5/unknown"),
        ("POST", "/v5/virtual-mfa-devices"),
        (
            "DELETE",
            "/v5/virtual-mfa-devices/?user_id=a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6&serial_number=s",
        ),
        (
            "DELETE",
            "//v5/virtual-mfa-devices?user_id=a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6&serial_number=s",
        ),
    ] {
        let reply = send(signed(method, addr, target), false).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {target}");
        let body = reply.json();
        assert_eq!(body["error_code"], "APIGW.0101");
        assert_eq!(body["request_id"], reply.request_id().as_str());
    }
    // The gateway routes before it authenticates: an unsigned call to no API is a 404.
    let unsigned = Request::get(format!("http://{addr}/v5/unknown"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let reply = send(unsigned, false).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error_code"], "APIGW.0101");
}

#[tokio::test]
async fn require_host_routes_on_host() {
    let mut c = config();
    c.require_host = Some("iam.example.test".into());
    let simulator = start(c).await;
    let addr = simulator.local_addr();
    let target = delete_target(USER, SERIAL);

    let wrong = send(signed("DELETE", addr, &target), false).await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    assert_eq!(wrong.json()["error_code"], "APIGW.0101");

    let right = signed_for_host("DELETE", addr, "iam.example.test", &target, AK, SK);
    assert_eq!(send(right, false).await.status, StatusCode::NO_CONTENT);
    assert_eq!(simulator.deletions_performed(), 1);
}

#[tokio::test]
async fn http2_prior_knowledge_uses_the_authority() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    let mut req = signed("DELETE", addr, &delete_target(USER, SERIAL));
    // An HTTP/2 client sends :authority, not Host.
    req.headers_mut().remove("host");
    let reply = send(req, true).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    reply.request_id();
    let stats = simulator.stats();
    assert_eq!(stats.last_requests[0].version, "HTTP/2.0");
    assert_eq!(stats.deletions_performed, 1);
}

#[tokio::test]
async fn stats_show_what_was_received() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    let target = delete_target(USER, SERIAL);
    let mut req = signed("DELETE", addr, &target);
    req.headers_mut()
        .append("x-dup", "one".parse().expect("value"));
    req.headers_mut()
        .append("x-dup", "two".parse().expect("value"));
    let authorization = req.headers()["authorization"].clone();
    assert_eq!(send(req, false).await.status, StatusCode::NO_CONTENT);

    let reply = get(addr, "/__sim/stats").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.request_id();
    let stats = reply.json();
    assert_eq!(stats["deletions_performed"], 1);
    assert_eq!(stats["requests"], 1, "simulator endpoints are not counted");
    assert_eq!(stats["requests_by_path"]["/v5/virtual-mfa-devices"], 1);
    let last = &stats["last_requests"][0];
    assert_eq!(last["method"], "DELETE");
    assert_eq!(last["target"], target.as_str());
    let headers: Vec<(String, String)> =
        serde_json::from_value(last["headers"].clone()).expect("[name, value] pairs");
    let dups: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "x-dup")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(dups, ["one", "two"]);
    assert!(headers.contains(&(
        "authorization".into(),
        authorization.to_str().expect("ascii").into()
    )));
    assert!(headers.contains(&("host".into(), addr.to_string())));
}

#[tokio::test]
async fn devices_can_be_added_in_bulk() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    let devices: Vec<_> = (0..50)
        .map(
            |i| json!({"user_id": format!("{i:032}"), "serial_number": format!("iam::1:mfa:d{i}")}),
        )
        .collect();
    let req = Request::post(format!("http://{addr}/__sim/devices"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            serde_json::to_vec(&devices).expect("json"),
        )))
        .expect("request");
    let reply = send(req, false).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"added": 50, "devices": 52}));
    let listed = get(addr, "/__sim/devices").await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(52));

    let target = delete_target(&format!("{:032}", 7), "iam::1:mfa:d7");
    assert_eq!(
        send(signed("DELETE", addr, &target), false).await.status,
        StatusCode::NO_CONTENT
    );

    let bad = Request::post(format!("http://{addr}/__sim/devices"))
        .body(Full::new(Bytes::from_static(
            b"[{\"user_id\":\"x\",\"serial_number\":\"s\"}]",
        )))
        .expect("request");
    assert_eq!(send(bad, false).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn lax_mode_executes_what_strict_mode_refuses() {
    let decoy = "iam::0123456789abcdef:mfa:decoy";
    let sloppy = [
        // Path tricks.
        ("DELETE", format!("//V5/./virtual-mfa-devices/;x=1?user_id={USER}&serial_number=iam%3A%3A0123456789abcdef%3Amfa%3Aphone-1"), None),
        // Last repeated parameter wins.
        ("DELETE", format!("/v5/virtual-mfa-devices?user_id={USER}&serial_number={decoy}&serial_number=iam::0123456789abcdef:mfa:phone-1"), None),
        // Method override.
        ("POST", delete_target(USER, SERIAL), Some(("x-http-method-override", "DELETE"))),
        ("GET", format!("{}&_method=delete", delete_target(USER, SERIAL)), None),
    ];
    for (method, target, header) in sloppy {
        let strict = start(config()).await;
        let mut req = signed(method, strict.local_addr(), &target);
        if let Some((n, v)) = header {
            req.headers_mut().insert(n, v.parse().expect("value"));
        }
        let reply = send(req, false).await;
        assert_ne!(
            reply.status,
            StatusCode::NO_CONTENT,
            "strict {method} {target}"
        );
        assert_eq!(strict.deletions_performed(), 0);

        let mut c = config();
        c.lax = true;
        let lax = start(c).await;
        let mut req = signed(method, lax.local_addr(), &target);
        if let Some((n, v)) = header {
            req.headers_mut().insert(n, v.parse().expect("value"));
        }
        let reply = send(req, false).await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "lax {method} {target}"
        );
        assert_eq!(lax.deletions_performed(), 1);
    }

    // `+` is a space in lax mode only.
    let mut c = config();
    c.lax = true;
    c.devices.push(
        mfa_audit_proxy::simulator::Device::new(USER, "iam::1:mfa:a b", true).expect("valid"),
    );
    let lax = start(c).await;
    let target = format!("/v5/virtual-mfa-devices?user_id={USER}&serial_number=iam::1:mfa:a+b");
    assert_eq!(
        send(signed("DELETE", lax.local_addr(), &target), false)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn no_verify_accepts_unsigned_requests() {
    let mut c = config();
    c.verify_signatures = false;
    let simulator = start(c).await;
    let addr = simulator.local_addr();
    let req = Request::delete(format!("http://{addr}{}", delete_target(USER, SERIAL)))
        .body(Full::new(Bytes::new()))
        .expect("request");
    assert_eq!(send(req, false).await.status, StatusCode::NO_CONTENT);
    // --deny still applies to the claimed access key.
    let denied = signed_for_host(
        "GET",
        addr,
        &addr.to_string(),
        "/v5/mfa-devices",
        DENIED_AK,
        "anything",
    );
    assert_eq!(send(denied, false).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn binary_serves_with_flags_and_config_file() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("sim.toml");
    std::fs::write(
        &config_path,
        format!(
            "deny = [\"{DENIED_AK}\"]\n\
             [[credentials]]\naccess_key_id = \"{DENIED_AK}\"\nsecret_key = \"{DENIED_SK}\"\n\
             [[devices]]\nuser_id = \"{OTHER_USER}\"\nserial_number = \"iam::1:mfa:from-file\"\n"
        ),
    )
    .expect("write config");
    let ready = dir.path().join("ready");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_iam-simulator"))
        .args(["--listen", "127.0.0.1:0", "--credential"])
        .arg(format!("{AK}:{SK}"))
        .arg("--device")
        .arg(format!("{USER}:{SERIAL}"))
        .arg("--config")
        .arg(&config_path)
        .arg("--ready-file")
        .arg(&ready)
        .arg("--require-host")
        .arg("iam.example.test:443")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("simulator binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("prints in time")
    .expect("reads stdout");
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("an address");
    assert_ne!(addr.port(), 0);
    assert_eq!(
        std::fs::read_to_string(&ready).expect("ready file"),
        addr.to_string()
    );

    let host = "iam.example.test:443";
    let ok = signed_for_host("DELETE", addr, host, &delete_target(USER, SERIAL), AK, SK);
    assert_eq!(send(ok, false).await.status, StatusCode::NO_CONTENT);
    let from_file = signed_for_host(
        "DELETE",
        addr,
        host,
        &delete_target(OTHER_USER, "iam::1:mfa:from-file"),
        DENIED_AK,
        DENIED_SK,
    );
    assert_eq!(send(from_file, false).await.status, StatusCode::FORBIDDEN);
    let wrong_host = signed(
        "DELETE",
        addr,
        &delete_target(OTHER_USER, "iam::1:mfa:from-file"),
    );
    assert_eq!(send(wrong_host, false).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(addr, "/__sim/stats").await.json()["deletions_performed"],
        1
    );

    child.kill().await.expect("stops");
}

#[tokio::test]
async fn binary_refuses_bad_flags_with_status_2() {
    for args in [
        vec!["--credential", "no-colon"],
        vec!["--device", "nouser"],
        vec!["--listen", "not-an-address"],
        vec!["--config", "/nonexistent/sim.toml"],
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_iam-simulator"))
            .args(&args)
            .output()
            .await
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[tokio::test]
async fn concurrent_deletes_remove_a_device_once() {
    let simulator = start(config()).await;
    let addr = simulator.local_addr();
    let target = delete_target(USER, SERIAL);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let req = signed("DELETE", addr, &target);
        tasks.spawn(async move { send(req, false).await.status });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.expect("task"));
    }
    let ok = statuses
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    let missing = statuses
        .iter()
        .filter(|s| **s == StatusCode::NOT_FOUND)
        .count();
    assert_eq!((ok, missing), (1, 15), "{statuses:?}");
    assert_eq!(simulator.deletions_performed(), 1);
}
