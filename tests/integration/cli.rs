//! The tool commands from a shell: `consult`, `review` and `dry-run` print the same envelope an
//! MCP client gets, and the exit status says how it went (0 ok, 1 not ok, 2 usage error);
//! `status` exits 1 when codex is not ready; usage errors name the word at fault; `-` reads the
//! question or task from stdin; `--pretty` goes with every command; `setup` names every gap of
//! a first run with its fix, spending nothing; `--session` continues a session.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::codex_home::{CodexHome, codex_bin};
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::support::{binary, fake_codex_controls};

pub fn run_in(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .envs(fake_codex_controls(env))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// `run_in` with `input` written to the command's stdin.
fn run_with_stdin(dir: &Path, args: &[&str], env: &[(String, String)], input: &[u8]) -> Output {
    run_program_with_stdin(&binary(), dir, args, env, input)
}

fn run_program_with_stdin(program: &Path, dir: &Path, args: &[&str], env: &[(String, String)], input: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from a thread: a command that stops reading must not block the test.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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
    // The repository's one change was seen; the workspace, which the command passed as
    // workspace_root, is not restated.
    assert_eq!(envelope["context_summary"]["files_changed"], json!(1), "{envelope}");
    assert!(envelope.get("meta").is_none(), "{envelope}");

    // A second change the paths after `--` leave out.
    repo.write("other.txt", "staged\n");
    repo.git(&["add", "other.txt"]);
    let pretty = run_in(repo.path(), &["dry-run", "--pretty", "--", "README.md"], &[]);
    assert!(String::from_utf8_lossy(&pretty.stdout).lines().count() > 5, "--pretty indents");
    assert_eq!(stdout_json(&pretty)["context_summary"]["files_changed"], json!(1), "only README.md");
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

/// Every paid run is a process of its own (a job worker): the `codex exec --help` probe is
/// kept in the state directory, so only the first of several runs pays for it, until the codex
/// on PATH changes.
#[test]
fn the_flag_probe_is_kept_between_runs_until_codex_changes() {
    let scratch = tempfile::tempdir().unwrap();
    let bin = scratch.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(crate::support::fake_codex_dir().join("codex"), bin.join("codex")).unwrap();
    let calls = scratch.path().join("calls");
    let env: Vec<(String, String)> = [
        ("PATH", crate::support::path_with(&bin)),
        ("HOME", scratch.path().display().to_string()),
        ("CODEX_IN_CLAUDE_STATE_DIR", scratch.path().join("state").display().to_string()),
        ("FAKE_CODEX_EXEC", "answer".into()),
        ("FAKE_CODEX_LOGIN", "ok".into()),
        ("FAKE_CODEX_CALLS_FILE", calls.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let workspace = tempfile::tempdir().unwrap();
    let consult = || {
        let out = run_in(workspace.path(), &["consult", "q"], &env);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let probes = || std::fs::read_to_string(&calls).unwrap().lines().filter(|l| *l == "exec --help").count();
    consult();
    consult();
    assert_eq!(probes(), 1, "the second run probed again");
    let kept = scratch.path().join("state/codex-exec-flags.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777, 0o600);
    // An upgraded codex is another file: probed anew.
    let codex = std::fs::OpenOptions::new().append(true).open(bin.join("codex")).unwrap();
    codex.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
    drop(codex);
    consult();
    assert_eq!(probes(), 2, "a changed codex was not probed");
}

#[test]
fn a_plan_review_and_a_focused_review_from_the_shell() {
    let plan = json!({
        "summary": "s", "verdict": "reject", "confidence": "medium", "findings": [],
        "questions": [], "assumptions": [], "next_steps": []
    });
    let review = json!({
        "summary": "s", "verdict": "concerns", "confidence": "medium", "findings": [],
        "questions": [], "assumptions": [], "next_steps": []
    });
    let mock = MockModel::start(vec![Step::message(plan.to_string()), Step::message(review.to_string())]);
    let home = CodexHome::new(&mock);
    let repo = TestRepo::new();
    repo.write("docs/a.md", "alpha notes\n");
    repo.write("docs/b.md", "beta notes\n");
    let args = ["consult", "Plan: rewrite it.", "--plan", "--file", "docs/a.md", "--file", "docs/b.md"];
    let out = run_in(repo.path(), &args, &home.env());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let envelope = stdout_json(&out);
    assert_eq!((&envelope["verdict"], &envelope["meta"]["kind"]), (&json!("reject"), &json!("plan")), "{envelope}");
    let log = mock.request_log_text();
    assert!(log.contains("alpha notes") && log.contains("beta notes"), "a --file was not sent");

    repo.write("README.md", "# changed\n");
    let out = run_in(repo.path(), &["review", "--focus", "only the notes"], &home.env());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_json(&out)["meta"]["focus"], json!("only the notes"));
    assert!(mock.requests()[1].body.contains("only the notes"));
}

#[test]
fn consult_session_continues_from_the_shell() {
    let mock = MockModel::start(vec![Step::message(consult_answer("first")), Step::message(consult_answer("second"))]);
    let home = CodexHome::new(&mock);
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_STATE_DIR".into(), state.path().display().to_string()));
    let first = stdout_json(&run_in(dir.path(), &["consult", "Which lock first?"], &env));
    let session = first["session_id"].as_str().unwrap_or_else(|| panic!("no session_id: {first}"));
    let out = run_in(dir.path(), &["consult", "And the second?", "--session", session], &env);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_json(&out)["summary"], json!("second"));
    assert!(mock.requests()[1].body.contains("Which lock first?"), "the follow-up lacks the first question");
}

#[test]
fn an_idempotency_key_from_the_shell_replays_the_first_run() {
    let mock = MockModel::start(vec![Step::message(consult_answer("Once.")), Step::message(consult_answer("Twice."))]);
    let home = CodexHome::new(&mock);
    let dir = tempfile::tempdir().unwrap();
    let args = ["consult", "Is this fine?", "--idempotency-key", "shell-1"];
    let first = run_in(dir.path(), &args, &home.env());
    let again = run_in(dir.path(), &args, &home.env());
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(stdout_json(&again)["summary"], json!("Once."));
    assert_eq!(stdout_json(&again)["meta"]["replayed"], json!(true));
    assert_eq!(stdout_json(&again)["meta"]["job_id"], stdout_json(&first)["meta"]["job_id"]);
    assert_eq!(mock.requests().len(), 1, "no second model call");
}

#[test]
fn ctrl_c_stops_a_paid_command_and_leaves_nothing_behind() {
    let mock = MockModel::start(vec![Step::Hang]);
    let home = CodexHome::new(&mock);
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(binary())
        .args(["consult", "q"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .envs(home.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(mock.wait_for_requests(1, std::time::Duration::from_secs(30)), "codex never called the model");
    let runs = crate::support::live_pids_with_env("CODEX_HOME", home.path(), child.id() as i32);
    assert!(!runs.is_empty(), "no worker or codex found");
    assert!(Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["error"]["code"], json!("job_cancelled"));
    let left: Vec<i32> = runs.into_iter().filter(|&pid| !crate::support::process_gone(pid)).collect();
    assert!(left.is_empty(), "processes left after Ctrl-C: {left:?}");
    let listed = run_in(dir.path(), &["jobs", "list"], &home.env());
    assert!(stdout_json(&listed).get("jobs").is_none(), "no record is left");
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

#[test]
fn usage_errors_name_the_word_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["status", "--bogus"], "codex-in-claude: status has no option '--bogus'; it takes --json and --pretty\n"),
        (&["jobs"], "codex-in-claude: jobs needs a subcommand: list, status ID, result ID, consume ID or cancel ID\n"),
        (&["jobs", "show", "x"], "codex-in-claude: jobs has no subcommand 'show'; use list, status ID"),
        (&["consult", "q", "--timeout", "ten"], "codex-in-claude: --timeout needs a whole number, not 'ten'\n"),
    ];
    for (args, expected) in cases {
        let out = run_in(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).starts_with(expected), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("USAGE:"), "the usage follows the error");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn status_exits_1_when_codex_is_not_ready_and_0_when_it_is() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["status"][..], &["status", "--json"], &["status", "--json", "--pretty"]] {
        let out = run_in(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: codex is not on PATH");
        assert!(!out.stdout.is_empty(), "the report is printed all the same");
    }
    let compact = run_in(dir.path(), &["status", "--json"], &[]);
    assert_eq!(String::from_utf8_lossy(&compact.stdout).lines().count(), 1, "one line without --pretty");
    assert_eq!(stdout_json(&compact)["ready"], json!(false));
    let pretty = run_in(dir.path(), &["status", "--json", "--pretty"], &[]);
    assert!(String::from_utf8_lossy(&pretty.stdout).lines().count() > 10, "--pretty indents");

    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    assert_eq!(run_in(dir.path(), &["status"], &home.env()).status.code(), Some(1), "installed, not logged in");
    // Logged in with a dummy API key, as a user would with `codex login`: ready.
    let login = run_program_with_stdin(
        &codex_bin(),
        dir.path(),
        &["login", "--with-api-key"],
        &home.env(),
        b"sk-dummy-login-key-1234567890\n",
    );
    assert!(login.status.success(), "{}", stderr(&login));
    let out = run_in(dir.path(), &["status"], &home.env());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ready:    yes"));
}

#[test]
fn a_dash_reads_a_128_kb_question_from_stdin() {
    let mock = MockModel::start(vec![Step::message(consult_answer("Read it."))]);
    let home = CodexHome::new(&mock);
    let dir = tempfile::tempdir().unwrap();
    let question = format!("{}the last line of a long question\n", "a line of the question\n".repeat(128 * 1024 / 23));
    assert!(question.len() >= 128 * 1024);
    let out = run_with_stdin(dir.path(), &["consult", "-", "--context", "ctx"], &home.env(), question.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["summary"], json!("Read it."));
    let log = mock.request_log_text();
    assert!(log.contains("the last line of a long question"), "the whole question reached the model");
    assert!(log.matches("a line of the question").count() >= 128 * 1024 / 23);
}

#[test]
fn a_relative_workspace_resolves_against_the_current_directory() {
    let repo = TestRepo::new();
    repo.write("README.md", "# changed\n");
    let parent = repo.path().parent().unwrap();
    let name = repo.path().file_name().unwrap().to_str().unwrap();
    let out = run_in(parent, &["dry-run", "--workspace", name], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let envelope = stdout_json(&out);
    // The repository's one change was seen; the workspace, which the command passed as
    // workspace_root, is not restated.
    assert_eq!(envelope["context_summary"]["files_changed"], json!(1), "{envelope}");
    assert!(envelope.get("meta").is_none(), "{envelope}");
    assert_eq!(envelope["would_call_model"], json!(true));
}

#[test]
fn pretty_goes_with_delegate_diff_only() {
    let repo = TestRepo::new();
    repo.write("README.md", "# project\n");
    repo.commit("first");
    let mock = MockModel::start(vec![
        Step::shell("printf 'hello\\n' > hello.txt"),
        Step::message("Added hello.txt."),
        Step::message("Nothing to change."),
        Step::message("Still nothing."),
    ]);
    let home = CodexHome::new(&mock);
    let base = tempfile::tempdir().unwrap();
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_WORKTREE_BASE".into(), base.path().display().to_string()));

    // With a diff: stdout is the diff alone, as git apply wants it, --pretty or not.
    let out = run_in(repo.path(), &["delegate", "add hello.txt", "--diff-only", "--pretty"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.starts_with("diff --git a/hello.txt b/hello.txt\n") && diff.ends_with("+hello\n"), "{diff}");

    // Without one: the envelope goes to stderr, indented with --pretty, on one line without.
    let out = run_in(repo.path(), &["delegate", "change nothing", "--pretty", "--diff-only"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let envelope_lines = |text: &str| text.lines().skip_while(|line| !line.starts_with('{')).count();
    assert!(envelope_lines(&stderr(&out)) > 10, "--pretty indents: {}", stderr(&out));
    let out = run_in(repo.path(), &["delegate", "change nothing", "--diff-only"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(envelope_lines(&stderr(&out)), 1, "{}", stderr(&out));
}

/// A stand-in `claude` in a fresh directory: `plugin list --json` prints `plugins`, `mcp get
/// codex` prints `codex_server` and succeeds when it is given, anything else finds nothing.
fn fake_claude(plugins: &Value, codex_server: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("claude");
    let mcp_get =
        codex_server.map_or(String::new(), |line| format!("elif [ \"$*\" = 'mcp get codex' ]; then echo '{line}'\n"));
    std::fs::write(
        &script,
        format!("#!/bin/sh\nif [ \"$*\" = 'plugin list --json' ]; then cat <<'JSON'\n{plugins}\nJSON\n{mcp_get}else exit 1; fi\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

/// The lines `setup` printed, and its exit code.
fn setup(env: &[(String, String)]) -> (Vec<String>, Option<i32>) {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["setup"], env);
    assert_eq!(stderr(&out), "", "setup prints to stdout only");
    (String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect(), out.status.code())
}

fn assert_has_line(lines: &[String], prefix: &str) {
    assert!(lines.iter().any(|l| l.starts_with(prefix)), "no line starting {prefix:?} in:\n{}", lines.join("\n"));
}

#[test]
fn setup_names_every_gap_with_its_fix_and_exits_1() {
    // Nothing at all on PATH: no codex, no git, no claude.
    let empty = tempfile::tempdir().unwrap();
    let (lines, code) = setup(&[("PATH".into(), empty.path().display().to_string())]);
    assert_eq!(code, Some(1), "{lines:#?}");
    assert_has_line(&lines, "MISSING  codex installed: codex was not found on PATH");
    assert_has_line(&lines, "         fix: install it: npm install -g @openai/codex@0.169;");
    for check in ["codex version", "codex logged in", "codex sandbox"] {
        assert_has_line(&lines, &format!("-        {check}: not checked: codex is not installed"));
    }
    assert_has_line(&lines, "MISSING  git installed: git was not found on PATH");
    assert_has_line(&lines, "MISSING  Claude Code registration: Claude Code (`claude`) was not found on PATH");
    assert_has_line(
        &lines,
        "         fix: install Claude Code, then in Claude Code run `/plugin marketplace add codex-in-claude/codex-in-claude` and `/plugin install codex-in-claude@codex-in-claude`",
    );
    assert_eq!(
        lines.last().map(String::as_str).unwrap_or("").split(';').next(),
        Some("setup: 3 missing, 3 not checked yet (nothing was spent checking)")
    );
}

#[test]
fn setup_passes_with_codex_logged_in_its_sandbox_git_and_the_plugin_and_spends_nothing() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let enabled =
        fake_claude(&json!([{"id": "codex-in-claude@codex-in-claude", "version": "0.1.0", "enabled": true}]), None);
    let with_claude = |claude: &Path, extra: &[(&str, &str)]| {
        let mut env = home.env();
        for (key, value) in &mut env {
            if key == "PATH" {
                *value = format!("{}:{value}", claude.display());
            }
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };

    // Installed, not logged in yet.
    let (lines, code) = setup(&with_claude(enabled.path(), &[]));
    assert_eq!(code, Some(1), "{lines:#?}");
    assert_has_line(&lines, "ok       codex installed: codex-cli 0.169.");
    assert_has_line(&lines, "MISSING  codex logged in: codex reports no login");
    assert_has_line(&lines, "         fix: run `codex login` in a terminal");

    let login = run_program_with_stdin(
        &codex_bin(),
        Path::new("/"),
        &["login", "--with-api-key"],
        &home.env(),
        b"sk-dummy-login-key-1234567890\n",
    );
    assert!(login.status.success(), "{}", stderr(&login));
    let (lines, code) = setup(&with_claude(enabled.path(), &[]));
    assert_eq!(code, Some(0), "{lines:#?}");
    assert_has_line(&lines, "ok       codex version: codex-cli 0.169.");
    assert_has_line(&lines, "ok       codex logged in: codex reports an authenticated session");
    assert_has_line(&lines, "ok       codex sandbox: `codex sandbox -- true` runs here");
    assert_has_line(&lines, "ok       git installed: git version ");
    assert_has_line(
        &lines,
        "ok       Claude Code registration: plugin codex-in-claude@codex-in-claude 0.1.0 is installed and enabled",
    );
    assert_has_line(
        &lines,
        // MOCK_API_KEY: the provider's `env_key` in CODEX_HOME/config.toml.
        "ok       environment passed: codex and the commands it runs get PATH; codex alone gets CODEX_HOME, MOCK_API_KEY; every other variable is withheld",
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("ok ")).count(), 7, "{lines:#?}");
    assert_eq!(lines.last().map(String::as_str), Some("setup: everything is in place (nothing was spent checking)."));

    // A version outside the tested range and a disabled plugin: each with its fix.
    let disabled = fake_claude(&json!([{"id": "codex-in-claude@mirror", "version": "0.1.0", "enabled": false}]), None);
    let (lines, code) = setup(&with_claude(disabled.path(), &[("CODEX_IN_CLAUDE_SUPPORTED_VERSIONS", "1.2")]));
    assert_eq!(code, Some(1), "{lines:#?}");
    assert_has_line(&lines, "MISSING  codex version: codex-cli 0.169.0 is outside the tested range (1.2)");
    assert_has_line(&lines, "         fix: install the tested version: npm install -g @openai/codex@1.2");
    assert_has_line(
        &lines,
        "MISSING  Claude Code registration: plugin codex-in-claude@mirror is installed but disabled",
    );
    assert_has_line(&lines, "         fix: run `claude plugin enable codex-in-claude@mirror`");

    // No plugin, but the README's `claude mcp add codex -- codex-in-claude`: registered. A server
    // named codex that runs something else is not ours.
    let by_hand = fake_claude(&json!([]), Some("  Command: codex-in-claude"));
    let (lines, code) = setup(&with_claude(by_hand.path(), &[]));
    assert_eq!(code, Some(0), "{lines:#?}");
    assert_has_line(&lines, "ok       Claude Code registration: MCP server `codex` runs codex-in-claude");
    let other = fake_claude(&json!([]), Some("  Command: codex mcp-server"));
    let (lines, code) = setup(&with_claude(other.path(), &[]));
    assert_eq!(code, Some(1), "{lines:#?}");
    assert_has_line(
        &lines,
        "MISSING  Claude Code registration: Claude Code has neither the plugin nor an MCP server running codex-in-claude",
    );
    assert_eq!(mock.requests().len(), 0, "setup must never call the model");
}
