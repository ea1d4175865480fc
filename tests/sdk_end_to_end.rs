//! The real Huawei Cloud Python SDK, through the proxy, against the simulated IAM: each
//! outcome checked in what the SDK returned and in the audit file.

mod common;

use common::*;
use sha2::{Digest, Sha256};

const SERIAL_1: &str = "iam::0123456789abcdef:mfa:phone-1";
const SERIAL_2: &str = "iam::0123456789abcdef:mfa:phone 2";

fn start() -> (SimulatorProcess, ProxyProcess) {
    let dev1 = format!("{USER_ID}:{SERIAL_1}");
    let dev2 = format!("{USER_ID}:{SERIAL_2}");
    let sim = SimulatorProcess::start(&[
        "--credential",
        &format!("{AK}:{SK}"),
        "--credential",
        &format!("{DENIED_AK}:{DENIED_SK}"),
        "--deny",
        DENIED_AK,
        "--device",
        &dev1,
        "--device",
        &dev2,
    ]);
    let proxy = ProxyProcess::start(&sim.url(), "");
    (sim, proxy)
}

/// Both stages of a call, checked against SPEC section 5; returns the completed record.
fn assert_two_records(
    proxy: &ProxyProcess,
    audit_id: &str,
    serial: &str,
    ak: &str,
) -> serde_json::Value {
    let records = call_records(&proxy.audit_dir(), audit_id);
    assert_eq!(
        records.len(),
        2,
        "exactly received + completed for {audit_id}: {records:#?}"
    );
    let (received, completed) = (&records[0], &records[1]);
    assert_eq!(received["stage"], "received");
    assert_eq!(completed["stage"], "completed");
    for r in &records {
        assert_eq!(r["schema_version"], "1.0");
        assert_eq!(r["event"], "DeleteVirtualMFADeviceV5");
        assert_eq!(r["action"], "iam:mfa:deleteVirtualMFADeviceV5");
        assert_eq!(r["audit_id"], audit_id);
        let time = r["time"].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{time}"
        );
        assert!(
            time.ends_with('Z') && time.len() == "2026-12-03T16:07:04.123456Z".len(),
            "{time}"
        );
        assert_eq!(r["prev_hash"].as_str().unwrap().len(), 64);
        let caller = &r["caller"];
        assert_eq!(caller["access_key_id"], ak);
        assert_eq!(caller["signature_verified"], false);
        assert_eq!(caller["security_token"], false);
        assert_eq!(caller["domain_id"], DOMAIN_ID);
        assert_eq!(caller["source_ip"], "127.0.0.1");
        assert!(caller["source_port"].as_u64().unwrap() > 0);
        assert!(caller["user_agent"]
            .as_str()
            .unwrap()
            .contains("huaweicloud-usdk-python"));
        assert!(caller["tls_client_subject"].is_null());
        assert_eq!(r["target"]["user_id"], USER_ID);
        assert_eq!(r["target"]["serial_number"], serial);
        let text = r.to_string();
        assert!(
            !text.contains("Signature") && !text.contains(SK),
            "no secrets: {text}"
        );
    }
    assert!(
        received["outcome"].is_null()
            && received["request_id"].is_null()
            && received["duration_ms"].is_null()
    );
    assert!(completed["seq"].as_u64() > received["seq"].as_u64());
    assert!(completed["duration_ms"].as_f64().unwrap() > 0.0);
    completed.clone()
}

/// Every record's `prev_hash` is the SHA-256 of the line before it.
fn assert_chain(proxy: &ProxyProcess) {
    let mut files: Vec<_> = std::fs::read_dir(proxy.audit_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut prev: Option<(u64, String)> = None;
    for file in files {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let seq = record["seq"].as_u64().unwrap();
            if let Some((prev_seq, prev_hash)) = &prev {
                assert_eq!(seq, prev_seq + 1, "seq increases by one");
                assert_eq!(
                    record["prev_hash"].as_str().unwrap(),
                    prev_hash,
                    "chain at seq {seq}"
                );
            }
            prev = Some((seq, hex::encode(Sha256::digest(line.as_bytes()))));
        }
    }
    assert!(prev.is_some(), "the log is not empty");
}

#[test]
fn sdk_deletion_outcomes_are_answered_and_audited() {
    let (sim, proxy) = start();
    let endpoint = proxy.url();

    // 1. A deletion that succeeds.
    let ok = sdk_call(
        &endpoint,
        AK,
        SK,
        &["delete", "--user-id", USER_ID, "--serial-number", SERIAL_1],
    );
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["status"], 204);
    let audit_id = ok["x_audit_id"]
        .as_str()
        .expect("X-Audit-Id reaches the SDK");
    let request_id = ok["x_request_id"]
        .as_str()
        .expect("X-Request-Id reaches the SDK");
    let completed = assert_two_records(&proxy, audit_id, SERIAL_1, AK);
    assert_eq!(completed["outcome"]["result"], "success");
    assert_eq!(completed["outcome"]["status"], 204);
    assert!(
        completed["outcome"]["error_code"].is_null() && completed["outcome"]["error_msg"].is_null()
    );
    assert_eq!(completed["request_id"], request_id);

    // 2. A device that does not exist (it was just deleted): 404.
    let gone = sdk_call(
        &endpoint,
        AK,
        SK,
        &["delete", "--user-id", USER_ID, "--serial-number", SERIAL_1],
    );
    assert_eq!(gone["ok"], false, "{gone}");
    assert_eq!(gone["status"], 404);
    let completed = assert_two_records(&proxy, gone["x_audit_id"].as_str().unwrap(), SERIAL_1, AK);
    assert_eq!(completed["outcome"]["result"], "not_found");
    assert_eq!(completed["outcome"]["status"], 404);
    assert_eq!(completed["outcome"]["error_code"], gone["error_code"]);
    assert_eq!(completed["outcome"]["error_msg"], gone["error_msg"]);
    assert_eq!(completed["request_id"], gone["request_id"]);

    // 3. A denied caller: 403, and the device survives.
    let denied = sdk_call(
        &endpoint,
        DENIED_AK,
        DENIED_SK,
        &["delete", "--user-id", USER_ID, "--serial-number", SERIAL_2],
    );
    assert_eq!(denied["ok"], false, "{denied}");
    assert_eq!(denied["status"], 403);
    let completed = assert_two_records(
        &proxy,
        denied["x_audit_id"].as_str().unwrap(),
        SERIAL_2,
        DENIED_AK,
    );
    assert_eq!(completed["outcome"]["result"], "denied");
    assert_eq!(completed["outcome"]["status"], 403);
    assert_eq!(completed["outcome"]["error_code"], denied["error_code"]);
    assert_eq!(completed["request_id"], denied["request_id"]);

    // 4. A list call passes through, unaudited, and shows the surviving device.
    let calls_before = all_call_records(&proxy.audit_dir()).len();
    let list = sdk_call(&endpoint, AK, SK, &["list"]);
    assert_eq!(list["ok"], true, "{list}");
    assert_eq!(listed_serials(&list), vec![SERIAL_2]);
    assert!(
        list["x_audit_id"].is_null(),
        "pass-through calls carry no X-Audit-Id"
    );
    assert_eq!(all_call_records(&proxy.audit_dir()).len(), calls_before);

    assert_eq!(sim.stats()["deletions_performed"], 1);
    assert_eq!(all_call_records(&proxy.audit_dir()).len(), 6);
    assert_chain(&proxy);
}
