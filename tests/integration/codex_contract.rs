//! Proves the end-to-end harness against the real pinned codex binary, without our server.
//!
//! This module owns the contract tests: each one runs `codex exec --json` directly against a
//! [`MockModel`] through a [`CodexHome`], and checks one behaviour of `docs/codex-cli.md`
//! that the server's own e2e tests rely on (exit codes, JSONL events, `-o`, `--output-schema`,
//! what reaches the model). If these fail, the harness or the codex install is broken, not the
//! server.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::codex_home::{CodexHome, codex_bin};
use crate::mock_model::{
    MockModel, Step, USAGE_CACHED_INPUT_TOKENS, USAGE_INPUT_TOKENS, USAGE_OUTPUT_TOKENS, USAGE_REASONING_OUTPUT_TOKENS,
};

/// A safety net only: every case finishes in well under a second or two. A codex that hangs
/// (an open stdin, a retry loop) gets its whole process group killed instead of wedging CI.
const HARD_TIMEOUT: Duration = Duration::from_secs(20);

/// One finished `codex exec` run.
struct CodexRun {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl CodexRun {
    /// The JSONL events on stdout (with `--json`, stdout carries nothing else).
    fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}\n{self}"))
            })
            .collect()
    }

    fn events_of_type(&self, event_type: &str) -> Vec<Value> {
        self.events().into_iter().filter(|event| event["type"] == event_type).collect()
    }

    /// The `item` of every `item.completed` event whose item has `item_type`.
    fn completed_items(&self, item_type: &str) -> Vec<Value> {
        self.events_of_type("item.completed")
            .into_iter()
            .map(|event| event["item"].clone())
            .filter(|item| item["type"] == item_type)
            .collect()
    }

    /// Asserts the turn failed with rc 1 and returns the `turn.failed` message.
    fn expect_turn_failed(&self) -> String {
        assert_eq!(self.status.code(), Some(1), "expected rc 1\n{self}");
        let failed = self.events_of_type("turn.failed");
        assert_eq!(failed.len(), 1, "expected one turn.failed\n{self}");
        assert!(self.events_of_type("turn.completed").is_empty(), "a failed turn must not complete\n{self}");
        failed[0]["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("turn.failed has no message\n{self}"))
            .to_string()
    }

    /// Asserts the turn completed with rc 0.
    fn expect_turn_completed(&self) -> Value {
        assert_eq!(self.status.code(), Some(0), "expected rc 0\n{self}");
        let completed = self.events_of_type("turn.completed");
        assert_eq!(completed.len(), 1, "expected one turn.completed\n{self}");
        completed[0].clone()
    }
}

/// Failure messages show everything codex said.
impl std::fmt::Display for CodexRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "codex exited with {} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// The scratch directory codex works in (`-C` and cwd); deleted on drop.
struct Workspace {
    dir: TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace { dir: tempfile::tempdir().expect("create a workspace dir") }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `codex exec --json -C <workspace> --skip-git-repo-check <extra_args>` with stdin
    /// either null or `stdin_text` written then closed (an open pipe hangs codex, docs/codex-cli.md §2).
    fn run_codex(&self, home: &CodexHome, extra_args: &[&str], stdin_text: Option<&str>) -> CodexRun {
        let mut command = Command::new(codex_bin());
        command
            .args(["exec", "--json", "--skip-git-repo-check", "-C"])
            .arg(self.path())
            .args(extra_args)
            .current_dir(self.path())
            .envs(home.env())
            .stdin(if stdin_text.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills codex and anything it spawned.
            .process_group(0);

        let started = Instant::now();
        let mut child = command.spawn().expect("spawn the codex binary");
        let stdout = drain_in_background(child.stdout.take().expect("piped stdout"));
        let stderr = drain_in_background(child.stderr.take().expect("piped stderr"));
        if let Some(text) = stdin_text {
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin.write_all(text.as_bytes()).expect("write the prompt to codex's stdin");
            // Dropping `stdin` closes the pipe, which is what lets codex start.
        }

        let status = wait_or_kill_group(&mut child, HARD_TIMEOUT);
        CodexRun {
            status,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
            elapsed: started.elapsed(),
        }
    }
}

fn drain_in_background(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for `child`; past `timeout`, SIGKILLs its whole process group and panics.
fn wait_or_kill_group(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll codex") {
            return status;
        }
        if Instant::now() >= deadline {
            // The child is not reaped yet, so its pid (= the group id) cannot have been reused.
            let group = child.id() as i32;
            // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names a group.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            panic!("codex did not finish within {timeout:?}; killed process group {group}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts the mock saw exactly `expected` model requests, all answered by scripted steps.
fn assert_requests(mock: &MockModel, expected: usize) {
    let requests = mock.requests();
    assert_eq!(requests.len(), expected, "model requests: {:#?}", requests.iter().map(|r| &r.path).collect::<Vec<_>>());
    assert!(mock.unscripted_requests().is_empty(), "codex made requests the script did not expect");
    assert_eq!(mock.remaining_steps(), 0, "codex stopped before the script ended");
}

#[test]
fn plain_answer_completes_the_turn_and_writes_the_last_message() {
    let mock = MockModel::start(vec![Step::message("Hello from the mock model.")]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();
    let out = workspace.path().join("last.txt");

    let run = workspace.run_codex(&home, &["-o", out.to_str().expect("UTF-8 path"), "Say hello"], None);

    let completed = run.expect_turn_completed();
    assert_eq!(completed["usage"]["input_tokens"], json!(USAGE_INPUT_TOKENS));
    assert_eq!(completed["usage"]["cached_input_tokens"], json!(USAGE_CACHED_INPUT_TOKENS));
    assert_eq!(completed["usage"]["output_tokens"], json!(USAGE_OUTPUT_TOKENS));
    assert_eq!(completed["usage"]["reasoning_output_tokens"], json!(USAGE_REASONING_OUTPUT_TOKENS));
    let messages = run.completed_items("agent_message");
    assert_eq!(messages.len(), 1, "{run}");
    assert_eq!(messages[0]["text"], "Hello from the mock model.");
    // `-o` holds the last message with no trailing newline.
    assert_eq!(fs::read_to_string(&out).expect("read -o file"), "Hello from the mock model.");

    assert_requests(&mock, 1);
    let request = &mock.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/responses");
    assert_eq!(request.header("authorization"), Some("Bearer dummy"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json.as_ref().expect("JSON request body");
    assert_eq!(body["model"], "gpt-5.5");
    assert_eq!(body["stream"], true);
}

#[test]
fn output_schema_reaches_the_request_and_the_json_answer_lands_in_the_output_file() {
    let answer = r#"{"verdict":"pass","issues":[]}"#;
    let mock = MockModel::start(vec![Step::message(answer)]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();
    let schema = json!({
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["pass", "fail"]},
            "issues": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["verdict", "issues"],
        "additionalProperties": false,
    });
    let schema_path = workspace.path().join("schema.json");
    fs::write(&schema_path, schema.to_string()).expect("write schema");
    let out = workspace.path().join("last.json");

    let run = workspace.run_codex(
        &home,
        &[
            "--output-schema",
            schema_path.to_str().expect("UTF-8 path"),
            "-o",
            out.to_str().expect("UTF-8 path"),
            "Judge this",
        ],
        None,
    );

    run.expect_turn_completed();
    assert_eq!(run.completed_items("agent_message")[0]["text"], answer);
    assert_eq!(fs::read_to_string(&out).expect("read -o file"), answer);
    assert_requests(&mock, 1);
    let body = mock.requests()[0].json.clone().expect("JSON request body");
    let format = &body["text"]["format"];
    assert_eq!(format["type"], "json_schema", "text: {}", body["text"]);
    assert_eq!(format["strict"], true);
    assert_eq!(format["name"], "codex_output_schema");
    assert_eq!(format["schema"], schema);
}

#[test]
fn http_401_fails_the_turn_after_one_request() {
    let mock = MockModel::start(vec![Step::http_error(401, "Incorrect API key provided")]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["Say hello"], None);

    let message = run.expect_turn_failed();
    assert!(message.contains("401"), "{message}");
    assert!(!run.events_of_type("error").is_empty(), "{run}");
    assert_requests(&mock, 1);
}

#[test]
fn rate_limited_stream_fails_the_turn_with_a_rate_limit_message() {
    let mock = MockModel::start(vec![Step::failed("rate_limit_exceeded", "Rate limit reached for gpt-5.5")]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["Say hello"], None);

    let message = run.expect_turn_failed();
    assert!(message.to_lowercase().contains("rate limit"), "{message}");
    assert_requests(&mock, 1);
}

#[test]
fn silent_stream_fails_the_turn_at_the_idle_timeout() {
    let mock = MockModel::start(vec![Step::Hang]);
    let home = CodexHome::new(&mock).with_idle_timeout_ms(1500);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["Say hello"], None);

    let message = run.expect_turn_failed();
    assert!(message.contains("idle timeout"), "{message}");
    assert!(run.elapsed < Duration::from_secs(5), "took {:?}", run.elapsed);
    assert_requests(&mock, 1);
}

#[test]
fn a_slow_first_byte_within_the_idle_timeout_still_completes() {
    let mock = MockModel::start(vec![Step::message("Eventually.").delayed(Duration::from_millis(500))]);
    let home = CodexHome::new(&mock).with_idle_timeout_ms(1500);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["Say hello"], None);

    run.expect_turn_completed();
    assert_eq!(run.completed_items("agent_message")[0]["text"], "Eventually.");
    assert_requests(&mock, 1);
}

#[test]
fn dropped_stream_fails_the_turn() {
    let mock = MockModel::start(vec![Step::DropStream]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["Say hello"], None);

    let message = run.expect_turn_failed();
    assert!(message.contains("stream disconnected"), "{message}");
    assert_requests(&mock, 1);
}

#[test]
fn prompt_on_stdin_reaches_the_model() {
    let prompt = "Explain the zebra-quartz-4711 invariant";
    let mock = MockModel::start(vec![Step::message("It holds.")]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["-"], Some(prompt));

    run.expect_turn_completed();
    assert_requests(&mock, 1);
    assert!(mock.request_log_text().contains(prompt), "the prompt never reached the model");
}

#[test]
fn reasoning_then_message_yields_both_items() {
    let mock = MockModel::start(vec![Step::reasoning_then_message("Thinking about greeting.", "Hi.")]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["Say hello"], None);

    run.expect_turn_completed();
    assert_eq!(run.completed_items("reasoning")[0]["text"], "Thinking about greeting.");
    assert_eq!(run.completed_items("agent_message")[0]["text"], "Hi.");
}

// The tool cases run without codex's sandbox: they prove the mock's tool-call events, and
// bubblewrap availability is a property of the machine, not of the harness.

#[test]
fn shell_step_runs_the_command_and_feeds_its_output_back() {
    let mock = MockModel::start(vec![Step::shell("echo from-the-mock > shell.txt"), Step::message("Wrote shell.txt.")]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["-s", "danger-full-access", "Write a file"], None);

    run.expect_turn_completed();
    assert_eq!(fs::read_to_string(workspace.path().join("shell.txt")).expect("shell.txt written"), "from-the-mock\n");
    let commands = run.completed_items("command_execution");
    assert_eq!(commands.len(), 1, "{run}");
    assert_eq!(commands[0]["status"], "completed");
    assert_eq!(commands[0]["exit_code"], 0);
    assert_requests(&mock, 2);
    // The follow-up request carries the tool result for the mock's call id.
    let follow_up = mock.requests()[1].json.clone().expect("JSON request body");
    let outputs: Vec<&Value> = follow_up["input"]
        .as_array()
        .expect("input array")
        .iter()
        .filter(|item| item["type"] == "function_call_output")
        .collect();
    assert_eq!(outputs.len(), 1, "input: {}", follow_up["input"]);
    assert_eq!(outputs[0]["call_id"], "call_1");
}

#[test]
fn apply_patch_step_changes_files() {
    let mock = MockModel::start(vec![
        Step::apply_patch(
            "*** Begin Patch\n\
             *** Update File: hello.txt\n\
             @@\n\
             -hello\n\
             +hello, patched by codex\n\
             *** Add File: added.txt\n\
             +new file line\n\
             *** End Patch",
        ),
        Step::message("Patched."),
    ]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();
    fs::write(workspace.path().join("hello.txt"), "hello\n").expect("seed hello.txt");

    let run = workspace.run_codex(&home, &["-s", "danger-full-access", "Patch it"], None);

    run.expect_turn_completed();
    let read = |name: &str| fs::read_to_string(workspace.path().join(name)).expect(name);
    assert_eq!(read("hello.txt"), "hello, patched by codex\n");
    assert_eq!(read("added.txt"), "new file line\n");
    let changes = run.completed_items("file_change");
    assert_eq!(changes.len(), 1, "{run}");
    assert_eq!(changes[0]["status"], "completed");
    assert_requests(&mock, 2);
}

#[test]
fn an_exhausted_script_is_recorded_and_fails_the_turn() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let workspace = Workspace::new();

    let run = workspace.run_codex(&home, &["Say hello"], None);

    run.expect_turn_failed();
    assert_eq!(mock.unscripted_requests().len(), 1);
}
