//! `codex_consult`: a read-only second opinion. The question (and any context) goes to codex in
//! a read-only sandbox rooted at the workspace; the answer comes back parsed, sanitised and
//! redacted. With `session_id` the question continues an earlier session, which codex resumes
//! with its earlier exchange.
//!
//! With `kind: "plan"` the question is a plan or design to review, with any `files` it names
//! read the way a review reads files (redacted, withheld when secret-looking, bounded). The
//! answer then carries a verdict (`approve`, `revise`, `reject`), and an approval is never given
//! over less than the whole answer and every named file: with findings lost or files withheld
//! or cut, `approve` becomes `revise` and the summary says why.

use serde::Serialize;
use serde_json::{Value, json};

use super::Call;
use super::codex_run::{self, Opening};
use super::meta::{Meta, error_envelope};
use super::schema;
use crate::adapters::codex::answer::{self, Confidence, Finding, PlanVerdict};
use crate::adapters::codex::prompts;
use crate::adapters::git::gather;
use crate::adapters::workspace::Workspace;
use crate::foundation::envelope::{ErrorCode, ToolError};

/// What a consult asks for (the `kind` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultKind {
    /// An answer to a question (the default).
    Question,
    /// A review of a plan or design, with a verdict.
    Plan,
}

impl ConsultKind {
    pub const NAMES: &'static [&'static str] = &["question", "plan"];

    pub fn as_str(self) -> &'static str {
        ConsultKind::NAMES[self as usize]
    }

    /// The call's kind; `files` belong to a plan review only.
    fn of(call: &Call) -> Result<ConsultKind, ToolError> {
        let kind = if call.args.text("kind") == Some(ConsultKind::Plan.as_str()) {
            ConsultKind::Plan
        } else {
            ConsultKind::Question
        };
        if kind == ConsultKind::Question && !call.args.text_list("files").is_empty() {
            return Err(
                ToolError::new(ErrorCode::InvalidArguments, "files are read for kind=plan only").offending("files")
            );
        }
        Ok(kind)
    }
}

/// What can be checked before a consult's job starts: input size, then for a plan review that
/// its files can be read.
pub fn check(call: &Call, workspace: &Workspace, _: &mut Meta) -> Result<(), ToolError> {
    let parts = ["question", "extra_context"].map(|name| (name, call.args.text(name)));
    codex_run::check_input_size(call, &parts)?;
    let files = call.args.text_list("files");
    if ConsultKind::of(call)? == ConsultKind::Plan && !files.is_empty() {
        let git_timeout = std::time::Duration::from_secs(call.config.git_timeout_seconds);
        gather::check_files(&workspace.path, &files, git_timeout, &call.cancel).map_err(files_error)?;
    }
    Ok(())
}

pub fn run(call: &Call) -> Value {
    let Opening { workspace, settings, mut meta } = match Opening::new(call, &["question", "extra_context"]) {
        Ok(opening) => opening,
        Err(envelope) => return envelope,
    };
    let kind = match ConsultKind::of(call) {
        Ok(kind) => kind,
        Err(error) => return error_envelope(error, &meta),
    };
    let question = call.args.text("question").unwrap_or_default();
    let extra_context = call.args.text("extra_context");
    if let Err(error) = codex_run::follow_up(call, &workspace) {
        return error_envelope(error, &meta);
    }
    let question = codex_run::redact_input(Some(question), "question", &mut meta).unwrap_or_default();
    let extra_context = codex_run::redact_input(extra_context, "extra_context", &mut meta);
    let (prompt, schema, omissions) = match kind {
        ConsultKind::Question => {
            (prompts::consult(&question, extra_context.as_deref()), answer::consult_schema(), Vec::new())
        }
        ConsultKind::Plan => {
            meta.kind = Some(kind.as_str());
            let (files, omissions) = match plan_files(call, &workspace, &mut meta) {
                Ok(read) => read,
                Err(error) => return error_envelope(error, &meta),
            };
            (prompts::plan(&question, extra_context.as_deref(), files.as_deref()), answer::plan_schema(), omissions)
        }
    };
    let mut invocation = settings.invocation(call, &workspace.path, prompt, Some(schema));
    // A question need not be about a repository.
    invocation.skip_git_repo_check = true;
    let stopped = ("Codex was stopped before it answered", "the question (or what is left of it)");
    let run = match codex_run::run_codex_resumable(call, &workspace, &invocation, &mut meta, stopped) {
        Ok(run) => run,
        Err(envelope) => return envelope,
    };
    let parsed = match kind {
        ConsultKind::Question => answer::consult(run.last_message.as_deref()),
        ConsultKind::Plan => answer::plan(run.last_message.as_deref()),
    };
    let mut answer = match parsed {
        Ok(answer) => answer,
        Err(error) => return error_envelope(error.into(), &meta),
    };
    meta.record_answer(&answer.adjustments);
    if kind == ConsultKind::Plan {
        no_approval_over_less_than_all(&mut answer, omissions);
    }
    let raw_response = codex_run::raw_response(call, &run, &mut meta);
    codex_run::remember(call, &workspace, &run, &mut meta, |_| {});
    let (session_id, resume_command) = codex_run::session_fields(call, &run);
    json!(Success {
        ok: true,
        summary: answer.summary,
        verdict: answer.verdict,
        confidence: answer.confidence,
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

/// The files a plan review names, as they may be sent (`None` when it names none), and why
/// they are not all there whole: withheld as secret-looking, or cut at the input limit. What
/// was withheld, masked or cut is recorded in `meta` as a review records it.
fn plan_files(call: &Call, workspace: &Workspace, meta: &mut Meta) -> Result<(Option<String>, Vec<String>), ToolError> {
    let files = call.args.text_list("files");
    if files.is_empty() {
        return Ok((None, Vec::new()));
    }
    let git_timeout = std::time::Duration::from_secs(call.config.git_timeout_seconds);
    let capture = super::review::capture_bytes(call);
    let gathered = gather::files(&workspace.path, &files, capture, git_timeout, &call.cancel).map_err(files_error)?;
    let bounded = super::review::bound(call, &gathered, meta, "the files", "name fewer or smaller files");
    meta.paths = Some(files);
    meta.binary_files.clone_from(&gathered.binary_files);
    let mut omissions = Vec::new();
    let withheld = &bounded.redaction.withheld_paths;
    if !withheld.is_empty() {
        meta.security_warnings.push(format!(
            "{} secret-looking file(s) were withheld, not sent: {}",
            withheld.len(),
            crate::foundation::text::one_line(&withheld.join(", "), 300)
        ));
        omissions.push(format!("{} of the files were withheld as secret-looking", withheld.len()));
    }
    let redaction = &bounded.redaction;
    if redaction.inline_masks > 0 {
        meta.security_warnings.push(format!(
            "{} secret-looking value(s) in the files were masked before sending, in: {}",
            redaction.inline_masks,
            crate::foundation::text::one_line(&redaction.masked_paths.join(", "), 300)
        ));
    }
    if bounded.truncated {
        omissions.push("the files were cut at the input limit".to_string());
    }
    if !gathered.left_out.is_empty() {
        let listed: Vec<String> =
            gathered.left_out.iter().map(|file| format!("{} ({})", file.path, file.reason.name())).collect();
        meta.note_truncation(&format!(
            "{} named file(s) were left out, not read: {}; make them readable, or name smaller files",
            listed.len(),
            crate::foundation::text::one_line(&listed.join(", "), 300)
        ));
        omissions.push(format!("{} of the files were left out unread", listed.len()));
    }
    Ok((Some(bounded.text().to_string()), omissions))
}

/// A `files` path that cannot be read is the `files` parameter's fault.
fn files_error(error: gather::GatherError) -> ToolError {
    let mut error = ToolError::from(error);
    if error.code == ErrorCode::InvalidPaths {
        error.offending_param = Some("files".to_string());
    }
    error
}

/// As a review's `pass` is never given over partial coverage, a plan is not approved over a
/// partial answer (findings lost or cut) or partial files (`omissions`): `approve` becomes
/// `revise` with low confidence, and the summary says why.
fn no_approval_over_less_than_all(answer: &mut answer::Answer<PlanVerdict>, mut omissions: Vec<String>) {
    if answer.adjustments.findings_incomplete {
        omissions.push("findings were lost or cut from Codex's answer (see meta.truncation_hint)".to_string());
    }
    if answer.verdict != Some(PlanVerdict::Approve) || omissions.is_empty() {
        return;
    }
    answer.verdict = Some(PlanVerdict::Revise);
    answer.confidence = Some(Confidence::Low);
    answer.summary = format!(
        "Codex approved the plan as it saw it, but {}, so this is not an approval. {}",
        omissions.join(" and "),
        answer.summary
    );
}

/// The `ok:true` envelope of `codex_consult`, in the order the model reads it: the answer first,
/// then the short members, the raw text, and `meta` last. `success_schema` publishes these
/// fields; a test checks that the two name the same ones, so neither can gain a field the other
/// lacks.
#[derive(Serialize)]
struct Success<'a> {
    ok: bool,
    summary: String,
    /// A plan review's verdict and confidence; absent for a question.
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<PlanVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<Confidence>,
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

/// The top-level members of a consult's success; review and delegate add theirs.
pub const MEMBERS: &[&str] = &[
    "tool",
    "session_id",
    "resume_command",
    "summary",
    "findings",
    "questions",
    "assumptions",
    "next_steps",
    "raw_response",
];

pub fn success_schema() -> Value {
    schema::members(MEMBERS, &[("verdict", PlanVerdict::NAMES), ("confidence", Confidence::NAMES)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::policy::Tier;

    #[test]
    fn the_success_type_and_its_schema_name_the_same_fields() {
        let finding = Finding {
            severity: answer::Severity::Low,
            severity_original: None,
            title: "t".into(),
            file: None,
            line: None,
            line_end: None,
            evidence: "e".into(),
            risk: "r".into(),
            recommendation: "c".into(),
        };
        let success = |verdict: Option<PlanVerdict>, confidence: Option<Confidence>| {
            json!(Success {
                ok: true,
                tool: "codex_consult",
                session_id: Some("019a0000-0000-7000-8000-000000000000".into()),
                resume_command: Some("codex resume 019a0000-0000-7000-8000-000000000000".into()),
                summary: "s".into(),
                verdict,
                confidence,
                findings: vec![finding.clone()],
                questions: Vec::new(),
                assumptions: Vec::new(),
                next_steps: Vec::new(),
                raw_response: json!({}),
                meta: Meta::new(Tier::Consult, None),
            })
        };
        let sorted_keys = |value: &Value| {
            let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            keys.sort_unstable();
            keys
        };
        let schema = schema::output(success_schema());
        let properties: Vec<String> = sorted_keys(&schema["properties"]).into_iter().filter(|k| k != "error").collect();
        // A plan review's answer has every member the schema names (error is the ok:false
        // member); a question's lacks only the plan's verdict and confidence.
        assert_eq!(
            sorted_keys(&success(Some(PlanVerdict::Revise), Some(Confidence::Low))),
            properties,
            "every field is named, and nothing else"
        );
        let question: Vec<String> =
            properties.iter().filter(|k| *k != "verdict" && *k != "confidence").cloned().collect();
        assert_eq!(sorted_keys(&success(None, None)), question);
        assert_eq!(schema["required"], json!(["ok"]), "a member left out of a lean envelope is not missing");
    }
}
