//! `codex-in-claude review-gate`, the plugin's Stop hook, run with Claude Code's Stop-hook input
//! against the real codex and the mock model: it blocks on a failing review with the findings as
//! the reason; lets the stop through (saying why) on a pass, on `stop_hook_active`, after the
//! round cap, when nothing changed since its last review, on a codex error and with codex
//! missing; prints nothing and runs nothing while off; the project's switch turns it on and off;
//! the repository is never written. And a `claude -p` session of the real Claude Code, its model
//! API mocked, with the plugin loaded and the gate on, whose Stop hook blocks the turn once.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::isolation::repo_state;
use crate::mock_model::{MockModel, Step};
use crate::repo::TestRepo;
use crate::review::{repo_with_a_change, review_answer};
use crate::support::{binary, fake_codex_controls, fake_codex_dir, path_with, path_without_codex};

fn off_by_one() -> Value {
    json!([{
        "severity": "high", "title": "Off by one", "file": "src/lib.rs", "line": 2, "line_end": 2,
        "evidence": "i <= n", "risk": "reads past the end", "recommendation": "use i < n"
    }])
}

/// Claude Code's Stop-hook input.
fn stop(session: &str, repo: &TestRepo, active: bool) -> Value {
    json!({"session_id": session, "transcript_path": "/nonexistent/transcript.jsonl", "cwd": repo.path(),
        "permission_mode": "default", "hook_event_name": "Stop", "stop_hook_active": active})
}

/// The hook's environment: the codex home (codex, the mock, the state directory), a HOME of
/// its own, the project, and `extra` last (it wins).
struct Hook {
    env: Vec<(String, String)>,
    _home: tempfile::TempDir,
}

impl Hook {
    fn new(codex: &CodexHome, repo: &TestRepo, extra: &[(&str, &str)]) -> Hook {
        let home = tempfile::tempdir().unwrap();
        let mut env = codex.env();
        env.push(("HOME".into(), home.path().display().to_string()));
        env.push(("CLAUDE_PROJECT_DIR".into(), repo.path().display().to_string()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Hook { env, _home: home }
    }

    fn state_dir(&self) -> PathBuf {
        PathBuf::from(&self.env.iter().find(|(k, _)| k == "CODEX_IN_CLAUDE_STATE_DIR").unwrap().1)
    }

    fn command(&self, args: &[&str], dir: &Path) -> Command {
        let mut command = Command::new(binary());
        command
            .arg("review-gate")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .envs(fake_codex_controls(&self.env))
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs the hook with `input` on stdin: its answer (null when it printed nothing) and how
    /// long it took. It always exits 0.
    fn run(&self, input: &Value, dir: &Path) -> (Value, Duration) {
        let started = Instant::now();
        let mut child =
            self.command(&[], dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let text = input.to_string();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, text.as_bytes()));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        let elapsed = started.elapsed();
        assert!(out.status.success(), "the hook exits 0: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        if stdout.is_empty() {
            return (Value::Null, elapsed);
        }
        assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout:?}");
        (serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")), elapsed)
    }

    /// `review-gate --enable` and friends, from `dir`.
    fn switch(&self, option: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
        let mut command = self.command(&[option], dir);
        command.env_remove("CLAUDE_PROJECT_DIR").envs(env.iter().copied());
        command.output().unwrap()
    }
}

/// The message of a stop let through; panics on a block or silence.
fn let_through(answer: &Value) -> String {
    assert_eq!(answer.get("decision"), None, "expected the stop to go through: {answer}");
    let message = answer["systemMessage"].as_str().unwrap_or_else(|| panic!("no systemMessage: {answer}"));
    assert!(message.starts_with("Codex review gate: "), "{message}");
    message.to_string()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The only file in `dir`.
fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn blocks_on_a_failing_review_with_its_findings_then_never_loops_and_writes_nothing_to_the_repository() {
    let mock = MockModel::start(vec![Step::message(review_answer("fail", off_by_one()))]);
    let codex = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    repo.write("src/brand_new.rs", "pub fn brand_new_helper() {}\n");
    let hook = Hook::new(&codex, &repo, &[("CODEX_IN_CLAUDE_REVIEW_GATE", "on")]);
    let before = repo_state(repo.path());

    let (answer, _) = hook.run(&stop("session-1", &repo, false), repo.path());
    assert_eq!(answer["decision"], json!("block"), "{answer}");
    let reason = answer["reason"].as_str().unwrap();
    for expected in [
        "automated Codex review",
        "verdict fail",
        "- [high] src/lib.rs:2: Off by one",
        "reads past the end",
        "use i < n",
        "block 1 of at most 2",
        "/codex-in-claude:codex:review-gate off",
    ] {
        assert!(reason.contains(expected), "the reason lacks {expected:?}: {reason}");
    }
    let log = mock.request_log_text();
    assert!(log.contains("0..=n"), "the tracked change was reviewed");
    assert!(log.contains("brand_new_helper"), "a new untracked file is part of the turn's changes");

    // The stop after the block, in the same turn: not reviewed again.
    let (answer, _) = hook.run(&stop("session-1", &repo, true), repo.path());
    assert!(let_through(&answer).contains("already continuing after a Stop hook blocked"), "{answer}");
    // A later stop with the tree as the review saw it: not reviewed again either.
    let (answer, _) = hook.run(&stop("session-1", &repo, false), repo.path());
    let message = let_through(&answer);
    assert!(message.contains("nothing changed since its last review in this session (verdict fail)"), "{message}");
    assert_eq!(mock.requests().len(), 1, "one review in all: {}", mock.request_log_text());

    assert_eq!(repo_state(repo.path()), before, "the repository was written");
    let session = only_file(&hook.state_dir().join("review-gate/sessions"));
    assert_eq!(mode(&session), 0o600);
    assert_eq!(mode(&hook.state_dir().join("review-gate")), 0o700);
    let state: Value = serde_json::from_slice(&std::fs::read(&session).unwrap()).unwrap();
    assert_eq!(state["rounds"], json!(1), "{state}");
}

#[test]
fn lets_the_stop_through_on_a_pass_and_on_findings_below_the_threshold() {
    let minor = json!([{"severity": "medium", "title": "Naming", "file": "src/lib.rs", "line": 1,
        "evidence": "f", "risk": "unclear", "recommendation": "rename"}]);
    let mock = MockModel::start(vec![
        Step::message(review_answer("pass", json!([]))),
        Step::message(review_answer("concerns", minor)),
    ]);
    let codex = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let hook = Hook::new(&codex, &repo, &[("CODEX_IN_CLAUDE_REVIEW_GATE", "on")]);

    let (answer, _) = hook.run(&stop("s-pass", &repo, false), repo.path());
    assert!(let_through(&answer).contains("verdict pass (no problems found)"), "{answer}");
    repo.write("src/lib.rs", "fn f(n: usize) {\n    for _ in 0..n {}\n}\n");
    let (answer, _) = hook.run(&stop("s-pass", &repo, false), repo.path());
    assert!(let_through(&answer).contains("verdict concerns (1 finding(s), none high or worse)"), "{answer}");
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn after_the_round_cap_a_session_is_let_through_without_a_review() {
    let mock = MockModel::start(vec![
        Step::message(review_answer("fail", off_by_one())),
        Step::message(review_answer("fail", off_by_one())),
    ]);
    let codex = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let hook = Hook::new(
        &codex,
        &repo,
        &[("CODEX_IN_CLAUDE_REVIEW_GATE", "on"), ("CODEX_IN_CLAUDE_REVIEW_GATE_MAX_ROUNDS", "1")],
    );

    let (answer, _) = hook.run(&stop("s-cap", &repo, false), repo.path());
    assert!(answer["reason"].as_str().unwrap().contains("block 1 of at most 1"), "{answer}");
    repo.write("src/lib.rs", "fn f(n: usize) {\n    for i in 1..=n {}\n}\n");
    let (answer, _) = hook.run(&stop("s-cap", &repo, false), repo.path());
    let message = let_through(&answer);
    assert!(message.contains("already blocked 1 stop(s) in this session, its limit"), "{message}");
    assert_eq!(mock.requests().len(), 1, "no review past the cap");
    // The cap is per session: another session's stop is reviewed.
    let (answer, _) = hook.run(&stop("s-other", &repo, false), repo.path());
    assert_eq!(answer["decision"], json!("block"), "{answer}");
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn a_codex_error_or_no_codex_lets_the_stop_through_saying_why() {
    let mock = MockModel::start(vec![Step::http_error(500, "internal")]);
    let codex = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let hook = Hook::new(&codex, &repo, &[("CODEX_IN_CLAUDE_REVIEW_GATE", "on")]);
    let (answer, _) = hook.run(&stop("s-err", &repo, false), repo.path());
    assert!(let_through(&answer).contains("the review failed ("), "{answer}");
    assert_eq!(mock.requests().len(), 1, "codex did call the model");

    // A codex that crashes mid-run (the fake codex, for the fault).
    let fake_path = path_with(&fake_codex_dir());
    let crashing = Hook::new(
        &codex,
        &repo,
        &[("CODEX_IN_CLAUDE_REVIEW_GATE", "on"), ("PATH", &fake_path), ("FAKE_CODEX_EXEC", "crash")],
    );
    let (answer, _) = crashing.run(&stop("s-crash", &repo, false), repo.path());
    let message = let_through(&answer);
    assert!(message.contains("the review failed (nonzero_exit"), "{message}");

    let no_codex = Hook::new(&codex, &repo, &[("CODEX_IN_CLAUDE_REVIEW_GATE", "on"), ("PATH", &path_without_codex())]);
    let (answer, _) = no_codex.run(&stop("s-err", &repo, false), repo.path());
    let message = let_through(&answer);
    assert!(message.contains("codex is not ready (codex_not_found") && message.contains("codex:setup"), "{message}");

    // Nothing to review: no review at all.
    let clean = TestRepo::new();
    let hook = Hook::new(&codex, &clean, &[("CODEX_IN_CLAUDE_REVIEW_GATE", "on")]);
    let (answer, _) = hook.run(&stop("s-clean", &clean, false), clean.path());
    assert!(let_through(&answer).contains("the review was not run: no uncommitted changes"), "{answer}");
    // A stop with no readable input is let through too.
    let (answer, _) = hook.run(&json!("not an object"), clean.path());
    assert!(let_through(&answer).contains("not a JSON object"), "{answer}");
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn off_by_default_it_is_silent_and_quick_and_the_project_switch_turns_it_on_and_off() {
    let mock = MockModel::start(vec![Step::message(review_answer("pass", json!([])))]);
    let codex = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let hook = Hook::new(&codex, &repo, &[]);
    let git_before = repo_state(&repo.path().join(".git"));

    let (answer, elapsed) = hook.run(&stop("s-off", &repo, false), repo.path());
    assert_eq!(answer, Value::Null, "off: no output");
    assert!(elapsed < Duration::from_secs(1), "off, the hook took {elapsed:?}");
    eprintln!("the gate off took {elapsed:?}");
    assert!(!hook.state_dir().join("review-gate").exists(), "off: nothing written");

    // Switched on from a subdirectory: the switch is the work tree's.
    let out = hook.switch("--enable", &repo.path().join("src"), &[]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    assert!(printed.starts_with(&format!("review gate: on for {}", repo.canonical().display())), "{printed}");
    let switch = only_file(&hook.state_dir().join("review-gate/projects"));
    assert_eq!(mode(&switch), 0o600);
    let (answer, _) = hook.run(&stop("s-off", &repo, false), repo.path());
    assert!(let_through(&answer).contains("verdict pass"), "{answer}");
    assert_eq!(mock.requests().len(), 1);

    // The environment overrides the project's switch.
    let forced_off = Hook::new(&codex, &repo, &[("CODEX_IN_CLAUDE_REVIEW_GATE", "off")]);
    repo.write("src/lib.rs", "fn f() {}\n");
    let (answer, _) = forced_off.run(&stop("s-off", &repo, false), repo.path());
    assert_eq!(answer, Value::Null);
    let out = hook.switch("--status", repo.path(), &[("CODEX_IN_CLAUDE_REVIEW_GATE", "off")]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("CODEX_IN_CLAUDE_REVIEW_GATE=off decides for every project"), "{printed}");

    let out = hook.switch("--disable", repo.path(), &[]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("review gate: off"));
    let (answer, _) = hook.run(&stop("s-off", &repo, false), repo.path());
    assert_eq!(answer, Value::Null, "switched off: silent again");
    assert_eq!(mock.requests().len(), 1, "no review while off");
    // Neither the switch nor the hook wrote into the repository: `.git` as it was, and the only
    // change in the work tree is the test's own.
    assert_eq!(repo_state(&repo.path().join(".git")), git_before, "the repository's .git was written");
    assert_eq!(repo.git(&["status", "--porcelain", "--ignored", "--untracked-files=all"]), " M src/lib.rs\n");
}

/// A `claude -p` session of the real Claude Code, its Messages API mocked on 127.0.0.1, with the
/// plugin loaded from a copy of `plugin/` and the gate on, in a repository with a change: at the
/// end of the turn the plugin's Stop hook runs the gate through the launcher, the review fails,
/// the stop is blocked once (Claude Code sends the model another turn carrying the findings),
/// and the next stop, `stop_hook_active`, goes through.
#[test]
fn a_claude_code_session_runs_the_gate_as_its_stop_hook() {
    let codex_mock = MockModel::start(vec![Step::message(review_answer("fail", off_by_one()))]);
    let codex = CodexHome::new(&codex_mock);
    let repo = repo_with_a_change();
    let plugin = crate::plugin::plugin_copy();
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(binary(), bin.path().join("codex-in-claude")).unwrap();
    let messages = crate::release::MockModel::start();
    let home = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        bin.path().display(),
        crate::codex_home::codex_bin_dir().display()
    );
    let out = crate::release::claude_offline(home.path(), &messages.base)
        .args(["-p", "Fix the loop", "--output-format", "stream-json", "--verbose", "--plugin-dir"])
        .arg(plugin.path().join("plugin"))
        .current_dir(repo.path())
        .envs(codex.env())
        .env("PATH", path)
        .env("CODEX_IN_CLAUDE_REVIEW_GATE", "on")
        .output()
        .unwrap();
    let stream = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "claude -p: {stream}{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<Value> = stream.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    // The block: Claude Code hands the model the reason as the stop hook's feedback.
    let feedback: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == json!("user"))
        .flat_map(|e| e["message"]["content"].as_array().into_iter().flatten())
        .filter_map(|c| c["text"].as_str())
        .filter(|t| t.starts_with("Stop hook feedback:"))
        .collect();
    assert_eq!(feedback.len(), 1, "one block: {stream}");
    assert!(
        feedback[0].contains("automated Codex review") && feedback[0].contains("src/lib.rs:2: Off by one"),
        "{stream}"
    );
    // The stop after it: let through, and the user is told why.
    let notices: Vec<&str> = events
        .iter()
        .filter(|e| e["subtype"] == json!("informational"))
        .filter_map(|e| e["content"].as_str())
        .collect();
    assert!(
        notices.iter().any(|n| n.contains("Codex review gate: not reviewing again")),
        "no notice of the second stop: {stream}"
    );
    assert_eq!(codex_mock.requests().len(), 1, "one review: the stop after the block was not reviewed");
    let (_, state_dir) = codex.env().into_iter().find(|(k, _)| k == "CODEX_IN_CLAUDE_STATE_DIR").unwrap();
    let session = only_file(&PathBuf::from(state_dir).join("review-gate/sessions"));
    let state: Value = serde_json::from_slice(&std::fs::read(session).unwrap()).unwrap();
    assert_eq!(state["rounds"], json!(1), "{state}");
    assert_eq!(state["project"], json!(repo.canonical().display().to_string()), "{state}");
}
