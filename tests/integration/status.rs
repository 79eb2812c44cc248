//! `codex_status` against the real pinned codex (found, version, auth) and against the fake one
//! for the states the real one cannot be put in; `codex_capabilities`; and the `status` command.

use std::io::Write as _;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::codex_home::{CODEX_VERSION, CodexHome, codex_bin};
use crate::mock_model::MockModel;
use crate::support::{Server, binary, envelope, fake_codex_controls, fake_codex_dir, path_with, path_without_codex};

fn status_with(env: &[(String, String)]) -> Value {
    let mut server = Server::start(env);
    server.initialize(json!({}));
    envelope(&server.call(1, "codex_status", json!({})))
}

#[test]
fn status_reports_the_real_codex_its_version_and_auth() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let status = status_with(&home.env());
    assert_eq!(status["ok"], json!(true));
    assert_eq!(status["codex_found"], json!(true));
    assert_eq!(status["codex_version"], json!(format!("codex-cli {CODEX_VERSION}")));
    assert_eq!(status["version_supported"], json!(true));
    assert_eq!(status["version_warning"], Value::Null);
    assert!(status.get("flags_checked").is_none(), "checked, the default: {status}");
    assert!(status.get("missing_flags").is_none(), "{status}");
    assert_eq!(status["codex_authenticated"], json!(false));
    assert_eq!(status["ready"], json!(false));

    // Log the throwaway home in with a dummy API key, as a user would with `codex login`.
    let mut login = std::process::Command::new(codex_bin())
        .args(["login", "--with-api-key"])
        .envs(home.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    login.stdin.take().unwrap().write_all(b"sk-dummy-login-key-1234567890\n").unwrap();
    assert!(login.wait().unwrap().success());

    let status = status_with(&home.env());
    assert_eq!(status["codex_authenticated"], json!(true));
    assert_eq!(status["ready"], json!(true));
    assert!(status.get("readiness_detail").is_none(), "ready says it: {status}");
    assert!(status["auth_detail"].as_str().unwrap().contains("API key"));
    assert!(!status.to_string().contains("sk-dumm"), "login status output leaked: {status}");
    assert_eq!(mock.requests().len(), 0, "status must never call the model");
}

#[test]
fn status_without_codex_says_so() {
    let status = status_with(&[("PATH".into(), path_without_codex())]);
    assert_eq!(status["codex_found"], json!(false));
    assert_eq!(status["codex_version"], Value::Null);
    assert_eq!(status["codex_authenticated"], Value::Null);
    assert_eq!(status["ready"], json!(false));
    assert!(status["readiness_detail"].as_str().unwrap().contains("install"));
}

#[test]
fn status_flags_an_untested_version_missing_flags_and_hides_the_account() {
    let status = status_with(&[
        ("PATH".into(), path_with(&fake_codex_dir())),
        ("FAKE_CODEX_VERSION".into(), "codex-cli 0.140.2\u{1b}[31m".into()),
        ("FAKE_CODEX_LOGIN".into(), "chatgpt".into()),
    ]);
    assert_eq!(status["codex_version"], json!("codex-cli 0.140.2[31m"), "control characters are stripped");
    assert_eq!(status["version_supported"], json!(false));
    assert!(status["version_warning"].as_str().unwrap().contains("0.169"));
    assert!(status["missing_flags"].as_array().unwrap().iter().any(|f| f == "--output-last-message"));
    assert!(status["flags_warning"].is_string());
    assert_eq!(status["codex_authenticated"], json!(true));
    assert!(status["auth_detail"].as_str().unwrap().contains("ChatGPT"));
    assert!(!status.to_string().contains("someone@example.com"));
}

#[test]
fn status_reports_every_configuration_fallback() {
    let status = status_with(&[
        ("PATH".into(), path_without_codex()),
        ("CODEX_IN_CLAUDE_TIMEOUT_SECONDS".into(), "soon".into()),
        ("CODEX_IN_CLAUDE_JOB_MAX_COUNT".into(), "5000".into()),
        ("CODEX_IN_CLAUDE_REASONING_EFFORT".into(), "${EFFORT}".into()),
        ("CODEX_IN_CLAUDE_MODEL".into(), "gpt-test".into()),
        ("CODEX_IN_CLAUDE_STATE_DIR".into(), "~/jobs".into()),
        // Debug logging must stay on stderr: the harness fails on any non-JSON stdout line.
        ("CODEX_IN_CLAUDE_LOG_LEVEL".into(), "debug".into()),
    ]);
    let warnings = status["config_warnings"].to_string();
    assert!(warnings.contains("CODEX_IN_CLAUDE_TIMEOUT_SECONDS"), "{warnings}");
    assert!(warnings.contains("CODEX_IN_CLAUDE_JOB_MAX_COUNT"), "{warnings}");
    assert_eq!(status["unexpanded_env_placeholders"], json!(["CODEX_IN_CLAUDE_REASONING_EFFORT"]));
    assert!(status["resolved_defaults"].get("timeout_seconds").is_none(), "300, the built-in default: {status}");
    assert_eq!(status["resolved_defaults"]["model"], json!("gpt-test"));
    assert!(status["resolved_defaults"]["state_dir"].as_str().unwrap().ends_with("/jobs"));
    assert!(!status["resolved_defaults"]["state_dir"].as_str().unwrap().starts_with('~'), "~ is expanded");
}

#[test]
fn capabilities_are_generated_from_the_registry() {
    let mut server = Server::start(&[]);
    server.initialize(json!({}));
    let caps = envelope(&server.call(1, "codex_capabilities", json!({})));
    let tools = caps["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 16);
    let status = tools.iter().find(|t| t["name"] == "codex_status").unwrap();
    assert_eq!(status["error_codes"], json!(["invalid_arguments", "unsafe_state_dir", "internal_error"]));
    let consult = tools.iter().find(|t| t["name"] == "codex_consult").unwrap();
    assert_eq!(consult["cost"], json!("paid"));
    assert_eq!(consult["required_params"], json!(["question"]));
    let fingerprint = caps["fingerprint"].as_str().unwrap();
    let (prefix, digest) = fingerprint.rsplit_once(':').unwrap();
    assert_eq!(prefix, format!("codex-in-claude/{}/sha256", &env!("CARGO_PKG_VERSION")[..3]));
    assert!(digest.len() == 12 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
}

fn run_cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(binary())
        .args(args)
        .env_clear()
        .env("PATH", path_without_codex())
        .envs(fake_codex_controls(&env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn the_command_line_prints_status_version_and_help() {
    let out = run_cli(&["status", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "codex is not ready: no codex on PATH");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["codex_found"], json!(false));

    let out = run_cli(&["status"], &[]);
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("ready:    no"));

    let out = run_cli(&["--version"], &[]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("codex-in-claude {}\n", env!("CARGO_PKG_VERSION")));

    let help = String::from_utf8(run_cli(&["--help"], &[]).stdout).unwrap();
    assert!(help.contains("CODEX_IN_CLAUDE_MAX_OUTPUT_BYTES") && help.contains("claude mcp add"));

    let out = run_cli(&["--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
