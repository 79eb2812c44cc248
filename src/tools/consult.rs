//! `codex_consult`: a read-only second opinion. The question (and any context) goes to codex in
//! a read-only sandbox rooted at the workspace; the answer comes back parsed, sanitised and
//! redacted. With `session_id` the question continues an earlier session, which codex resumes
//! with its earlier exchange.

use serde::Serialize;
use serde_json::{Value, json};

use super::Call;
use super::codex_run::{self, Opening};
use super::meta::{Meta, error_envelope};
use crate::adapters::codex::answer::{self, Finding};

pub fn run(call: &Call) -> Value {
    let Opening { workspace, settings, mut meta } = match Opening::new(call, &["question", "extra_context"]) {
        Ok(opening) => opening,
        Err(envelope) => return envelope,
    };
    let question = call.args.text("question").unwrap_or_default();
    let extra_context = call.args.text("extra_context");
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
    let (session_id, resume_command) = codex_run::session_fields(call, &run);
    json!(Success {
        ok: true,
        summary: answer.summary,
        findings: answer.findings,
        questions: answer.questions,
        assumptions: answer.assumptions,
        next_steps: answer.next_steps,
        session_id,
        resume_command,
        tool: call.tool.name,
        raw_response,
        meta,
    })
}

/// The `ok:true` envelope of `codex_consult`, in the order the model reads it: the answer first,
/// then the short members, the raw text, and `meta` last. `success_schema` publishes these
/// fields; a test checks that the two name the same ones, so neither can gain a field the other
/// lacks.
#[derive(Serialize)]
struct Success<'a> {
    ok: bool,
    summary: String,
    findings: Vec<Finding>,
    questions: Vec<String>,
    assumptions: Vec<String>,
    next_steps: Vec<String>,
    session_id: Option<String>,
    resume_command: Option<String>,
    tool: &'a str,
    raw_response: Value,
    meta: Meta,
}

/// The success shape of consult; review extends it. `meta` stays opaque here (it is documented
/// in the README) because this schema is paid for in every conversation.
pub fn success_schema() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "type": "object",
        "required": ["ok", "summary"],
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::policy::Tier;

    #[test]
    fn the_success_type_and_its_schema_name_the_same_fields() {
        let finding = Finding {
            severity: "low",
            severity_original: None,
            title: "t".into(),
            file: None,
            line: None,
            line_end: None,
            evidence: "e".into(),
            risk: "r".into(),
            recommendation: "c".into(),
        };
        let success = json!(Success {
            ok: true,
            tool: "codex_consult",
            session_id: Some("019a0000-0000-7000-8000-000000000000".into()),
            resume_command: None,
            summary: "s".into(),
            findings: vec![finding],
            // Empty, as an answer may leave them.
            questions: Vec::new(),
            assumptions: Vec::new(),
            next_steps: Vec::new(),
            raw_response: json!({}),
            meta: Meta::new(Tier::Consult, None),
        });
        let schema = success_schema();
        let mut fields: Vec<&str> = success.as_object().unwrap().keys().map(String::as_str).collect();
        let mut properties: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        properties.sort_unstable();
        assert_eq!(fields, properties, "every field is described, and nothing else");
        super::super::check_against_schema(&success, &schema);
        let item = &schema["properties"]["findings"]["items"];
        for key in item["required"].as_array().unwrap().iter().filter_map(Value::as_str) {
            assert!(success["findings"][0].get(key).is_some(), "a finding lacks {key}");
        }
    }
}
