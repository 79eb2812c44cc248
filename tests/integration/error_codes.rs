//! Every error code `codex_capabilities` advertises is reachable through the real server: each
//! is produced here by the input or fault that causes it in use (real git, the fake codex for
//! codex-side faults; the real codex's own failures are classified in `consult`/`review`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::protocol::answer_roots;
use crate::repo::TestRepo;
use crate::support::{Server, envelope, fake_codex_dir, path_with, path_without_codex};

/// One call on a fresh server with `env` (the fake codex on PATH unless `env` sets PATH).
fn code_of(env: &[(&str, &str)], tool: &str, arguments: Value) -> String {
    let mut vars: Vec<(String, String)> = vec![("PATH".into(), path_with(&fake_codex_dir()))];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut server = Server::start(&vars);
    server.initialize(json!({}));
    let result = envelope(&server.call(1, tool, arguments.clone()));
    assert_eq!(result["ok"], json!(false), "{tool} {arguments} should fail: {result}");
    result["error"]["code"].as_str().unwrap().to_string()
}

#[test]
fn every_advertised_error_code_is_reachable() {
    let repo = TestRepo::new();
    repo.write("README.md", "# changed\n");
    let ws = repo.path().display().to_string();
    let plain_dir = TestRepo::not_a_repo();
    let consult = json!({"question": "q", "workspace_root": ws});
    let review = json!({"workspace_root": ws});
    fn fail(stderr: &str) -> Vec<(&str, &str)> {
        vec![("FAKE_CODEX_EXEC", "fail"), ("FAKE_CODEX_STDERR", stderr)]
    }
    let mut seen = BTreeSet::new();

    // Workspace and roots.
    let project = tempfile::tempdir().unwrap();
    let project_dir = project.path().display().to_string();
    let mut server = Server::start(&[("CLAUDE_PROJECT_DIR".into(), project_dir.clone())]);
    server.initialize(json!({"roots": {}}));
    answer_roots(&mut server, &[format!("file://{project_dir}")]);
    for arguments in
        [json!({}), json!({"question": "q", "workspace_root": "rel"}), json!({"question": "q", "workspace_root": "/"})]
    {
        seen.insert(
            envelope(&server.call(1, "codex_consult", arguments))["error"]["code"].as_str().unwrap().to_string(),
        );
    }
    let advertised = envelope(&server.call(2, "codex_capabilities", json!({})))["error_codes"].clone();

    let mut reach = |env: Vec<(&str, &str)>, tool: &str, arguments: &Value| {
        seen.insert(code_of(&env, tool, arguments.clone()));
    };
    reach(vec![("CODEX_IN_CLAUDE_MODEL", "${MODEL}")], "codex_consult", &consult);
    reach(
        vec![("CODEX_IN_CLAUDE_MAX_INPUT_BYTES", "1000")],
        "codex_consult",
        &json!({"question": "x".repeat(1500), "workspace_root": ws}),
    );
    reach(vec![], "codex_dry_run", &json!({"scope": "branch", "base": "nope", "workspace_root": ws}));
    reach(vec![], "codex_dry_run", &json!({"scope": "commit", "commit": "nope", "workspace_root": ws}));
    reach(vec![], "codex_dry_run", &json!({"paths": ["../x"], "workspace_root": ws}));
    reach(vec![], "codex_dry_run", &json!({"workspace_root": plain_dir.path()}));
    reach(vec![("PATH", "/nonexistent")], "codex_dry_run", &review);
    reach(vec![("PATH", &path_without_codex())], "codex_consult", &consult);
    reach(fail("Not logged in"), "codex_consult", &consult);
    reach(fail("/home/u/.codex/config.toml:1:1: unknown configuration field `x`"), "codex_consult", &consult);
    reach(fail("error: unexpected argument '--json' found"), "codex_consult", &consult);
    reach(fail("exceeded retry limit, last status: 429 Too Many Requests"), "codex_consult", &consult);
    reach(fail("boom"), "codex_consult", &consult);
    reach(
        vec![("FAKE_CODEX_EXEC", "hang")],
        "codex_consult",
        &json!({"question": "q", "workspace_root": ws, "timeout_seconds": 10}),
    );
    reach(vec![("FAKE_CODEX_MESSAGE", " ")], "codex_consult", &consult);
    reach(
        vec![
            ("FAKE_CODEX_EXEC", "hang"),
            ("CODEX_IN_CLAUDE_STALL_WARN_SECONDS", "1"),
            ("CODEX_IN_CLAUDE_STALL_KILL_SECONDS", "2"),
        ],
        "codex_consult",
        &consult,
    );
    reach(vec![("FAKE_CODEX_MESSAGE", "prose")], "codex_review_changes", &review);
    reach(vec![("FAKE_CODEX_MESSAGE", "[1]")], "codex_review_changes", &review);
    let unborn = TestRepo::not_a_repo();
    unborn.git(&["init", "-q"]);
    reach(vec![], "codex_delegate_dry_run", &json!({"task": "t", "workspace_root": unborn.path()}));
    reach(vec![], "codex_dry_run", &json!({"scope": "branch", "base": "main", "workspace_root": unborn.path()}));
    let damaged = TestRepo::new();
    damaged.write("README.md", "# edited\n");
    damaged.delete_blob("README.md");
    reach(vec![], "codex_dry_run", &json!({"workspace_root": damaged.path()}));
    let foreign = TestRepo::new();
    crate::repo::chown_all(foreign.path(), 65534);
    reach(vec![], "codex_dry_run", &json!({"workspace_root": foreign.path()}));
    reach(vec![("FAKE_CODEX_SANDBOX", "nouserns")], "codex_delegate", &json!({"task": "t", "workspace_root": ws}));
    reach(vec![], "codex_job_status", &json!({"job_id": "0123456789abcdef0123456789abcdef", "workspace_root": ws}));
    let not_a_dir = tempfile::NamedTempFile::new().unwrap();
    let unwritable_state = not_a_dir.path().join("state").display().to_string();
    reach(vec![("CODEX_IN_CLAUDE_STATE_DIR", &unwritable_state)], "codex_consult_async", &consult);
    // A state directory other users may write is not trusted at all.
    let open_state = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open_state.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let open_state_text = open_state.path().display().to_string();
    reach(vec![("CODEX_IN_CLAUDE_STATE_DIR", &open_state_text)], "codex_job_list", &json!({"workspace_root": ws}));

    reach(
        vec![],
        "codex_consult",
        &json!({"question": "q", "workspace_root": ws, "model": "fake-model", "reasoning_effort": "ultra"}),
    );
    // One 15-token fake run uses up a budget of 10; the next call is refused.
    let budget_state = tempfile::tempdir().unwrap();
    let budget_dir = budget_state.path().display().to_string();
    let budget = vec![("CODEX_IN_CLAUDE_STATE_DIR", budget_dir.as_str()), ("CODEX_IN_CLAUDE_DAILY_TOKEN_BUDGET", "10")];
    let mut first: Vec<(String, String)> = vec![("PATH".into(), path_with(&fake_codex_dir()))];
    first.extend(budget.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut server = Server::start(&first);
    server.initialize(json!({}));
    assert_eq!(envelope(&server.call(1, "codex_consult", consult.clone()))["ok"], json!(true));
    reach(budget, "codex_consult", &consult);

    seen.extend(job_lifecycle_codes(&ws));

    // internal_error needs a panicking handler; `tools::tests::a_panicking_handler_becomes_internal_error`
    // proves that path in-process.
    seen.insert("internal_error".into());
    let advertised: BTreeSet<String> =
        advertised.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(seen, advertised);
}

/// `job_running`, `job_cancelled`, `job_failed`, `job_timeout` and `job_unreadable`, from
/// hanging fake-codex jobs.
fn job_lifecycle_codes(ws: &str) -> Vec<String> {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let fake_path = path_with(&fake_codex_dir());
    let env = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut env = vec![
            ("PATH".to_string(), fake_path.clone()),
            ("FAKE_CODEX_EXEC".to_string(), "hang".to_string()),
            ("CODEX_IN_CLAUDE_STATE_DIR".to_string(), state_dir.clone()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let start = |server: &mut Server| -> String {
        let started = envelope(&server.call(1, "codex_consult_async", json!({"question": "q", "workspace_root": ws})));
        started["job_id"].as_str().unwrap().to_string()
    };
    let result_code = |server: &mut Server, job_id: &str| -> String {
        let result = envelope(&server.call(2, "codex_job_result", json!({"job_id": job_id, "workspace_root": ws})));
        result["error"]["code"].as_str().unwrap().to_string()
    };
    let mut codes = Vec::new();

    let mut server = Server::start(&env(&[]));
    server.initialize(json!({}));
    let job_id = start(&mut server);
    codes.push(result_code(&mut server, &job_id));
    envelope(&server.call(3, "codex_job_cancel", json!({"job_id": job_id, "workspace_root": ws})));
    codes.push(result_code(&mut server, &job_id));
    let job_dir = crate::jobs::job_dir_in(state.path(), &job_id);
    std::fs::write(job_dir.join("spec.json"), b"{").unwrap();
    codes.push(result_code(&mut server, &job_id));

    let job_id = start(&mut server);
    let job_dir = crate::jobs::job_dir_in(state.path(), &job_id);
    let pid: Value = serde_json::from_slice(&std::fs::read(job_dir.join("worker.pid")).unwrap()).unwrap();
    let pid = pid["pid"].as_i64().filter(|&pid| pid > 1).expect("a worker pid");
    std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    codes.push(result_code(&mut server, &job_id));

    // No session kept: a consult with one stores the follow-up of its session at the deadline.
    let mut server =
        Server::start(&env(&[("CODEX_IN_CLAUDE_JOB_MAX_SECONDS", "10"), ("CODEX_IN_CLAUDE_EPHEMERAL", "true")]));
    server.initialize(json!({}));
    let job_id = start(&mut server);
    std::thread::sleep(std::time::Duration::from_secs(11));
    codes.push(result_code(&mut server, &job_id));
    codes
}
