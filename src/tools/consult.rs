//! `codex_consult`: a read-only second opinion. The question (and any context) goes to codex in
//! a read-only sandbox rooted at the workspace; the answer comes back parsed, sanitised and
//! redacted. With `session_id` the question continues an earlier session, which codex resumes
//! with its earlier exchange.

use serde_json::{Value, json};

use super::Call;
use super::codex_run::{self, Settings};
use super::meta::error_envelope;
use crate::adapters::codex::answer;

pub fn run(call: &Call) -> Value {
    let workspace = match call.preflight() {
        Ok(workspace) => workspace,
        Err(envelope) => return envelope,
    };
    let settings = Settings::resolve(call);
    let mut meta = settings.meta(call, &workspace);
    let question = call.args.text("question").unwrap_or_default();
    let extra_context = call.args.text("extra_context");
    if let Err(error) =
        codex_run::check_input_size(call, &[("question", Some(question)), ("extra_context", extra_context)])
    {
        return error_envelope(error, &meta);
    }
    if let Err(error) = codex_run::follow_up(call, &workspace) {
        return error_envelope(error, &meta);
    }
    let question = codex_run::redact_input(Some(question), "question", &mut meta).unwrap_or_default();
    let extra_context = codex_run::redact_input(extra_context, "extra_context", &mut meta);
    let prompt = crate::adapters::codex::prompts::consult(&question, extra_context.as_deref());
    let mut invocation = settings.invocation(call, &workspace.path, prompt, Some(answer::consult_schema()));
    // A question need not be about a repository.
    invocation.skip_git_repo_check = true;
    let run = match codex_run::run_codex(call, &invocation, &mut meta) {
        Ok(run) => run,
        Err(envelope) => return envelope,
    };
    let answer = match answer::consult(run.last_message.as_deref()) {
        Ok(answer) => answer,
        Err(error) => return error_envelope(error, &meta),
    };
    meta.record_answer(&answer.adjustments);
    let raw_response = codex_run::raw_response(call, &run, &mut meta);
    codex_run::remember(call, &workspace, &run, &mut meta, |_| {});
    codex_run::success(
        call,
        &run,
        json!({
            "summary": answer.summary,
            "findings": answer.findings,
            "questions": answer.questions,
            "assumptions": answer.assumptions,
            "next_steps": answer.next_steps,
            "raw_response": raw_response,
            "meta": meta,
        }),
    )
}

/// The success shape of consult; review extends it. `meta` stays opaque here (it is documented
/// in the README) because this schema is paid for in every conversation.
pub fn success_schema() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "type": "object",
        "required": ["ok", "tool", "session_id", "resume_command", "summary", "findings", "questions", "assumptions", "next_steps", "raw_response", "meta"],
        "properties": {
            "ok": {"const": true},
            "tool": {"type": "string"},
            "session_id": {"type": ["string", "null"]},
            "resume_command": {"type": ["string", "null"]},
            "summary": {"type": "string"},
            "findings": {"type": "array", "items": {
                "type": "object",
                "required": ["severity", "title", "evidence", "risk", "recommendation"],
                "properties": {"severity": {"enum": answer::SEVERITIES}}
            }},
            "questions": strings, "assumptions": strings, "next_steps": strings,
            "raw_response": {"type": "object"},
            "meta": {"type": "object"}
        }
    })
}
