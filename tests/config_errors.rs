//! Every configuration error path: a one-line error naming the key or flag, exit 2. The
//! repository's own `config.toml` is valid and documents every key.

mod common;

use std::process::Command;

fn run(args: &[&str], config: Option<&str>, env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mfa-audit-proxy"));
    command.args(args);
    if let Some(text) = config {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        command.arg("--config").arg(path);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_line_error(code: i32, stderr: &str, needle: &str) {
    assert_eq!(code, 2, "exit status 2 for: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains(needle), "{stderr:?} names {needle:?}");
}

const OK: &str = "[upstream]\nurl = \"http://127.0.0.1:9000\"\n";

#[test]
fn bad_configuration_names_the_key() {
    let cases: Vec<(String, &str)> = vec![
        (
            "[upstream]\nurl = \"http://x\"\nmdoe = \"resign\"\n".into(),
            "`upstream.mdoe`: unknown key",
        ),
        (
            format!("lisen = \"1.2.3.4:5\"\n{OK}"),
            "`lisen`: unknown key",
        ),
        (
            format!("{OK}[audti]\ndir = \"x\"\n"),
            "`audti`: unknown key",
        ),
        (format!("listen = \"not an address\"\n{OK}"), "`listen`"),
        (
            format!("workers = 1025\n{OK}"),
            "`workers`: must be at most 1024",
        ),
        (format!("workers = -1\n{OK}"), "`workers`"),
        (format!("listen = 8080\n{OK}"), "`listen`"),
        ("[upstream]\nurl = \"ftp://x\"\n".into(), "`upstream.url`"),
        (
            "[upstream]\nurl = \"http://x/some/path\"\n".into(),
            "`upstream.url`",
        ),
        (
            "[upstream]\nmode = \"passthrough\"\n".into(),
            "`upstream.url`: is required",
        ),
        (
            "listen = \"127.0.0.1:1\"\n".into(),
            "`upstream`: is required",
        ),
        (
            "[upstream]\nurl = \"http://x\"\nmode = \"mirror\"\n".into(),
            "`upstream.mode`",
        ),
        (
            "[upstream]\nurl = \"http://x\"\nrequest_timeout = \"soon\"\n".into(),
            "`upstream.request_timeout`",
        ),
        (
            format!("{OK}[limits]\nmax_headers = -1\n"),
            "`limits.max_headers`",
        ),
        (
            format!("{OK}[limits]\nheader_read_timeout = 5\n"),
            "`limits.header_read_timeout`",
        ),
        (
            format!("{OK}[audit]\ndurability = \"sometimes\"\n"),
            "`audit.durability`",
        ),
        (format!("{OK}[admin]\nlisten = \"x\"\n"), "`admin.listen`"),
        (
            format!("{OK}[diagnostics]\nformat = \"xml\"\n"),
            "`diagnostics.format`",
        ),
        (
            format!("{OK}[[credentials]]\naccess_key_id = \"AK\"\n"),
            "`credentials[0]`",
        ),
        (
            "[upstream]\nurl = \"http://x\"\nmode = \"resign\"\n".into(),
            "`credentials`",
        ),
        ("this is not toml".into(), "config file"),
    ];
    for (text, needle) in cases {
        for subcommand in ["check-config", "serve"] {
            let (code, _, stderr) = run(&[subcommand], Some(&text), &[]);
            assert_one_line_error(code, &stderr, needle);
        }
    }
}

#[test]
fn environment_overrides_are_checked_too() {
    let (code, _, stderr) = run(
        &["check-config"],
        Some(OK),
        &[("MFA_AUDIT_PROXY_LIMITS__MAX_HEADERS", "lots")],
    );
    assert_one_line_error(code, &stderr, "`limits.max_headers`");
    let (code, stdout, _) = run(
        &["check-config"],
        Some(OK),
        &[("MFA_AUDIT_PROXY_UPSTREAM__URL", "https://iam.example.test")],
    );
    assert_eq!(code, 0);
    assert!(
        stdout.contains("url = \"https://iam.example.test\""),
        "{stdout}"
    );
}

#[test]
fn missing_file_and_bad_flags() {
    let (code, _, stderr) = run(
        &["check-config", "--config", "/nonexistent/config.toml"],
        None,
        &[],
    );
    assert_one_line_error(code, &stderr, "/nonexistent/config.toml");
    let (code, _, stderr) = run(&["serve", "--bogus"], None, &[]);
    assert_one_line_error(code, &stderr, "--bogus");
    let (code, _, stderr) = run(&["frobnicate"], None, &[]);
    assert_one_line_error(code, &stderr, "frobnicate");
}

#[test]
fn repository_config_is_valid_and_complete() {
    let path = common::repo_root().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (code, stdout, stderr) = run(&["check-config"], Some(&text), &[]);
    assert_eq!(code, 0, "{stderr}");
    // Every key of the effective configuration is documented in the repository's file.
    for line in stdout.lines() {
        if let Some((key, _)) = line.split_once(" = ") {
            let key = key.trim();
            assert!(
                text.lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} ="))),
                "config.toml documents `{key}`"
            );
        }
    }
}

#[test]
fn offline_commands_do_not_need_the_proxys_secrets() {
    // An auditor may read the configuration for `audit.dir` without access to the secret
    // keys or certificates it names; serve and check-config still refuse the missing file.
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    std::fs::create_dir(&audit).unwrap();
    let text = format!(
        "[upstream]\nurl = \"http://127.0.0.1:9000\"\nmode = \"resign\"\n[audit]\ndir = \"{}\"\n[[credentials]]\naccess_key_id = \"AK\"\nsecret_key_file = \"/nonexistent/secret\"\n",
        audit.display()
    );
    let (code, _, stderr) = run(&["check-config"], Some(&text), &[]);
    assert_one_line_error(code, &stderr, "`credentials[0].secret_key_file`");
    let (code, _, stderr) = run(&["query"], Some(&text), &[]);
    assert_eq!(code, 0, "query: {stderr}");
    let (code, stdout, stderr) = run(&["verify"], Some(&text), &[]);
    assert_eq!(code, 0, "verify: {stderr}");
    assert!(stdout.starts_with("intact"), "{stdout}");
}
