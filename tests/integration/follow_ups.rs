//! Follow-ups by `session_id` end to end, with the real pinned codex against the mock model:
//! a consult that continues its thread (the model sees the first exchange), a delegate whose
//! follow-up diff holds both runs' edits (or only the new ones once the first diff is applied), a
//! re-review that marks fixed findings resolved and keeps the others' ids, and the clear errors
//! for malformed, unknown and forgotten sessions and under `CODEX_IN_CLAUDE_EPHEMERAL`.

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::consult::paid_server;
use crate::delegate::{Delegation, FIX_ANSWER, apply_check, project};
use crate::isolation::repo_state;
use crate::jobs::{Setup, start, wait_finished};
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::review::{repo_with_a_change, review_answer};
use crate::support::{Server, envelope};

/// How codex's turn metadata, inside each request, names a read-only sandbox.
const READ_ONLY_TURN: &str = r#"sandbox_mode\":\"read-only"#;

fn consult(server: &mut Server, workspace: &std::path::Path, question: &str, extra: Value) -> Value {
    let mut arguments = json!({"question": question, "workspace_root": workspace});
    arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    envelope(&server.call(7, "codex_consult", arguments))
}

fn assert_session_error(result: &Value, needle: &str) {
    assert_eq!(result["ok"], json!(false), "{result}");
    assert_eq!(result["error"]["code"], json!("invalid_arguments"), "{result}");
    assert_eq!(result["error"]["offending_param"], json!("session_id"), "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains(needle), "{result}");
}

#[test]
fn a_consult_follow_up_carries_the_first_exchange() {
    let mock = MockModel::start(vec![
        Step::message(consult_answer("Use a Mutex around the counter.")),
        Step::message(consult_answer("An AtomicU64 is enough for a plain counter.")),
    ]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let first = consult(&mut server, workspace.path(), "How do I share a counter across threads?", json!({}));
    assert_eq!(first["ok"], json!(true), "{first}");
    let session = first["session_id"].as_str().expect("a paid result carries session_id").to_string();
    assert!(first.get("resume_command").is_none(), "codex resume <session_id> is full detail: {first}");
    assert!(first["meta"].get("session_id").is_none(), "said once, at the top: {first}");

    let second = consult(&mut server, workspace.path(), "Would an atomic do instead?", json!({"session_id": session}));
    assert_eq!(second["ok"], json!(true), "{second}");
    assert_eq!(second["summary"], json!("An AtomicU64 is enough for a plain counter."));
    assert_eq!(second["session_id"], json!(session), "the thread goes on");

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let follow_up = &requests[1].body;
    for earlier in
        ["How do I share a counter across threads?", "Use a Mutex around the counter.", "Would an atomic do instead?"]
    {
        assert!(follow_up.contains(earlier), "the follow-up request lacks {earlier:?}");
    }
    // The follow-up keeps the pins of a fresh run: the read-only sandbox and our output schema.
    let body = requests[1].json.as_ref().unwrap();
    assert_eq!(body["text"]["format"]["type"], json!("json_schema"), "{}", body["text"]);
    assert!(follow_up.contains(READ_ONLY_TURN), "the follow-up's turn is not read-only");
}

#[test]
fn secrets_in_a_follow_up_are_masked_before_sending() {
    let mock = MockModel::start(vec![Step::message(consult_answer("a")), Step::message(consult_answer("b"))]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let first = consult(&mut server, workspace.path(), "q", json!({}));
    let secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    let second = consult(
        &mut server,
        workspace.path(),
        &format!("and with {secret}?"),
        json!({"session_id": first["session_id"]}),
    );
    assert_eq!(second["ok"], json!(true), "{second}");
    assert!(!mock.request_log_text().contains(secret));
    assert!(!second["meta"]["security_warnings"].as_array().unwrap().is_empty(), "{second}");
}

#[test]
fn malformed_unknown_and_forgotten_sessions_are_clear_errors_naming_session_id() {
    let mock = MockModel::start(vec![Step::message(consult_answer("a"))]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);

    let malformed = consult(&mut server, workspace.path(), "q", json!({"session_id": "my-thread-name"}));
    assert_session_error(&malformed, "session_id");
    let unknown =
        consult(&mut server, workspace.path(), "q", json!({"session_id": "0199a213-81c0-7800-8aa1-bbab2a035a53"}));
    assert_session_error(&unknown, "no session with this session_id");
    assert_eq!(mock.requests().len(), 0, "nothing is spent on a bad session");

    // A session this server started, whose codex files are gone: codex's refusal, named.
    let first = consult(&mut server, workspace.path(), "q", json!({}));
    assert_eq!(first["ok"], json!(true), "{first}");
    std::fs::remove_dir_all(home.path().join("sessions")).unwrap();
    let forgotten = consult(&mut server, workspace.path(), "q2", json!({"session_id": first["session_id"]}));
    assert_session_error(&forgotten, "codex keeps no session");
    assert_eq!(mock.requests().len(), 1);

    // A session belongs to the workspace that started it.
    let other = tempfile::tempdir().unwrap();
    let elsewhere = consult(&mut server, other.path(), "q3", json!({"session_id": first["session_id"]}));
    assert_session_error(&elsewhere, "another workspace");
}

#[test]
fn ephemeral_runs_keep_no_session_and_refuse_follow_ups() {
    let mock = MockModel::start(vec![Step::message(consult_answer("a"))]);
    let home = CodexHome::new(&mock);
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_EPHEMERAL".into(), "true".into()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let workspace = tempfile::tempdir().unwrap();

    let status = envelope(&server.call(1, "codex_status", json!({})));
    assert_eq!(status["session_persistence"], json!("ephemeral"), "{status}");
    let first = consult(&mut server, workspace.path(), "q", json!({"detail": "full"}));
    assert_eq!(first["ok"], json!(true), "{first}");
    assert!(first.get("resume_command").is_some_and(Value::is_null), "nothing to resume: {first}");
    assert!(!home.path().join("sessions").exists(), "--ephemeral keeps no session file");
    let again = consult(&mut server, workspace.path(), "q2", json!({"session_id": first["session_id"]}));
    assert_session_error(&again, "CODEX_IN_CLAUDE_EPHEMERAL");
    let async_again = envelope(&server.call(
        2,
        "codex_consult_async",
        json!({"question": "q2", "workspace_root": workspace.path(), "session_id": first["session_id"]}),
    ));
    assert_session_error(&async_again, "CODEX_IN_CLAUDE_EPHEMERAL");
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn status_says_runs_are_continuable_by_default() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let (mut server, _workspace) = paid_server(&home);
    let status = envelope(&server.call(1, "codex_status", json!({})));
    assert!(status.get("session_persistence").is_none(), "continuable, the default: {status}");
}

/// Builds on the first run's edit: applies only where `src/extra.rs` already exists.
const SECOND_PATCH: &str = "*** Begin Patch\n\
*** Update File: src/extra.rs\n\
@@\n\
-pub const EXTRA: u8 = 1;\n\
+pub const EXTRA: u8 = 2;\n\
*** End Patch";

/// A first delegation and its follow-up, with `between` run on the user's repository in
/// between; returns both results.
fn delegate_twice(between: impl FnOnce(&TestRepo, &str)) -> (Value, Value, MockModel) {
    let mock = MockModel::start(vec![
        Step::apply_patch(FIX_ANSWER),
        Step::message("Added src/extra.rs."),
        Step::apply_patch(SECOND_PATCH),
        Step::message("EXTRA is now 2."),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let first = delegation.call("codex_delegate", &repo, json!({"task": "add EXTRA"}));
    assert_eq!(first["ok"], json!(true), "{first}");
    assert_eq!(first["follow_up"], Value::Null);
    between(&repo, first["diff"].as_str().unwrap());
    let before = repo_state(repo.path());
    let second = delegation.call(
        "codex_delegate",
        &repo,
        json!({"task": "now make EXTRA 2", "session_id": first["session_id"]}),
    );
    assert_eq!(second["ok"], json!(true), "{second}");
    assert_eq!(second["session_id"], first["session_id"]);
    assert_eq!(repo_state(repo.path()), before, "a follow-up wrote to the live repository");
    assert!(apply_check(repo.path(), second["diff"].as_str().unwrap()).status.success(), "{second}");
    delegation.assert_no_worktree_left();
    let requests = mock.requests();
    assert!(requests.last().unwrap().body.contains("add EXTRA"), "the follow-up request lacks the first task");
    (first, second, mock)
}

#[test]
fn a_delegate_follow_up_returns_both_edits_while_the_first_diff_is_not_applied() {
    let (_, second, _) = delegate_twice(|_, _| {});
    let diff = second["diff"].as_str().unwrap();
    assert!(diff.contains("-    41\n+    42\n"), "the earlier edit is missing:\n{diff}");
    assert!(diff.contains("+pub const EXTRA: u8 = 2;") && !diff.contains("EXTRA: u8 = 1"), "{diff}");
    assert_eq!(second["follow_up"]["earlier_diff"], json!("not_applied"), "{second}");
    assert_eq!(second["follow_up"]["diff_holds"], json!("earlier_and_new_edits"));
}

#[test]
fn a_delegate_follow_up_returns_only_the_new_edit_once_the_first_diff_is_applied() {
    let (_, second, _) = delegate_twice(|repo, diff| {
        let patch = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(patch.path(), diff).unwrap();
        repo.git(&["apply", patch.path().to_str().unwrap()]);
    });
    let diff = second["diff"].as_str().unwrap();
    assert!(!diff.contains("41"), "the applied edit came back:\n{diff}");
    assert!(diff.contains("-pub const EXTRA: u8 = 1;\n+pub const EXTRA: u8 = 2;"), "{diff}");
    assert_eq!(second["follow_up"]["earlier_diff"], json!("applied"), "{second}");
    assert_eq!(second["follow_up"]["diff_holds"], json!("new_edits_only"));
}

#[test]
fn a_delegate_follow_up_continues_from_an_earlier_binary_edit() {
    let mock = MockModel::start(vec![
        Step::shell("printf 'bin\\000ary\\001' > data.bin; echo done"),
        Step::message("Added data.bin."),
        Step::message("Nothing more to do."),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let first = delegation.call("codex_delegate", &repo, json!({"task": "add a binary fixture"}));
    assert_eq!(first["ok"], json!(true), "{first}");
    assert_eq!(first["meta"]["binary_files"], json!(["data.bin"]), "{first}");
    let second =
        delegation.call("codex_delegate", &repo, json!({"task": "check it", "session_id": first["session_id"]}));
    assert_eq!(second["ok"], json!(true), "a binary edit made the session impossible to continue: {second}");
    assert_eq!(second["follow_up"]["earlier_diff"], json!("not_applied"), "{second}");
    assert_eq!(
        second["meta"]["binary_files"],
        json!(["data.bin"]),
        "the earlier binary edit was not replayed: {second}"
    );
    delegation.assert_no_worktree_left();
}

fn finding(title: &str, line: u64) -> Value {
    json!({
        "severity": "high", "title": title, "file": "src/lib.rs", "line": line, "line_end": null,
        "evidence": "e", "risk": "r", "recommendation": "fix it"
    })
}

#[test]
fn a_re_review_marks_the_fixed_finding_resolved_and_keeps_the_others_id() {
    let mock = MockModel::start(vec![
        Step::message(review_answer(
            "concerns",
            json!([finding("Off by one in the loop", 2), finding("Unchecked unwrap", 3)]),
        )),
        // After the fix: the off-by-one is gone; the unwrap remains (reworded case, moved line)
        // and a new problem appears.
        Step::message(review_answer("concerns", json!([finding("unchecked UNWRAP", 9), finding("Missing test", 1)]))),
    ]);
    let home = CodexHome::new(&mock);
    let (mut server, _) = paid_server(&home);
    let repo = repo_with_a_change();
    let review = |server: &mut Server, extra: Value| {
        let mut arguments = json!({"workspace_root": repo.path()});
        arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        envelope(&server.call(21, "codex_review_changes", arguments))
    };
    let first = review(&mut server, json!({}));
    assert_eq!(first["ok"], json!(true), "{first}");
    assert!(first["findings"][0].get("status").is_none(), "a finding without a status is new: {first}");
    assert!(first.get("resolved_findings").is_none(), "{first}");
    let off_by_one = first["findings"][0]["finding_id"].as_str().unwrap().to_string();
    let unwrap = first["findings"][1]["finding_id"].as_str().unwrap().to_string();
    assert_ne!(off_by_one, unwrap);

    repo.write("src/lib.rs", "fn f(n: usize) {\n    for i in 0..n {}\n}\n// fixed\n");
    let second = review(&mut server, json!({"session_id": first["session_id"]}));
    assert_eq!(second["ok"], json!(true), "{second}");
    assert_eq!(second["session_id"], first["session_id"]);
    assert_eq!(second["findings"][0]["finding_id"], json!(unwrap), "the same problem keeps its id");
    assert_eq!(second["findings"][0]["status"], json!("still_open"));
    assert!(second["findings"][1].get("status").is_none(), "new: {second}");
    let resolved = second["resolved_findings"].as_array().unwrap();
    assert_eq!(resolved.len(), 1, "{second}");
    assert_eq!(resolved[0]["finding_id"], json!(off_by_one));
    assert_eq!(resolved[0]["status"], json!("resolved"));
    assert_eq!(resolved[0]["title"], json!("Off by one in the loop"));

    // The re-review's request carries the first review and lists its findings for Codex.
    let requests = mock.requests();
    let body = &requests[1].body;
    assert!(body.contains("Your earlier findings on this change"), "no earlier findings in the re-review");
    assert!(body.contains("0..=n") && body.contains("// fixed"), "the first diff or the new one is missing");
}

#[test]
fn a_re_review_that_did_not_see_everything_resolves_nothing_and_keeps_the_findings_open() {
    let mock = MockModel::start(vec![
        Step::message(review_answer("concerns", json!([finding("Off by one in the loop", 2)]))),
        // Partial coverage (an untracked file left out): not seeing the finding proves nothing.
        Step::message(review_answer("concerns", json!([]))),
        // Complete coverage again: now its absence means it was fixed.
        Step::message(review_answer("pass", json!([]))),
    ]);
    let home = CodexHome::new(&mock);
    let (mut server, _) = paid_server(&home);
    let repo = repo_with_a_change();
    let review = |server: &mut Server, session: &Value| {
        let arguments = json!({"workspace_root": repo.path(), "session_id": session});
        envelope(&server.call(22, "codex_review_changes", arguments))
    };
    let first = envelope(&server.call(21, "codex_review_changes", json!({"workspace_root": repo.path()})));
    assert_eq!(first["ok"], json!(true), "{first}");
    let off_by_one = first["findings"][0]["finding_id"].clone();

    repo.write("src/untracked.rs", "fn g() {}\n");
    let partial = review(&mut server, &first["session_id"]);
    assert_eq!(partial["coverage"]["status"], json!("partial"), "{partial}");
    assert!(partial.get("resolved_findings").is_none(), "{partial}");
    let warnings = partial["meta"]["answer_warnings"].to_string();
    assert!(warnings.contains("not marked resolved"), "{warnings}");

    std::fs::remove_file(repo.path().join("src/untracked.rs")).unwrap();
    let complete = review(&mut server, &first["session_id"]);
    assert_eq!(complete["coverage"]["status"], json!("complete"), "{complete}");
    let resolved = complete["resolved_findings"].as_array().unwrap();
    assert_eq!(resolved.len(), 1, "the finding stayed open through the partial review: {complete}");
    assert_eq!(resolved[0]["finding_id"], off_by_one);
}

#[test]
fn an_async_consult_continues_a_session_too() {
    let mock = MockModel::start(vec![Step::message(consult_answer("first")), Step::message(consult_answer("second"))]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let mut server = setup.server();
    let workspace = tempfile::tempdir().unwrap();
    let first = consult(&mut server, workspace.path(), "What is a mutex?", json!({}));
    assert_eq!(first["ok"], json!(true), "{first}");
    let job_id = start(
        &mut server,
        "codex_consult_async",
        workspace.path(),
        json!({"question": "And a semaphore?", "session_id": first["session_id"]}),
    );
    wait_finished(&mut server, workspace.path(), &job_id, std::time::Duration::from_secs(60));
    let result =
        envelope(&server.call(9, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()})));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["summary"], json!("second"));
    assert_eq!(result["session_id"], first["session_id"]);
    assert!(mock.requests()[1].body.contains("What is a mutex?"), "the async follow-up lacks the first exchange");
}

#[test]
fn a_consult_follow_up_of_a_delegation_is_read_only_again() {
    let write_attempt = "*** Begin Patch\n*** Add File: pwned.txt\n+written by a read-only follow-up\n*** End Patch";
    let mock = MockModel::start(vec![
        Step::apply_patch(FIX_ANSWER),
        Step::message("Added src/extra.rs."),
        Step::apply_patch(write_attempt),
        Step::message(consult_answer("done")),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let first = delegation.call("codex_delegate", &repo, json!({}));
    assert_eq!(first["ok"], json!(true), "{first}");
    let before = repo_state(repo.path());
    let arguments = json!({"question": "anything else?", "workspace_root": repo.path(), "session_id": first["session_id"], "detail": "full"});
    let second = envelope(&delegation.server.call(8, "codex_consult", arguments));
    assert_eq!(second["ok"], json!(true), "{second}");
    assert_eq!(second["meta"]["sandbox"], json!("read-only"));
    assert!(!repo.path().join("pwned.txt").exists(), "a consult follow-up wrote to the live repository");
    assert_eq!(repo_state(repo.path()), before);
    assert_eq!(mock.requests().len(), 4, "the write attempt was answered, then the turn ended");
    for request in &mock.requests()[2..] {
        assert!(request.body.contains(READ_ONLY_TURN), "the follow-up's turn is not read-only");
    }
}

#[test]
fn an_async_delegate_continues_on_top_of_the_earlier_edits() {
    let mock = MockModel::start(vec![
        Step::apply_patch(FIX_ANSWER),
        Step::message("Added src/extra.rs."),
        Step::apply_patch(SECOND_PATCH),
        Step::message("EXTRA is now 2."),
    ]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let mut server = setup.server();
    let repo = project();
    let arguments = json!({"task": "add EXTRA", "workspace_root": repo.path()});
    let first = envelope(&server.call(5, "codex_delegate", arguments));
    assert_eq!(first["ok"], json!(true), "{first}");
    let job_id = start(
        &mut server,
        "codex_delegate_async",
        repo.path(),
        json!({"task": "now make EXTRA 2", "session_id": first["session_id"]}),
    );
    wait_finished(&mut server, repo.path(), &job_id, std::time::Duration::from_secs(60));
    let result =
        envelope(&server.call(9, "codex_job_result", json!({"job_id": job_id, "workspace_root": repo.path()})));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["follow_up"]["earlier_diff"], json!("not_applied"), "{result}");
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("+    42") && diff.contains("+pub const EXTRA: u8 = 2;"), "{diff}");
}
