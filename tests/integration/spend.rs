//! Spend awareness (issue 18): the rate-limit windows and model list read through the real
//! `codex app-server` where that works offline (API-key auth, `model/list`, the child cleaned up),
//! the fake app-server for ChatGPT windows, a server-initiated request and its failure modes
//! (hang, garbage, early exit); `invalid_reasoning_effort`; and the daily budget ledger, exact
//! under 20 concurrent processes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::support::{Server, binary, envelope, fake_codex_controls, fake_codex_dir, path_with};

fn call_with(env: &[(String, String)], tool: &str, arguments: Value) -> Value {
    let mut server = Server::start(env);
    server.initialize(json!({}));
    envelope(&server.call(1, tool, arguments))
}

fn fake_env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![("PATH".to_string(), path_with(&fake_codex_dir()))];
    env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// Live processes whose environment holds `needle` (a unique CODEX_HOME or pid-file path).
fn processes_with_env(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|b| *b == 0).any(|var| var == needle.as_bytes()) {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
fn the_real_app_server_declines_rate_limits_for_an_api_key_lists_models_and_is_cleaned_up() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let status = call_with(&home.env(), "codex_status", json!({}));
    let limit = &status["rate_limit"];
    assert_eq!(limit["status"], json!("unavailable"), "{limit}");
    assert!(limit["reason"].as_str().unwrap().contains("authentication required to read rate limits"), "{limit}");
    assert_eq!((limit["primary"].clone(), limit["secondary"].clone()), (Value::Null, Value::Null));

    let models = call_with(&home.env(), "codex_models", json!({}));
    assert_eq!(models["source"], json!("app-server"), "{models}");
    let list = models["models"].as_array().unwrap();
    assert!(!list.is_empty());
    for model in list {
        let efforts = model["reasoning_efforts"].as_array().unwrap();
        assert!(!efforts.is_empty(), "{model}");
        assert!(efforts.contains(&model["default_reasoning_effort"]), "{model}");
    }
    // Both conversations are over and no app-server of this home outlives them.
    let marker = format!("CODEX_HOME={}", home.path().display());
    assert_eq!(processes_with_env(&marker), Vec::<String>::new());
}

#[test]
fn the_real_model_list_rejects_an_effort_the_model_does_not_take_before_spending() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let models = call_with(&home.env(), "codex_models", json!({}));
    // A model whose list of efforts is not everything: the check must name exactly its own.
    let all: Vec<&Value> =
        models["models"].as_array().unwrap().iter().flat_map(|m| m["reasoning_efforts"].as_array().unwrap()).collect();
    let model = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| all.iter().any(|e| !m["reasoning_efforts"].as_array().unwrap().contains(e)))
        .expect("the pinned codex lists models with different efforts");
    let effort = all.iter().find(|e| !model["reasoning_efforts"].as_array().unwrap().contains(e)).unwrap();
    let repo = TestRepo::new();
    let result = call_with(
        &home.env(),
        "codex_consult",
        json!({"question": "q", "workspace_root": repo.path(), "model": model["model"], "reasoning_effort": effort}),
    );
    assert_eq!(result["error"]["code"], json!("invalid_reasoning_effort"), "{result}");
    assert_eq!(result["error"]["allowed_values"], model["reasoning_efforts"]);
    assert_eq!(result["error"]["offending_param"], json!("reasoning_effort"));
    assert!(mock.requests().is_empty(), "nothing may reach the model");
}

#[test]
fn chatgpt_windows_are_read_and_the_servers_own_request_is_answered() {
    // The fake sends a request before answering and exits 4 unless it is answered.
    let status = call_with(&fake_env(&[("FAKE_CODEX_APP_SERVER", "chatgpt")]), "codex_status", json!({}));
    let limit = &status["rate_limit"];
    assert_eq!(limit["status"], json!("available"), "{limit}");
    assert_eq!(limit["primary"]["used_percent"], json!(25.0));
    assert_eq!(limit["primary"]["window_minutes"], json!(300));
    assert_eq!(limit["primary"]["resets_at"], json!("2026-11-25T09:46:40.000Z"));
    assert_eq!(limit["secondary"]["used_percent"], json!(60.0));

    for (result, expected) in [
        (json!({"rateLimits": {"primary": {"usedPercent": 92}, "secondary": null}}), "limited"),
        (json!({"rateLimits": {"primary": {"usedPercent": 100}, "secondary": {"usedPercent": 40}}}), "exhausted"),
        (json!({"ordinaryUsageAllowed": false, "rateLimits": {"primary": {"usedPercent": 1}}}), "blocked"),
    ] {
        let text = result.to_string();
        let env = fake_env(&[("FAKE_CODEX_APP_SERVER", "chatgpt"), ("FAKE_CODEX_RATE_LIMITS", &text)]);
        let status = call_with(&env, "codex_status", json!({}));
        assert_eq!(status["rate_limit"]["status"], json!(expected), "{text}: {}", status["rate_limit"]);
    }
}

#[test]
fn a_hanging_garbled_or_dying_app_server_is_unavailable_with_its_reason() {
    let pids = tempfile::NamedTempFile::new().unwrap();
    let pidfile = pids.path().display().to_string();
    for (mode, says) in [
        ("hang", "did not answer within 10 s"),
        ("garbage", "were not JSON-RPC"),
        ("exit", "exited (code Some(3)) before answering: fake app-server: cannot start"),
    ] {
        let env = fake_env(&[("FAKE_CODEX_APP_SERVER", mode), ("FAKE_CODEX_PIDFILE", &pidfile)]);
        let started = std::time::Instant::now();
        let status = call_with(&env, "codex_status", json!({}));
        let limit = &status["rate_limit"];
        assert_eq!(limit["status"], json!("unavailable"), "{mode}: {limit}");
        assert!(limit["reason"].as_str().unwrap().contains(says), "{mode}: {limit}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{mode} took {:?}", started.elapsed());
        let models = call_with(&env, "codex_models", json!({}));
        assert_eq!(models["source"], json!("unavailable"), "{mode}: {models}");
        assert!(models["source_detail"].as_str().unwrap().contains("models_cache.json"), "{models}");
    }
    // The hung app-servers were killed with their process group.
    for pid in std::fs::read_to_string(pids.path()).unwrap().lines() {
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "app-server {pid} outlived its timeout");
    }
}

#[test]
fn an_effort_the_listed_model_does_not_take_is_refused_and_one_it_takes_runs() {
    let repo = TestRepo::new();
    let env = fake_env(&[]);
    let ask = |effort: &str| {
        call_with(
            &env,
            "codex_consult",
            json!({"question": "q", "workspace_root": repo.path(), "model": "fake-model", "reasoning_effort": effort}),
        )
    };
    let refused = ask("ultra");
    assert_eq!(refused["error"]["code"], json!("invalid_reasoning_effort"), "{refused}");
    assert_eq!(refused["error"]["allowed_values"], json!(["low", "medium"]));
    assert_eq!(ask("low")["ok"], json!(true));
    // A model codex does not list is left for codex to judge.
    let unknown = call_with(
        &env,
        "codex_consult",
        json!({"question": "q", "workspace_root": repo.path(), "model": "other", "reasoning_effort": "ultra"}),
    );
    assert_eq!(unknown["ok"], json!(true), "{unknown}");
}

fn cli(args: &[&str], env: &[(String, String)], dir: &Path) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(fake_codex_controls(env))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

#[test]
fn the_budget_counts_exactly_under_20_concurrent_processes_then_refuses() {
    let repo = TestRepo::new();
    let state = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // Each fake run reports 15 tokens; 20 runs use 300, the budget.
    let env = fake_env(&[
        ("HOME", &home.path().display().to_string()),
        ("CODEX_IN_CLAUDE_STATE_DIR", &state.path().display().to_string()),
        ("CODEX_IN_CLAUDE_DAILY_TOKEN_BUDGET", "300"),
    ]);
    let runs: Vec<_> = (0..20)
        .map(|_| {
            let (env, dir) = (env.clone(), repo.path().to_path_buf());
            std::thread::spawn(move || cli(&["consult", "q"], &env, &dir))
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let status: Value = serde_json::from_slice(&cli(&["status", "--json"], &env, repo.path()).stdout).unwrap();
    let budget = &status["budget"];
    assert_eq!(budget["used_tokens"], json!(300), "{budget}");
    assert_eq!(budget["paid_runs"], json!(20), "{budget}");
    assert_eq!(budget["remaining_tokens"], json!(0), "{budget}");
    assert_eq!(budget["daily_token_budget"], json!(300));

    let refused: Value = serde_json::from_slice(&cli(&["consult", "q"], &env, repo.path()).stdout).unwrap();
    let error = &refused["error"];
    assert_eq!(error["code"], json!("budget_exhausted"), "{refused}");
    assert_eq!(error["retryable"], json!(true));
    let wait = error["retry_after_ms"].as_u64().unwrap();
    assert!(wait > 0 && wait <= 25 * 3_600_000, "{wait}");
    // A background job is not started either.
    let async_refused = call_with(&env, "codex_consult_async", json!({"question": "q", "workspace_root": repo.path()}));
    assert_eq!(async_refused["error"]["code"], json!("budget_exhausted"), "{async_refused}");
    // The refusals spent nothing and counted nothing.
    let status: Value = serde_json::from_slice(&cli(&["status", "--json"], &env, repo.path()).stdout).unwrap();
    assert_eq!(status["budget"]["paid_runs"], json!(20));

    let text = String::from_utf8_lossy(&cli(&["status"], &env, repo.path()).stdout).into_owned();
    assert!(text.contains("budget:   300 of 300 tokens used today (20 paid runs), 0 left"), "{text}");
    assert!(text.contains("quota:    unavailable"), "{text}");
}

#[test]
fn a_run_ended_on_the_plans_usage_limit_says_when_to_retry_and_nothing_is_sent_before() {
    let repo = TestRepo::new();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let message = "You've hit your usage limit. Upgrade to Pro, or try again at Nov 26th, 2030 12:05 AM.";
    let used_up = fake_env(&[
        ("CODEX_IN_CLAUDE_STATE_DIR", &state_dir),
        ("FAKE_CODEX_EXEC", "fail"),
        ("FAKE_CODEX_ERROR", message),
    ]);
    let consult = json!({"question": "q", "workspace_root": repo.path()});
    let ended = call_with(&used_up, "codex_consult", consult.clone());
    assert_eq!(ended["error"]["code"], json!("codex_rate_limited"), "{ended}");
    // Four years away: far beyond the 60 s a limit without a time would get, and held to the
    // 8-day cap on any delay read from codex's text (a plan's longest window is a week).
    let wait = ended["error"]["retry_after_ms"].as_u64().unwrap();
    assert_eq!(wait, 8 * 24 * 3_600_000, "{wait}");

    // codex would now answer, but the call is refused before it starts.
    let argv = tempfile::NamedTempFile::new().unwrap();
    std::fs::remove_file(argv.path()).unwrap();
    let argv_file = argv.path().display().to_string();
    let answering = fake_env(&[("CODEX_IN_CLAUDE_STATE_DIR", &state_dir), ("FAKE_CODEX_ARGV_FILE", &argv_file)]);
    let refused = call_with(&answering, "codex_consult", consult);
    assert_eq!(refused["error"]["code"], json!("codex_rate_limited"), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("resets at 2030-11-2"), "{refused}");
    assert!(!argv.path().exists(), "codex ran");
    let status = call_with(&answering, "codex_status", json!({}));
    assert!(status["budget"]["usage_limit_resets_at"].as_str().unwrap().starts_with("2030-11-2"), "{status}");
}

/// Issue 25 item 5, with the real codex: a used-up plan's note belongs to the account that hit
/// it. A login change (here: none → an API key, read back through codex's `account/read`) lets
/// calls through at once; `clear-usage-limit` drops a note of the current account; and the
/// repair says what a used-up plan needs, not fewer calls at once.
#[test]
fn a_used_up_plan_is_its_accounts_and_is_cleared_by_a_login_change_or_the_command() {
    let usage = "You've hit your usage limit. Upgrade to Pro, or try again at Nov 26th, 2030 12:05 AM.";
    let mock = MockModel::start(vec![
        Step::failed("usage_limit_reached", usage),
        Step::message(consult_answer("after the login change")),
        Step::failed("usage_limit_reached", usage),
        Step::message(consult_answer("after the command")),
    ]);
    let home = CodexHome::new(&mock);
    // As for OpenAI itself, codex's account then follows its login (`account/read` answers a null
    // account without one, whatever this provider's key).
    let mut config = std::fs::read_to_string(home.config_path()).unwrap();
    config.push_str("requires_openai_auth = true\n");
    std::fs::write(home.config_path(), config).unwrap();
    let env = home.env();
    let workspace = tempfile::tempdir().unwrap();
    let ask = || call_with(&env, "codex_consult", json!({"question": "q", "workspace_root": workspace.path()}));
    let refused_without_sending = |sent: usize| {
        let refused = ask();
        assert_eq!(refused["error"]["code"], json!("codex_rate_limited"), "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains("resets at 2030-11-2"), "{refused}");
        let repair = refused["error"]["repair"].as_str().unwrap();
        assert!(repair.contains("clear-usage-limit") && !repair.contains("fewer calls"), "{repair}");
        assert_eq!(mock.requests().len(), sent, "a refused call sent nothing");
    };

    let ended = ask();
    assert_eq!(ended["error"]["code"], json!("codex_rate_limited"), "{ended}");
    let repair = ended["error"]["repair"].as_str().unwrap();
    assert!(repair.contains("buy credits") && !repair.contains("fewer calls"), "{repair}");
    refused_without_sending(1);

    // The user logs in (another account): the note was not this account's.
    let mut login = Command::new(crate::codex_home::codex_bin())
        .args(["login", "--with-api-key"])
        .env("CODEX_HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    login.stdin.take().unwrap().write_all(b"sk-test-0123456789abcdefghij\n").unwrap();
    assert!(login.wait().unwrap().success());
    let after_login = ask();
    assert_eq!(after_login["summary"], json!("after the login change"), "{after_login}");

    // The new account uses its plan up too; the command clears its note.
    assert_eq!(ask()["error"]["code"], json!("codex_rate_limited"));
    refused_without_sending(3);
    let cleared = cli(&["clear-usage-limit"], &env, workspace.path());
    assert!(cleared.status.success(), "{cleared:?}");
    assert!(String::from_utf8_lossy(&cleared.stdout).contains("resets at 2030-11-2"), "{cleared:?}");
    let after_clear = ask();
    assert_eq!(after_clear["summary"], json!("after the command"), "{after_clear}");
    let again = cli(&["clear-usage-limit"], &env, workspace.path());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to clear"), "{again:?}");
}
