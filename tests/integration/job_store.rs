//! The job store keeps every paid result until it was delivered (issue 25): one terminal status
//! per job whatever races it, the cap never evicting an undelivered result, a run that notices
//! its state deleted, and a list that pages with a preview of each job.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::jobs::{Setup, call, start, wait_finished};
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::support::{Server, binary, envelope};

/// `codex-in-claude jobs ARGS` run in `workspace` with the setup's environment: its envelope.
fn shell(setup: &Setup, workspace: &Path, args: &[&str]) -> Value {
    let output = Command::new(binary())
        .args(args)
        .current_dir(workspace)
        .env_clear()
        .envs(setup.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| json!({"unparsed": String::from_utf8_lossy(&output.stdout)}))
}

const CANCEL_ROUNDS: usize = 20;

#[test]
fn a_cancel_racing_status_polls_always_ends_cancelled() {
    let mock = MockModel::start((0..CANCEL_ROUNDS).map(|_| Step::Hang).collect());
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    for round in 0..CANCEL_ROUNDS {
        let job_id =
            start(&mut server, "codex_consult_async", workspace.path(), json!({"question": format!("q{round}")}));
        assert!(mock.wait_for_requests(round + 1, Duration::from_secs(60)), "round {round}: codex never called");
        // Pollers in other processes judge the job while the cancel stops its worker.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let seen = std::thread::scope(|scope| {
            let pollers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut seen = Vec::new();
                        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                            let status = shell(&setup, workspace.path(), &["jobs", "status", &job_id]);
                            seen.push(status["status"].clone());
                        }
                        seen
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(50));
            let cancelled =
                call(&mut server, "codex_job_cancel", json!({"job_id": job_id, "workspace_root": workspace.path()}));
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let seen: Vec<Value> = pollers.into_iter().flat_map(|p| p.join().unwrap()).collect();
            assert_eq!(cancelled["status"], json!("cancelled"), "round {round}: {cancelled}");
            seen
        });
        for status in seen.iter().filter(|s| !s.is_null()) {
            assert!(status == "running" || status == "cancelled", "round {round}: a poll saw {status}");
        }
        let after = wait_finished(&mut server, workspace.path(), &job_id, Duration::from_secs(10));
        assert_eq!(after["status"], json!("cancelled"), "round {round}: {after}");
    }
}

/// `count` background consults started and finished, their results never fetched.
fn undelivered_results(server: &mut Server, workspace: &Path, count: usize) -> Vec<String> {
    let job_ids: Vec<String> = (0..count)
        .map(|i| start(server, "codex_consult_async", workspace, json!({"question": format!("background {i}")})))
        .collect();
    for job_id in &job_ids {
        assert_eq!(wait_finished(server, workspace, job_id, Duration::from_secs(120))["status"], json!("done"));
    }
    job_ids
}

/// The eviction race: a synchronous consult runs while another server fires a start the moment
/// the consult's result lands (before its waiter can have read it). At the default cap and at a
/// cap of 2, already filled with results nobody fetched, every call gets its answer and no
/// unfetched result is evicted.
#[test]
fn a_start_fired_as_a_sync_result_lands_evicts_no_undelivered_result() {
    const ROUNDS: usize = 4;
    for (cap, filled) in [(2, 2), (50, 50)] {
        let answers = (0..filled + 2 * ROUNDS).map(|i| Step::message(consult_answer(&format!("answer {i}"))));
        let mock = MockModel::start(answers.collect());
        let home = CodexHome::new(&mock);
        let cap_value = cap.to_string();
        let extra: Vec<(&str, &str)> =
            if cap == 50 { Vec::new() } else { vec![("CODEX_IN_CLAUDE_JOB_MAX_COUNT", cap_value.as_str())] };
        let setup = Setup::real(&home, &extra);
        let workspace = tempfile::tempdir().unwrap();
        let mut waiter = setup.server();
        let mut other = setup.server();
        let unfetched = undelivered_results(&mut other, workspace.path(), filled);
        let store = crate::jobs::workspace_dir_in(setup.state.path());
        for round in 0..ROUNDS {
            let question = format!("sync {round}");
            let params = json!({"name": "codex_consult", "arguments": {"question": question, "workspace_root": workspace.path()}});
            waiter.send(json!({"jsonrpc": "2.0", "id": 900, "method": "tools/call", "params": params}));
            // The moment a synchronous run's result is on disk, the other server starts a job.
            let landed = std::time::Instant::now() + Duration::from_secs(120);
            loop {
                let sync_done = std::fs::read_dir(&store).unwrap().flatten().any(|entry| {
                    let spec = std::fs::read(entry.path().join("spec.json")).unwrap_or_default();
                    let spec: Value = serde_json::from_slice(&spec).unwrap_or(Value::Null);
                    spec["arguments"]["question"] == json!(question) && entry.path().join("result.json").exists()
                });
                if sync_done {
                    break;
                }
                assert!(std::time::Instant::now() < landed, "cap {cap} round {round}: the sync run never finished");
            }
            let started = call(
                &mut other,
                "codex_consult_async",
                json!({"question": format!("racer {round}"), "workspace_root": workspace.path()}),
            );
            assert_eq!(started["ok"], json!(true), "{started}");
            let answer = envelope(&waiter.response(json!(900))["result"]);
            assert_eq!(answer["ok"], json!(true), "cap {cap} round {round}: the paid answer was lost: {answer}");
        }
        for job_id in &unfetched {
            let result =
                call(&mut other, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
            assert_eq!(result["ok"], json!(true), "cap {cap}: an unfetched result was evicted: {result}");
        }
    }
}

/// Past the cap, delivered records go (the longest delivered first); a result fetched with
/// `codex_job_result` says when it was delivered.
#[test]
fn past_the_cap_only_delivered_records_are_evicted() {
    let mock = MockModel::start((0..5).map(|i| Step::message(consult_answer(&format!("a{i}")))).collect());
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[("CODEX_IN_CLAUDE_JOB_MAX_COUNT", "2")]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let jobs = undelivered_results(&mut server, workspace.path(), 3);
    let fetched = call(&mut server, "codex_job_result", json!({"job_id": jobs[0], "workspace_root": workspace.path()}));
    assert_eq!(fetched["ok"], json!(true), "{fetched}");
    let status = call(&mut server, "codex_job_status", json!({"job_id": jobs[0], "workspace_root": workspace.path()}));
    assert!(status["delivered_at"].is_string(), "{status}");
    let status = call(&mut server, "codex_job_status", json!({"job_id": jobs[1], "workspace_root": workspace.path()}));
    assert!(status.get("delivered_at").is_none_or(Value::is_null), "{status}");
    // A fourth start is over the cap: the one delivered record goes, the unfetched stay.
    let fourth = undelivered_results(&mut server, workspace.path(), 1);
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path()}));
    let mut kept: Vec<&str> =
        listed["jobs"].as_array().unwrap().iter().map(|j| j["job_id"].as_str().unwrap()).collect();
    kept.sort_unstable();
    let mut expected = vec![jobs[1].as_str(), jobs[2].as_str(), fourth[0].as_str()];
    expected.sort_unstable();
    assert_eq!(kept, expected, "{listed}");
}

/// The state directory deleted while a synchronous consult runs (a cache cleaner, the README's
/// uninstall line): the worker puts its record back, the caller gets the paid answer and is told.
#[test]
fn a_state_dir_removed_mid_run_is_recreated_and_the_answer_kept() {
    let mock = MockModel::start(vec![Step::message(consult_answer("Kept anyway.")).delayed(Duration::from_secs(3))]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let params = json!({"name": "codex_consult", "arguments": {"question": "q", "workspace_root": workspace.path()}});
    server.send(json!({"jsonrpc": "2.0", "id": 901, "method": "tools/call", "params": params}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(60)), "codex never called the model");
    // As `rm -rf` would, again while the worker writes into it (a removal can race a new file).
    let mut removal = std::fs::remove_dir_all(setup.state.path());
    for _ in 0..20 {
        if removal.is_ok() {
            break;
        }
        removal = std::fs::remove_dir_all(setup.state.path());
    }
    removal.unwrap();
    let answer = envelope(&server.response(json!(901))["result"]);
    assert_eq!(answer["ok"], json!(true), "{answer}");
    assert_eq!(answer["summary"], json!("Kept anyway."));
    let warnings = answer["meta"]["state_warnings"].to_string();
    assert!(warnings.contains("recreated"), "the caller is told: {answer}");
    assert_eq!(mock.requests().len(), 1, "one run, one model call");
    let job_id = answer["meta"]["job_id"].as_str().unwrap();
    let kept = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
    assert_eq!(kept["summary"], json!("Kept anyway."), "{kept}");
}

/// 45 records: the list pages newest first with a total, and each job shows a short, redacted
/// preview of its question.
#[test]
fn the_job_list_pages_with_a_total_and_a_redacted_preview() {
    let setup = Setup::fake(&[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let secret = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd";
    let mut started = Vec::new();
    for i in 0..45 {
        let question =
            format!("question {i}: why does the login fail with key {secret} {}", "and more words ".repeat(20));
        started.push(start(&mut server, "codex_consult_async", workspace.path(), json!({"question": question})));
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut seen = Vec::new();
    let mut offset = json!(0);
    while let Some(at) = offset.as_u64() {
        let page =
            call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path(), "offset": at, "limit": 20}));
        assert_eq!(page["ok"], json!(true), "{page}");
        assert_eq!(page["total"], json!(45), "{page}");
        for job in page["jobs"].as_array().unwrap() {
            let preview = job["preview"].as_str().unwrap();
            assert!(preview.starts_with("question "), "{preview}");
            assert!(preview.chars().count() <= 80, "{preview}");
            assert!(!preview.contains("AbCdEfGh"), "a secret in the preview: {preview}");
            seen.push(job["job_id"].as_str().unwrap().to_string());
        }
        offset = page["next_offset"].clone();
    }
    started.reverse();
    assert_eq!(seen, started, "every job once, newest first");
}

/// The state directory removed as codex ends (after the worker's last look at its record,
/// before the result is stored): the worker puts the record back as it stores the result, so
/// the paid answer is kept and the caller told, not `job_not_found` after 5 s.
#[test]
fn a_state_dir_removed_as_codex_ends_is_recreated_and_the_answer_kept() {
    let mut setup = Setup::fake(&[]);
    let removed = setup.state.path().display().to_string();
    setup.env.push(("FAKE_CODEX_REMOVE".into(), removed));
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let answer = call(&mut server, "codex_consult", json!({"question": "q", "workspace_root": workspace.path()}));
    assert_eq!(answer["ok"], json!(true), "{answer}");
    assert_eq!(answer["summary"], json!("fake answer"), "{answer}");
    assert!(answer["meta"]["state_warnings"].to_string().contains("recreated"), "the caller is told: {answer}");
}

/// Records past their TTL go at server start, in the background, though no list or status
/// reads them (a start reads no record, so nothing else would).
#[test]
fn expired_records_are_swept_at_server_start() {
    let setup = Setup::fake(&[("CODEX_IN_CLAUDE_JOB_TTL", "5")]);
    let workspace = tempfile::tempdir().unwrap();
    let job_id = {
        let mut server = setup.server();
        let job_id = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": "q"}));
        wait_finished(&mut server, workspace.path(), &job_id, Duration::from_secs(60));
        job_id
    };
    let dir = setup.job_dir(&job_id);
    assert!(dir.exists());
    std::thread::sleep(Duration::from_secs(6));
    let _server = setup.server();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while dir.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!dir.exists(), "an expired record outlived a server start");
}

/// `jobs ARGS` from a shell, given `limit` to answer: `None` when it did not (it is killed).
fn shell_within(setup: &Setup, workspace: &Path, args: &[&str], limit: Duration) -> Option<Value> {
    use wait_timeout::ChildExt as _;
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(workspace)
        .env_clear()
        .envs(setup.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if child.wait_timeout(limit).unwrap().is_none() {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    Some(serde_json::from_slice(&stdout).unwrap_or_else(|_| json!({"unparsed": String::from_utf8_lossy(&stdout)})))
}

/// A FIFO, a huge file or garbage in place of a delivery mark: status, list and a start past
/// the cap answer at once (the mark is not read, so the job reads undelivered and is kept).
#[test]
fn odd_files_in_place_of_a_delivery_mark_block_no_reader() {
    let setup = Setup::fake(&[("CODEX_IN_CLAUDE_JOB_MAX_COUNT", "1")]);
    let workspace = tempfile::tempdir().unwrap();
    let answer = shell(&setup, workspace.path(), &["consult", "q"]);
    let job_id = answer["meta"]["job_id"].as_str().unwrap_or_else(|| panic!("{answer}")).to_string();
    let mark = crate::jobs::workspace_dir_in(setup.state.path()).join("delivered").join(format!("{job_id}.json"));
    assert!(mark.exists(), "the waiter marked its result delivered");
    for what in ["fifo", "huge", "garbage"] {
        std::fs::remove_file(&mark).unwrap();
        match what {
            "fifo" => assert!(Command::new("mkfifo").arg(&mark).status().unwrap().success()),
            "huge" => std::fs::write(&mark, vec![b'{'; 3 << 20]).unwrap(),
            _ => std::fs::write(&mark, b"\xff\xfe{\"delivered_epoch_ms\":").unwrap(),
        }
        for args in [vec!["jobs", "status", &job_id], vec!["jobs", "list"], vec!["consult", "q2"]] {
            let answered = shell_within(&setup, workspace.path(), &args, Duration::from_secs(20));
            let answered = answered.unwrap_or_else(|| panic!("{args:?} blocked on a {what} mark"));
            assert_eq!(answered["ok"], json!(true), "{what}: {args:?}: {answered}");
        }
        let status = shell(&setup, workspace.path(), &["jobs", "status", &job_id]);
        assert_eq!((&status["status"], &status["delivered_at"]), (&json!("done"), &Value::Null), "{what}: {status}");
    }
}
