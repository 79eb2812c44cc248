//! Nothing Codex says is lost without the result saying so (issue 13), end to end with the real
//! pinned codex against the mock model: odd severities and line numbers survive, every cap that
//! cuts sets `meta.truncated` with a hint, a review that lost findings or whose commands the
//! sandbox refused is never a pass, a turn with no final message is `no_final_message` (a
//! delegation's edits still come back), and bidi controls never reach an envelope. Every
//! envelope here is also checked against the tool's advertised `outputSchema`.

use std::path::Path;

use serde_json::{Value, json};

use crate::codex_home::{CodexHome, codex_bin};
use crate::mock_model::{MockModel, Step, response_completed, response_created};
use crate::repo::TestRepo;
use crate::review::{repo_with_a_change, review_answer};
use crate::support::{Server, envelope};

/// A server on `env` (the real codex wired to a mock), initialised, with every tool's
/// `outputSchema` at hand.
struct Checked {
    server: Server,
    schemas: Value,
}

impl Checked {
    fn new(env: Vec<(String, String)>) -> Checked {
        let mut server = Server::start(&env);
        server.initialize(json!({}));
        let list = server.request(json!("list"), "tools/list", json!({}));
        let schemas: serde_json::Map<String, Value> = list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tool| (tool["name"].as_str().unwrap().to_string(), tool["outputSchema"].clone()))
            .collect();
        Checked { server, schemas: Value::Object(schemas) }
    }

    fn on(home: &CodexHome) -> Checked {
        Checked::new(home.env())
    }

    /// Calls `tool` in `workspace` and returns the envelope, after checking it against the
    /// tool's `outputSchema`.
    fn call(&mut self, tool: &str, workspace: &Path, arguments: Value) -> Value {
        let mut arguments = arguments;
        arguments["workspace_root"] = json!(workspace);
        let result = envelope(&self.server.call(5, tool, arguments));
        if let Err(problem) = conforms(&result, &self.schemas[tool], "$") {
            panic!("{tool} result does not match its outputSchema: {problem}\n{result:#}");
        }
        let named = self.schemas[tool]["properties"].as_object().unwrap();
        for member in result.as_object().unwrap().keys() {
            assert!(named.contains_key(member), "{tool} returned {member}, which its outputSchema does not name");
        }
        result
    }
}

/// A small validator for the JSON Schema keywords our output schemas use (`type`, `const`,
/// `enum`, `required`, `properties`, `items`, `anyOf`); `Err` names the first mismatch.
fn conforms(value: &Value, schema: &Value, at: &str) -> Result<(), String> {
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(name) => vec![name.as_str()],
            other => other.as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect(),
        };
        let is = |name: &str| match name {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("validator does not know type {other}"),
        };
        if !names.iter().any(|name| is(name)) {
            return Err(format!("{at}: {value} is not of type {types}"));
        }
    }
    if let Some(constant) = schema.get("const").filter(|c| *c != value) {
        return Err(format!("{at}: {value} is not {constant}"));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array).filter(|a| !a.contains(value)) {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(object) = value.as_object() {
        for key in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !object.contains_key(key.as_str().unwrap()) {
                return Err(format!("{at}: missing {key}"));
            }
        }
        for (key, sub) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
            if let Some(member) = object.get(key) {
                conforms(member, sub, &format!("{at}.{key}"))?;
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            conforms(item, items, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let problems: Vec<String> = branches.iter().filter_map(|branch| conforms(value, branch, at).err()).collect();
        if problems.len() == branches.len() {
            return Err(format!("{at}: no anyOf branch matches: {problems:?}"));
        }
    }
    Ok(())
}

#[test]
fn the_validator_rejects_what_the_schemas_forbid() {
    let schema = json!({"type": "object", "required": ["ok"], "anyOf": [
        {"required": ["ok", "n"], "properties": {"ok": {"const": true}, "n": {"type": "integer"}, "s": {"enum": ["a"]}}},
        {"required": ["ok"], "properties": {"ok": {"const": false}}}
    ]});
    assert!(conforms(&json!({"ok": true, "n": 1, "s": "a"}), &schema, "$").is_ok());
    assert!(conforms(&json!({"ok": false}), &schema, "$").is_ok());
    for bad in [json!({"ok": true}), json!({"ok": true, "n": "1"}), json!({"ok": true, "n": 1, "s": "b"}), json!([])] {
        assert!(conforms(&bad, &schema, "$").is_err(), "{bad}");
    }
}

fn finding(severity: Value, line: Value, title: &str) -> Value {
    json!({
        "severity": severity, "title": title, "file": "src/lib.rs", "line": line, "line_end": null,
        "evidence": "e", "risk": "r", "recommendation": "fix"
    })
}

/// Asks codex, answering `answer`, a question with `extra` arguments, in a scratch workspace.
fn consult(answer: Step, extra: Value) -> Value {
    let mock = MockModel::start(vec![answer]);
    let home = CodexHome::new(&mock);
    let workspace = tempfile::tempdir().unwrap();
    let mut arguments = json!({"question": "q"});
    arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let result = Checked::on(&home).call("codex_consult", workspace.path(), arguments);
    assert_eq!(result["ok"], json!(true), "{result}");
    result
}

/// Reviews `repo` with codex scripted by `steps`, `codex_first` (a wrapper around the real
/// codex) first on PATH when given. Returns the checked envelope, and the mock for its log.
fn review(repo: &TestRepo, steps: Vec<Step>, codex_first: Option<&Path>) -> (Value, MockModel) {
    let mock = MockModel::start(steps);
    let home = CodexHome::new(&mock);
    let mut env = home.env();
    if let Some(dir) = codex_first {
        for (_, value) in env.iter_mut().filter(|(key, _)| key == "PATH") {
            *value = format!("{}:{value}", dir.display());
        }
    }
    let result = Checked::new(env).call("codex_review_changes", repo.path(), json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    (result, mock)
}

/// A model turn that completes with no message at all.
fn silent_turn() -> Step {
    Step::Events(vec![response_created(), response_completed()])
}

#[test]
fn odd_severities_and_line_numbers_are_kept_mapped_and_reported() {
    let findings = json!([
        finding(json!("HIGH"), json!(3), "upper case"),
        finding(json!("info"), json!(-1), "a synonym, a negative line"),
        finding(json!("urgent"), json!("12"), "unknown severity, line as text"),
        finding(json!("low"), json!(2.5), "a fractional line"),
    ]);
    let answer = json!({"summary": "s", "findings": findings, "questions": [], "assumptions": [], "next_steps": []});
    let result = consult(Step::message(answer.to_string()), json!({}));
    let got: Vec<(Value, Value, Value)> = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["severity"].clone(), f.get("severity_original").cloned().unwrap_or(Value::Null), f["line"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!("high"), Value::Null, json!(3)),
            (json!("nit"), json!("info"), Value::Null),
            (json!("medium"), json!("urgent"), json!(12)),
            (json!("low"), Value::Null, Value::Null),
        ],
        "{result:#}"
    );
    let warnings = result["meta"]["answer_warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().starts_with("2 finding severities")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.as_str().unwrap().starts_with("2 finding line numbers")), "{warnings:?}");
    assert!(result["meta"].get("truncated").is_none(), "nothing was cut: {result}");
}

#[test]
fn a_review_that_lost_findings_to_the_cap_says_so_and_is_not_a_pass() {
    let findings: Vec<Value> = (0..150).map(|i| finding(json!("low"), json!(i + 1), &format!("finding {i}"))).collect();
    let steps = vec![Step::message(review_answer("pass", json!(findings)))];
    let (result, _) = review(&repo_with_a_change(), steps, None);

    assert_eq!(result["findings"].as_array().unwrap().len(), 100);
    assert_eq!(result["meta"]["truncated"], json!(true));
    let hint = result["meta"]["truncation_hint"].as_str().unwrap();
    assert!(hint.contains("150 findings, 100 returned"), "{hint}");
    assert_eq!((result["verdict"].clone(), result["confidence"].clone()), (json!("unknown"), json!("low")));
    assert_eq!(result["coverage"]["status"], json!("partial"), "{}", result["coverage"]);
    assert_eq!(result["coverage"]["omission_reasons"], json!(["findings_truncated"]));
}

#[test]
fn a_long_prose_answer_is_cut_with_a_hint_and_detail_full_has_more() {
    let prose = "The answer goes on. ".repeat(10_000);
    let mock = MockModel::start(vec![Step::message(prose)]);
    let home = CodexHome::new(&mock);
    // The parser's own bounds, under an inline cap that holds them (spill.rs checks the default).
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_MAX_INLINE_BYTES".into(), "1000000".into()));
    let workspace = tempfile::tempdir().unwrap();
    let arguments = json!({"question": "q", "detail": "full"});
    let result = Checked::new(env).call("codex_consult", workspace.path(), arguments);
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["summary"].as_str().unwrap().chars().count(), 20_000);
    assert_eq!(result["meta"]["truncated"], json!(true));
    let hint = result["meta"]["truncation_hint"].as_str().unwrap();
    assert!(hint.contains("cut to 20000 characters"), "{hint}");
    assert!(hint.contains("raw_response.text cut to 100000 characters"), "{hint}");
    assert_eq!(result["raw_response"]["text"].as_str().unwrap().chars().count(), 100_000);
}

#[test]
fn a_final_message_over_the_output_cap_is_cut_and_says_so() {
    let mock = MockModel::start(vec![Step::message("word ".repeat(20_000))]);
    let home = CodexHome::new(&mock);
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_MAX_OUTPUT_BYTES".into(), "65536".into()));
    let workspace = tempfile::tempdir().unwrap();
    let result = Checked::new(env).call("codex_consult", workspace.path(), json!({"question": "q"}));

    assert_eq!(result["ok"], json!(true), "{result}");
    let hint = result["meta"]["truncation_hint"].as_str().unwrap();
    assert!(hint.contains("final message was cut at 65536 bytes"), "{hint}");
}

#[test]
fn a_turn_without_a_final_message_is_no_final_message_for_consult_and_review() {
    let mock = MockModel::start(vec![silent_turn(), silent_turn()]);
    let home = CodexHome::new(&mock);
    let repo = repo_with_a_change();
    let mut checked = Checked::on(&home);

    let consult = checked.call("codex_consult", repo.path(), json!({"question": "q"}));
    assert_eq!(consult["error"]["code"], json!("no_final_message"), "{consult}");
    assert!(consult["meta"]["elapsed_ms"].is_u64(), "codex ran: {consult}");
    assert!(consult["meta"].get("command_exit_code").is_none(), "codex itself succeeded (exit 0 is left out)");
    assert!(consult["meta"]["session_id"].is_string(), "{consult}");
    let review = checked.call("codex_review_changes", repo.path(), json!({}));
    assert_eq!(review["error"]["code"], json!("no_final_message"), "{review}");
    assert!(review["error"]["repair"].as_str().unwrap().contains("retry"));
    assert_eq!(mock.requests().len(), 2);
}

const PATCH: &str = "*** Begin Patch\n*** Add File: added.txt\n+made by codex\n*** End Patch";

#[test]
fn a_delegation_without_a_final_message_keeps_its_diff_and_without_either_is_an_error() {
    let mock = MockModel::start(vec![Step::apply_patch(PATCH), silent_turn(), silent_turn()]);
    let home = CodexHome::new(&mock);
    let base = tempfile::tempdir().unwrap();
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_WORKTREE_BASE".into(), base.path().display().to_string()));
    let repo = TestRepo::new();
    let mut checked = Checked::new(env);

    let edits = checked.call("codex_delegate", repo.path(), json!({"task": "add a file"}));
    assert_eq!(edits["ok"], json!(true), "{edits}");
    assert!(edits["diff"].as_str().unwrap().contains("+made by codex"), "{edits}");
    assert!(edits["summary"].as_str().unwrap().contains("no summary"), "{edits}");
    let warnings = edits["meta"]["answer_warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("without a final message")), "{warnings:?}");

    let nothing = checked.call("codex_delegate", repo.path(), json!({"task": "do nothing"}));
    assert_eq!(nothing["error"]["code"], json!("no_final_message"), "{nothing}");
    assert!(std::fs::read_dir(base.path()).unwrap().next().is_none(), "a worktree was left behind");
}

#[test]
fn a_review_whose_commands_the_sandbox_refused_is_degraded_not_a_pass() {
    let repo = repo_with_a_change();
    let steps = vec![
        Step::shell("echo probe > probe.txt; echo next"),
        Step::shell("exec 3<>/dev/tcp/127.0.0.1/9; echo next"),
        Step::shell("cat src/lib.rs"),
        Step::message(review_answer("pass", json!([]))),
    ];
    let (result, _) = review(&repo, steps, None);

    assert_eq!((result["verdict"].clone(), result["confidence"].clone()), (json!("unknown"), json!("low")));
    let coverage = &result["coverage"];
    assert_eq!(coverage["status"], json!("degraded"), "{coverage}");
    assert_eq!(coverage["omission_reasons"], json!(["sandbox_denied"]));
    let reason = coverage["degraded_reason"].as_str().unwrap();
    assert!(reason.contains("refused 2 of the 3 commands"), "{reason}");
    assert!(result["summary"].as_str().unwrap().contains("not a pass"), "{result}");
    assert!(!repo.path().join("probe.txt").exists(), "the read-only sandbox let a write through");
}

#[test]
fn a_review_whose_commands_ran_is_not_degraded() {
    let repo = repo_with_a_change();
    repo.write("src/error.rs", "pub const DENIED: &str = \"Permission denied\";\n");
    repo.git(&["add", "src/error.rs"]);
    let steps = vec![
        Step::shell("cat src/lib.rs"),
        Step::shell("grep -rn 'Permission denied' src"),
        Step::message(review_answer("pass", json!([]))),
    ];
    let (result, mock) = review(&repo, steps, None);

    assert_eq!(result["verdict"], json!("pass"), "{result}");
    assert_eq!(result["coverage"]["status"], json!("complete"), "{}", result["coverage"]);
    assert_eq!(result["coverage"]["degraded_reason"], Value::Null);
    assert!(mock.requests()[2].body.contains("src/error.rs:1:"), "the grep must have run and matched");
}

/// The real codex, in a user namespace where no further namespace can be made: its sandbox
/// cannot start, so every command it runs fails, as on hosts without user namespaces.
fn codex_without_namespaces(dir: &Path) {
    let script = format!(
        "#!/bin/sh\nexec unshare --user --map-root-user sh -c \
         'echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" \"$@\"' '{}' \"$@\"\n",
        codex_bin().display()
    );
    let path = dir.join("codex");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_review_where_the_sandbox_cannot_start_is_degraded() {
    let wrapper = tempfile::tempdir().unwrap();
    codex_without_namespaces(wrapper.path());
    let steps =
        vec![Step::shell("cat src/lib.rs"), Step::shell("git diff"), Step::message(review_answer("pass", json!([])))];
    let (result, mock) = review(&repo_with_a_change(), steps, Some(wrapper.path()));

    let log = mock.request_log_text();
    assert!(log.contains("bwrap: Creating new namespace failed"), "the sandbox was expected to fail to start");
    assert_eq!(result["verdict"], json!("unknown"), "{result}");
    assert_eq!(result["coverage"]["status"], json!("degraded"), "{}", result["coverage"]);
    let reason = result["coverage"]["degraded_reason"].as_str().unwrap();
    assert!(reason.contains("refused 2 of the 2 commands"), "{reason}");
}

#[test]
fn bidi_controls_in_codexs_answer_never_reach_the_envelope() {
    let answer = json!({
        "summary": "access \u{202E}nimda\u{202C} granted \u{2066}x\u{2069}",
        "findings": [finding(json!("high"), json!(1), "check \u{200F}is_admin\u{200E} \u{061C}here")],
        "questions": ["why \u{202A}not\u{202B}?"], "assumptions": [], "next_steps": ["\u{202D}fix"]
    });
    let result = consult(Step::message(answer.to_string()), json!({"detail": "full"}));
    assert_eq!(result["summary"], json!("access nimda granted x"));
    assert_eq!(result["findings"][0]["title"], json!("check is_admin here"));
    let text = result.to_string();
    let bidi = [
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}',
        '\u{061C}',
    ];
    assert!(!text.contains(bidi), "a bidi control reached the envelope: {text}");
    assert!(result["raw_response"]["text"].as_str().unwrap().contains("nimda"), "raw text is kept, cleaned");
}
