//! Never spill (issue 16): a delegate's whole patch is kept in a private patch file of the job
//! state and named in the result (`patch_file`, with `diffstat`); a diff too large for the inline
//! cap is left out of the result, which stays under `CODEX_IN_CLAUDE_MAX_INLINE_BYTES` whatever
//! Codex answers. Real git, the real pinned codex against the mock model, and the real Claude
//! Code CLI reading a 500 KB delegation against a loopback mock of its own model API.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::delegate::{FIX_ANSWER, project};
use crate::jobs::{Setup, call, start, wait_finished};
use crate::mock_model::{MockModel, Step};
use crate::repo::TestRepo;

/// The default inline cap.
const CAP: usize = 40_000;
/// About 500 KB of diff: `seq 1 75000` as a new file, and one line of `src/lib.rs` changed.
const BIG_EDIT: &str = "seq 1 75000 > big.txt && sed -i 's/41/42/' src/lib.rs";
const BIG_LINES: u64 = 75_000;

/// The bytes of an envelope as the client reads it (compact JSON).
fn size(envelope: &Value) -> usize {
    serde_json::to_vec(envelope).unwrap().len()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The patch file a result names: absolute, owner-only in an owner-only directory of `state`.
fn patch_file(result: &Value, state: &Path) -> PathBuf {
    let path = PathBuf::from(result["patch_file"].as_str().unwrap_or_else(|| panic!("no patch_file: {result}")));
    assert!(path.is_absolute(), "{}", path.display());
    assert!(path.starts_with(state.canonicalize().unwrap()), "{} is not in the job state", path.display());
    assert_eq!(mode(&path), 0o600, "the patch file is not owner-only");
    assert_eq!(mode(path.parent().unwrap()), 0o700, "the patch directory is not owner-only");
    path
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git").args(args).current_dir(dir).output().unwrap()
}

/// A clone of `repo` (HEAD only), where a patch can be applied without touching the original.
fn clone_of(repo: &TestRepo) -> tempfile::TempDir {
    let clone = tempfile::tempdir().unwrap();
    let out = git(clone.path(), &["clone", "-q", repo.path().to_str().unwrap(), "."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    clone
}

/// `git apply --check`, then `git apply`, of `patch` in `dir`.
fn apply(dir: &Path, patch: &Path) {
    for args in [&["apply", "--check"][..], &["apply"][..]] {
        let out = git(dir, &[args, &[patch.to_str().unwrap()]].concat());
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// What `BIG_EDIT` leaves in a tree: the new file whole, and the changed line.
fn assert_big_edit_in(dir: &Path) {
    let expected: String = (1..=BIG_LINES).map(|n| format!("{n}\n")).collect();
    assert!(std::fs::read_to_string(dir.join("big.txt")).unwrap() == expected, "big.txt differs from codex's");
    assert_eq!(std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(), "pub fn answer() -> u32 {\n    42\n}\n");
}

/// A large delegation's result: under the cap, no inline diff (and says why), everything else
/// in it, the whole patch in its file.
fn assert_left_to_the_patch_file(result: &Value, state: &Path) -> PathBuf {
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(size(result) <= CAP, "the envelope is {} bytes", size(result));
    assert!(result.get("diff").is_none(), "the diff is left out: {result}");
    let omitted = result["diff_omitted"].as_str().unwrap_or_else(|| panic!("the omission is not said: {result}"));
    assert!(omitted.contains("patch_file") && omitted.contains("CODEX_IN_CLAUDE_MAX_INLINE_BYTES"), "{omitted}");
    assert_eq!(result["summary"], json!("Wrote big.txt."));
    assert_eq!(result["applies_cleanly"], json!(true), "{result}");
    assert!(result["meta"].get("truncated").is_none(), "nothing was cut: {}", result["meta"]);
    assert_eq!(result["diffstat"], json!({"files": 2, "added": BIG_LINES + 1, "removed": 1}));
    let path = patch_file(result, state);
    let bytes = std::fs::metadata(&path).unwrap().len();
    assert!(bytes > 500_000, "the patch is {bytes} bytes");
    assert!(omitted.contains(&format!("{bytes}-byte diff")), "{omitted}");
    path
}

#[test]
fn a_small_diff_is_inline_and_also_in_a_private_patch_file() {
    let mock = MockModel::start(vec![Step::apply_patch(FIX_ANSWER), Step::message("Changed 41 to 42.")]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let mut server = setup.server();
    let repo = project();
    let result = call(&mut server, "codex_delegate", json!({"task": "t", "workspace_root": repo.path()}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap();
    assert!(result.get("diff_omitted").is_none(), "{result}");
    let path = patch_file(&result, setup.state.path());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), diff, "the patch file is not the inline diff");
    assert_eq!(result["diffstat"], json!({"files": 2, "added": 2, "removed": 1}));
    let clone = clone_of(&repo);
    apply(clone.path(), &path);
    assert!(clone.path().join("src/extra.rs").exists());
    setup.assert_no_worktree_left();
}

#[test]
fn a_500_kb_diff_is_left_to_its_patch_file_which_applies_in_a_clone() {
    let steps = || [Step::shell(BIG_EDIT), Step::message("Wrote big.txt.")];
    // The MCP call, then the same from a shell.
    let mock = MockModel::start(steps().into_iter().chain(steps()).collect());
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let mut server = setup.server();
    let repo = project();
    let head = repo.git(&["status", "--porcelain"]);
    let response = server.call(51, "codex_delegate", json!({"task": "t", "workspace_root": repo.path()}));
    // The whole MCP result (structuredContent and the same JSON as text) stays small too.
    assert!(size(&response) <= 2 * CAP + 1000, "the tools/call result is {} bytes", size(&response));
    let result = crate::support::envelope(&response);
    let path = assert_left_to_the_patch_file(&result, setup.state.path());
    assert_eq!(repo.git(&["status", "--porcelain"]), head, "the live tree changed");
    let clone = clone_of(&repo);
    apply(clone.path(), &path);
    assert_big_edit_in(clone.path());

    // From a shell, --diff-only prints the whole diff from the patch file.
    let out = Command::new(crate::support::binary())
        .args(["delegate", "t", "--diff-only"])
        .current_dir(repo.path())
        .env_clear()
        .envs(setup.env.iter().map(|(k, v)| (k, v)))
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&path).unwrap(), "--diff-only did not print the patch");
}

#[test]
fn an_async_patch_outlives_the_consumed_result_and_expires_with_the_ttl() {
    let mock = MockModel::start(vec![Step::shell(BIG_EDIT), Step::message("Wrote big.txt.")]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[("CODEX_IN_CLAUDE_JOB_TTL", "6")]);
    let mut server = setup.server();
    let repo = project();
    let job_id = start(&mut server, "codex_delegate_async", repo.path(), json!({"task": "t"}));
    wait_finished(&mut server, repo.path(), &job_id, Duration::from_secs(60));
    let written = Instant::now();
    let arguments = json!({"job_id": job_id, "workspace_root": repo.path()});
    let kept = call(&mut server, "codex_job_result", arguments.clone());
    let path = assert_left_to_the_patch_file(&kept, setup.state.path());
    let consumed = call(&mut server, "codex_job_consume_result", arguments.clone());
    assert_eq!(assert_left_to_the_patch_file(&consumed, setup.state.path()), path);
    assert_eq!(call(&mut server, "codex_job_result", arguments)["error"]["code"], json!("job_not_found"));
    // The result that names it was consumed; the patch stays until the TTL.
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": repo.path()}));
    assert!(listed.get("jobs").is_none(), "no job is left: {listed}");
    assert!(path.exists(), "the patch went with the consumed record");
    let clone = clone_of(&repo);
    apply(clone.path(), &path);
    assert_big_edit_in(clone.path());
    // A TTL after it was written, the next look at the store removes it.
    std::thread::sleep(Duration::from_secs(7).saturating_sub(written.elapsed()));
    call(&mut server, "codex_job_list", json!({"workspace_root": repo.path()}));
    assert!(!path.exists(), "the patch outlived the TTL");
    setup.assert_no_worktree_left();
}

#[test]
fn a_subdirectory_workspaces_patch_file_applies_with_apply_command_from_there() {
    let script = "echo 'from codex' >> ../notes.txt && echo '// here' >> lib.rs";
    let mock = MockModel::start(vec![Step::shell(script), Step::message("Edited both.")]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let mut server = setup.server();
    let repo = project();
    let sub = repo.path().join("src");
    let result = call(&mut server, "codex_delegate", json!({"task": "t", "workspace_root": sub}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let path = patch_file(&result, setup.state.path());
    assert_eq!(result["diffstat"], json!({"files": 2, "added": 2, "removed": 0}));
    // `apply_command <patch_file>`, run in the subdirectory, applies every file of it.
    let command = format!("{} '{}'", result["apply_command"].as_str().unwrap(), path.display());
    let out = Command::new("sh").args(["-c", &command]).current_dir(&sub).output().unwrap();
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(repo.path().join("notes.txt")).unwrap().ends_with("from codex\n"));
    assert!(std::fs::read_to_string(sub.join("lib.rs")).unwrap().ends_with("// here\n"));
}

/// Codex's answer at every bound the parser keeps (a 20,000-character summary, 100 findings of
/// 4,000-character fields), far over the cap.
fn huge_answer() -> String {
    let field = |c: &str| format!("{c} \"quoted\"\n").repeat(300);
    let finding = |i: usize| {
        json!({
            "severity": "medium", "title": format!("finding {i}"), "file": "src/lib.rs", "line": i + 1,
            "line_end": null, "evidence": field("evidence"), "risk": field("risk"),
            "recommendation": field("recommendation")
        })
    };
    json!({
        "summary": "ünïcode ✓ summary\n".repeat(1500),
        "findings": (0..100).map(finding).collect::<Vec<_>>(),
        "questions": [], "assumptions": [], "next_steps": []
    })
    .to_string()
}

#[test]
fn a_huge_answer_cannot_push_the_envelope_over_the_cap() {
    for detail in ["summary", "full"] {
        let mock = MockModel::start(vec![Step::message(huge_answer())]);
        let home = CodexHome::new(&mock);
        let setup = Setup::real(&home, &[]);
        let mut server = setup.server();
        let workspace = tempfile::tempdir().unwrap();
        let arguments = json!({"question": "q", "workspace_root": workspace.path(), "detail": detail});
        let response = server.call(52, "codex_consult", arguments);
        let result = crate::support::envelope(&response);
        assert_eq!(result["ok"], json!(true), "{result}");
        assert!(size(&result) <= CAP, "{detail}: the envelope is {} bytes", size(&result));
        assert_eq!(result["meta"]["truncated"], json!(true));
        let hint = result["meta"]["truncation_hint"].as_str().unwrap();
        assert!(hint.contains("to keep this result within 40000 bytes (CODEX_IN_CLAUDE_MAX_INLINE_BYTES)"), "{hint}");
        assert!(hint.contains("codex resume <session_id>"), "where the rest is: {hint}");
        assert!(result["summary"].as_str().unwrap().starts_with("ünïcode ✓ summary"));
        assert!(result["session_id"].is_string());
        assert_eq!(result["resume_command"].is_string(), detail == "full", "resume_command is full detail");
    }
}

#[test]
fn a_smaller_cap_is_honoured_and_a_cap_under_the_minimum_is_raised_and_reported() {
    let mock = MockModel::start(vec![Step::message(huge_answer())]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[("CODEX_IN_CLAUDE_MAX_INLINE_BYTES", "100")]);
    let mut server = setup.server();
    let workspace = tempfile::tempdir().unwrap();
    let result = call(&mut server, "codex_consult", json!({"question": "q", "workspace_root": workspace.path()}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(size(&result) <= 8000, "the envelope is {} bytes", size(&result));
    let status = call(&mut server, "codex_status", json!({}));
    assert_eq!(status["resolved_defaults"]["max_inline_bytes"], json!(8000));
    let warnings = status["config_warnings"].to_string();
    assert!(
        warnings.contains("CODEX_IN_CLAUDE_MAX_INLINE_BYTES is 100, below the minimum 8000; using 8000"),
        "{warnings}"
    );
}

/// The delegate tool as Claude Code names it for a server configured as `cic`.
const DELEGATE_TOOL: &str = "mcp__cic__codex_delegate";
/// What the mocked model says once it has read the tool's result.
const LAST_WORD: &str = "Read the delegation.";

/// The mocked Claude model: its first turn asks for a delegation (the workspace is the session's
/// project, which Claude Code declares as its root), the turn after the tool's result ends.
fn delegating_turn(request: &Value) -> Value {
    if request.to_string().contains("\"tool_result\"") {
        json!({"type": "text", "text": LAST_WORD})
    } else if request["tools"].as_array().is_some_and(|t| t.iter().any(|t| t["name"] == json!(DELEGATE_TOOL))) {
        json!({"type": "tool_use", "id": "toolu_delegate_1", "name": DELEGATE_TOOL, "input": {"task": "write big.txt"}})
    } else {
        json!({"type": "text", "text": "ok"})
    }
}

#[test]
fn claude_code_reads_a_500_kb_delegation_as_a_normal_tool_result() {
    let mock = MockModel::start(vec![Step::shell(BIG_EDIT), Step::message("Wrote big.txt.")]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let repo = project();
    let claude_home = tempfile::tempdir().unwrap();
    let server_env: serde_json::Map<String, Value> = setup.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let config = json!({"mcpServers": {"cic": {
        "type": "stdio", "command": crate::support::binary(), "args": [], "env": server_env
    }}});
    let config_path = claude_home.path().join("mcp.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let model = crate::release::MockModel::answering(delegating_turn);

    let started = Instant::now();
    let out = crate::release::claude_offline(claude_home.path(), &model.base)
        .args(["-p", "Have Codex write big.txt", "--mcp-config"])
        .arg(&config_path)
        .args(["--strict-mcp-config", "--allowedTools", DELEGATE_TOOL, "--output-format", "stream-json", "--verbose"])
        .current_dir(repo.path())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .unwrap();
    let stream = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "claude -p failed: {stream}{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<Value> = stream.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let tool_result = crate::release::result_of(&events, "toolu_delegate_1", &stream);
    assert_ne!(tool_result["is_error"], json!(true), "{tool_result}");
    // What the model read: the envelope itself, whole, not a preview of a saved file.
    let content = &tool_result["content"];
    let text = match content.as_str() {
        Some(text) => text.to_string(),
        None => content.as_array().into_iter().flatten().filter_map(|b| b["text"].as_str()).collect(),
    };
    // Over its limit, Claude Code 2.1.330 says the result "exceeds maximum allowed tokens" and
    // saves it to a file; earlier versions said "Output too large".
    assert!(!text.contains("Output too large") && !text.contains("exceeds maximum allowed tokens"), "{text}");
    let envelope: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not the envelope ({e}): {text}"));
    let path = assert_left_to_the_patch_file(&envelope, setup.state.path());
    let last = events.iter().find(|e| e["type"] == json!("result")).unwrap_or_else(|| panic!("{stream}"));
    assert_eq!(last["result"], json!(LAST_WORD), "{last}");
    let clone = clone_of(&repo);
    apply(clone.path(), &path);
    assert_big_edit_in(clone.path());
    eprintln!("claude -p with a 500 KB delegation took {:?}", started.elapsed());
}

#[test]
fn a_dry_run_preview_over_the_cap_is_cut_and_says_so() {
    let repo = TestRepo::new();
    let names: Vec<String> = (0..3000).map(|i| format!("keys/service-account-{i:04}.pem")).collect();
    for name in &names {
        repo.write(name, "old\n");
    }
    repo.commit("keys");
    for name in &names {
        repo.write(name, "new\n");
    }
    let mut server = crate::support::Server::start(&[]);
    server.initialize(json!({}));
    let result = call(&mut server, "codex_dry_run", json!({"workspace_root": repo.path()}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(size(&result) <= CAP, "the preview is {} bytes", size(&result));
    for at in [&result, &result["meta"]] {
        assert_eq!(at["truncated"], json!(true));
        let hint = at["truncation_hint"].as_str().unwrap();
        assert!(hint.contains("redacted_paths cut from 3000 to"), "{hint}");
    }
    let kept = result["redacted_paths"].as_array().unwrap();
    assert!(!kept.is_empty() && kept.len() < 3000, "{} paths kept", kept.len());
}

#[test]
fn each_delegate_follow_up_keeps_its_own_patch_file() {
    let second_patch = "*** Begin Patch\n*** Add File: src/more.rs\n+pub const MORE: u8 = 2;\n*** End Patch";
    let mock = MockModel::start(vec![
        Step::apply_patch(FIX_ANSWER),
        Step::message("Added src/extra.rs."),
        Step::apply_patch(second_patch),
        Step::message("Added src/more.rs."),
    ]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let mut server = setup.server();
    let repo = project();
    let first = call(&mut server, "codex_delegate", json!({"task": "t", "workspace_root": repo.path()}));
    let arguments = json!({"task": "more", "workspace_root": repo.path(), "session_id": first["session_id"]});
    let second = call(&mut server, "codex_delegate", arguments);
    assert_eq!(second["follow_up"]["diff_holds"], json!("earlier_and_new_edits"), "{second}");
    for result in [&first, &second] {
        let path = patch_file(result, setup.state.path());
        assert_eq!(json!(std::fs::read_to_string(&path).unwrap()), result["diff"], "{result}");
    }
    assert_ne!(first["patch_file"], second["patch_file"], "a follow-up wrote over the earlier patch");
    let clone = clone_of(&repo);
    apply(clone.path(), &patch_file(&second, setup.state.path()));
    assert!(clone.path().join("src/extra.rs").exists() && clone.path().join("src/more.rs").exists());
}

#[test]
fn a_diff_cut_by_the_capture_bound_is_cut_in_its_patch_file_too_and_says_so() {
    let mock = MockModel::start(vec![
        Step::shell("echo small > a.txt && seq 1 200000 > big.txt"),
        Step::message("Wrote big.txt."),
    ]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[("CODEX_IN_CLAUDE_MAX_DELEGATE_DIFF_BYTES", "4000")]);
    let mut server = setup.server();
    let repo = project();
    let result = call(&mut server, "codex_delegate", json!({"task": "t", "workspace_root": repo.path()}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap();
    let path = patch_file(&result, setup.state.path());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), diff, "the patch file is not the (cut) diff");
    assert!(diff.len() <= 4000);
    let hint = result["meta"]["truncation_hint"].as_str().unwrap();
    assert!(hint.contains("(and of patch_file)") && hint.contains("MAX_DELEGATE_DIFF_BYTES"), "{hint}");
    // Cut between files: big.txt is left out whole and listed, and what is kept applies.
    assert_eq!(result["left_out_files"][0]["path"], json!("big.txt"), "{result}");
    assert_eq!(result["applies_cleanly"], json!(true), "{}", result["applies_cleanly_reason"]);
}

#[test]
fn a_pass_whose_many_findings_cannot_all_be_shown_is_partial_and_unknown() {
    // 100 nits of ~1 KB each: a model pass, far over the cap once the review envelope holds them.
    let nit = |i: usize| {
        json!({"severity": "nit", "title": format!("nit {i}"), "file": "src/lib.rs", "line": 1, "line_end": null,
            "evidence": "e".repeat(300), "risk": "r".repeat(300), "recommendation": "c".repeat(300)})
    };
    let answer = crate::review::review_answer("pass", (0..100).map(nit).collect());
    let mock = MockModel::start(vec![Step::message(answer)]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let mut server = setup.server();
    let repo = crate::review::repo_with_a_change();
    let result = call(&mut server, "codex_review_changes", json!({"workspace_root": repo.path()}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(size(&result) <= CAP, "the review is {} bytes", size(&result));
    assert!(result["findings"].as_array().unwrap().len() < 100);
    assert_eq!(result["coverage"]["status"], json!("partial"), "{}", result["coverage"]);
    assert_eq!(result["coverage"]["omission_reasons"], json!(["findings_truncated"]));
    assert_eq!((&result["verdict"], &result["confidence"]), (&json!("unknown"), &json!("low")));
    assert!(result["meta"]["truncation_hint"].as_str().unwrap().contains("findings cut from 100 to"));
}
