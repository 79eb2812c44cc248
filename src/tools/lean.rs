//! The summary view of an envelope: what a caller reads unless it passes `detail: "full"`.
//!
//! Everything a tool returns lands in the model's context, so the summary view serialises
//! nothing information-free. A handler builds the whole envelope (every key, nulls included);
//! that is what the job store keeps and what `detail: "full"` returns. `summarise` then drops,
//! in place and keeping the order of what stays:
//! - every `null`, empty list and empty object, at any depth (absent means none or unknown);
//! - a flag or count that only states its default: `truncated: false`, `replayed: false`,
//!   `retryable: false`, a delegation's `partial: false`, a finding's `status: "new"`, zero untracked files, zero inline masks,
//!   zero cached or reasoning tokens, `elapsed_ms: 0` (codex never ran) and
//!   `command_exit_code: 0` in `meta`;
//! - what only restates the request or the server's configuration (`codex_status` shows it):
//!   the tool's name, `meta`'s tier, sandbox, isolation, model, reasoning effort, timeout,
//!   scope, base, commit and paths; `cwd` and `workspace_source` when the workspace is the
//!   `workspace_root` the call passed; `meta.job_id` when it is the `job_id` the call passed;
//! - what is said elsewhere: `raw_response` (its text is full detail; its session and model
//!   are at the top and in the request), `resume_command` (`codex resume <session_id>`),
//!   `meta.session_id` when the top level carries it, a `meta` member the top level repeats,
//!   and the constants `codex_capabilities` gives (`server_version`, `fingerprint`) and
//!   `request_id`, which nothing else names.
//!
//! Nothing informative goes: a cut, a warning, a withheld file or a redaction is never null,
//! empty or a default, so it always shows.

use serde_json::{Map, Value};

use super::params::Args;
use super::review::FindingStatus;

/// `meta` members that restate the request, the tool or the server's configuration, or are
/// constants: dropped from the summary view.
const RESTATED_META: &[&str] = &[
    "tier",
    "sandbox",
    "isolation",
    "model",
    "reasoning_effort",
    "timeout_seconds",
    "scope",
    "base",
    "commit",
    "paths",
    "request_id",
    "server_version",
    "fingerprint",
];

/// Top-level members said elsewhere (see the module doc).
const RESTATED_TOP: &[&str] = &["tool", "resume_command", "raw_response"];

/// Whether `key: value`, at any depth, only states its default: nothing cut (`truncated`),
/// nothing replayed, not retryable, a review finding that is `new` (only a re-review has other
/// statuses), or a count of nothing.
fn is_default(key: &str, value: &Value) -> bool {
    match key {
        "truncated" | "replayed" | "retryable" | "partial" => value == &Value::Bool(false),
        "status" => value.as_str() == Some(FindingStatus::New.as_str()),
        "untracked_files_detected"
        | "untracked_files_included"
        | "untracked_files_omitted"
        | "inline_masks"
        | "cached_input_tokens"
        | "reasoning_output_tokens" => value.as_u64() == Some(0),
        _ => false,
    }
}

/// Turns a whole envelope into its summary view (see the module doc). `args` are the call's.
pub fn summarise(envelope: &mut Value, args: &Args) {
    let Value::Object(top) = envelope else { return };
    if let Some(Value::Object(meta)) = top.get_mut("meta") {
        for key in RESTATED_META {
            meta.shift_remove(*key);
        }
        if meta.get("workspace_source").and_then(Value::as_str) == Some("param")
            && meta.get("cwd").and_then(Value::as_str) == args.text("workspace_root")
        {
            meta.shift_remove("cwd");
            meta.shift_remove("workspace_source");
        }
        if meta.get("job_id").and_then(Value::as_str).is_some_and(|id| args.text("job_id") == Some(id)) {
            meta.shift_remove("job_id");
        }
        for (key, default) in [("elapsed_ms", 0), ("command_exit_code", 0)] {
            if meta.get(key).and_then(Value::as_i64) == Some(default) {
                meta.shift_remove(key);
            }
        }
    }
    let top_level: Map<String, Value> =
        top.iter().filter(|(key, _)| *key != "meta").map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(Value::Object(meta)) = top.get_mut("meta") {
        meta.retain(|key, value| top_level.get(key) != Some(value));
    }
    for key in RESTATED_TOP {
        top.shift_remove(*key);
    }
    prune(envelope);
}

/// Drops defaults, zero counts, nulls and empties at every depth of `value`; returns whether
/// `value` itself is now empty (a null, an empty list or object) and should go too.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => {
            items.iter_mut().for_each(|item| {
                prune(item);
            });
            items.is_empty()
        }
        Value::Object(map) => {
            map.retain(|key, member| !(is_default(key, member) || prune(member)));
            map.is_empty()
        }
        Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::foundation::envelope::{ErrorCode, ToolError};
    use crate::foundation::policy::Tier;
    use crate::tools::meta::{Meta, error_envelope};
    use crate::tools::params::validate;

    fn args(arguments: Value) -> Args {
        validate(&[crate::tools::JOB_ID, crate::tools::WORKSPACE_ROOT], Some(&arguments)).unwrap()
    }

    fn keys(value: &Value) -> Vec<&str> {
        value.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn an_unset_error_member_is_absent_and_a_set_one_present() {
        let mut bare =
            error_envelope(ToolError::new(ErrorCode::InvalidArguments, "x"), &Meta::new(Tier::Consult, None));
        summarise(&mut bare, &Args::default());
        assert_eq!(keys(&bare), ["ok", "error"], "an empty meta goes: {bare}");
        assert_eq!(keys(&bare["error"]), ["code", "message", "repair"], "{bare}");

        let error = ToolError::new(ErrorCode::JobRunning, "running")
            .offending("job_id")
            .retry_after_ms(1000)
            .repair_tool("codex_job_status", json!({"job_id": "j", "workspace_root": null}));
        let mut set = error_envelope(error, &Meta::new(Tier::Consult, None));
        summarise(&mut set, &Args::default());
        assert_eq!(
            keys(&set["error"]),
            [
                "code",
                "message",
                "repair",
                "offending_param",
                "retryable",
                "retry_after_ms",
                "repair_tool",
                "repair_tool_params"
            ],
            "{set}"
        );
        assert_eq!(set["error"]["retryable"], json!(true));
        assert_eq!(set["error"]["repair_tool_params"], json!({"job_id": "j"}), "a null parameter is no parameter");
    }

    #[test]
    fn meta_keeps_what_informs_and_drops_what_restates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().canonicalize().unwrap();
        let root = path.display().to_string();
        let workspace = crate::adapters::workspace::resolve(Some(&root), &[], None).unwrap();
        let mut meta = Meta::new(Tier::Propose, Some(&workspace));
        meta.model = Some("gpt-x".into());
        meta.timeout_seconds = Some(300);
        meta.job_id = Some("0123456789abcdef0123456789abcdef".into());
        let quiet = json!({"ok": true, "summary": "s", "session_id": "sid", "meta": meta.clone()});

        let mut lean = quiet.clone();
        summarise(&mut lean, &args(json!({"job_id": "0123456789abcdef0123456789abcdef", "workspace_root": root})));
        assert_eq!(lean, json!({"ok": true, "summary": "s", "session_id": "sid"}), "all restated: {lean}");
        let mut elsewhere = quiet.clone();
        summarise(&mut elsewhere, &Args::default());
        assert_eq!(
            keys(&elsewhere["meta"]),
            ["job_id", "cwd", "workspace_source"],
            "the job and the workspace inform a caller that named neither: {elsewhere}"
        );

        meta.note_truncation("the diff was cut");
        meta.replayed = true;
        meta.security_warnings.push("masked".into());
        meta.redacted_paths.push(".env".into());
        meta.session_id = Some("sid".into());
        meta.elapsed_ms = 12;
        meta.command_exit_code = Some(0);
        let mut told = json!({"ok": true, "summary": "s", "session_id": "sid", "tool": "codex_delegate", "meta": meta});
        summarise(&mut told, &args(json!({"job_id": "0123456789abcdef0123456789abcdef", "workspace_root": root})));
        assert_eq!(keys(&told), ["ok", "summary", "session_id", "meta"], "{told}");
        assert_eq!(
            keys(&told["meta"]),
            ["replayed", "truncated", "truncation_hint", "security_warnings", "redacted_paths", "elapsed_ms"],
            "every cut, warning and redaction shows, in meta's order: {told}"
        );
    }

    #[test]
    fn defaults_and_counts_of_nothing_go_at_any_depth_and_the_order_stays() {
        let mut envelope = json!({
            "ok": true,
            "verdict": "pass",
            "findings": [{"title": "t", "line": null, "status": "new"}, {"title": "u", "status": "still_open"}],
            "coverage": {"status": "complete", "untracked_files_omitted": 0, "omission_reasons": [],
                         "redaction": {"withheld_paths": [], "inline_masks": 0}},
            "would_call_model": false,
            "truncated": false,
        });
        summarise(&mut envelope, &Args::default());
        assert_eq!(
            envelope,
            json!({
                "ok": true,
                "verdict": "pass",
                "findings": [{"title": "t"}, {"title": "u", "status": "still_open"}],
                "coverage": {"status": "complete"},
                "would_call_model": false,
            })
        );
        assert_eq!(keys(&envelope), ["ok", "verdict", "findings", "coverage", "would_call_model"]);
    }
}
