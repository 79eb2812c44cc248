//! Issue 23's environment and hidden-turn promises, end to end with the real codex against the
//! mock model: the server runs with a secret-filled environment, the model makes codex run `env`
//! in consult, review and delegate, under every isolation value and with a user `config.toml`
//! that tries to widen codex's `shell_environment_policy`; no secret value reaches any request
//! the mock receives, while PATH, HOME and a `CODEX_IN_CLAUDE_ENV_PASSTHROUGH` name reach the
//! command. Authentication keeps working with a key in the environment and with `auth.json`.
//! Goal tools are never offered, and a goal call the model makes anyway ends nothing but
//! the turn we report.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::codex_home::{CodexHome, codex_bin};
use crate::mock_model::{
    MockModel, Step, consult_answer, function_call_item, output_item_done, response_completed, response_created,
};
use crate::repo::TestRepo;
use crate::review::review_answer;
use crate::support::{Server, envelope};

/// The server's secrets: every value is a marker no request may carry.
const SECRETS: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", "ghp_envleakGithubToken0123456789abcd"),
    ("AWS_SECRET_ACCESS_KEY", "envleak-aws-secret-wJalrXUtnFEMI"),
    ("ANTHROPIC_API_KEY", "sk-ant-envleak-anthropic-key"),
    ("OPENAI_API_KEY", "sk-envleak-openai-key-for-codex-only"),
    ("PGPASSWORD", "envleak-pg-password"),
    ("DATABASE_URL", "postgres://u:envleak-db-pw@h/db"),
    ("HTTPS_PROXY", "http://proxyuser:envleak-proxy-pw@127.0.0.1:9/"),
    ("FOO_PASSWORD", "envleak-foo-password"),
    ("CIC_UNLISTED", "envleak-unlisted-plain-value"),
];

/// Names the user passes through, and their values, which must reach the command.
const PASSED: &[(&str, &str)] = &[("CIC_PASSED", "passed-through-value-1"), ("CIC_FAMILY_A", "passed-family-value-2")];

/// A user config that tries every way to widen what commands get.
const HOSTILE_POLICY: &str = r#"
[shell_environment_policy]
inherit = "all"
ignore_default_excludes = true
include_only = ["*"]
exclude = []
set = { HOSTILE_SET = "hostile-set-value" }
"#;

/// A `codex` first on PATH that runs the real one with the mock provider given as `-c`, so
/// that a run which ignores the user's `config.toml` (`isolation`) still talks to the mock.
/// It changes nothing else: the environment and the arguments are the server's, and codex's
/// login shell and shell snapshot keep their defaults (on).
fn codex_with_provider(dir: &Path, mock: &MockModel, provider: &str) -> PathBuf {
    let overrides = [
        "model=\"gpt-5.5\"".to_string(),
        "model_provider=\"mock\"".to_string(),
        format!(
            "model_providers.mock={{name=\"Mock\",base_url=\"{}\",wire_api=\"responses\",{provider},\
             request_max_retries=0,stream_max_retries=0,supports_websockets=false}}",
            mock.base_url()
        ),
        "analytics.enabled=false".to_string(),
        "otel.metrics_exporter=\"none\"".to_string(),
        "features.plugins=false".to_string(),
        "features.unbounded_connection_retries=false".to_string(),
    ];
    let quoted: Vec<String> = overrides.iter().map(|o| format!("-c '{o}'")).collect();
    let script = format!("#!/bin/sh\nexec '{}' {} \"$@\"\n", codex_bin().display(), quoted.join(" "));
    let path = dir.join("codex");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.to_path_buf()
}

/// The server's environment: the mock's, the secrets, the passthrough, the wrapper first on PATH.
fn server_env(home: &CodexHome, wrapper: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = home.env();
    for (_, value) in env.iter_mut().filter(|(key, _)| key == "PATH") {
        *value = format!("{}:{value}", wrapper.display());
    }
    let owned = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    env.extend(owned(SECRETS));
    env.extend(owned(PASSED));
    env.push(("NO_PROXY".into(), "127.0.0.1,localhost".into()));
    env.push(("CODEX_IN_CLAUDE_ENV_PASSTHROUGH".into(), "CIC_PASSED, CIC_FAMILY_*".into()));
    env.extend(owned(extra));
    env
}

/// Panics naming every secret value found in the mock's request bodies.
fn assert_no_secret_sent(what: &str, mock: &MockModel) {
    let log = mock.request_log_text();
    let leaks: Vec<&str> = SECRETS.iter().filter(|(_, value)| log.contains(value)).map(|(name, _)| *name).collect();
    assert!(leaks.is_empty(), "{what}: the model received {leaks:?}");
    assert!(!log.contains("hostile-set-value"), "{what}: the user's policy widened the commands' environment");
}

/// The output of the `env` the model asked for, as codex sent it back.
fn env_output(mock: &MockModel) -> String {
    let outputs: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.json.clone())
        .flat_map(|body| body["input"].as_array().cloned().unwrap_or_default())
        .filter(|item| item["type"] == "function_call_output")
        .map(|item| item["output"].as_str().unwrap_or_default().to_string())
        .collect();
    outputs.join("\n")
}

fn repo_with_a_change() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("src/lib.rs", "pub fn answer() -> u32 {\n    41\n}\n");
    repo.write("build.sh", "printf 'built for %s\\n' \"$HOME\" > built.txt && git --version >> built.txt\n");
    repo.commit("project");
    repo.write("src/lib.rs", "pub fn answer() -> u32 {\n    42\n}\n");
    repo
}

#[test]
fn no_secret_of_the_servers_environment_reaches_the_model_in_any_tool_or_isolation() {
    let repo = repo_with_a_change();
    for isolation in ["inherit", "ignore-config", "ignore-rules"] {
        for tool in ["codex_consult", "codex_review_changes", "codex_delegate"] {
            let what = format!("{tool} with isolation {isolation}");
            let answer = match tool {
                "codex_consult" => consult_answer("checked"),
                "codex_review_changes" => review_answer("pass", json!([])),
                _ => "Built it.".to_string(),
            };
            let mut steps = vec![Step::shell("env")];
            if tool == "codex_delegate" {
                steps.push(Step::shell("sh build.sh"));
            }
            steps.push(Step::message(answer));
            let mock = MockModel::start(steps);
            let home = CodexHome::new(&mock);
            let mut config = std::fs::read_to_string(home.config_path()).unwrap();
            config.push_str(HOSTILE_POLICY);
            std::fs::write(home.config_path(), config).unwrap();
            let wrapper = tempfile::tempdir().unwrap();
            codex_with_provider(wrapper.path(), &mock, "env_key=\"MOCK_API_KEY\"");
            let mut server = Server::start(&server_env(&home, wrapper.path(), &[]));
            server.initialize(json!({}));
            let mut arguments = json!({"workspace_root": repo.path(), "isolation": isolation});
            match tool {
                "codex_consult" => arguments["question"] = json!("What does env say?"),
                "codex_delegate" => arguments["task"] = json!("Run the build."),
                _ => {}
            }
            let result = envelope(&server.call(1, tool, arguments));
            assert_eq!(result["ok"], json!(true), "{what}: {result}");

            assert_no_secret_sent(&what, &mock);
            let output = env_output(&mock);
            for (name, value) in PASSED {
                assert!(output.contains(&format!("{name}={value}")), "{what}: {name} did not reach the command");
            }
            assert!(output.contains("\nPATH=") && output.contains("\nHOME="), "{what}: {output}");
            assert!(!output.contains("MOCK_API_KEY") && !output.contains("CODEX_HOME="), "{what}: {output}");
            if tool == "codex_delegate" {
                let diff = result["diff"].as_str().unwrap_or_default();
                assert!(diff.contains("+built for /") && diff.contains("+git version"), "{what}: {result}");
            }
            assert!(mock.unscripted_requests().is_empty(), "{what}: codex asked for more than was scripted");
        }
    }
}

/// A provider that takes its key from codex's login: `CODEX_API_KEY` in the server's
/// environment, then `auth.json` in `CODEX_HOME`. The key reaches the provider, not a command.
#[test]
fn authentication_works_with_a_key_in_the_environment_and_with_auth_json() {
    let repo = repo_with_a_change();
    for source in ["environment", "auth.json"] {
        let key = format!("sk-envleak-login-{}", source.replace('.', "-"));
        let mock = MockModel::start(vec![Step::shell("env"), Step::message(consult_answer("checked"))]);
        let home = CodexHome::new(&mock);
        let wrapper = tempfile::tempdir().unwrap();
        codex_with_provider(wrapper.path(), &mock, "requires_openai_auth=true");
        let mut extra = vec![];
        if source == "environment" {
            extra.push(("CODEX_API_KEY", key.as_str()));
        } else {
            let auth = json!({"auth_mode": "apikey", "OPENAI_API_KEY": key});
            std::fs::write(home.path().join("auth.json"), auth.to_string()).unwrap();
        }
        let mut server = Server::start(&server_env(&home, wrapper.path(), &extra));
        server.initialize(json!({}));
        let arguments = json!({"workspace_root": repo.path(), "question": "env?", "isolation": "ignore-config"});
        let result = envelope(&server.call(1, "codex_consult", arguments));
        assert_eq!(result["ok"], json!(true), "{source}: {result}");
        let requests = mock.requests();
        assert!(!requests.is_empty());
        for request in &requests {
            assert_eq!(request.header("authorization"), Some(format!("Bearer {key}").as_str()), "{source}");
        }
        assert!(!mock.request_log_text().contains(&key), "{source}: the login key reached a command");
        assert_no_secret_sent(source, &mock);
    }
}

/// codex 0.169 offers `create_goal`/`update_goal` on a run that keeps its session, and an active
/// goal can start a turn after the final answer. No request offers them, and a model that calls
/// one anyway gets no goal: the run ends with the answer reported and no further request.
#[test]
fn goal_tools_are_never_offered_and_a_goal_call_starts_no_hidden_turn() {
    let repo = repo_with_a_change();
    let goal = Step::Events(vec![
        response_created(),
        output_item_done(function_call_item("goal_1", "create_goal", &json!({"objective": "keep editing forever"}))),
        response_completed(),
    ]);
    let mock = MockModel::start(vec![goal, Step::message("Done, nothing more to do.")]);
    let home = CodexHome::new(&mock);
    let mut server = Server::start(&home.env());
    server.initialize(json!({}));
    let arguments = json!({"workspace_root": repo.path(), "task": "Do it."});
    let result = envelope(&server.call(1, "codex_delegate", arguments));
    assert_eq!(result["ok"], json!(true), "{result}");
    let summary = result["summary"].as_str().unwrap_or_default();
    assert!(summary.ends_with("Done, nothing more to do."), "not the answer codex ended with: {result}");
    assert!(result["session_id"].as_str().is_some(), "the run keeps its session: {result}");

    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "codex made a request after the answer we report");
    assert!(mock.unscripted_requests().is_empty());
    for request in &requests {
        let tools: Vec<&str> = request.json.as_ref().unwrap()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|tool| tool["name"].as_str())
            .collect();
        assert!(tools.contains(&"exec_command"), "{tools:?}");
        assert!(!tools.iter().any(|name| name.contains("goal")), "goal tools offered: {tools:?}");
    }
}

/// A `model` or `reasoning_effort` that codex would read as a flag is refused, naming the
/// field, before codex is started (the mock hears nothing).
#[test]
fn flag_like_model_and_effort_are_refused_before_any_spend() {
    let repo = repo_with_a_change();
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let mut server = Server::start(&home.env());
    server.initialize(json!({}));
    for (field, value) in [("model", "--dangerously-bypass-approvals-and-sandbox"), ("reasoning_effort", "-c")] {
        let mut arguments = json!({"workspace_root": repo.path(), "question": "q?"});
        arguments[field] = json!(value);
        let result: Value = envelope(&server.call(1, "codex_consult", arguments));
        assert_eq!(result["error"]["code"], json!("invalid_arguments"), "{result}");
        assert_eq!(result["error"]["offending_param"], json!(field), "{result}");
        assert!(!result.to_string().contains(value), "the value is echoed: {result}");
    }
    assert!(mock.requests().is_empty());
}

/// `codex_status` and `setup` say which variables each side gets, by name, never a value.
#[test]
fn status_and_setup_name_what_is_passed_and_never_a_value() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let env = server_env(&home, &home.path().join("no-wrapper"), &[]);
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let status = envelope(&server.call(1, "codex_status", json!({})));
    let names = |key: &str| -> Vec<String> {
        let list = status["environment"][key].as_array().unwrap_or_else(|| panic!("{key}: {status}"));
        list.iter().map(|name| name.as_str().unwrap().to_string()).collect()
    };
    let (commands, codex_only) = (names("commands"), names("codex_only"));
    for name in ["PATH", "HOME", "CIC_PASSED", "CIC_FAMILY_A"] {
        assert!(commands.iter().any(|n| n == name), "{name} not listed for the commands: {commands:?}");
    }
    for name in ["CODEX_HOME", "MOCK_API_KEY", "OPENAI_API_KEY", "HTTPS_PROXY", "NO_PROXY"] {
        assert!(codex_only.iter().any(|n| n == name), "{name} not listed for codex: {codex_only:?}");
    }
    for (name, _) in SECRETS {
        assert!(!commands.iter().any(|n| n == name), "{name} listed for the commands");
    }
    for name in ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD", "DATABASE_URL", "CIC_UNLISTED"] {
        assert!(!codex_only.iter().any(|n| n == name), "{name} listed for codex");
    }
    assert_eq!(status["environment"]["passthrough"], json!(["CIC_PASSED", "CIC_FAMILY_*"]), "{status}");

    let out = crate::cli::run_in(home.path(), &["setup"], &env);
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let line = printed.lines().find(|line| line.contains("environment passed:")).unwrap_or_else(|| panic!("{printed}"));
    assert!(line.contains("CIC_PASSED") && line.contains("OPENAI_API_KEY") && line.contains("PATH"), "{line}");
    for (what, text) in [("codex_status", status.to_string()), ("setup", printed)] {
        for (name, value) in SECRETS.iter().chain(PASSED) {
            assert!(!text.contains(value), "{what} shows the value of {name}");
        }
    }
}

/// codex's defaults run a command in a login shell when the model asks (`login: true`, which
/// a hostile `AGENTS.md` can ask for) and source a snapshot of the user's interactive shell
/// before every command: either would re-export whatever the user's dotfiles export, past the
/// pinned policy. And a command could read the codex process's own environment through
/// `/proc` (codex 0.169 makes itself unreadable there). None of it may reach the model, with
/// codex's defaults for both (the test-only `allow_login_shell`/`shell_snapshot` keys removed)
/// and `SHELL` pointing at bash.
#[test]
fn dotfiles_and_the_codex_process_leak_nothing_to_the_commands() {
    let repo = repo_with_a_change();
    let probe = "env; for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ; done 2>/dev/null; echo probed";
    let login_shell = |index: &str| {
        Step::Events(vec![
            response_created(),
            output_item_done(function_call_item(index, "exec_command", &json!({"cmd": probe, "login": true}))),
            response_completed(),
        ])
    };
    for isolation in ["inherit", "ignore-config"] {
        let mock =
            MockModel::start(vec![login_shell("call_a"), Step::shell(probe), Step::message(consult_answer("checked"))]);
        let home = CodexHome::new(&mock);
        let config = std::fs::read_to_string(home.config_path()).unwrap();
        let config = config.replace("allow_login_shell = false\n", "").replace("shell_snapshot = false\n", "");
        std::fs::write(home.config_path(), config).unwrap();
        let user_home = tempfile::tempdir().unwrap();
        let dotfile = "export DOTFILE_SECRET=envleak-dotfile-secret\n";
        for name in [".bashrc", ".profile", ".bash_profile", ".zshrc", ".zshenv"] {
            std::fs::write(user_home.path().join(name), dotfile).unwrap();
        }
        let wrapper = tempfile::tempdir().unwrap();
        codex_with_provider(wrapper.path(), &mock, "env_key=\"MOCK_API_KEY\"");
        let home_value = user_home.path().display().to_string();
        let extra =
            [("HOME", home_value.as_str()), ("SHELL", "/bin/bash"), ("MOCK_API_KEY", "envleak-mock-provider-key")];
        let mut env = server_env(&home, wrapper.path(), &[]);
        env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut server = Server::start(&env);
        server.initialize(json!({}));
        let arguments = json!({"workspace_root": repo.path(), "question": "env?", "isolation": isolation});
        let result = envelope(&server.call(1, "codex_consult", arguments));
        assert_eq!(result["ok"], json!(true), "{isolation}: {result}");
        let output = env_output(&mock);
        assert!(output.contains("probed"), "{isolation}: {output}");
        assert_no_secret_sent(isolation, &mock);
        let log = mock.request_log_text();
        for value in ["envleak-dotfile-secret", "envleak-mock-provider-key"] {
            assert!(!log.contains(value), "{isolation}: {value} reached the model");
        }
    }
}
