//! A codex that goes silent: reported as stalled after CODEX_IN_CLAUDE_STALL_WARN_SECONDS (in
//! progress notifications and a job's activity), stopped after CODEX_IN_CLAUDE_STALL_KILL_SECONDS
//! as `codex_stalled`, with the reason kept in the sync answer and in the job's result.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::jobs::{Setup, call, start, wait_finished};
use crate::mock_model::{MockModel, Step};
use crate::support::{Server, envelope, live_pids_with_env};

const STALL: [(&str, &str); 2] =
    [("CODEX_IN_CLAUDE_STALL_WARN_SECONDS", "1"), ("CODEX_IN_CLAUDE_STALL_KILL_SECONDS", "3")];

/// A consult with a progress token: the answer, and the progress notifications sent before it.
fn consult_with_progress(server: &mut Server, workspace: &std::path::Path) -> (Value, Vec<Value>) {
    let params = json!({
        "name": "codex_consult",
        "arguments": {"question": "q", "workspace_root": workspace, "timeout_seconds": 60},
        "_meta": {"progressToken": "tok-stall"}
    });
    server.send(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}));
    let answer = envelope(&server.response(json!(7))["result"]);
    (answer, server.drain_notifications("notifications/progress"))
}

fn assert_stall_reported_then_stopped(answer: &Value, progress: &[Value], took: Duration) {
    assert_eq!(answer["error"]["code"], json!("codex_stalled"), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("no event for 3 s"), "{answer}");
    // A stalled consult keeps its session: the way on is a follow-up of it, not a paid retry
    // from scratch (the summary view leaves out `retryable: false`).
    assert_ne!(answer["error"]["retryable"], json!(true), "{answer}");
    assert_eq!(answer["error"]["repair_tool"], json!("codex_consult"), "{answer}");
    assert!(took < Duration::from_secs(20), "stopped at the stall limit, not the timeout: {took:?}");
    let stalled: Vec<&Value> =
        progress.iter().filter(|p| p["params"]["message"].as_str().unwrap().starts_with("stalled:")).collect();
    // A slow start under load may make an earlier, shorter silent spell too; a spell reported
    // twice would repeat its progress value, which the check below refuses.
    assert!(!stalled.is_empty(), "no stall report: {progress:?}");
    let values: Vec<f64> = progress.iter().map(|p| p["params"]["progress"].as_f64().unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "progress must increase: {values:?}");
}

#[test]
fn a_silent_real_codex_is_reported_stalled_then_stopped() {
    let mock = MockModel::start(vec![Step::Hang]);
    let home = CodexHome::new(&mock).with_idle_timeout_ms(120_000);
    let setup = Setup::real(&home, &STALL);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let began = Instant::now();
    let (answer, progress) = consult_with_progress(&mut server, workspace.path());
    assert_stall_reported_then_stopped(&answer, &progress, began.elapsed());
    assert!(live_pids_with_env("CODEX_HOME", home.path(), server.pid()).is_empty(), "codex was not stopped");
}

#[test]
fn a_silent_job_shows_stalled_activity_and_keeps_why_it_was_stopped() {
    let setup = Setup::fake(&[STALL[0], STALL[1], ("FAKE_CODEX_EXEC", "hang")]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();

    let began = Instant::now();
    let (answer, progress) = consult_with_progress(&mut server, workspace.path());
    assert_stall_reported_then_stopped(&answer, &progress, began.elapsed());

    let job_id = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": "q"}));
    let deadline = Instant::now() + Duration::from_secs(20);
    let stalled = loop {
        let status =
            call(&mut server, "codex_job_status", json!({"job_id": job_id, "workspace_root": workspace.path()}));
        if status["activity"]["stalled"].is_string() {
            break status;
        }
        assert!(Instant::now() < deadline, "never reported stalled: {status}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(stalled["status"], json!("running"), "{stalled}");
    assert!(stalled["activity"]["stalled"].as_str().unwrap().contains("no event from codex"), "{stalled}");
    assert!(stalled["activity"]["stalled_since"].is_string());
    assert!(stalled["activity"]["last_event"].is_string(), "the last event is kept beside the stall: {stalled}");

    let ended = wait_finished(&mut server, workspace.path(), &job_id, Duration::from_secs(20));
    assert_eq!((&ended["status"], &ended["result_ok"]), (&json!("done"), &json!(false)), "{ended}");
    let result = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
    assert_eq!(result["error"]["code"], json!("codex_stalled"), "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("no event for 3 s"), "{result}");
}
