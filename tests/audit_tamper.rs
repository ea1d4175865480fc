//! Tampering: every kind of edit makes `verify_dir` fail, naming the first break.

#[path = "common/audit.rs"]
mod audit_common;

use std::path::{Path, PathBuf};

use audit_common::*;
use mfa_audit_proxy::audit::checkpoint::Checkpoint;
use mfa_audit_proxy::audit::keys::SigningKey;
use mfa_audit_proxy::audit::{verify_dir, VerifyFailure};

/// A closed log over several files, every file checkpointed.
async fn base() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let mut cfg = config(&dir);
    cfg.rotate_bytes = 4096;
    let log = open(&cfg);
    for i in 0..30 {
        log.append(received(i)).await.unwrap();
        log.append(completed(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();
    let report = verify_dir(&dir, None).unwrap();
    assert!(report.files.len() >= 4);
    tmp
}

/// Copies the base log, applies `edit`, and returns what verify reports.
fn tampered(base: &Path, edit: impl FnOnce(&Path, &[PathBuf])) -> VerifyFailure {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    copy_dir(&base.join("audit"), &dir);
    let files = audit_files(&dir);
    edit(&dir, &files);
    let failure = verify_dir(&dir, None).expect_err("tampering went unnoticed");
    // Report paths relative to the directory, as a reader would.
    VerifyFailure {
        file: failure
            .file
            .strip_prefix(&dir)
            .map(Path::to_path_buf)
            .unwrap_or(failure.file),
        ..failure
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn every_kind_of_tampering_is_named() {
    let base = base().await;
    let b = base.path();

    // An edited byte (still valid JSON): the next record's link breaks.
    let f = tampered(b, |_, files| {
        let mut l = lines(&files[1]);
        l[2] = l[2].replacen("call-", "cell-", 1);
        write_lines(&files[1], &l);
    });
    let names: Vec<PathBuf> = audit_files(&b.join("audit"))
        .iter()
        .map(|p| PathBuf::from(name(p)))
        .collect();
    assert_eq!((f.file.clone(), f.line), (names[1].clone(), Some(4)), "{f}");
    assert!(
        f.to_string()
            .starts_with(&format!("{}:4: ", names[1].display())),
        "{f}"
    );
    assert!(
        f.reason.contains("prev_hash") && f.reason.contains(":3)"),
        "{f}"
    );

    // An edited byte that breaks the JSON.
    let f = tampered(b, |_, files| {
        let mut l = lines(&files[2]);
        l[1].insert(0, 'x');
        write_lines(&files[2], &l);
    });
    assert_eq!((f.file.clone(), f.line), (names[2].clone(), Some(2)), "{f}");

    // A deleted line.
    let f = tampered(b, |_, files| {
        let mut l = lines(&files[1]);
        l.remove(2);
        write_lines(&files[1], &l);
    });
    assert_eq!((f.file.clone(), f.line), (names[1].clone(), Some(3)), "{f}");
    assert!(f.reason.contains("1 record(s) missing"), "{f}");

    // Two swapped lines.
    let f = tampered(b, |_, files| {
        let mut l = lines(&files[1]);
        l.swap(1, 2);
        write_lines(&files[1], &l);
    });
    assert_eq!((f.file.clone(), f.line), (names[1].clone(), Some(2)), "{f}");

    // A missing file in the middle.
    let f = tampered(b, |_, files| std::fs::remove_file(&files[1]).unwrap());
    assert_eq!((f.file.clone(), f.line), (names[2].clone(), Some(1)), "{f}");
    assert!(f.reason.contains("file is missing"), "{f}");

    // The first file missing (not pruned by retention, so no anchor... but its checkpoint
    // is still there and anchors it: deleting the checkpoint too must be caught).
    let f = tampered(b, |dir, files| {
        std::fs::remove_file(&files[0]).unwrap();
        for cp in std::fs::read_dir(dir.join("checkpoints")).unwrap() {
            let cp = cp.unwrap().path();
            if name(&cp).starts_with(&name(&files[0])) {
                std::fs::remove_file(cp).unwrap();
            }
        }
    });
    assert_eq!((f.file.clone(), f.line), (names[1].clone(), Some(1)), "{f}");

    // The first file missing, its checkpoint kept: still no retention vouches for it.
    let f = tampered(b, |_, files| std::fs::remove_file(&files[0]).unwrap());
    assert_eq!((f.file.clone(), f.line), (names[1].clone(), Some(1)), "{f}");
    assert!(f.reason.contains("retention marker"), "{f}");

    // The last file missing: its shutdown checkpoint says it existed.
    let f = tampered(b, |_, files| {
        std::fs::remove_file(files.last().unwrap()).unwrap()
    });
    assert_eq!(f.file, names.last().unwrap().clone(), "{f}");
    assert!(f.reason.contains("missing"), "{f}");

    // Files renamed into another order.
    let f = tampered(b, |dir, files| {
        let tmp = dir.join("swap");
        std::fs::rename(&files[1], &tmp).unwrap();
        std::fs::rename(&files[2], &files[1]).unwrap();
        std::fs::rename(&tmp, &files[2]).unwrap();
    });
    assert_eq!((f.file.clone(), f.line), (names[1].clone(), Some(1)), "{f}");
    assert!(f.reason.contains("renamed or reordered"), "{f}");

    // The last file truncated at a line boundary: only the checkpoint can tell.
    let f = tampered(b, |_, files| {
        let last = files.last().unwrap();
        let mut l = lines(last);
        l.pop();
        write_lines(last, &l);
    });
    assert_eq!(f.file, names.last().unwrap().clone(), "{f}");
    assert!(f.reason.contains("truncated"), "{f}");

    // The last file truncated in the middle of a line.
    let f = tampered(b, |_, files| {
        let last = files.last().unwrap();
        let bytes = std::fs::read(last).unwrap();
        std::fs::write(last, &bytes[..bytes.len() - 10]).unwrap();
    });
    assert_eq!(f.file, names.last().unwrap().clone(), "{f}");
    assert!(f.reason.contains("incomplete"), "{f}");

    // The very last record edited: no later link, but the checkpoint's hash.
    let f = tampered(b, |_, files| {
        let last = files.last().unwrap();
        let mut l = lines(last);
        let n = l.len();
        l[n - 1] = l[n - 1].replacen("call-", "cell-", 1);
        write_lines(last, &l);
    });
    assert_eq!(f.file, names.last().unwrap().clone(), "{f}");
    assert!(f.reason.contains("checkpoint"), "{f}");

    // A forged checkpoint: content changed, signature kept.
    let f = tampered(b, |dir, _| {
        let cp = first_checkpoint(dir);
        let text = std::fs::read_to_string(&cp).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["file_bytes"] = serde_json::json!(v["file_bytes"].as_u64().unwrap() - 1);
        std::fs::write(&cp, serde_json::to_vec(&v).unwrap()).unwrap();
    });
    assert!(f.file.starts_with("checkpoints"), "{f}");
    assert!(f.reason.contains("signature"), "{f}");

    // A checkpoint re-signed with another key (the verifier trusts the real public key).
    let real_pub = b.join("real.pub");
    std::fs::copy(b.join("audit/audit-signing.pub"), &real_pub).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    copy_dir(&b.join("audit"), &dir);
    let other = SigningKey::load_or_generate(&tmp.path().join("other.key")).unwrap();
    let cp = first_checkpoint(&dir);
    let old: Checkpoint = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    let mut body = old.body.clone();
    body.key_id = other.key_id();
    std::fs::write(
        &cp,
        serde_json::to_vec(&Checkpoint::sign(body, &other)).unwrap(),
    )
    .unwrap();
    other.write_public(&dir.join("audit-signing.pub")).unwrap();
    // Even with the public key in the directory replaced, the other checkpoints give it away;
    // with the real key kept elsewhere, the forged one itself is named.
    assert!(verify_dir(&dir, None).is_err());
    let f = verify_dir(&dir, Some(&real_pub)).unwrap_err();
    assert_eq!(f.file, cp, "{f}");
    assert!(f.reason.contains("signature"), "{f}");
}

fn first_checkpoint(dir: &Path) -> PathBuf {
    let mut cps: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cps.sort();
    cps.remove(0)
}

/// Any single changed byte in any record file is caught (a checkpoint covers the end).
#[test]
fn any_flipped_byte_is_caught() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(base());
    let files = audit_files(&base.path().join("audit"));
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .collect();
    let total: u64 = sizes.iter().sum();
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(pos in 0..total, flip in 1u8..=255)| {
        // Map a position over all files to (file, offset).
        let (mut i, mut off) = (0, pos);
        while off >= sizes[i] {
            off -= sizes[i];
            i += 1;
        }
        let f = tampered(base.path(), |_, files| {
            let mut bytes = std::fs::read(&files[i]).unwrap();
            bytes[off as usize] ^= flip;
            std::fs::write(&files[i], bytes).unwrap();
        });
        prop_assert!(f.file.to_string_lossy().contains(".jsonl"), "{}", f);
    });
}

/// Whatever the files hold, verify answers (it is run on untrusted input) and never panics.
#[test]
fn verify_never_panics_on_hostile_files() {
    use proptest::prelude::*;
    let line = prop_oneof![
        (any::<u64>(), "[0-9a-f]{0,64}")
            .prop_map(|(seq, h)| format!("{{\"seq\":{seq},\"prev_hash\":\"{h}\"}}\n").into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    let file = proptest::collection::vec(line, 0..6).prop_map(|ls| ls.concat());
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(a in file.clone(), b in file, cp in proptest::collection::vec(any::<u8>(), 0..64))| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("audit-20261203T000000Z-00000000000000000001.jsonl"), &a).unwrap();
        std::fs::write(dir.join("audit-20261203T000001Z-18446744073709551615.jsonl"), &b).unwrap();
        std::fs::create_dir(dir.join("checkpoints")).unwrap();
        std::fs::write(
            dir.join("checkpoints/audit-20261203T000000Z-00000000000000000001.jsonl.00000000000000000001.checkpoint.json"),
            &cp,
        )
        .unwrap();
        let _ = verify_dir(dir, None);
    });
}
