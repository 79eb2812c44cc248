//! Background jobs end to end: the `_async` tools start a detached worker that runs the real
//! pinned codex against the mock model; the `codex_job_*` tools (and `jobs` from the shell) poll,
//! fetch, consume and cancel it — across server restarts, under deadlines, kills and load.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::support::{Server, binary, envelope, fake_codex_dir, live_pids_with_env, path_with, process_gone};

/// Where a test's jobs and worktrees live, and the server environment that points there.
pub(crate) struct Setup {
    pub state: tempfile::TempDir,
    worktrees: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Setup {
    fn new(codex_env: Vec<(String, String)>, extra: &[(&str, &str)]) -> Setup {
        let (state, worktrees) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut env = codex_env;
        env.push(("CODEX_IN_CLAUDE_STATE_DIR".into(), state.path().display().to_string()));
        env.push(("CODEX_IN_CLAUDE_WORKTREE_BASE".into(), worktrees.path().display().to_string()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Setup { state, worktrees, env }
    }

    pub fn real(home: &CodexHome, extra: &[(&str, &str)]) -> Setup {
        Setup::new(home.env(), extra)
    }

    pub fn fake(extra: &[(&str, &str)]) -> Setup {
        Setup::new(vec![("PATH".into(), path_with(&fake_codex_dir()))], extra)
    }

    pub fn server(&self) -> Server {
        let mut server = Server::start(&self.env);
        server.initialize(json!({}));
        server
    }

    /// The one job directory in the state dir (tests that start one job); the state dir's
    /// `sessions` directory holds session records, not jobs.
    pub fn job_dir(&self, job_id: &str) -> PathBuf {
        job_dir_in(self.state.path(), job_id)
    }

    pub(crate) fn assert_no_worktree_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.worktrees.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "worktrees left behind: {left:?}");
    }
}

/// The one workspace directory of `state`, beside what else the state directory keeps (the
/// `sessions` directory, the kept flag probe file).
pub(crate) fn workspace_dir_in(state: &Path) -> PathBuf {
    let mut entries = std::fs::read_dir(state).unwrap().flatten();
    let workspace = entries.find(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != "sessions");
    workspace.expect("a workspace directory").path()
}

/// `job_id`'s directory in the one workspace directory of `state`.
pub(crate) fn job_dir_in(state: &Path, job_id: &str) -> PathBuf {
    workspace_dir_in(state).join(job_id)
}

pub(crate) fn call(server: &mut Server, tool: &str, arguments: Value) -> Value {
    envelope(&server.call(41, tool, arguments))
}

pub(crate) fn start(server: &mut Server, tool: &str, workspace: &Path, extra: Value) -> String {
    let mut arguments = json!({"workspace_root": workspace});
    arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let started = call(server, tool, arguments);
    assert_eq!(started["ok"], json!(true), "{started}");
    assert_eq!(started["status"], json!("running"));
    assert!(started["meta"].get("job_id").is_none(), "the job id is said once, at the top: {started}");
    started["job_id"].as_str().unwrap().to_string()
}

/// Polls `codex_job_status` until the job is no longer running.
pub(crate) fn wait_finished(server: &mut Server, workspace: &Path, job_id: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let status = call(server, "codex_job_status", json!({"job_id": job_id, "workspace_root": workspace}));
        assert_eq!(status["ok"], json!(true), "{status}");
        if status["status"] != json!("running") {
            return status;
        }
        assert!(Instant::now() < deadline, "job still running: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fake-codex setup, its workspace and server, and one consult job there, finished.
fn finished_fake_job() -> (Setup, tempfile::TempDir, Server, String) {
    let setup = Setup::fake(&[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let job_id = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": "q"}));
    wait_finished(&mut server, workspace.path(), &job_id, Duration::from_secs(20));
    (setup, workspace, server, job_id)
}

const PATCH: &str = "*** Begin Patch\n*** Add File: added.txt\n+from a background job\n*** End Patch";

#[test]
fn a_delegate_job_outlives_its_server_and_is_consumed_exactly_once() {
    let mock = MockModel::start(vec![Step::apply_patch(PATCH), Step::message("Added added.txt.")]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let repo = TestRepo::new();
    let before = repo.git(&["status", "--porcelain"]);

    let mut first = setup.server();
    let job_id = start(&mut first, "codex_delegate_async", repo.path(), json!({"task": "add a file"}));
    let children = children_of(first.pid());
    assert!(children.is_empty(), "the server keeps no child (or zombie) for a job: {children:?}");
    assert_eq!(first.close().code(), Some(0), "the server exits; the job does not depend on it");

    let mut second = setup.server();
    let listed = call(&mut second, "codex_job_list", json!({"workspace_root": repo.path()}));
    assert_eq!(listed["jobs"][0]["job_id"], json!(job_id), "{listed}");
    assert_eq!(listed["jobs"][0]["kind"], json!("codex_delegate_async"));
    let status = wait_finished(&mut second, repo.path(), &job_id, Duration::from_secs(60));
    assert_eq!(status["status"], json!("done"), "{status}");
    assert_eq!(status["result_available"], json!(true));
    assert_eq!(status["result_ok"], json!(true));
    assert!(status["activity"]["events_seen"].as_u64().unwrap() > 0, "{status}");
    assert!(status["expires_at"].is_string());

    let result = call(&mut second, "codex_job_result", json!({"job_id": job_id, "workspace_root": repo.path()}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(result["diff"].as_str().unwrap().contains("+from a background job"));
    assert!(result["meta"].get("job_id").is_none(), "the call named the job: {result}");
    assert_eq!(result["applies_cleanly"], json!(true));
    assert!(result.get("raw_response").is_none(), "detail defaults to summary");
    let full = call(
        &mut second,
        "codex_job_result",
        json!({"job_id": job_id, "workspace_root": repo.path(), "detail": "full"}),
    );
    assert_eq!(full["tool"], json!("codex_delegate"));
    assert_eq!(full["meta"]["job_id"], json!(job_id));
    assert_eq!(full["raw_response"]["text"], json!("Added added.txt."));

    // Two consumers at once, from two processes: exactly one gets the result.
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let (env, job_id, workspace) = (setup.env.clone(), job_id.clone(), repo.path().to_path_buf());
            std::thread::spawn(move || {
                let mut server = Server::start(&env);
                server.initialize(json!({}));
                call(&mut server, "codex_job_consume_result", json!({"job_id": job_id, "workspace_root": workspace}))
            })
        })
        .collect();
    let outcomes: Vec<Value> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
    let winners = outcomes.iter().filter(|o| o["ok"] == json!(true)).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    let loser = outcomes.iter().find(|o| o["ok"] == json!(false)).unwrap();
    assert_eq!(loser["error"]["code"], json!("job_not_found"));
    assert_eq!(loser["error"]["repair_tool"], json!("codex_job_list"));
    let gone = call(&mut second, "codex_job_status", json!({"job_id": job_id, "workspace_root": repo.path()}));
    assert_eq!(gone["error"]["code"], json!("job_not_found"));
    assert_eq!(repo.git(&["status", "--porcelain"]), before, "the live tree changed");
    setup.assert_no_worktree_left();
}

#[test]
fn a_hung_job_is_cancelled_and_leaves_nothing_behind() {
    let mock = MockModel::start(vec![Step::Hang]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let repo = TestRepo::new();
    let worktrees_before = repo.git(&["worktree", "list", "--porcelain"]);
    let mut server = setup.server();
    let job_id = start(&mut server, "codex_delegate_async", repo.path(), json!({"task": "t"}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(30)), "the worker never reached the model");

    let running = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": repo.path()}));
    assert_eq!(running["error"]["code"], json!("job_running"), "{running}");
    assert_eq!(running["error"]["retryable"], json!(true));
    assert_eq!(running["error"]["repair_tool"], json!("codex_job_status"));
    assert!(running["error"]["retry_after_ms"].as_u64().unwrap() >= 1000);

    let cancelled = call(&mut server, "codex_job_cancel", json!({"job_id": job_id, "workspace_root": repo.path()}));
    assert_eq!(cancelled["status"], json!("cancelled"), "{cancelled}");
    assert!(cancelled.get("cleanup_warnings").is_none(), "{cancelled}");
    let left = live_pids_with_env("CODEX_HOME", home.path(), server.pid());
    assert!(left.is_empty(), "processes left after cancel: {left:?}");
    setup.assert_no_worktree_left();
    assert_eq!(repo.git(&["worktree", "list", "--porcelain"]), worktrees_before);
    let result = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": repo.path()}));
    assert_eq!(result["error"]["code"], json!("job_cancelled"), "{result}");
    assert_eq!(result["error"]["message"], json!("the job was cancelled"));
    // Cancelling again returns the finished job unchanged.
    let again = call(&mut server, "codex_job_cancel", json!({"job_id": job_id, "workspace_root": repo.path()}));
    assert_eq!(again["status"], json!("cancelled"));
}

#[test]
fn a_job_past_its_deadline_is_timeout() {
    let mock = MockModel::start(vec![Step::Hang]);
    let home = CodexHome::new(&mock).with_idle_timeout_ms(120_000);
    // No session kept: a run with one stores the follow-up of that session as its result
    // instead (stopped::an_async_delegation_at_its_deadline_before_any_edit_keeps_its_follow_up).
    let setup = Setup::real(&home, &[("CODEX_IN_CLAUDE_JOB_MAX_SECONDS", "10"), ("CODEX_IN_CLAUDE_EPHEMERAL", "true")]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let job_id = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": "q"}));
    let status = wait_finished(&mut server, workspace.path(), &job_id, Duration::from_secs(40));
    assert_eq!(status["status"], json!("timeout"), "{status}");
    assert!(status["detail"].as_str().unwrap().contains("deadline"));
    let result = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
    assert_eq!(result["error"]["code"], json!("job_timeout"), "{result}");
    assert!(live_pids_with_env("CODEX_HOME", home.path(), server.pid()).is_empty());
}

#[test]
fn a_killed_worker_makes_a_failed_job_not_a_stuck_one() {
    let mock = MockModel::start(vec![Step::Hang]);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let job_id = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": "q"}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(30)));
    let pid_file: Value =
        serde_json::from_slice(&std::fs::read(setup.job_dir(&job_id).join("worker.pid")).unwrap()).unwrap();
    let worker = pid_file["pid"].as_i64().unwrap() as i32;
    // What the worker said last is the reason quoted: whole lines, the newest ones.
    let said: String = (1..=300).map(|i| format!("worker said line {i}\n")).collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(setup.job_dir(&job_id).join("worker.log"))
        .and_then(|mut log| std::io::Write::write_all(&mut log, said.as_bytes()))
        .unwrap();
    std::process::Command::new("kill").args(["-KILL", &worker.to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !process_gone(worker) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = wait_finished(&mut server, workspace.path(), &job_id, Duration::from_secs(10));
    assert_eq!(status["status"], json!("failed"), "{status}");
    let detail = status["detail"].as_str().unwrap();
    assert!(detail.contains("without a result"), "{status}");
    assert!(detail.ends_with("\nworker said line 299\nworker said line 300"), "{detail}");
    let result = call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
    assert_eq!(result["error"]["code"], json!("job_failed"));
    assert_eq!(result["error"]["message"].as_str(), Some(detail));
    // Its codex died with it (parent-death signal).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !live_pids_with_env("CODEX_HOME", home.path(), server.pid()).is_empty() {
        assert!(Instant::now() < deadline, "codex outlived its killed worker");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn twenty_jobs_at_once_all_finish_intact() {
    let steps = (0..20).map(|i| Step::message(consult_answer(&format!("answer {i}")))).collect();
    let mock = MockModel::start(steps);
    let home = CodexHome::new(&mock);
    let setup = Setup::real(&home, &[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    for id in 0..20 {
        let params = json!({"name": "codex_consult_async", "arguments": {"question": format!("q{id}"), "workspace_root": workspace.path()}});
        server.send(json!({"jsonrpc": "2.0", "id": 100 + id, "method": "tools/call", "params": params}));
    }
    let job_ids: Vec<String> = (0..20)
        .map(|id| {
            let started = envelope(&server.response(json!(100 + id))["result"]);
            assert_eq!(started["ok"], json!(true), "{started}");
            started["job_id"].as_str().unwrap().to_string()
        })
        .collect();
    let mut summaries = Vec::new();
    for job_id in &job_ids {
        let status = wait_finished(&mut server, workspace.path(), job_id, Duration::from_secs(120));
        assert_eq!(status["status"], json!("done"), "{status}");
        let result =
            call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
        assert_eq!(result["ok"], json!(true), "{result}");
        summaries.push(result["summary"].as_str().unwrap().to_string());
    }
    summaries.sort();
    summaries.dedup();
    assert_eq!(summaries.len(), 20, "every job got its own answer");
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path()}));
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 20);
}

#[test]
fn finished_jobs_expire_after_the_ttl_and_the_count_cap_evicts_the_oldest() {
    let setup = Setup::fake(&[("CODEX_IN_CLAUDE_JOB_TTL", "5"), ("CODEX_IN_CLAUDE_JOB_MAX_COUNT", "3")]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let mut job_ids = Vec::new();
    for i in 0..5 {
        let job_id = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": format!("q{i}")}));
        assert_eq!(
            wait_finished(&mut server, workspace.path(), &job_id, Duration::from_secs(20))["status"],
            json!("done")
        );
        // Fetched, so delivered: only delivered records are evicted.
        let fetched =
            call(&mut server, "codex_job_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
        assert_eq!(fetched["ok"], json!(true), "{fetched}");
        job_ids.push(job_id);
    }
    // Evicted at each start beyond the cap: the longest delivered ones.
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path()}));
    let kept: Vec<&str> = listed["jobs"].as_array().unwrap().iter().map(|j| j["job_id"].as_str().unwrap()).collect();
    assert_eq!(kept, vec![job_ids[4].as_str(), job_ids[3].as_str(), job_ids[2].as_str()], "newest first");
    std::thread::sleep(Duration::from_secs(6));
    let status =
        call(&mut server, "codex_job_status", json!({"job_id": job_ids[4], "workspace_root": workspace.path()}));
    assert_eq!(status["error"]["code"], json!("job_not_found"), "{status}");
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path()}));
    assert!(listed.get("jobs").is_none(), "{listed}");
}

#[test]
fn synchronous_runs_are_evicted_before_background_results() {
    let setup = Setup::fake(&[("CODEX_IN_CLAUDE_JOB_MAX_COUNT", "2")]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let background = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": "bg"}));
    wait_finished(&mut server, workspace.path(), &background, Duration::from_secs(20));
    let mut answered = Vec::new();
    for i in 0..3 {
        let answer = call(
            &mut server,
            "codex_consult",
            json!({"question": format!("q{i}"), "workspace_root": workspace.path()}),
        );
        assert_eq!(answer["ok"], json!(true), "{answer}");
        answered.push(answer["meta"]["job_id"].as_str().unwrap().to_string());
    }
    // Past the cap, the older answered (delivered) runs went; the background result nobody
    // fetched stayed.
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path()}));
    let kept: Vec<&str> = listed["jobs"].as_array().unwrap().iter().map(|j| j["job_id"].as_str().unwrap()).collect();
    assert_eq!(kept, vec![answered[2].as_str(), background.as_str()], "{listed}");
}

#[test]
fn async_tools_check_up_front_and_start_nothing_on_bad_input() {
    let setup = Setup::fake(&[]);
    let repo = TestRepo::new();
    let plain = TestRepo::not_a_repo();
    let mut server = setup.server();
    let cases = [
        (
            "codex_review_changes_async",
            json!({"scope": "branch", "base": "no-such-branch", "workspace_root": repo.path()}),
            "invalid_base",
        ),
        ("codex_review_changes_async", json!({"paths": ["../x"], "workspace_root": repo.path()}), "invalid_paths"),
        ("codex_review_changes_async", json!({"workspace_root": plain.path()}), "not_a_git_repo"),
        ("codex_delegate_async", json!({"task": "t", "workspace_root": plain.path()}), "not_a_git_repo"),
        (
            "codex_job_status",
            json!({"job_id": "../../../../etc/passwd", "workspace_root": repo.path()}),
            "invalid_arguments",
        ),
        (
            "codex_job_status",
            json!({"job_id": "0123456789abcdef0123456789abcdef", "workspace_root": repo.path()}),
            "job_not_found",
        ),
    ];
    for (tool, arguments, code) in cases {
        let result = call(&mut server, tool, arguments.clone());
        assert_eq!(result["error"]["code"], json!(code), "{tool} {arguments} → {result}");
    }
    assert_eq!(std::fs::read_dir(setup.state.path()).map(|d| d.count()).unwrap_or(0), 0, "no job was recorded");
}

#[test]
fn jobs_from_the_shell() {
    let (setup, workspace, _server, job_id) = finished_fake_job();
    let run = |args: &[&str]| {
        std::process::Command::new(binary())
            .args(args)
            .current_dir(workspace.path())
            .env_clear()
            .envs(setup.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    };
    let list = run(&["jobs", "list"]);
    assert_eq!(list.status.code(), Some(0));
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed["jobs"][0]["job_id"], json!(job_id));
    let status: Value = serde_json::from_slice(&run(&["jobs", "status", &job_id]).stdout).unwrap();
    assert_eq!(status["status"], json!("done"));
    let result = run(&["jobs", "result", &job_id, "--pretty"]);
    assert_eq!(result.status.code(), Some(0));
    assert_eq!(serde_json::from_slice::<Value>(&result.stdout).unwrap()["summary"], json!("fake answer"));
    let cancel = run(&["jobs", "cancel", &job_id]);
    assert_eq!(serde_json::from_slice::<Value>(&cancel.stdout).unwrap()["status"], json!("done"), "finished jobs stay");
    assert_eq!(run(&["jobs", "consume", &job_id]).status.code(), Some(0));
    assert_eq!(run(&["jobs", "status", &job_id]).status.code(), Some(1));
    assert_eq!(run(&["jobs", "frobnicate"]).status.code(), Some(2));
}

/// Processes (zombies included) whose parent is `pid`.
pub(crate) fn children_of(pid: i32) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
            fields.get(1).and_then(|ppid| ppid.parse::<i32>().ok()) == Some(pid)
        })
        .collect()
}

#[test]
fn corrupt_or_unwritable_job_state_never_leaves_a_job_running() {
    // A state dir that cannot be created: the start fails cleanly, nothing runs.
    let not_a_dir = tempfile::NamedTempFile::new().unwrap();
    let mut setup = Setup::fake(&[]);
    setup.env.push(("CODEX_IN_CLAUDE_STATE_DIR".into(), not_a_dir.path().join("state").display().to_string()));
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let refused =
        call(&mut server, "codex_consult_async", json!({"question": "q", "workspace_root": workspace.path()}));
    assert_eq!(refused["error"]["code"], json!("state_write_failed"), "{refused}");
    assert!(refused["error"]["repair"].as_str().unwrap().contains("STATE_DIR"), "{refused}");

    // A stored result that cannot be read (truncated): the job is done, the result is reported
    // unreadable and kept byte for byte, and it is handed out once the file is whole again.
    let setup = Setup::fake(&[("CODEX_IN_CLAUDE_JOB_TTL", "5")]);
    let mut server = setup.server();
    let finished = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": "q"}));
    wait_finished(&mut server, workspace.path(), &finished, Duration::from_secs(20));
    let result_file = setup.job_dir(&finished).join("result.json");
    let whole = std::fs::read(&result_file).unwrap();
    std::fs::write(&result_file, &whole[..whole.len() / 2]).unwrap();
    std::fs::write(setup.job_dir(&finished).join("activity.json"), b"\x00\xff garbage").unwrap();
    let arguments = json!({"job_id": finished, "workspace_root": workspace.path()});
    let status = call(&mut server, "codex_job_status", arguments.clone());
    assert_eq!(status["status"], json!("done"), "{status}");
    assert_eq!(status["result_available"], json!(false), "{status}");
    assert!(status["detail"].as_str().unwrap().contains("cannot be read now"), "{status}");
    for tool in ["codex_job_result", "codex_job_consume_result"] {
        let unreadable = call(&mut server, tool, arguments.clone());
        assert_eq!(unreadable["error"]["code"], json!("job_unreadable"), "{unreadable}");
    }
    assert_eq!(std::fs::read(&result_file).unwrap(), &whole[..whole.len() / 2], "the stored result was written over");
    assert!(!setup.job_dir(&finished).join("terminal.json").exists());
    std::fs::write(&result_file, &whole).unwrap();
    let result = call(&mut server, "codex_job_result", arguments);
    assert_eq!(result["summary"], json!("fake answer"), "{result}");

    // A job whose spec cannot be read is reported as such (not as unknown), listed apart, and
    // cleaned when it expires.
    let second = start(&mut server, "codex_consult_async", workspace.path(), json!({"question": "q"}));
    wait_finished(&mut server, workspace.path(), &second, Duration::from_secs(20));
    std::fs::write(setup.job_dir(&second).join("spec.json"), b"not json").unwrap();
    let damaged = call(&mut server, "codex_job_status", json!({"job_id": second, "workspace_root": workspace.path()}));
    assert_eq!(damaged["error"]["code"], json!("job_unreadable"), "{damaged}");
    assert!(damaged["error"]["message"].as_str().unwrap().contains("spec.json"), "{damaged}");
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path()}));
    assert_eq!(listed["ok"], json!(true), "{listed}");
    assert_eq!(listed["unreadable"][0]["job_id"], json!(second), "{listed}");
    assert!(listed["jobs"].as_array().unwrap().iter().all(|j| j["status"] != json!("running")), "{listed}");
    std::thread::sleep(Duration::from_secs(6));
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path()}));
    assert_eq!(listed, json!({"ok": true, "total": 0, "offset": 0}), "no job and nothing unreadable");
    assert!(!setup.job_dir(&second).exists(), "an expired damaged record is cleaned");
}

#[test]
fn a_result_its_reader_may_not_read_is_reported_and_kept() {
    use std::os::unix::fs::PermissionsExt as _;
    let (setup, workspace, mut server, job_id) = finished_fake_job();
    // The reader is uid 65534 (root reads through any mode). The state directory must be its
    // own to be trusted at all, so the store is handed to it, all but the result, which stays
    // root's and unreadable.
    let job_dir = setup.job_dir(&job_id);
    let mode = |path: &Path, mode: u32| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    let to_reader = |path: &Path| std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    for dir in [setup.state.path(), job_dir.parent().unwrap(), &job_dir] {
        to_reader(dir);
    }
    to_reader(&job_dir.join("spec.json"));
    mode(workspace.path(), 0o755);
    mode(&job_dir.join("result.json"), 0o000);
    let as_nobody = |args: &[&str]| -> Value {
        let output = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(binary())
            .args(args)
            .args(["--workspace", &workspace.path().display().to_string()])
            .env_clear()
            .envs(setup.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{args:?}: {}", String::from_utf8_lossy(&output.stderr)))
    };
    let status = as_nobody(&["jobs", "status", &job_id]);
    assert_eq!((&status["status"], &status["result_available"]), (&json!("done"), &json!(false)), "{status}");
    assert!(status["detail"].as_str().unwrap().contains("Permission denied"), "{status}");
    for command in ["result", "consume"] {
        let refused = as_nobody(&["jobs", command, &job_id]);
        assert_eq!(refused["error"]["code"], json!("job_unreadable"), "{refused}");
    }
    assert!(!job_dir.join("terminal.json").exists(), "a terminal record was written over the result");
    // Once the cause is gone (here: a reader allowed to read it), the paid result is there: the
    // store back with its owner, the server's user.
    for path in [setup.state.path(), job_dir.parent().unwrap(), &job_dir, &job_dir.join("spec.json")] {
        std::os::unix::fs::chown(path, Some(0), Some(0)).unwrap();
    }
    mode(&job_dir.join("result.json"), 0o600);
    let result =
        call(&mut server, "codex_job_consume_result", json!({"job_id": job_id, "workspace_root": workspace.path()}));
    assert_eq!(result["summary"], json!("fake answer"), "{result}");
}
