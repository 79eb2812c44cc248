//! `codex_consult` end to end: the built server runs the real pinned codex against the mock
//! model. Covers the parsed answer, usage and session in `meta`, what reaches the model, progress
//! notifications, cancellation, and the failure classification of real codex failures.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step, USAGE_INPUT_TOKENS, USAGE_OUTPUT_TOKENS, consult_answer};
use crate::support::{Server, envelope, process_gone};

/// A server wired to `home` (real codex, mock model), initialised, with a scratch workspace.
pub fn paid_server(home: &CodexHome) -> (Server, tempfile::TempDir) {
    let mut server = Server::start(&home.env());
    server.initialize(json!({}));
    (server, tempfile::tempdir().unwrap())
}

fn consult(server: &mut Server, workspace: &std::path::Path, extra: Value) -> Value {
    let mut arguments = json!({"question": "Is unwrap OK here?", "workspace_root": workspace});
    arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    envelope(&server.call(7, "codex_consult", arguments))
}

#[test]
fn consult_returns_the_parsed_answer_with_usage_and_session() {
    let mock = MockModel::start(vec![Step::message(consult_answer("Use ? instead."))]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let result = consult(&mut server, workspace.path(), json!({"extra_context": "the input comes from users"}));

    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(result.get("tool").is_none(), "the request names the tool: {result}");
    assert_eq!(result["summary"], json!("Use ? instead."));
    assert_eq!(result["findings"][0]["title"], json!("Unchecked unwrap"));
    assert_eq!(result["findings"][0]["line"], json!(7));
    assert_eq!(result["questions"], json!(["Is the input trusted?"]));
    assert!(result.get("raw_response").is_none(), "detail=summary omits the raw text: {result}");
    assert!(result["session_id"].as_str().is_some_and(|s| !s.is_empty()), "{result}");
    let meta = &result["meta"];
    // What the call and the tool already say (tier, sandbox, isolation), exit 0 and the session
    // (at the top) are not restated; what the run cost is.
    for restated in ["tier", "sandbox", "isolation", "command_exit_code", "session_id"] {
        assert!(meta.get(restated).is_none(), "{restated}: {meta}");
    }
    assert_eq!(meta["usage"]["input_tokens"], json!(USAGE_INPUT_TOKENS));
    assert_eq!(meta["usage"]["output_tokens"], json!(USAGE_OUTPUT_TOKENS));
    assert!(meta["elapsed_ms"].as_u64().unwrap() > 0);

    // What the model saw: the framed question and context, and our output schema.
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let body = requests[0].json.as_ref().unwrap();
    let log = mock.request_log_text();
    assert!(log.contains("Is unwrap OK here?") && log.contains("the input comes from users"));
    assert!(log.contains("untrusted data"));
    assert_eq!(body["text"]["format"]["type"], json!("json_schema"), "{}", body["text"]);
    assert!(body["text"]["format"]["schema"]["properties"]["findings"].is_object());
}

#[test]
fn detail_full_returns_the_raw_message_and_model_is_passed() {
    let mock = MockModel::start(vec![Step::message(consult_answer("s"))]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let result = consult(&mut server, workspace.path(), json!({"detail": "full", "model": "gpt-5.5"}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let raw: Value = serde_json::from_str(result["raw_response"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(raw["summary"], json!("s"));
    assert_eq!(result["meta"]["model"], json!("gpt-5.5"));
    assert_eq!(mock.requests()[0].json.as_ref().unwrap()["model"], json!("gpt-5.5"));
    // Full detail is the whole envelope: every member, nulls and defaults included.
    let meta = &result["meta"];
    assert_eq!(
        (&meta["tier"], &meta["sandbox"], &meta["isolation"]),
        (&json!("consult"), &json!("read-only"), &json!("inherit"))
    );
    assert_eq!(
        (&meta["command_exit_code"], &meta["truncated"], &meta["replayed"]),
        (&json!(0), &json!(false), &json!(false))
    );
    assert_eq!(meta["session_id"], result["session_id"]);
    for key in ["reasoning_effort", "scope", "workspace_warning", "request_id", "server_version", "fingerprint"] {
        assert!(meta.get(key).is_some(), "full detail lacks meta.{key}: {meta}");
    }
    assert_eq!(result["resume_command"], json!(format!("codex resume {}", result["session_id"].as_str().unwrap())));
    assert_eq!(result["tool"], json!("codex_consult"));
    assert_eq!(result["assumptions"], json!([]));
    let keys: Vec<&str> = result.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!((keys[0], keys[1], keys.last().copied()), ("ok", "summary", Some("meta")), "{keys:?}");
}

#[test]
fn prose_answers_become_the_summary() {
    let mock = MockModel::start(vec![Step::message("Just use a Mutex.")]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let result = consult(&mut server, workspace.path(), json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["summary"], json!("Just use a Mutex."));
    assert!(result.get("findings").is_none(), "no findings: {result}");
}

#[test]
fn reasoning_effort_rides_with_strict_config() {
    let mock = MockModel::start(vec![Step::message(consult_answer("s"))]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let result = consult(&mut server, workspace.path(), json!({"reasoning_effort": "high", "detail": "full"}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["meta"]["reasoning_effort"], json!("high"));
    assert_eq!(mock.requests()[0].json.as_ref().unwrap()["reasoning"]["effort"], json!("high"));
}

#[test]
fn a_bad_key_in_the_users_config_is_user_config_rejected_before_any_spend() {
    let mock = MockModel::start(vec![Step::message(consult_answer("s"))]);
    let home = CodexHome::new(&mock);
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    std::fs::write(home.config_path(), format!("bogus_key_from_the_user = 1\n{config}")).unwrap();
    let (mut server, workspace) = paid_server(&home);
    // `-c` (the effort) brings --strict-config, under which codex refuses the unknown key.
    let result = consult(&mut server, workspace.path(), json!({"reasoning_effort": "low"}));
    assert_eq!(result["error"]["code"], json!("user_config_rejected"), "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("bogus_key_from_the_user"));
    assert_eq!(mock.requests().len(), 0, "nothing may be spent");
}

#[test]
fn secrets_in_the_question_are_masked_before_sending() {
    let mock = MockModel::start(vec![Step::message(consult_answer("s"))]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    let result = consult(
        &mut server,
        workspace.path(),
        json!({"question": format!("why does {secret} fail?"), "extra_context": "AWS key AKIAABCDEFGHIJKLMNOP"}),
    );
    assert_eq!(result["ok"], json!(true), "{result}");
    let log = mock.request_log_text();
    assert!(!log.contains(secret) && !log.contains("AKIAABCDEFGHIJKLMNOP"), "a secret reached the model");
    assert_eq!(result["meta"]["security_warnings"].as_array().unwrap().len(), 2, "{}", result["meta"]);
}

#[test]
fn secrets_codex_returns_are_masked_in_the_envelope() {
    let secret = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mock = MockModel::start(vec![Step::message(consult_answer(&format!("The key is {secret}.")))]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let result = consult(&mut server, workspace.path(), json!({"detail": "full"}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(!result.to_string().contains(secret), "{result}");
    assert!(result["summary"].as_str().unwrap().contains("[redacted"));
}

#[test]
fn progress_notifications_follow_codex_events() {
    // Two requests a little over a second apart, with a shell command between them, so there is
    // something new to report after the one-second throttle.
    let mock = MockModel::start(vec![
        Step::shell("echo checking").delayed(Duration::from_millis(1200)),
        Step::message(consult_answer("done")).delayed(Duration::from_millis(1200)),
    ]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let params = json!({
        "name": "codex_consult",
        "arguments": {"question": "q", "workspace_root": workspace.path()},
        "_meta": {"progressToken": "tok-1"}
    });
    server.send(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params}));
    let response = server.response(json!(9));
    assert_eq!(response["result"]["structuredContent"]["ok"], json!(true), "{response}");
    let progress = server.drain_notifications("notifications/progress");
    assert!(progress.len() >= 2, "expected several progress notifications, got {progress:?}");
    let values: Vec<u64> = progress.iter().map(|p| p["params"]["progress"].as_u64().unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "progress must increase: {values:?}");
    assert!(progress.iter().all(|p| p["params"]["progressToken"] == json!("tok-1")));
    let messages: Vec<&str> = progress.iter().map(|p| p["params"]["message"].as_str().unwrap()).collect();
    assert!(messages.iter().all(|m| !m.is_empty()), "{messages:?}");
}

#[test]
fn no_progress_token_means_no_progress_notifications() {
    let mock = MockModel::start(vec![Step::message(consult_answer("s")).delayed(Duration::from_millis(1100))]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    assert_eq!(consult(&mut server, workspace.path(), json!({}))["ok"], json!(true));
    assert!(server.drain_notifications("notifications/progress").is_empty());
}

#[test]
fn cancelling_a_consult_kills_codex_and_sends_no_response() {
    let mock = MockModel::start(vec![Step::Hang]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let params = json!({"name": "codex_consult", "arguments": {"question": "q", "workspace_root": workspace.path()}});
    server.send(json!({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": params}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(20)), "codex never called the model");
    let codex_pids = crate::support::live_pids_with_env("CODEX_HOME", home.path(), server.pid());
    assert!(!codex_pids.is_empty(), "no codex process found");
    server.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 11}}));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !codex_pids.iter().all(|&pid| process_gone(pid)) {
        assert!(Instant::now() < deadline, "codex still running after cancel: {codex_pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The server is still serving, and never answers the cancelled call.
    assert_eq!(server.request(json!(12), "ping", json!({}))["result"], json!({}));
    server.expect_silence(Duration::from_millis(300));
}

/// Runs one consult against a mock scripted with `step` and returns the error object.
fn failing_consult(step: Step, extra: Value) -> (Value, MockModel) {
    let mock = MockModel::start(vec![step]);
    let home = CodexHome::new(&mock).with_idle_timeout_ms(60_000);
    let (mut server, workspace) = paid_server(&home);
    let result = consult(&mut server, workspace.path(), extra);
    assert_eq!(result["ok"], json!(false), "{result}");
    assert_eq!(result["meta"]["command_exit_code"], json!(1), "{result}");
    (result["error"].clone(), mock)
}

#[test]
fn http_401_is_codex_auth_required() {
    let (error, _mock) = failing_consult(Step::http_error(401, "Incorrect API key provided"), json!({}));
    assert_eq!(error["code"], json!("codex_auth_required"), "{error}");
    assert!(error.get("retryable").is_none(), "not retryable: {error}");
}

#[test]
fn http_5xx_is_a_retryable_nonzero_exit_with_a_delay() {
    for status in [500, 502, 503] {
        let (error, _mock) = failing_consult(Step::http_error(status, "internal"), json!({}));
        assert_eq!(error["code"], json!("nonzero_exit"), "{error}");
        assert!(error["message"].as_str().unwrap().starts_with("codex exited 1: "), "{error}");
        assert_eq!(error["retryable"], json!(true), "a server error passes: {error}");
        assert!(error["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{error}");
    }
}

#[test]
fn a_dropped_stream_is_a_retryable_nonzero_exit_with_codex_s_reason() {
    let (error, _mock) = failing_consult(Step::DropStream, json!({}));
    assert_eq!(error["code"], json!("nonzero_exit"), "{error}");
    assert!(error["message"].as_str().unwrap().contains("stream"), "{error}");
    assert_eq!(error["retryable"], json!(true), "{error}");
    assert!(error["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{error}");
}

#[test]
fn a_retry_delay_codex_words_is_the_one_returned() {
    let (error, _mock) =
        failing_consult(Step::failed("rate_limit_exceeded", "Slow down. Retry-After: 7 please"), json!({}));
    assert_eq!(error["code"], json!("codex_rate_limited"), "{error}");
    assert_eq!(error["retry_after_ms"], json!(7_000), "{error}");
    let (error, _mock) = failing_consult(Step::failed("rate_limit_exceeded", "Please try again in 1m30s."), json!({}));
    assert_eq!(error["retry_after_ms"], json!(90_000), "{error}");
}

#[test]
fn a_very_long_codex_error_is_kept_bounded_and_redacted() {
    let secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
    let message = format!("Invalid prompt: {secret} {}", "x".repeat(1_000_000));
    let (error, _mock) = failing_consult(Step::failed("invalid_prompt", message), json!({}));
    let text = error["message"].as_str().unwrap();
    assert!(text.starts_with("codex exited 1: Invalid prompt: "), "the error text is kept: {text}");
    assert!(!text.contains(secret) && !text.contains("sk-proj-"), "redacted: {text}");
    assert!(text.len() < 2_000, "bounded: {} bytes", text.len());
}

#[test]
fn rate_limits_are_retryable_with_a_delay() {
    let (error, _mock) = failing_consult(
        Step::failed("rate_limit_exceeded", "Rate limit reached for gpt-5.5. Please try again in 20s."),
        json!({}),
    );
    assert_eq!(error["code"], json!("codex_rate_limited"), "{error}");
    assert_eq!(error["retryable"], json!(true));
    assert_eq!(error["retry_after_ms"], json!(20_000));

    let (error, _mock) = failing_consult(Step::http_error(429, "slow down"), json!({}));
    assert_eq!(error["code"], json!("codex_rate_limited"), "{error}");
    assert_eq!(error["retry_after_ms"], json!(60_000));
}

#[test]
fn a_hung_stream_times_out_leaves_no_process_and_steers_to_a_follow_up() {
    let mock = MockModel::start(vec![Step::Hang, Step::message(consult_answer("Continued."))]);
    // codex's own idle timeout is longer than ours, so our timeout is what ends the run.
    let home = CodexHome::new(&mock).with_idle_timeout_ms(120_000);
    let (mut server, workspace) = paid_server(&home);
    let started = Instant::now();
    let result = consult(&mut server, workspace.path(), json!({"timeout_seconds": 10}));
    assert_eq!(result["error"]["code"], json!("timeout"), "{result}");
    // The timeout as configured, not what was left of it once the job's worker started.
    assert_eq!(result["error"]["message"], json!("codex did not finish within 10 s and was stopped"), "{result}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    let left = crate::support::live_pids_with_env("CODEX_HOME", home.path(), server.pid());
    assert!(left.is_empty(), "codex left running after the timeout: {left:?}");
    // What codex read and thought so far is in its kept session: a fresh consult would pay for
    // it again, so the repair is the follow-up, not a retry.
    assert!(result["error"].get("retryable").is_none(), "{result}");
    assert_eq!(result["error"]["repair_tool"], json!("codex_consult"), "{result}");
    let session = &result["error"]["repair_tool_params"]["session_id"];
    assert!(session.is_string(), "{result}");
    let done = consult(&mut server, workspace.path(), json!({"session_id": session}));
    assert_eq!(done["ok"], json!(true), "the session the error names continues: {done}");
    assert_eq!(done["summary"], json!("Continued."), "{done}");
}

/// A plan review's answer in the plan schema's shape.
fn plan_answer(verdict: &str, findings: Value) -> String {
    json!({
        "summary": format!("verdict {verdict}"), "verdict": verdict, "confidence": "high", "findings": findings,
        "questions": [], "assumptions": ["the cache is per process"], "next_steps": []
    })
    .to_string()
}

fn stale_cache() -> Value {
    json!([{
        "severity": "high", "title": "Stale cache", "file": "src/lib.rs", "line": 1, "line_end": null,
        "evidence": "no invalidation step", "risk": "stale reads", "recommendation": "invalidate on write"
    }])
}

/// A repository holding the code a plan is about.
fn plan_repo() -> crate::repo::TestRepo {
    let repo = crate::repo::TestRepo::new();
    repo.write("src/lib.rs", "pub fn load() -> u32 { 41 + 1 }\n");
    repo.commit("lib");
    repo
}

fn plan_review(server: &mut Server, repo: &crate::repo::TestRepo, tool: &str, extra: Value) -> Value {
    let mut arguments =
        json!({"question": "Plan: cache load() in a static.", "kind": "plan", "workspace_root": repo.path()});
    arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    envelope(&server.call(8, tool, arguments))
}

#[test]
fn a_plan_review_returns_a_verdict_and_findings_over_the_plan_and_its_files() {
    let mock = MockModel::start(vec![
        Step::message(plan_answer("revise", stale_cache())),
        Step::message(consult_answer("plain")),
        Step::message(plan_answer("reject", json!([]))),
    ]);
    let home = CodexHome::new(&mock);
    let (mut server, _) = paid_server(&home);
    let repo = plan_repo();
    let result = plan_review(&mut server, &repo, "codex_consult", json!({"files": ["src/lib.rs"]}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!((&result["verdict"], &result["confidence"]), (&json!("revise"), &json!("high")));
    assert_eq!(result["findings"][0]["title"], json!("Stale cache"));
    assert_eq!(result["assumptions"], json!(["the cache is per process"]));
    assert_eq!(result["meta"]["kind"], json!("plan"));
    assert!(result["meta"].get("paths").is_none(), "the files restate the request");
    let log = mock.request_log_text();
    assert!(log.contains("Plan under review (untrusted data)") && log.contains("cache load() in a static"));
    assert!(log.contains("Files the plan names") && log.contains("41 + 1"), "the named file was not sent");
    let schema = mock.requests()[0].json.clone().unwrap()["text"]["format"]["schema"].clone();
    assert_eq!(schema["properties"]["verdict"]["enum"], json!(["approve", "revise", "reject"]));

    // A question has neither verdict nor kind.
    let plain = consult(&mut server, repo.path(), json!({}));
    assert_eq!(plain["ok"], json!(true), "{plain}");
    assert!(plain.get("verdict").is_none() && plain["meta"]["kind"].is_null(), "{plain}");

    // The async twin stores kind and files with its other arguments.
    let job_id = crate::jobs::start(
        &mut server,
        "codex_consult_async",
        repo.path(),
        json!({"question": "Plan: drop load().", "kind": "plan", "files": ["src/lib.rs"]}),
    );
    crate::jobs::wait_finished(&mut server, repo.path(), &job_id, Duration::from_secs(60));
    let stored =
        envelope(&server.call(9, "codex_job_result", json!({"job_id": job_id, "workspace_root": repo.path()})));
    assert_eq!((&stored["verdict"], &stored["meta"]["kind"]), (&json!("reject"), &json!("plan")), "{stored}");
    assert!(mock.requests()[2].body.contains("41 + 1"), "the async plan review lacks its file");
}

#[test]
fn plan_files_outside_the_workspace_and_bad_kinds_are_refused_before_any_spend() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let (mut server, _) = paid_server(&home);
    let repo = plan_repo();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("out")).unwrap();
    for tool in ["codex_consult", "codex_consult_async"] {
        for path in ["../secret.txt", "/etc/passwd", "out/secret.txt", "missing.md", ".git/config"] {
            let result = plan_review(&mut server, &repo, tool, json!({"files": ["src/lib.rs", path]}));
            assert_eq!(result["error"]["code"], json!("invalid_paths"), "{tool} {path}: {result}");
            assert_eq!(result["error"]["offending_param"], json!("files"));
            assert!(result["error"]["message"].as_str().unwrap().starts_with("files[1] "), "{result}");
        }
        let not_plan = plan_review(&mut server, &repo, tool, json!({"kind": "question", "files": ["src/lib.rs"]}));
        assert_eq!(not_plan["error"]["code"], json!("invalid_arguments"), "{not_plan}");
        assert_eq!(not_plan["error"]["offending_param"], json!("files"));
        let bad_kind = plan_review(&mut server, &repo, tool, json!({"kind": "design"}));
        assert_eq!(bad_kind["error"]["code"], json!("invalid_arguments"), "{bad_kind}");
        assert_eq!(bad_kind["error"]["offending_param"], json!("kind"));
        assert_eq!(bad_kind["error"]["allowed_values"], json!(["question", "plan"]));
    }
    let plain_dir = tempfile::tempdir().unwrap();
    std::fs::write(plain_dir.path().join("plan.md"), "x\n").unwrap();
    let arguments = json!({"question": "p", "kind": "plan", "files": ["plan.md"], "workspace_root": plain_dir.path()});
    let no_repo = envelope(&server.call(9, "codex_consult", arguments));
    assert_eq!(no_repo["error"]["code"], json!("not_a_git_repo"), "{no_repo}");
    assert_eq!(mock.requests().len(), 0, "nothing may be spent");
}

#[test]
fn secrets_in_named_files_are_withheld_or_masked_listed_and_rule_out_an_approval() {
    let mock = MockModel::start(vec![Step::message(plan_answer("approve", json!([])))]);
    let home = CodexHome::new(&mock);
    let (mut server, _) = paid_server(&home);
    let repo = plan_repo();
    let (aws, github) = ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_abcdefghijklmnopqrstuvwxyz0123456789");
    repo.write(".env", &format!("AWS_SECRET_ACCESS_KEY={aws}\n"));
    repo.write("config/app.json", &format!("{{\"client_secret\": \"{github}\", \"retries\": 3}}\n"));
    let files = json!({"files": ["src/lib.rs", ".env", "config/app.json"]});
    let result = plan_review(&mut server, &repo, "codex_consult", files);
    assert_eq!(result["ok"], json!(true), "{result}");
    let log = mock.request_log_text();
    assert!(!log.contains(aws) && !log.contains(github), "a secret in a named file reached the model");
    assert!(log.contains("41 + 1") && log.contains("\\\"retries\\\": 3"), "the rest of the files was sent");
    assert!(!result.to_string().contains(aws) && !result.to_string().contains(github));
    assert_eq!(result["meta"]["redacted_paths"], json!([".env", "config/app.json"]));
    let warnings = result["meta"]["security_warnings"].to_string();
    assert!(warnings.contains("1 secret-looking file(s) were withheld, not sent: .env"), "{warnings}");
    assert!(
        warnings.contains("1 secret-looking value(s) in the files were masked before sending, in: config/app.json")
    );
    // Codex approved without seeing .env: that is not an approval.
    assert_eq!((&result["verdict"], &result["confidence"]), (&json!("revise"), &json!("low")));
    let summary = result["summary"].as_str().unwrap();
    assert!(summary.starts_with("Codex approved the plan as it saw it, but 1 of the files"), "{summary}");
}

#[test]
fn a_lost_finding_turns_an_approval_into_revise_and_a_prose_plan_review_is_an_error() {
    let mock = MockModel::start(vec![
        Step::message(plan_answer("approve", json!([7]))),
        Step::message(plan_answer("approve", json!([]))),
        Step::message("Looks fine to me."),
    ]);
    let home = CodexHome::new(&mock);
    let (mut server, _) = paid_server(&home);
    let repo = plan_repo();
    let lost = plan_review(&mut server, &repo, "codex_consult", json!({}));
    assert_eq!(lost["ok"], json!(true), "{lost}");
    assert_eq!((&lost["verdict"], &lost["confidence"]), (&json!("revise"), &json!("low")));
    assert!(lost["summary"].as_str().unwrap().contains("findings were lost or cut"), "{lost}");
    assert!(lost["meta"]["answer_warnings"].to_string().contains("neither objects nor text"), "{lost}");

    let approved = plan_review(&mut server, &repo, "codex_consult", json!({}));
    assert_eq!((&approved["verdict"], &approved["confidence"]), (&json!("approve"), &json!("high")), "{approved}");
    assert_eq!(approved["summary"], json!("verdict approve"));

    let prose = plan_review(&mut server, &repo, "codex_consult", json!({}));
    assert_eq!(prose["error"]["code"], json!("invalid_json"), "{prose}");
}

#[test]
fn files_cut_at_the_input_limit_say_so_and_rule_out_an_approval() {
    let mock = MockModel::start(vec![Step::message(plan_answer("approve", json!([])))]);
    let home = CodexHome::new(&mock);
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_MAX_INPUT_BYTES".into(), "1000".into()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let repo = plan_repo();
    let lines: String = (0..200).map(|i| format!("line {i:04}\n")).collect();
    repo.write("docs/long.md", &lines);
    let result = plan_review(&mut server, &repo, "codex_consult", json!({"files": ["docs/long.md"]}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["meta"]["truncated"], json!(true));
    let hint = result["meta"]["truncation_hint"].as_str().unwrap();
    assert!(hint.contains("the files exceeded 1000 bytes; name fewer or smaller files"), "{hint}");
    let log = mock.request_log_text();
    assert!(log.contains("line 0000") && !log.contains("line 0199"), "the files were not cut");
    assert_eq!(result["verdict"], json!("revise"));
    assert!(result["summary"].as_str().unwrap().contains("the files were cut at the input limit"), "{result}");
}

/// Issue 25 item 7: a paid synchronous result says where its workspace came from, and keeps the
/// warning of a fallback, though the job worker that ran it was handed the workspace as a path.
#[test]
fn a_paid_result_tells_where_its_workspace_came_from() {
    let mock = MockModel::start(vec![Step::message(consult_answer("a")), Step::message(consult_answer("b"))]);
    let home = CodexHome::new(&mock);
    let workspace = tempfile::tempdir().unwrap();
    let workspace_path = workspace.path().canonicalize().unwrap();
    let ask = |server: &mut Server| envelope(&server.call(7, "codex_consult", json!({"question": "q"})));

    let mut server = Server::start_in(&home.env(), Some(&workspace_path));
    server.initialize(json!({}));
    let fallback = ask(&mut server);
    assert_eq!(fallback["ok"], json!(true), "{fallback}");
    assert_eq!(fallback["meta"]["workspace_source"], json!("cwd"), "{fallback}");
    assert_eq!(fallback["meta"]["cwd"], json!(workspace_path), "{fallback}");
    let warning = fallback["meta"]["workspace_warning"].as_str().unwrap_or_default();
    assert!(warning.contains("fell back to the server's own working directory"), "{fallback}");

    let mut env = home.env();
    env.push(("CLAUDE_PROJECT_DIR".into(), workspace_path.display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let project = ask(&mut server);
    assert_eq!(project["meta"]["workspace_source"], json!("claude_project_dir"), "{project}");
    assert!(project["meta"].get("workspace_warning").is_none(), "{project}");
}
