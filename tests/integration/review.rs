//! `codex_review_changes` and `codex_dry_run` end to end: real git repositories, the real pinned
//! codex against the mock model. Covers the verdict and findings, the honest-review rules (no
//! model call for nothing, no pass over partial coverage, no prose reviews), scopes and refs,
//! truncation, binary files, and the proof that planted secrets never reach the model.

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step};
use crate::repo::TestRepo;
use crate::support::{Server, envelope};

/// A review answer in the output schema's shape.
pub fn review_answer(verdict: &str, findings: Value) -> String {
    json!({
        "summary": format!("verdict {verdict}"),
        "verdict": verdict,
        "confidence": "high",
        "findings": findings,
        "questions": [],
        "assumptions": [],
        "next_steps": []
    })
    .to_string()
}

fn off_by_one() -> Value {
    json!([{
        "severity": "high", "title": "Off by one", "file": "src/lib.rs", "line": 2, "line_end": 2,
        "evidence": "i <= n", "risk": "reads past the end", "recommendation": "use i < n"
    }])
}

fn server_for(home: &CodexHome, extra_env: &[(&str, &str)]) -> Server {
    let mut env = home.env();
    env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    server
}

fn call(server: &mut Server, tool: &str, repo: &TestRepo, extra: Value) -> Value {
    let mut arguments = json!({"workspace_root": repo.path()});
    arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    envelope(&server.call(21, tool, arguments))
}

/// A repo whose working tree changes `src/lib.rs`.
pub fn repo_with_a_change() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("src/lib.rs", "fn f(n: usize) {\n    for i in 0..n {}\n}\n");
    repo.commit("add lib");
    repo.write("src/lib.rs", "fn f(n: usize) {\n    for i in 0..=n {}\n}\n");
    repo
}

#[test]
fn review_returns_verdict_findings_and_complete_coverage() {
    let mock = MockModel::start(vec![Step::message(review_answer("concerns", off_by_one()))]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let mut server = server_for(&home, &[]);
    let result = call(&mut server, "codex_review_changes", &repo, json!({"extra_context": "loop fix"}));

    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["verdict"], json!("concerns"));
    assert_eq!(result["confidence"], json!("high"));
    assert_eq!(result["review_status"], json!("completed"));
    assert_eq!(result["findings"][0]["title"], json!("Off by one"));
    assert_eq!(result["coverage"]["status"], json!("complete"), "{}", result["coverage"]);
    let meta = &result["meta"];
    assert!(meta.get("scope").is_none(), "the default scope is not restated: {meta}");
    assert_eq!(meta["context_summary"], json!({"files_changed": 1, "lines_added": 1, "lines_removed": 1}));
    assert!(meta.get("truncated").is_none(), "{meta}");

    let log = mock.request_log_text();
    assert!(log.contains("0..=n"), "the diff must reach the model");
    assert!(log.contains("Author-provided context") && log.contains("loop fix"));
    let body = mock.requests()[0].json.clone().unwrap();
    assert!(body["text"]["format"]["schema"]["properties"]["verdict"].is_object(), "review schema not sent");
}

#[test]
fn nothing_to_review_means_no_model_call_and_no_pass() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let repo = TestRepo::new();
    let mut server = server_for(&home, &[]);
    let result = call(&mut server, "codex_review_changes", &repo, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["review_status"], json!("not_run"));
    assert_eq!((result["verdict"].clone(), result["confidence"].clone()), (json!("unknown"), json!("low")));
    assert!(result["meta"].get("elapsed_ms").is_none(), "codex never ran: {result}");
    assert_eq!(mock.requests().len(), 0, "no model call for an empty diff");

    let dry = call(&mut server, "codex_dry_run", &repo, json!({}));
    assert_eq!(dry["would_call_model"], json!(false), "{dry}");
    assert_eq!(dry["prompt_bytes"], json!(0));
}

#[test]
fn a_pass_over_partial_coverage_is_downgraded() {
    let mock = MockModel::start(vec![Step::message(review_answer("pass", json!([])))]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    repo.write("src/new_module.rs", "pub fn hidden() {}\n");
    let mut server = server_for(&home, &[]);
    let result = call(&mut server, "codex_review_changes", &repo, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["verdict"], json!("unknown"), "a pass over partial coverage is not a pass");
    assert_eq!(result["confidence"], json!("low"));
    let coverage = &result["coverage"];
    assert_eq!(coverage["status"], json!("partial"));
    assert_eq!(coverage["untracked_files_detected"], json!(1));
    assert_eq!(coverage["untracked_files_omitted"], json!(1));
    assert_eq!(coverage["omission_reasons"], json!(["untracked_omitted"]));
    assert!(!mock.request_log_text().contains("hidden()"), "an omitted untracked file was sent");
}

#[test]
fn untracked_files_are_included_when_asked() {
    let mock = MockModel::start(vec![Step::message(review_answer("pass", json!([])))]);
    let home = CodexHome::new(&mock);
    let repo = TestRepo::new();
    repo.write("src/new_module.rs", "pub fn visible() {}\n");
    let mut server = server_for(&home, &[]);
    let result = call(&mut server, "codex_review_changes", &repo, json!({"untracked": "include"}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["verdict"], json!("pass"), "complete coverage keeps the model's pass");
    assert_eq!(result["coverage"]["untracked_files_included"], json!(1));
    assert!(mock.request_log_text().contains("visible()"));
}

#[test]
fn answers_that_ignore_the_schema_are_errors_not_reviews() {
    for (answer, code) in [
        ("Looks fine to me, ship it!".to_string(), "invalid_json"),
        (json!({"summary": "fine", "findings": []}).to_string(), "schema_violation"),
    ] {
        let mock = MockModel::start(vec![Step::message(answer)]);
        let home = CodexHome::new(&mock);
        let repo = repo_with_a_change();
        let mut server = server_for(&home, &[]);
        let result = call(&mut server, "codex_review_changes", &repo, json!({}));
        assert_eq!(result["error"]["code"], json!(code), "{result}");
        assert!(
            result["meta"]["elapsed_ms"].is_u64() && result["meta"].get("command_exit_code").is_none(),
            "exit 0: {result}"
        );
    }
}

#[test]
fn branch_and_commit_scopes_accept_revisions() {
    let mock = MockModel::start(vec![
        Step::message(review_answer("pass", json!([]))),
        Step::message(review_answer("fail", off_by_one())),
    ]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    repo.commit("the change");
    let mut server = server_for(&home, &[]);
    let branch = call(&mut server, "codex_review_changes", &repo, json!({"scope": "branch", "base": "HEAD~1"}));
    assert_eq!(branch["ok"], json!(true), "{branch}");
    assert!(branch["meta"].get("base").is_none(), "the request's base is not restated: {branch}");
    let commit = call(&mut server, "codex_review_changes", &repo, json!({"scope": "commit", "commit": "HEAD"}));
    assert_eq!(commit["verdict"], json!("fail"), "{commit}");
    let log = mock.request_log_text();
    assert_eq!(log.matches("0..=n").count(), 2, "both reviews must carry the change");
}

#[test]
fn bad_refs_and_paths_are_rejected_before_any_spend() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let mut server = server_for(&home, &[]);
    let cases = [
        (json!({"scope": "branch"}), "invalid_base"),
        (json!({"scope": "branch", "base": "--output=/tmp/x"}), "invalid_base"),
        (json!({"scope": "branch", "base": "no-such-branch"}), "invalid_base"),
        (json!({"scope": "commit", "commit": "$(touch${IFS}pwned)"}), "invalid_commit"),
        (json!({"scope": "commit", "commit": "$(touch pwned)"}), "invalid_arguments"),
        (json!({"paths": ["../outside"]}), "invalid_paths"),
        (json!({"paths": ["/etc/passwd"]}), "invalid_paths"),
        (json!({"paths": [":(glob)*"]}), "invalid_paths"),
        (json!({"paths": ["src/\u{0}lib.rs"]}), "invalid_paths"),
        (json!({"paths": ["src/\u{1b}[31m"]}), "invalid_paths"),
    ];
    for (arguments, code) in cases {
        let result = call(&mut server, "codex_review_changes", &repo, arguments.clone());
        assert_eq!(result["error"]["code"], json!(code), "{arguments} → {result}");
    }
    assert!(!repo.path().join("pwned").exists());
    assert_eq!(mock.requests().len(), 0);
    let not_repo = TestRepo::not_a_repo();
    let result = call(&mut server, "codex_review_changes", &not_repo, json!({}));
    assert_eq!(result["error"]["code"], json!("not_a_git_repo"), "{result}");
}

#[test]
fn planted_secrets_never_reach_the_model() {
    let mock = MockModel::start(vec![Step::message(review_answer("concerns", json!([])))]);
    let home = CodexHome::new(&mock);
    let repo = TestRepo::new();
    repo.write(".env", "PLACEHOLDER=1\n");
    repo.commit("env");
    let aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let github = "ghp_R4nd0mT0k3nV4lu3Th4tL00ksR34l12345678";
    let pem_body = "MIIEowIBAAKCAQEA7bq9lmO4xVVdTXbVnZn8d3s6pB2x";
    let db_password = "Sup3rS3cretDbPassw0rd";
    repo.write(".env", &format!("AWS_SECRET_ACCESS_KEY={aws_secret}\n"));
    repo.write(
        "src/settings.py",
        &format!(
            "GITHUB_TOKEN = \"{github}\"\nDATABASE_URL = \"postgres://app:{db_password}@db.internal:5432/app\"\n\
             KEY = \"\"\"-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----\"\"\"\n\
             def token_count(tokens):\n    return len(tokens)\n"
        ),
    );
    repo.write("config/app.json", &format!("{{\"client_secret\": \"{github}x\", \"retries\": 3}}\n"));
    let mut server = server_for(&home, &[]);
    let result = call(
        &mut server,
        "codex_review_changes",
        &repo,
        json!({"untracked": "include", "extra_context": format!("we rotated {github}")}),
    );
    assert_eq!(result["ok"], json!(true), "{result}");
    let log = mock.request_log_text();
    for secret in [aws_secret, github, pem_body, db_password] {
        assert!(!log.contains(secret), "secret {secret} reached the model");
        assert!(!result.to_string().contains(secret), "secret {secret} is in the envelope");
    }
    assert!(log.contains("def token_count"), "ordinary code must still be sent");
    let redacted: Vec<&str> =
        result["meta"]["redacted_paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(redacted.contains(&".env") && redacted.contains(&"src/settings.py"), "{redacted:?}");
    assert_eq!(result["coverage"]["redaction"]["withheld_paths"], json!([".env"]));
    assert_eq!(result["coverage"]["omission_reasons"], json!(["redacted"]));
}

#[test]
fn a_diff_over_the_limit_is_truncated_with_a_hint() {
    let mock = MockModel::start(vec![Step::message(review_answer("pass", json!([])))]);
    let home = CodexHome::new(&mock);
    let repo = TestRepo::new();
    let big: String = (0..400).map(|i| format!("line number {i} of a long file\n")).collect();
    repo.write("big.txt", &big);
    repo.git(&["add", "big.txt"]);
    let mut server = server_for(&home, &[("CODEX_IN_CLAUDE_MAX_INPUT_BYTES", "2000")]);
    let dry = call(&mut server, "codex_dry_run", &repo, json!({}));
    assert_eq!(dry["truncated"], json!(true), "{dry}");
    assert!(dry["truncation_hint"].as_str().unwrap().contains("2000"), "{dry}");
    assert_eq!(dry["coverage"]["status"], json!("partial"));

    let result = call(&mut server, "codex_review_changes", &repo, json!({}));
    assert_eq!(result["verdict"], json!("unknown"), "a truncated review cannot pass: {result}");
    assert!(mock.request_log_text().contains("line number 1 of"));
    assert!(!mock.request_log_text().contains("line number 399 of"), "the cut part was sent");
}

#[test]
fn dry_run_reports_what_would_be_sent_without_calling_the_model() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    std::fs::write(repo.path().join("logo.png"), [0x89, b'P', b'N', b'G', 0, 1, 2, 3, 0, 0xff]).unwrap();
    repo.git(&["add", "logo.png"]);
    let mut server = server_for(&home, &[]);
    let dry = call(&mut server, "codex_dry_run", &repo, json!({}));
    assert_eq!(dry["ok"], json!(true), "{dry}");
    assert_eq!(dry["would_call_model"], json!(true));
    assert!(dry["prompt_bytes"].as_u64().unwrap() > 100);
    assert_eq!(dry["binary_files"], json!(["logo.png"]));
    assert_eq!(dry["context_summary"]["files_changed"], json!(2));
    assert_eq!(mock.requests().len(), 0, "a dry run never calls the model");
}

#[test]
fn symlinks_pointing_outside_the_repository_are_never_followed() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let outside = tempfile::tempdir().unwrap();
    let (first, second) = (outside.path().join("first-secret.txt"), outside.path().join("second-secret.txt"));
    std::fs::write(&first, "FIRST-OUTSIDE-CONTENT\n").unwrap();
    std::fs::write(&second, "SECOND-OUTSIDE-CONTENT\n").unwrap();
    let repo = TestRepo::new();
    std::os::unix::fs::symlink(&first, repo.path().join("tracked-link")).unwrap();
    repo.commit("a link");
    std::fs::remove_file(repo.path().join("tracked-link")).unwrap();
    std::os::unix::fs::symlink(&second, repo.path().join("tracked-link")).unwrap();
    std::os::unix::fs::symlink(&second, repo.path().join("untracked-link")).unwrap();
    let mut server = server_for(&home, &[]);
    let dry = call(&mut server, "codex_dry_run", &repo, json!({"untracked": "include"}));
    assert_eq!(dry["ok"], json!(true), "{dry}");
    assert_eq!(dry["coverage"]["untracked_files_included"], json!(1), "{dry}");
    let text = dry.to_string();
    assert!(!text.contains("OUTSIDE-CONTENT"), "a link was followed: {text}");
    // What is reviewed is the link itself: its target path.
    let review_log = {
        let mock = MockModel::start(vec![Step::message(review_answer("pass", json!([])))]);
        let home = CodexHome::new(&mock);
        let mut server = server_for(&home, &[]);
        let result = call(&mut server, "codex_review_changes", &repo, json!({"untracked": "include"}));
        assert_eq!(result["ok"], json!(true), "{result}");
        mock.request_log_text()
    };
    assert!(review_log.contains("second-secret.txt"), "the link target path is the reviewed content");
    assert!(!review_log.contains("OUTSIDE-CONTENT"), "a link was followed into the request");
}

#[test]
fn a_filter_driver_of_the_repositorys_own_config_is_not_run_and_says_so() {
    let repo = TestRepo::new();
    let marker = repo.path().join(".git/filter-ran");
    repo.git(&["config", "filter.rot.clean", &format!("sh -c 'touch {}; cat'", marker.display())]);
    repo.write(".gitattributes", "*.rot filter=rot\n");
    repo.write("a.rot", "text\n");
    repo.commit("filtered");
    std::fs::remove_file(&marker).unwrap();
    repo.write("a.rot", "text\nmore\n");
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let mut server = server_for(&home, &[]);
    let dry = call(&mut server, "codex_dry_run", &repo, json!({}));
    assert_eq!(dry["context_summary"]["files_changed"], json!(1), "{dry}");
    let warnings = dry["meta"]["security_warnings"].to_string();
    assert!(warnings.contains("filter driver(s) rot") && warnings.contains("never run"), "{warnings}");
    assert!(!marker.exists(), "the repository's filter ran");
}

#[test]
fn a_focus_reaches_the_prompt_as_the_users_instruction_and_is_echoed_in_meta() {
    let mock = MockModel::start(vec![
        Step::message(review_answer("concerns", off_by_one())),
        Step::message(review_answer("concerns", off_by_one())),
    ]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let mut server = server_for(&home, &[]);
    let focus = "Assume hostile input; look hardest at bounds.";
    let result = call(&mut server, "codex_review_changes", &repo, json!({"focus": focus}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["meta"]["focus"], json!(focus));
    let log = mock.request_log_text();
    assert!(log.contains("The user's focus for this review"), "the focus heading is missing");
    assert!(log.contains(focus) && log.contains("give the verdict for the whole diff"));

    // The async twin stores the focus with its other arguments, masked like them.
    let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    let job_id = crate::jobs::start(
        &mut server,
        "codex_review_changes_async",
        repo.path(),
        json!({"focus": format!("{focus} The token {token} is fine.")}),
    );
    crate::jobs::wait_finished(&mut server, repo.path(), &job_id, std::time::Duration::from_secs(60));
    let stored = call(&mut server, "codex_job_result", &repo, json!({"job_id": job_id}));
    assert_eq!(stored["ok"], json!(true), "{stored}");
    let echoed = stored["meta"]["focus"].as_str().unwrap();
    assert!(echoed.starts_with(focus) && echoed.contains("[redacted"), "{echoed}");
    assert!(!mock.request_log_text().contains(token), "a secret in the focus reached the model");
    assert!(mock.requests()[1].body.contains("look hardest at bounds"));
}

#[test]
fn a_blank_or_overlong_focus_is_invalid_arguments_naming_focus() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let mut server = server_for(&home, &[]);
    for tool in ["codex_review_changes", "codex_review_changes_async"] {
        for focus in [json!("   "), json!("x".repeat(2001)), json!(7)] {
            let result = call(&mut server, tool, &repo, json!({"focus": focus}));
            assert_eq!(result["error"]["code"], json!("invalid_arguments"), "{result}");
            assert_eq!(result["error"]["offending_param"], json!("focus"), "{result}");
        }
    }
    // Within its own bound, a focus still counts toward the input limit.
    let mut small = server_for(&home, &[("CODEX_IN_CLAUDE_MAX_INPUT_BYTES", "1000")]);
    for tool in ["codex_review_changes", "codex_review_changes_async"] {
        let result = call(&mut small, tool, &repo, json!({"focus": "y".repeat(1500)}));
        assert_eq!(result["error"]["code"], json!("input_too_large"), "{result}");
        assert_eq!(result["error"]["offending_param"], json!("focus"), "{result}");
    }
    assert_eq!(mock.requests().len(), 0);
}
