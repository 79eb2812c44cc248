//! A delegation stopped mid-edit keeps its work (issue 25 item 3), with the real pinned codex
//! against the mock model: on a timeout, a stall, or a cancel of its job after Codex edited, the
//! edits so far come back as a diff marked `partial` that applies to the user's tree, with its
//! patch file and a session a follow-up continues to finish the work. A run stopped before any
//! edit steers to that follow-up rather than a second paid run from scratch.

use std::time::Duration;

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::delegate::{Delegation, FIX_ANSWER, apply_check, project};
use crate::jobs::{Setup, call, start, wait_finished};
use crate::mock_model::{MockModel, Step};
use crate::support::live_pids_with_env;

/// The second edit a follow-up makes, on top of `FIX_ANSWER`'s.
const FINISH: &str = "*** Begin Patch\n*** Add File: src/finish.rs\n+pub const DONE: bool = true;\n*** End Patch";

/// A partial result: marked so, why, with the edits of `FIX_ANSWER` applying to the live tree,
/// kept in its patch file, and a session to continue.
fn assert_partial(result: &Value, repo: &crate::repo::TestRepo, reason: &str) {
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["partial"], json!(true), "{result}");
    let why = result["partial_reason"].as_str().unwrap();
    assert!(why.contains(reason), "{why}");
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("-    41\n+    42\n") && diff.contains("+++ b/src/extra.rs"), "{diff}");
    assert_eq!(result["applies_cleanly"], json!(true), "{result}");
    assert!(apply_check(repo.path(), diff).status.success(), "the partial diff does not apply");
    let patch = std::fs::read_to_string(result["patch_file"].as_str().unwrap()).unwrap();
    assert_eq!(patch, diff, "the patch file holds the partial diff");
    assert!(result["session_id"].is_string(), "{result}");
    assert!(result["summary"].as_str().unwrap().contains("before it finished"), "{result}");
    let steps = result["next_steps"].to_string();
    assert!(steps.contains("session_id"), "the next step is the follow-up: {steps}");
}

/// A follow-up of the stopped run's session finishes the work: its diff holds both edits.
fn finish(delegation: &mut Delegation, repo: &crate::repo::TestRepo, stopped: &Value) {
    let done = delegation.call(
        "codex_delegate",
        repo,
        json!({"task": "finish what is left", "session_id": stopped["session_id"], "timeout_seconds": 60}),
    );
    assert_eq!(done["ok"], json!(true), "{done}");
    assert!(done.get("partial").is_none(), "a finished run is not partial: {done}");
    let diff = done["diff"].as_str().unwrap();
    assert!(diff.contains("-    41\n+    42\n") && diff.contains("+pub const DONE: bool = true;"), "{diff}");
    assert_eq!(done["follow_up"]["diff_holds"], json!("earlier_and_new_edits"), "{done}");
    assert!(apply_check(repo.path(), diff).status.success());
    delegation.assert_no_worktree_left();
}

#[test]
fn a_timeout_mid_edit_returns_the_edits_so_far_and_a_follow_up_finishes() {
    let mock = MockModel::start(vec![
        Step::apply_patch(FIX_ANSWER),
        Step::Hang,
        Step::apply_patch(FINISH),
        Step::message("Finished."),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let stopped = delegation.call("codex_delegate", &repo, json!({"timeout_seconds": 10}));
    // The timeout as it was configured, not what was left of it once the worker started.
    assert_partial(&stopped, &repo, "did not finish within 10 s");
    delegation.assert_no_worktree_left();
    finish(&mut delegation, &repo, &stopped);
}

#[test]
fn a_stall_mid_edit_returns_the_edits_so_far_and_a_follow_up_finishes() {
    let mock = MockModel::start(vec![
        Step::apply_patch(FIX_ANSWER),
        Step::Hang,
        Step::apply_patch(FINISH),
        Step::message("Finished."),
    ]);
    let mut delegation = Delegation::new_with_home(
        CodexHome::new(&mock).with_idle_timeout_ms(120_000),
        &[("CODEX_IN_CLAUDE_STALL_WARN_SECONDS", "1"), ("CODEX_IN_CLAUDE_STALL_KILL_SECONDS", "3")],
    );
    let repo = project();
    let stopped = delegation.call("codex_delegate", &repo, json!({"timeout_seconds": 120}));
    assert_partial(&stopped, &repo, "no event for 3 s");
    finish(&mut delegation, &repo, &stopped);
}

#[test]
fn a_job_cancelled_after_edits_keeps_them_as_its_result() {
    let mock = MockModel::start(vec![Step::apply_patch(FIX_ANSWER), Step::Hang]);
    let home = CodexHome::new(&mock).with_idle_timeout_ms(120_000);
    let setup = Setup::real(&home, &[]);
    let repo = project();
    let mut server = setup.server();
    let job_id = start(&mut server, "codex_delegate_async", repo.path(), json!({"task": "t"}));
    // The second request is the one after the edit: codex has applied it and waits.
    assert!(mock.wait_for_requests(2, Duration::from_secs(60)), "codex never sent its edit");
    let at = json!({"job_id": job_id, "workspace_root": repo.path()});
    let cancelled = call(&mut server, "codex_job_cancel", at.clone());
    assert_eq!(cancelled["ok"], json!(true), "{cancelled}");
    assert_eq!(cancelled["status"], json!("done"), "the edits so far are the job's result: {cancelled}");
    let result = call(&mut server, "codex_job_result", at);
    assert_partial(&result, &repo, "cancelled");
    setup.assert_no_worktree_left();
    assert!(live_pids_with_env("CODEX_HOME", home.path(), server.pid()).is_empty(), "codex left running");
}

#[test]
fn an_async_delegation_at_its_deadline_keeps_the_edits_so_far() {
    let mock = MockModel::start(vec![Step::apply_patch(FIX_ANSWER), Step::Hang]);
    let home = CodexHome::new(&mock).with_idle_timeout_ms(120_000);
    let setup = Setup::real(&home, &[("CODEX_IN_CLAUDE_JOB_MAX_SECONDS", "10")]);
    let repo = project();
    let mut server = setup.server();
    let job_id = start(&mut server, "codex_delegate_async", repo.path(), json!({"task": "t"}));
    let status = wait_finished(&mut server, repo.path(), &job_id, Duration::from_secs(60));
    assert_eq!(status["status"], json!("done"), "{status}");
    let result = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": repo.path()}));
    assert_partial(&result, &repo, "did not finish within 10 s");
}

#[test]
fn a_timeout_before_any_edit_steers_to_a_follow_up_not_a_paid_retry() {
    let mock = MockModel::start(vec![Step::Hang, Step::apply_patch(FINISH), Step::message("Finished.")]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let stopped = delegation.call("codex_delegate", &repo, json!({"timeout_seconds": 10}));
    let error = &stopped["error"];
    assert_eq!(error["code"], json!("timeout"), "{stopped}");
    assert!(error.get("retryable").is_none(), "a fresh run would pay for the work again: {stopped}");
    assert_eq!(error["repair_tool"], json!("codex_delegate"), "{stopped}");
    let session = &error["repair_tool_params"]["session_id"];
    assert!(session.is_string(), "{stopped}");
    let done = delegation.call("codex_delegate", &repo, json!({"task": "finish", "session_id": session}));
    assert_eq!(done["ok"], json!(true), "the session the error names continues: {done}");
    assert!(done["diff"].as_str().unwrap().contains("+pub const DONE: bool = true;"), "{done}");
}

#[test]
fn a_model_failure_after_edits_keeps_them_as_partial_and_a_follow_up_finishes() {
    // The model API fails (HTTP 500, a dropped stream) once Codex has edited: the edits are
    // paid for, so they come back, not a retryable error inviting a second run from scratch.
    for failure in [Step::http_error(500, "internal"), Step::DropStream] {
        let mock = MockModel::start(vec![
            Step::apply_patch(FIX_ANSWER),
            failure,
            Step::apply_patch(FINISH),
            Step::message("Finished."),
        ]);
        let mut delegation = Delegation::new(&mock, &[]);
        let repo = project();
        let stopped = delegation.call("codex_delegate", &repo, json!({"timeout_seconds": 60}));
        assert_partial(&stopped, &repo, "codex exited 1");
        assert!(stopped["summary"].as_str().unwrap().contains("failed before it finished"), "{stopped}");
        finish(&mut delegation, &repo, &stopped);
    }
}

#[test]
fn an_async_delegation_at_its_deadline_before_any_edit_keeps_its_follow_up() {
    let mock = MockModel::start(vec![Step::Hang, Step::apply_patch(FINISH), Step::message("Finished.")]);
    let home = CodexHome::new(&mock).with_idle_timeout_ms(120_000);
    let setup = Setup::real(&home, &[("CODEX_IN_CLAUDE_JOB_MAX_SECONDS", "10")]);
    let repo = project();
    let mut server = setup.server();
    let job_id = start(&mut server, "codex_delegate_async", repo.path(), json!({"task": "t"}));
    wait_finished(&mut server, repo.path(), &job_id, Duration::from_secs(60));
    let result = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": repo.path()}));
    let error = &result["error"];
    assert_eq!(error["code"], json!("timeout"), "the session is not lost in a bare job_timeout: {result}");
    assert!(error.get("retryable").is_none(), "{result}");
    assert_eq!(error["repair_tool"], json!("codex_delegate"), "{result}");
    let session = &error["repair_tool_params"]["session_id"];
    assert!(session.is_string(), "{result}");
    let done = call(
        &mut server,
        "codex_delegate",
        json!({"task": "finish", "session_id": session, "workspace_root": repo.path()}),
    );
    assert_eq!(done["ok"], json!(true), "the session the error names continues: {done}");
    assert!(done["diff"].as_str().unwrap().contains("+pub const DONE: bool = true;"), "{done}");
    setup.assert_no_worktree_left();
}
