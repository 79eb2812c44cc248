//! The secrets corpus (`fixtures/secrets/corpus.tsv`, over a hundred secret shapes) and its
//! false-positive twin (`fixtures/secrets/benign.tsv`) pushed through every outbound surface of
//! the built server: a review of a real repository (tracked changes and untracked files), the
//! dry run, a consult's question and context, a delegate whose shell copies secret-bearing lines
//! into the returned diff, the model's own answer, and failure paths (codex's stderr and a
//! `turn.failed` message). No secret value may appear in the mock model's request log nor in any
//! envelope; every benign line must reach the model byte for byte. The first test runs the corpus
//! through the redactor alone, so a regression names the exact case before any process starts.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use codex_in_claude::foundation::redact;
use serde_json::json;

use crate::codex_home::CodexHome;
use crate::consult::paid_server;
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::support::{Server, envelope, fake_codex_dir, path_with};

/// One secret shape: where it lives, the text as it appears there, the values that must not leak.
#[derive(Debug, Clone)]
struct Case {
    path: String,
    text: String,
    secrets: Vec<String>,
}

/// `\n`, `\t` and `\\` escapes of the fixture files.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            other => panic!("bad escape \\{other:?} in {field:?}"),
        }
    }
    out
}

fn rows(file: &str) -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/secrets").join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').map(unescape).collect())
        .collect()
}

fn corpus() -> Vec<Case> {
    rows("corpus.tsv")
        .into_iter()
        .map(|row| {
            assert!(row.len() >= 3, "a corpus row needs path, text and a secret: {row:?}");
            let case = Case { path: row[0].clone(), text: row[1].clone(), secrets: row[2..].to_vec() };
            for secret in &case.secrets {
                assert!(case.text.contains(secret.as_str()), "{}: secret not in its own text", case.path);
            }
            case
        })
        .collect()
}

/// (path, text) of every benign case.
fn benign() -> Vec<(String, String)> {
    rows("benign.tsv")
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 2, "a benign row is path and text: {row:?}");
            (row[0].clone(), row[1].clone())
        })
        .collect()
}

/// Cases whose file is withheld whole by its name: their text alone carries no guarantee.
fn inline(cases: &[Case]) -> Vec<Case> {
    cases.iter().filter(|case| !redact::is_secret_path(&case.path)).cloned().collect()
}

/// A value as it can appear in a JSON document (a request body, a serialised envelope).
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

/// Panics naming every secret of `cases` found in `haystack`, raw or JSON-escaped.
fn assert_no_secret(surface: &str, haystack: &str, cases: &[Case]) {
    let leaks: Vec<String> = cases
        .iter()
        .flat_map(|case| case.secrets.iter().map(move |secret| (case, secret)))
        .filter(|(_, secret)| haystack.contains(secret.as_str()) || haystack.contains(&json_escaped(secret)))
        .map(|(case, secret)| format!("  {}: {secret}", case.path))
        .collect();
    assert!(leaks.is_empty(), "{surface}: {} secret(s) leaked:\n{}", leaks.len(), leaks.join("\n"));
}

/// Panics naming every benign line (each line of each case) missing from `haystack`, where it
/// must appear JSON-escaped after `prefix` (`+` in a diff, nothing in free text).
fn assert_benign_intact(surface: &str, haystack: &str, prefix: &str, benign: &[(String, String)]) {
    let missing: Vec<String> = benign
        .iter()
        .flat_map(|(path, text)| text.lines().map(move |line| (path, line)))
        .filter(|(_, line)| !haystack.contains(&json_escaped(&format!("{prefix}{line}"))))
        .map(|(path, line)| format!("  {path}: {line}"))
        .collect();
    assert!(
        missing.is_empty(),
        "{surface}: {} benign line(s) altered or missing:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

/// The content of each file: its cases in order, one per line.
fn files<'a>(cases: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for (path, text) in cases {
        let content = files.entry(path.to_string()).or_default();
        content.push_str(text);
        content.push('\n');
    }
    files
}

fn review_answer() -> String {
    json!({
        "summary": "reviewed", "verdict": "concerns", "confidence": "medium", "findings": [],
        "questions": [], "assumptions": [], "next_steps": []
    })
    .to_string()
}

#[test]
fn the_redactor_masks_or_withholds_every_case_and_keeps_every_benign_line() {
    let cases = corpus();
    let benign = benign();
    assert!(cases.len() >= 100, "the corpus has {} secret shapes; at least 100 are promised", cases.len());
    assert!(benign.len() >= 40, "the benign corpus has {} lines; at least 40 are promised", benign.len());
    let withheld = cases.len() - inline(&cases).len();
    assert!(withheld >= 10 && inline(&cases).len() >= 90, "{withheld} withheld of {}", cases.len());

    let mut failures = Vec::new();
    for case in inline(&cases) {
        let out = redact::text(&case.text).text;
        for secret in case.secrets.iter().filter(|secret| out.contains(secret.as_str())) {
            failures.push(format!("  leaked {secret:?}\n    in:  {:?}\n    out: {out:?}", case.text));
        }
    }
    for (path, text) in &benign {
        if redact::is_secret_path(path) {
            failures.push(format!("  benign path {path} would be withheld"));
        }
        let out = redact::text(text).text;
        if out != *text {
            failures.push(format!("  altered benign line\n    in:  {text:?}\n    out: {out:?}"));
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_review_of_the_corpus_sends_no_secret_and_every_benign_line() {
    let cases = corpus();
    let benign = benign();
    let repo = TestRepo::new();
    // Tracked changes: half the files exist at HEAD with an ordinary first line (secret-looking
    // files stay tracked too, so both withholding paths are used); the rest are untracked.
    let corpus_files = files(cases.iter().map(|c| (c.path.as_str(), c.text.as_str())));
    let benign_files = files(benign.iter().map(|(p, t)| (p.as_str(), t.as_str())));
    let all: Vec<(&String, &String)> = corpus_files.iter().chain(&benign_files).collect();
    for (path, _) in all.iter().step_by(2) {
        repo.write(path, "# first version\n");
    }
    repo.commit("first versions");
    for (path, content) in &all {
        repo.write(path, content);
    }

    let mock = MockModel::start(vec![Step::message(review_answer())]);
    let home = CodexHome::new(&mock);
    let mut server = Server::start(&home.env());
    server.initialize(json!({}));
    // The author's context carries secrets too.
    let context: Vec<String> = inline(&cases).into_iter().take(20).map(|c| c.text).collect();
    let arguments = json!({"workspace_root": repo.path(), "untracked": "include", "extra_context": context.join("\n")});

    let dry = envelope(&server.call(41, "codex_dry_run", arguments.clone()));
    assert_eq!(dry["ok"], json!(true), "{dry}");
    assert_eq!(dry["would_call_model"], json!(true));
    assert!(dry.get("truncated").is_none(), "the corpus must fit: a cut would hide leaks: {dry}");
    assert_no_secret("codex_dry_run envelope", &dry.to_string(), &cases);

    let result = envelope(&server.call(42, "codex_review_changes", arguments));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["review_status"], json!("completed"));
    assert_eq!(mock.requests().len(), 1);
    let log = mock.request_log_text();
    assert_no_secret("the model's request log", &log, &cases);
    assert_no_secret("codex_review_changes envelope", &result.to_string(), &cases);
    assert_benign_intact("the model's request log", &log, "+", &benign);

    let withheld = &result["coverage"]["redaction"]["withheld_paths"];
    for case in cases.iter().filter(|c| redact::is_secret_path(&c.path)) {
        assert!(withheld.as_array().unwrap().contains(&json!(case.path)), "{} not withheld: {withheld}", case.path);
    }
    assert!(result["coverage"]["untracked_files_included"].as_u64().unwrap() > 10, "{}", result["coverage"]);
}

#[test]
fn a_consult_masks_the_question_the_context_and_the_answer() {
    let cases = inline(&corpus());
    let benign = benign();
    let half = cases.len() / 2;
    let join = |part: &[Case]| {
        let mut lines: Vec<&str> = part.iter().map(|c| c.text.as_str()).collect();
        lines.extend(benign.iter().map(|(_, t)| t.as_str()));
        lines.join("\n")
    };
    // The model echoing secrets (it can read files itself): the answer is redacted on its way
    // back, in the summary and in the raw text.
    let echo: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let answer = json!({
        "summary": echo.join("\n"), "findings": [], "questions": [], "assumptions": [], "next_steps": []
    });
    let mock = MockModel::start(vec![Step::message(answer.to_string())]);
    let home = CodexHome::new(&mock);
    let (mut server, workspace) = paid_server(&home);
    let arguments = json!({
        "question": join(&cases[..half]), "extra_context": join(&cases[half..]),
        "workspace_root": workspace.path(), "detail": "full"
    });
    let result = envelope(&server.call(43, "codex_consult", arguments));
    assert_eq!(result["ok"], json!(true), "{result}");
    let log = mock.request_log_text();
    assert_no_secret("the model's request log", &log, &cases);
    assert_benign_intact("the model's request log", &log, "", &benign);
    assert_no_secret("codex_consult envelope", &result.to_string(), &cases);
    assert!(result["summary"].as_str().unwrap().contains(redact::MASK), "the echo must come back masked");
    let warnings = result["meta"]["security_warnings"].to_string();
    assert!(warnings.contains("question") && warnings.contains("extra_context"), "{warnings}");
}

#[test]
fn a_delegate_diff_carrying_secrets_comes_back_masked() {
    let cases = corpus();
    let inline_cases = inline(&cases);
    let benign = benign();
    let repo = TestRepo::new();
    // The material is committed, so it is in the throwaway worktree but not in the diff; codex's
    // shell copies it into new files, so every line shows up as a `+` line of the diff without
    // the model (or its request log) ever holding a value.
    let mut material: Vec<&str> = inline_cases.iter().map(|c| c.text.as_str()).collect();
    material.extend(benign.iter().map(|(_, t)| t.as_str()));
    repo.write("vault/material.txt", &format!("{}\n", material.join("\n")));
    repo.commit("material");

    // Its closing message echoes the material: the summary is masked on its way back too.
    let echo: Vec<&str> = inline_cases.iter().map(|c| c.text.as_str()).collect();
    let mock = MockModel::start(vec![
        Step::shell(
            "mkdir -p src config && cp vault/material.txt src/copied.txt && cp vault/material.txt config/prod.env",
        ),
        Step::message(format!("Copied the material:\n{}", echo.join("\n"))),
    ]);
    let home = CodexHome::new(&mock);
    let base = tempfile::tempdir().unwrap();
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_WORKTREE_BASE".into(), base.path().display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    // The task itself carries secrets too.
    let task: Vec<&str> = inline_cases.iter().rev().take(15).map(|c| c.text.as_str()).collect();
    let task = format!("Copy the material.\n{}", task.join("\n"));
    let arguments = json!({"task": task, "workspace_root": repo.path()});
    let result = envelope(&server.call(44, "codex_delegate", arguments));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap_or_else(|| panic!("no diff: {result}"));
    assert!(diff.contains("+++ b/src/copied.txt"), "{diff}");
    // A withheld file is left out of the patch whole, and listed.
    assert!(!diff.contains("config/prod.env"), "{diff}");
    assert_eq!(result["withheld_files"][0]["path"], json!("config/prod.env"), "{result}");
    assert_no_secret("the model's request log", &mock.request_log_text(), &cases);
    assert_no_secret("codex_delegate envelope", &result.to_string(), &cases);
    assert!(result["summary"].as_str().unwrap().contains(redact::MASK), "the echo must come back masked");
    let missing: Vec<&str> = benign
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter(|line| !diff.contains(&format!("\n+{line}\n")))
        .collect();
    assert!(missing.is_empty(), "benign lines altered in the diff: {missing:#?}");
    assert!(std::fs::read_dir(base.path()).unwrap().next().is_none(), "worktree left behind");
}

/// Every file under `dir`, recursively, as (path, lossy text).
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    found
}

/// A background consult: the job record written to disk (`spec.json` keeps the arguments the
/// worker runs with), the start envelope, the stored result and the prompt hold no secret.
#[test]
fn an_async_job_records_no_secret() {
    let cases = inline(&corpus());
    let join = |part: &[Case]| part.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("\n");
    let mock = MockModel::start(vec![Step::message(consult_answer("Looked."))]);
    let home = CodexHome::new(&mock);
    let state = tempfile::tempdir().unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let mut env = home.env();
    env.push(("CODEX_IN_CLAUDE_STATE_DIR".into(), state.path().display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let half = cases.len() / 2;
    let arguments = json!({
        "question": join(&cases[..half]), "extra_context": join(&cases[half..]), "workspace_root": workspace.path()
    });
    let started = envelope(&server.call(46, "codex_consult_async", arguments));
    assert_eq!(started["ok"], json!(true), "{started}");
    assert_no_secret("codex_consult_async envelope", &started.to_string(), &cases);
    let warnings = started["meta"]["security_warnings"].to_string();
    assert!(warnings.contains("question") && warnings.contains("extra_context"), "{warnings}");
    let job_id = started["job_id"].as_str().unwrap().to_string();

    let records = files_under(state.path());
    assert!(records.iter().any(|(path, _)| path.ends_with("spec.json")), "no job record: {records:?}");
    for (path, text) in &records {
        assert_no_secret(path, text, &cases);
    }

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let job = json!({"job_id": job_id, "workspace_root": workspace.path()});
    loop {
        let status = envelope(&server.call(47, "codex_job_status", job.clone()));
        if status["status"] != json!("running") {
            assert_eq!(status["status"], json!("done"), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the job did not finish: {status}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let result = envelope(&server.call(48, "codex_job_result", job));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_no_secret("codex_job_result envelope", &result.to_string(), &cases);
    assert_no_secret("the model's request log", &mock.request_log_text(), &cases);
    for (path, text) in files_under(state.path()) {
        assert_no_secret(&path, &text, &cases);
    }
}

/// Codex failing with a case on stderr, or as its `turn.failed` message: the error envelope's
/// message carries the text, masked. One server per run (the fake codex reads its script from
/// the server's environment), a few at a time.
#[test]
fn failure_messages_carrying_secrets_are_masked() {
    let cases: Vec<Case> = inline(&corpus())
        .into_iter()
        .filter(|c| !c.text.contains('\n') && redact::text(&c.text).text.len() < 250)
        .collect();
    assert!(cases.len() >= 80, "only {} single-line cases", cases.len());
    let runs: Vec<(String, &'static str, Case)> = cases
        .iter()
        .flat_map(|case| {
            [
                ("FAKE_CODEX_STDERR".to_string(), "stderr", case.clone()),
                ("FAKE_CODEX_ERROR".to_string(), "turn.failed", case.clone()),
            ]
        })
        .collect();
    let failures = Mutex::new(Vec::new());
    let next = Mutex::new(runs.iter());
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                loop {
                    let Some((var, surface, case)) = next.lock().unwrap().next() else { return };
                    let value = if *surface == "stderr" { case.text.clone() } else { json_escaped(&case.text) };
                    let env = [
                        ("PATH".to_string(), path_with(&fake_codex_dir())),
                        ("FAKE_CODEX_EXEC".to_string(), "fail".to_string()),
                        (var.clone(), value),
                    ];
                    let mut server = Server::start(&env);
                    server.initialize(json!({}));
                    let workspace = tempfile::tempdir().unwrap();
                    let arguments = json!({"question": "q", "workspace_root": workspace.path()});
                    let result = envelope(&server.call(45, "codex_consult", arguments));
                    let message = result["error"]["message"].as_str().unwrap_or_default().to_string();
                    let serialized = result.to_string();
                    let leaked = case.secrets.iter().any(|s| serialized.contains(s.as_str()));
                    if leaked || result["ok"] != json!(false) || !message.contains("[redacted") {
                        failures.lock().unwrap().push(format!("  {surface} {}: {message}", case.path));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failure path(s) leaked or lost the text:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
