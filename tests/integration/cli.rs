//! The tool commands from a shell: `consult`, `review` and `dry-run` print the same envelope an
//! MCP client gets, and the exit status says how it went (0 ok, 1 not ok, 2 usage error).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::support::binary;

fn run_in(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn dry_run_from_the_shell_uses_the_current_directory() {
    let repo = TestRepo::new();
    repo.write("README.md", "# changed\n");
    let out = run_in(repo.path(), &["dry-run"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let envelope = stdout_json(&out);
    assert_eq!(envelope["would_call_model"], json!(true), "{envelope}");
    assert_eq!(envelope["meta"]["cwd"], json!(repo.canonical().display().to_string()));
    assert_eq!(envelope["meta"]["workspace_source"], json!("param"));

    let pretty = run_in(repo.path(), &["dry-run", "--pretty", "--", "README.md"], &[]);
    assert!(String::from_utf8_lossy(&pretty.stdout).lines().count() > 10, "--pretty indents");
    assert_eq!(stdout_json(&pretty)["meta"]["paths"], json!(["README.md"]));
}

#[test]
fn consult_from_the_shell_runs_codex() {
    let mock = MockModel::start(vec![Step::message(consult_answer("From the shell."))]);
    let home = CodexHome::new(&mock);
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["consult", "Is this fine?", "--context", "ctx"], &home.env());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_json(&out)["summary"], json!("From the shell."));
    assert!(mock.request_log_text().contains("Is this fine?"));
}

#[test]
fn a_failed_tool_exits_1_and_a_usage_error_exits_2() {
    let repo = TestRepo::new();
    let out = run_in(repo.path(), &["review", "--scope", "branch"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["error"]["code"], json!("invalid_base"));

    for args in [&["consult"][..], &["consult", "q", "--no-such-flag", "x"], &["review", "--timeout", "ten"]] {
        let out = run_in(repo.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "usage errors print nothing on stdout");
    }
}
