//! `review --format sarif` from a shell, against the real codex and the mock model: findings
//! with and without lines become results with rules, levels and regions (a finding without a
//! file goes to the run's properties, as code scanning refuses a result without a location);
//! the exit status follows the verdict (0 pass, 1 at or above `--fail-on`, 2 an error); no
//! changes is an empty log that says so; a codex error and a usage error still print a log.
//! Every log is validated against the SARIF 2.1.0 schemas in `fixtures/sarif`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::cli::run_in;
use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step};
use crate::repo::TestRepo;
use crate::review::{repo_with_a_change, review_answer};

/// The SARIF log on stdout, after checking it against both SARIF 2.1.0 schemas.
fn valid_log(out: &Output) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut python = Command::new(root.join(".tools/venv/bin/python"))
        .arg(root.join("fixtures/sarif/validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test venv's python with jsonschema; run scripts/install-mcp-client.sh first");
    python.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let checked = python.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        checked.status.success(),
        "not valid SARIF 2.1.0:\n{}{}\n{log}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    serde_json::from_str(&log).unwrap()
}

fn review_sarif(repo: &TestRepo, home: &CodexHome, extra: &[&str]) -> Output {
    let mut args = vec!["review", "--format", "sarif"];
    args.extend(extra);
    run_in(repo.path(), &args, &home.env())
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", String::from_utf8_lossy(&out.stderr));
}

/// The log of a SARIF review of a changed repository whose model call is `step`, after checking
/// the exit status.
fn one_review(step: Step, exit: i32) -> Value {
    let mock = MockModel::start(vec![step]);
    let home = CodexHome::new(&mock);
    let out = review_sarif(&repo_with_a_change(), &home, &[]);
    assert_exit(&out, exit);
    valid_log(&out)
}

#[test]
fn findings_become_results_with_rules_levels_and_regions() {
    let findings = json!([
        {"severity": "high", "title": "Off by one", "file": "src/lib.rs", "line": 2, "line_end": 3,
         "evidence": "0..=n", "risk": "reads past the end", "recommendation": "use 0..n"},
        {"severity": "medium", "title": "Loop does nothing", "file": "./src/lib.rs", "line": null, "line_end": null,
         "evidence": "{}", "risk": "dead code", "recommendation": "remove it"},
        {"severity": "nit", "title": "No changelog entry", "file": null, "line": null, "line_end": null,
         "evidence": "", "risk": "", "recommendation": "add one"},
        {"severity": "high", "title": "Unchecked n", "file": "src/my lib.rs", "line": 1, "line_end": null,
         "evidence": "n", "risk": "r", "recommendation": "check n"},
        {"severity": "low", "title": "Unused i", "file": "src/lib.rs", "line": 2, "line_end": null,
         "evidence": "i", "risk": "a warning", "recommendation": "name it _i"}
    ]);
    let log = one_review(Step::message(review_answer("concerns", findings)), 1);
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], json!("codex-in-claude"));
    assert_eq!(driver["version"], json!(env!("CARGO_PKG_VERSION")));
    let rule_ids: Vec<&str> = driver["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rule_ids, ["codex-review/high", "codex-review/medium", "codex-review/low"], "one rule per severity");

    let results = run["results"].as_array().unwrap();
    let summary: Vec<(&str, &str, u64)> = results
        .iter()
        .map(|r| (r["ruleId"].as_str().unwrap(), r["level"].as_str().unwrap(), r["ruleIndex"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("codex-review/high", "error", 0),
            ("codex-review/medium", "warning", 1),
            ("codex-review/high", "error", 0),
            ("codex-review/low", "note", 2)
        ]
    );
    let location = |i: usize| results[i]["locations"][0]["physicalLocation"].clone();
    assert_eq!(
        location(0),
        json!({"artifactLocation": {"uri": "src/lib.rs", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 2, "endLine": 3}})
    );
    assert_eq!(
        location(1),
        json!({"artifactLocation": {"uri": "src/lib.rs", "uriBaseId": "%SRCROOT%"}}),
        "no line, no region"
    );
    assert_eq!(location(2)["artifactLocation"]["uri"], json!("src/my%20lib.rs"));
    assert_eq!(location(2)["region"], json!({"startLine": 1}));
    assert_eq!(
        results[0]["message"]["text"],
        json!("Off by one\nRisk: reads past the end\nRecommendation: use 0..n\nEvidence: 0..=n")
    );
    for result in results {
        let id = result["properties"]["finding_id"].as_str().unwrap();
        assert!(id.starts_with("f-"), "{result}");
        assert_eq!(result["partialFingerprints"], json!({"findingId/v1": id}));
    }
    assert_eq!(results[1]["properties"]["file"], json!("./src/lib.rs"), "the finding keeps what codex wrote");

    let properties = &run["properties"];
    let unplaced = properties["findings_without_file"].as_array().unwrap();
    assert_eq!(unplaced.len(), 1, "{properties}");
    assert_eq!(
        (unplaced[0]["title"].clone(), unplaced[0]["severity"].clone()),
        (json!("No changelog entry"), json!("nit"))
    );
    assert_eq!(
        run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"],
        json!(
            "1 finding(s) name no file; code scanning refuses a whole log when a result has no location, so they are in the run's properties.findings_without_file instead of results"
        )
    );
    assert_eq!(properties["verdict"], json!("concerns"));
    assert_eq!(properties["review_status"], json!("completed"));
    assert_eq!(properties["summary"], json!("verdict concerns"));
    assert_eq!(properties["coverage"]["status"], json!("complete"));
    assert!(properties["meta"].get("truncated").is_none(), "nothing was cut");
    assert!(properties.get("findings").is_none(), "the findings are the results");
    assert_eq!(run["invocations"][0]["executionSuccessful"], json!(true));
    assert_eq!(run["invocations"][0]["exitCode"], json!(1));
}

#[test]
fn a_pass_exits_0_and_a_fail_exits_1_unless_fail_on_says_otherwise() {
    let failing = json!([{"severity": "critical", "title": "Data loss", "file": "src/lib.rs", "line": 2,
        "line_end": null, "evidence": "e", "risk": "r", "recommendation": "x"}]);
    let mock = MockModel::start(vec![
        Step::message(review_answer("pass", json!([]))),
        Step::message(review_answer("fail", failing.clone())),
        Step::message(review_answer("fail", failing)),
        Step::message(review_answer("concerns", json!([]))),
    ]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();

    let pass = review_sarif(&repo, &home, &["--pretty"]);
    assert_exit(&pass, 0);
    assert!(String::from_utf8_lossy(&pass.stdout).lines().count() > 10, "--pretty indents");
    let log = valid_log(&pass);
    assert_eq!(log["runs"][0]["results"], json!([]));
    assert_eq!(log["runs"][0]["tool"]["driver"]["rules"], json!([]));
    assert_eq!(log["runs"][0]["properties"]["verdict"], json!("pass"));

    let fail = review_sarif(&repo, &home, &[]);
    assert_exit(&fail, 1);
    let log = valid_log(&fail);
    assert_eq!(log["runs"][0]["results"][0]["level"], json!("error"));
    assert_eq!(log["runs"][0]["properties"]["verdict"], json!("fail"));

    assert_exit(&review_sarif(&repo, &home, &["--fail-on", "never"]), 0);
    let concerns = review_sarif(&repo, &home, &["--fail-on", "fail"]);
    assert_exit(&concerns, 0);
    assert_eq!(valid_log(&concerns)["runs"][0]["properties"]["verdict"], json!("concerns"));
    assert_eq!(mock.requests().len(), 4);
}

#[test]
fn a_pass_over_partial_coverage_is_not_a_pass_in_ci() {
    let mock = MockModel::start(vec![Step::message(review_answer("pass", json!([])))]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    repo.write("src/new_module.rs", "pub fn hidden() {}\n");
    let out = review_sarif(&repo, &home, &[]);
    assert_exit(&out, 1);
    let log = valid_log(&out);
    let run = &log["runs"][0];
    assert_eq!(run["properties"]["verdict"], json!("unknown"));
    assert_eq!(run["properties"]["coverage"]["omission_reasons"], json!(["untracked_omitted"]));
    assert_eq!(
        run["invocations"][0]["toolExecutionNotifications"],
        json!([{"level": "warning", "message": {"text": "coverage was partial: untracked_omitted"}}])
    );
}

#[test]
fn no_changes_is_an_empty_log_that_says_so_and_exits_0() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let repo = TestRepo::new();
    let out = review_sarif(&repo, &home, &[]);
    assert_exit(&out, 0);
    let log = valid_log(&out);
    let run = &log["runs"][0];
    assert_eq!(run["results"], json!([]));
    assert_eq!(run["properties"]["review_status"], json!("not_run"));
    assert_eq!(run["invocations"][0]["executionSuccessful"], json!(true));
    let note = &run["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(note["level"], json!("note"));
    assert!(note["message"]["text"].as_str().unwrap().starts_with("No changes to review"), "{note}");
    assert_eq!(mock.requests().len(), 0, "no model call");
}

#[test]
fn a_codex_error_exits_2_with_a_log_that_says_why() {
    let log = one_review(Step::http_error(401, "Incorrect API key provided"), 2);
    let run = &log["runs"][0];
    assert_eq!(run["results"], json!([]));
    let invocation = &run["invocations"][0];
    assert_eq!((invocation["executionSuccessful"].clone(), invocation["exitCode"].clone()), (json!(false), json!(2)));
    let notification = &invocation["toolExecutionNotifications"][0];
    assert_eq!(notification["level"], json!("error"));
    assert_eq!(notification["descriptor"]["id"], json!("codex_auth_required"));
    assert!(notification["message"]["text"].as_str().unwrap().starts_with("codex_auth_required: "), "{notification}");
    assert_eq!(run["properties"]["error"]["code"], json!("codex_auth_required"));
    assert_eq!(run["properties"]["ok"], json!(false));
}

#[test]
fn a_usage_error_exits_2_with_a_log_and_the_usage_on_stderr() {
    let mock = MockModel::start(vec![]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let out = review_sarif(&repo, &home, &["--fail-on", "sometimes"]);
    assert_exit(&out, 2);
    let log = valid_log(&out);
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], json!(false));
    assert_eq!(
        invocation["toolExecutionNotifications"][0]["message"]["text"],
        json!("usage error: --fail-on takes unknown, concerns, fail or never, not 'sometimes'")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("codex-in-claude: --fail-on takes") && stderr.contains("USAGE:"), "{stderr}");
    assert_eq!(mock.requests().len(), 0);
}
