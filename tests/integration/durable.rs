//! Every paid run is durable (issue 15): a synchronous call's run is a job that outlives its
//! server, is listed and fetched like any job, and is stopped (leaving nothing) only by a cancel;
//! `idempotency_key` replays a run instead of paying for it twice.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::jobs::{Setup, call, wait_finished};
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::support::{Server, live_pids_with_env, process_gone};

/// Sends a `codex_consult` call without waiting for its response.
fn send_consult(server: &mut Server, id: i64, workspace: &Path, extra: Value) {
    let mut arguments = json!({"question": "Is unwrap OK here?", "workspace_root": workspace});
    arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let params = json!({"name": "codex_consult", "arguments": arguments});
    server.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}));
}

fn consult(server: &mut Server, workspace: &Path, extra: Value) -> Value {
    send_consult(server, 7, workspace, extra);
    crate::support::envelope(&server.response(json!(7))["result"])
}

/// How the server goes away while its call's run is in flight.
#[derive(Debug, Clone, Copy)]
enum Exit {
    StdinClosed,
    Sigterm,
    Sigkill,
}

#[test]
fn a_sync_consult_outlives_its_server_and_is_found_finished_by_the_next() {
    for exit in [Exit::StdinClosed, Exit::Sigterm, Exit::Sigkill] {
        let mock = MockModel::start(vec![Step::message(consult_answer("Kept.")).delayed(Duration::from_secs(2))]);
        let home = CodexHome::new(&mock);
        let setup = Setup::real(&home, &[]);
        let workspace = tempfile::tempdir().unwrap();
        let mut first = setup.server();
        send_consult(&mut first, 7, workspace.path(), json!({}));
        assert!(mock.wait_for_requests(1, Duration::from_secs(30)), "{exit:?}: codex never called the model");
        let mut told = None;
        match exit {
            Exit::StdinClosed => {
                assert_eq!(first.close().code(), Some(0), "{exit:?}");
                // The client may still read: it is told where the run went.
                let answer = crate::support::envelope(&first.response(json!(7))["result"]);
                assert_eq!(answer["error"]["code"], json!("job_running"), "{answer}");
                assert_eq!(answer["error"]["repair_tool"], json!("codex_job_status"), "{answer}");
                told = Some(answer["meta"]["job_id"].clone());
            }
            Exit::Sigterm => {
                let status = Command::new("kill").arg("-TERM").arg(first.pid().to_string()).status().unwrap();
                assert!(status.success());
                first.close();
            }
            Exit::Sigkill => first.kill(),
        }

        let mut second = setup.server();
        let listed = call(&mut second, "codex_job_list", json!({"workspace_root": workspace.path()}));
        assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{exit:?}: {listed}");
        assert_eq!(listed["jobs"][0]["kind"], json!("codex_consult"), "{exit:?}: {listed}");
        let job_id = listed["jobs"][0]["job_id"].as_str().unwrap().to_string();
        if let Some(told) = told {
            assert_eq!(told, json!(job_id), "the answer at exit names the job");
        }
        let status = wait_finished(&mut second, workspace.path(), &job_id, Duration::from_secs(60));
        assert_eq!(status["status"], json!("done"), "{exit:?}: {status}");
        let result = call(
            &mut second,
            "codex_job_result",
            json!({"job_id": job_id, "workspace_root": workspace.path(), "detail": "full"}),
        );
        assert_eq!(result["ok"], json!(true), "{exit:?}: {result}");
        assert_eq!(result["tool"], json!("codex_consult"));
        assert_eq!(result["summary"], json!("Kept."));
        assert_eq!(result["meta"]["job_id"], json!(job_id));
        assert_eq!(mock.requests().len(), 1, "{exit:?}: one run, one model call");
    }
}

#[test]
fn a_sync_result_names_its_job_and_stays_fetchable() {
    let mock = MockModel::start(vec![Step::message(consult_answer("Once."))]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let answer = consult(&mut server, workspace.path(), json!({}));
    assert_eq!(answer["ok"], json!(true), "{answer}");
    assert!(answer["meta"].get("replayed").is_none(), "not replayed: {answer}");
    let job_id = answer["meta"]["job_id"].as_str().expect("a sync result names its job").to_string();
    let left = live_pids_with_env("CODEX_HOME", home.path(), server.pid());
    assert!(left.is_empty(), "a returned call leaves no process: {left:?}");
    let kept = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
    assert_eq!(kept["summary"], json!("Once."), "{kept}");
    let status = call(&mut server, "codex_job_status", json!({"job_id": job_id, "workspace_root": workspace.path()}));
    assert_eq!(status["kind"], json!("codex_consult"));
    assert!(status["expires_at"].is_string(), "kept until its TTL: {status}");
}

#[test]
fn a_retry_with_the_same_idempotency_key_replays_the_run_without_a_model_call() {
    let mock = MockModel::start(vec![Step::message(consult_answer("Paid once.")), Step::message(consult_answer("x"))]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let key = json!({"idempotency_key": "retry-1", "detail": "full"});
    let first = consult(&mut server, workspace.path(), key.clone());
    assert_eq!(first["ok"], json!(true), "{first}");
    assert_eq!(mock.requests().len(), 1);

    // A new server, as after a client restart: the same call is answered from the record.
    let mut server = setup.server();
    let again = consult(&mut server, workspace.path(), key.clone());
    assert_eq!(again["ok"], json!(true), "{again}");
    assert_eq!(again["summary"], json!("Paid once."));
    assert_eq!(again["meta"]["replayed"], json!(true));
    assert_eq!(again["meta"]["job_id"], first["meta"]["job_id"]);
    assert_eq!(again["session_id"], first["session_id"], "the same run's session");
    assert_eq!(mock.requests().len(), 1, "a replay makes no model call");

    // The same key with other arguments, or from another tool, is refused by name.
    let other = consult(&mut server, workspace.path(), json!({"idempotency_key": "retry-1", "question": "Other?"}));
    assert_eq!(other["error"]["code"], json!("invalid_arguments"), "{other}");
    assert_eq!(other["error"]["offending_param"], json!("idempotency_key"));
    let twin = call(
        &mut server,
        "codex_consult_async",
        json!({"question": "Is unwrap OK here?", "workspace_root": workspace.path(), "idempotency_key": "retry-1"}),
    );
    assert_eq!(twin["error"]["offending_param"], json!("idempotency_key"), "{twin}");
    assert_eq!(mock.requests().len(), 1, "a refused key spends nothing");

    // The key is stored nowhere: only its digest names the job.
    for entry in walk(setup.state.path()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&text).contains("retry-1"), "{} holds the key", entry.display());
    }
}

#[test]
fn an_async_start_with_a_known_key_returns_the_same_job() {
    let mock = MockModel::start(vec![Step::message(consult_answer("bg")), Step::message(consult_answer("x"))]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let arguments = json!({"question": "q", "workspace_root": workspace.path(), "idempotency_key": "bg-1"});
    let first = call(&mut server, "codex_consult_async", arguments.clone());
    assert_eq!(first["ok"], json!(true), "{first}");
    let job_id = first["job_id"].as_str().unwrap().to_string();
    wait_finished(&mut server, workspace.path(), &job_id, Duration::from_secs(60));
    let again = call(&mut server, "codex_consult_async", arguments);
    assert_eq!(again["job_id"], json!(job_id), "{again}");
    assert_eq!(again["status"], json!("done"));
    assert_eq!(again["meta"]["replayed"], json!(true));
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn concurrent_calls_with_one_key_share_one_run_from_several_servers() {
    let mock = MockModel::start(vec![
        Step::message(consult_answer("Shared.")).delayed(Duration::from_secs(2)),
        Step::message(consult_answer("a second run")),
        Step::message(consult_answer("a third run")),
    ]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let (env, workspace) = (setup.env.clone(), workspace.path().to_path_buf());
            std::thread::spawn(move || {
                let mut server = Server::start(&env);
                server.initialize(json!({}));
                consult(&mut server, &workspace, json!({"idempotency_key": "together"}))
            })
        })
        .collect();
    let answers: Vec<Value> = callers.into_iter().map(|c| c.join().unwrap()).collect();
    for answer in &answers {
        assert_eq!(answer["ok"], json!(true), "{answers:?}");
        assert_eq!(answer["summary"], json!("Shared."), "{answers:?}");
        assert_eq!(answer["meta"]["job_id"], answers[0]["meta"]["job_id"]);
    }
    assert_eq!(answers.iter().filter(|a| a["meta"].get("replayed").is_none()).count(), 1, "{answers:?}");
    assert_eq!(mock.requests().len(), 1, "exactly one run started");
}

#[test]
fn cancelling_a_call_that_replays_a_run_leaves_that_run_to_its_starter() {
    let mock = MockModel::start(vec![Step::message(consult_answer("Shared.")).delayed(Duration::from_secs(3))]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let (mut starter, mut retrier) = (setup.server(), setup.server());
    send_consult(&mut starter, 7, workspace.path(), json!({"idempotency_key": "mine"}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(30)), "codex never called the model");
    send_consult(&mut retrier, 8, workspace.path(), json!({"idempotency_key": "mine"}));
    std::thread::sleep(Duration::from_millis(300));
    retrier.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 8}}));
    let answer = crate::support::envelope(&starter.response(json!(7))["result"]);
    assert_eq!(answer["ok"], json!(true), "the retrier's cancel stopped the starter's run: {answer}");
    assert_eq!(answer["summary"], json!("Shared."));
    assert_eq!(mock.requests().len(), 1);
    retrier.expect_silence(Duration::from_millis(300));
}

#[test]
fn cancelling_a_sync_delegate_leaves_nothing_behind() {
    let mock = MockModel::start(vec![Step::Hang]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let repo = TestRepo::new();
    let worktrees_before = repo.git(&["worktree", "list", "--porcelain"]);
    let mut server = setup.server();
    let params = json!({"name": "codex_delegate", "arguments": {"task": "t", "workspace_root": repo.path()}});
    server.send(json!({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": params}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(30)), "codex never called the model");
    let pids = live_pids_with_env("CODEX_HOME", home.path(), server.pid());
    assert!(!pids.is_empty(), "no worker or codex process found");
    server.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 11}}));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !pids.iter().all(|&pid| process_gone(pid)) {
        assert!(Instant::now() < deadline, "still running after cancel: {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The record goes right after the worker: the call deletes it once the stop is recorded.
    loop {
        let listed = call(&mut server, "codex_job_list", json!({"workspace_root": repo.path()}));
        if listed.get("jobs").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "a record is left: {listed}");
        std::thread::sleep(Duration::from_millis(50));
    }
    setup.assert_no_worktree_left();
    assert_eq!(repo.git(&["worktree", "list", "--porcelain"]), worktrees_before);
    let left = live_pids_with_env("CODEX_HOME", home.path(), server.pid());
    assert!(left.is_empty(), "processes left: {left:?}");
    // Still serving, and the cancelled call is never answered.
    assert_eq!(server.request(json!(12), "ping", json!({}))["result"], json!({}));
    server.expect_silence(Duration::from_millis(300));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        files.push(path.clone());
        if path.is_dir() {
            files.extend(walk(&path));
        }
    }
    files
}
