//! Fault injection with the fake codex (`fixtures/fake-codex/codex`): garbage on stdout, 100 MB
//! of output, a crash mid-stream, a grandchild holding the pipes past the timeout, CLI drift,
//! and a missing binary. Each must end in a clear envelope with no process left behind.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, envelope, fake_codex_dir, path_with, path_without_codex, process_gone};

/// A server whose `codex` is the fake, configured by `env`.
fn fake_server(env: &[(&str, &str)]) -> Server {
    let mut vars: Vec<(String, String)> = vec![("PATH".into(), path_with(&fake_codex_dir()))];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut server = Server::start(&vars);
    server.initialize(json!({}));
    server
}

fn consult(server: &mut Server, extra: Value) -> Value {
    let workspace = tempfile::tempdir().unwrap();
    let mut arguments = json!({"question": "q", "workspace_root": workspace.path()});
    arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    envelope(&server.call(3, "codex_consult", arguments))
}

fn wait_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pids.iter().all(|&pid| process_gone(pid)) {
        assert!(Instant::now() < deadline, "processes still alive: {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pids_in(file: &std::path::Path) -> Vec<i32> {
    std::fs::read_to_string(file).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
}

#[test]
fn garbage_lines_on_stdout_do_not_break_the_run() {
    let mut server = fake_server(&[("FAKE_CODEX_EXEC", "garbage")]);
    let result = consult(&mut server, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["summary"], json!("fake answer"));
    assert_eq!(result["session_id"], json!("fake-thread-1"));
    assert_eq!(result["meta"]["usage"]["total_tokens"], json!(15));
}

#[test]
fn a_hundred_megabytes_of_output_is_capped() {
    // Reading 100 MB of events takes a few seconds on an idle machine and several times that on a
    // loaded one; this test is about the cap, not the speed, so it waits longer than the default.
    let mut server = fake_server(&[("FAKE_CODEX_EXEC", "huge"), ("CODEX_IN_CLAUDE_MAX_OUTPUT_BYTES", "1048576")])
        .with_timeout(Duration::from_secs(180));
    let result = consult(&mut server, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    // The final events after the flood still count: usage comes from the last turn.completed.
    assert_eq!(result["meta"]["usage"]["total_tokens"], json!(15));
    // Not a performance figure: proof the 100 MB were streamed, not held.
    let peak_kib = server.peak_rss_kib();
    assert!(peak_kib < 64 * 1024, "server peak RSS {peak_kib} KiB: output was not capped");
}

#[test]
fn a_crash_mid_stream_is_nonzero_exit() {
    let mut server = fake_server(&[("FAKE_CODEX_EXEC", "crash")]);
    let result = consult(&mut server, json!({}));
    assert_eq!(result["error"]["code"], json!("nonzero_exit"), "{result}");
    assert_eq!(result["meta"]["command_exit_code"], Value::Null, "killed by a signal: no exit code");
    assert!(result["error"]["message"].as_str().unwrap().contains("signal"), "{result}");
}

#[test]
fn a_grandchild_holding_stdout_cannot_outlast_the_timeout() {
    let scratch = tempfile::tempdir().unwrap();
    let pidfile = scratch.path().join("pids");
    let pidfile_text = pidfile.display().to_string();
    let mut server = fake_server(&[("FAKE_CODEX_EXEC", "grandchild"), ("FAKE_CODEX_PIDFILE", &pidfile_text)]);
    let started = Instant::now();
    let result = consult(&mut server, json!({"timeout_seconds": 10}));
    assert_eq!(result["error"]["code"], json!("timeout"), "{result}");
    assert!(started.elapsed() < Duration::from_secs(16), "took {:?}", started.elapsed());
    let grandchildren = pids_in(&pidfile);
    assert_eq!(grandchildren.len(), 1);
    wait_gone(&grandchildren);
}

#[test]
fn cli_drift_is_cli_contract_changed() {
    let mut server = fake_server(&[
        ("FAKE_CODEX_EXEC", "fail"),
        ("FAKE_CODEX_RC", "2"),
        ("FAKE_CODEX_STDERR", "error: unexpected argument '--ephemeral' found"),
    ]);
    let result = consult(&mut server, json!({}));
    assert_eq!(result["error"]["code"], json!("cli_contract_changed"), "{result}");
    assert_eq!(result["meta"]["command_exit_code"], json!(2));
}

#[test]
fn not_logged_in_is_codex_auth_required() {
    let mut server = fake_server(&[("FAKE_CODEX_EXEC", "fail"), ("FAKE_CODEX_STDERR", "Not logged in")]);
    let result = consult(&mut server, json!({}));
    assert_eq!(result["error"]["code"], json!("codex_auth_required"), "{result}");
}

#[test]
fn codex_missing_is_codex_not_found() {
    let mut server = Server::start(&[("PATH".into(), path_without_codex())]);
    server.initialize(json!({}));
    let result = consult(&mut server, json!({}));
    assert_eq!(result["error"]["code"], json!("codex_not_found"), "{result}");
    assert!(result["meta"].get("elapsed_ms").is_none(), "codex never ran: {result}");
}

#[test]
fn the_prompt_goes_on_stdin_and_the_argv_is_pinned() {
    let scratch = tempfile::tempdir().unwrap();
    let argv_file = scratch.path().join("argv");
    let stdin_file = scratch.path().join("stdin");
    let (argv_text, stdin_text) = (argv_file.display().to_string(), stdin_file.display().to_string());
    let mut server = fake_server(&[("FAKE_CODEX_ARGV_FILE", &argv_text), ("FAKE_CODEX_STDIN_FILE", &stdin_text)]);
    // The whole meta: `model` says which model was really requested.
    let result = consult(&mut server, json!({"question": "What is 2+2?", "model": "m1", "detail": "full"}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let argv: Vec<String> = std::fs::read_to_string(&argv_file).unwrap().lines().map(str::to_string).collect();
    assert_eq!(argv.last().map(String::as_str), Some("-"), "prompt must come from stdin: {argv:?}");
    for flag in ["--json", "--skip-git-repo-check", "--output-schema", "--output-last-message"] {
        assert!(argv.iter().any(|a| a == flag), "{flag} missing from {argv:?}");
    }
    // Runs keep their session (for follow-ups) unless CODEX_IN_CLAUDE_EPHEMERAL says otherwise.
    assert!(!argv.iter().any(|a| a == "--ephemeral"), "{argv:?}");
    assert!(argv.windows(2).any(|w| w == ["--sandbox", "read-only"]), "{argv:?}");
    assert!(!argv.iter().any(|a| a.contains("danger")), "{argv:?}");
    // The fake's short help does not list --model: it is dropped and reported, never guessed.
    assert!(!argv.iter().any(|a| a == "--model"), "{argv:?}");
    assert_eq!(result["meta"]["compat_warnings"], json!(["--model"]));
    assert_eq!(result["meta"]["model"], Value::Null, "{result}");
    assert!(result["meta"].get("model").is_some(), "full detail names every key: {result}");
    assert!(std::fs::read_to_string(&stdin_file).unwrap().contains("What is 2+2?"));
    // The schema and last-message temp files are gone.
    let schema = argv.iter().position(|a| a == "--output-schema").map(|i| argv[i + 1].clone()).unwrap();
    assert!(!std::path::Path::new(&schema).exists(), "temp schema file left behind: {schema}");
}
