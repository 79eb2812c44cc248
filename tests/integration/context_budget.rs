//! Issue 16's context budget: what Claude reads from us. The same answers, from the same mock
//! model, about the same repository, through this server and the original Python server
//! (codex-in-claude 0.2.0, installed by `scripts/install-original.sh`): each of our envelopes
//! (`structuredContent` as compact JSON) is at most 60 % of the original's bytes. Also: every
//! envelope starts with `ok` and the answer and ends with `meta`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::codex_home::{CodexHome, codex_bin_dir};
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::review::{repo_with_a_change, review_answer};
use crate::support::{Server, binary, path_with};

/// The tools whose envelopes are measured, with the arguments both servers get.
pub const MEASURED: [&str; 4] = ["codex_consult", "codex_review_changes", "codex_dry_run", "codex_status"];

/// A launcher for the original server, written into `dir`: its console script run by the venv's
/// python. The script's own `#!` names the interpreter by the path the venv was made at, which
/// no longer holds once the venv is reached through another path (a shared `.tools`).
pub fn original_server(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/original-venv/bin");
    let script = venv.join("codex-in-claude-mcp");
    assert!(script.is_file(), "{} is missing: run scripts/install-original.sh", script.display());
    let launcher = dir.join("original-server");
    let python = venv.join("python");
    std::fs::write(&launcher, format!("#!/bin/sh\nexec '{}' '{}' \"$@\"\n", python.display(), script.display()))
        .unwrap();
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
    launcher
}

/// One finding of a review, in the review schema's shape.
fn one_finding() -> Value {
    json!([{
        "severity": "high", "title": "Off by one", "file": "src/lib.rs", "line": 2, "line_end": 2,
        "evidence": "i <= n", "risk": "reads past the end", "recommendation": "use i < n"
    }])
}

/// The envelopes (`structuredContent`) `program` returns for `MEASURED`, each run against a
/// fresh mock model scripted with the same consult and review answers, over `repo`.
pub fn envelopes(program: &Path, repo: &TestRepo) -> Vec<Value> {
    let mock = MockModel::start(vec![
        Step::message(consult_answer("Return an error instead of unwrap().")),
        Step::message(review_answer("concerns", one_finding())),
    ]);
    let home = CodexHome::new(&mock);
    let state = tempfile::tempdir().unwrap();
    let mut vars: Vec<(String, String)> = home.env().into_iter().filter(|(k, _)| k != "PATH").collect();
    vars.push(("PATH".into(), path_with(&codex_bin_dir())));
    vars.push(("HOME".into(), state.path().display().to_string()));
    // The original is a Python program whose start (interpreter, imports) took over the default
    // 20 s on a loaded machine; this test compares bytes, not speed, so it waits longer.
    let mut server =
        Server::start_program(program, &vars).answering_requests().with_timeout(std::time::Duration::from_secs(180));
    server.initialize(json!({}));
    let root = repo.path().display().to_string();
    let arguments = [
        json!({"question": "Is unwrap() safe on this parsed value?", "workspace_root": root}),
        json!({"workspace_root": root}),
        json!({"workspace_root": root}),
        json!({}),
    ];
    MEASURED
        .iter()
        .zip(arguments)
        .map(|(tool, arguments)| {
            let id = server.fresh_id();
            let result = server.call(id, tool, arguments);
            let envelope = result["structuredContent"].clone();
            assert_eq!(envelope["ok"], json!(true), "{tool} through {}: {result}", program.display());
            envelope
        })
        .collect()
}

/// Compact JSON bytes, as Claude Code hands `structuredContent` to the model.
pub fn bytes(envelope: &Value) -> usize {
    serde_json::to_string(envelope).unwrap().len()
}

/// Our share of the original's bytes at most: issue 16's target.
pub const MAX_SHARE: f64 = 0.6;

#[test]
fn each_envelope_is_at_most_sixty_percent_of_the_originals() {
    let repo = repo_with_a_change();
    let ours = envelopes(&binary(), &repo);
    let launcher = tempfile::tempdir().unwrap();
    let original = envelopes(&original_server(launcher.path()), &repo);
    for ((tool, ours), original) in MEASURED.iter().zip(&ours).zip(&original) {
        let (ours_bytes, original_bytes) = (bytes(ours), bytes(original));
        eprintln!("{tool}: ours {ours_bytes} bytes, original {original_bytes} bytes");
        assert!(
            ours_bytes as f64 <= MAX_SHARE * original_bytes as f64,
            "{tool}: ours {ours_bytes} bytes > {MAX_SHARE} x the original's {original_bytes}\nours: {ours}\noriginal: {original}"
        );
    }
}

#[test]
fn every_envelope_starts_with_ok_and_the_answer_and_ends_with_meta() {
    let repo = repo_with_a_change();
    let ours = envelopes(&binary(), &repo);
    let first_after_ok = ["summary", "summary", "would_call_model", "ready"];
    for ((tool, envelope), answer) in MEASURED.iter().zip(&ours).zip(first_after_ok) {
        let keys: Vec<&str> = envelope.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(&keys[..2], ["ok", answer], "{tool}: {keys:?}");
        if keys.contains(&"meta") {
            assert_eq!(keys.last(), Some(&"meta"), "{tool}: {keys:?}");
        }
        // Nothing information-free: no null, no empty list or object, at any depth.
        assert!(!has_empty(envelope), "{tool}: {envelope}");
    }
    let review = &ours[1];
    let keys: Vec<&str> = review.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[..5], ["ok", "summary", "verdict", "confidence", "review_status"], "{keys:?}");
}

/// Whether `value` holds a null, an empty list or an empty object anywhere.
fn has_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty() || items.iter().any(has_empty),
        Value::Object(map) => map.is_empty() || map.values().any(has_empty),
        _ => false,
    }
}
