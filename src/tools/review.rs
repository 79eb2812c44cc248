//! `codex_review_changes` and `codex_dry_run`: one preparation (gather the diff with hardened
//! git, redact it, bound it, measure coverage, build the prompt), then either a read-only codex
//! review or, for the dry run, a report of what would be sent.
//!
//! The review never gives a false pass: nothing to review means `not_run` with no model call; a
//! `pass` over partial coverage (untracked files left out, a truncated diff, withheld files,
//! findings the answer lost) or degraded coverage (the sandbox refused most of codex's commands)
//! is downgraded to `unknown`; an answer that is not the schema's JSON, or no answer, is an error.
//!
//! Every finding of a completed review carries a `finding_id`, a digest of its file and its
//! title normalised (lowercase, punctuation and spacing folded), never its line, which moves as
//! the code does: the same problem keeps its id across reviews of the same change. A re-review
//! (`session_id` of an earlier review) resumes Codex's session, shows it its earlier findings,
//! and marks each finding `new` or `still_open` against them; those it no longer reports are
//! listed in `resolved_findings` with status `resolved`.

use serde::Serialize;
use serde_json::{Value, json};

use super::Call;
use super::codex_run::{self, Opening, Settings};
use super::meta::{ContextSummary, Meta, error_envelope};
use super::schema;
use crate::adapters::codex::answer::{self, Confidence, Verdict};
use crate::adapters::git::gather::{self, Gathered, Scope, Untracked};
use crate::adapters::sessions::KeptFinding;
use crate::adapters::workspace::Workspace;
use crate::foundation::envelope::{ErrorCode, ToolError};
use crate::foundation::policy::closed_set;
use crate::foundation::redact;

closed_set! {
    /// Whether a review ran: `not_run` when there was nothing to review (no model call).
    ReviewStatus { Completed = "completed", NotRun = "not_run" }
}

closed_set! {
    /// How much of the change a review saw (see `Coverage`).
    CoverageStatus { Complete = "complete", Partial = "partial", Degraded = "degraded" }
}

closed_set! {
    /// A finding against the earlier review a re-review follows (see the module doc).
    FindingStatus { New = "new", StillOpen = "still_open", Resolved = "resolved" }
}

/// Everything a review sends, decided before any model call.
struct Prepared {
    workspace: Workspace,
    settings: Settings,
    meta: Meta,
    gathered: Gathered,
    coverage: Coverage,
    /// Nothing to review: no model call.
    empty: bool,
    prompt: String,
}

/// What the review covered. Reasons are added before the run (what was not sent) and after it
/// (findings the answer lost, a sandbox that refused codex's commands); any reason rules out a
/// pass.
struct Coverage {
    omission_reasons: Vec<&'static str>,
    /// Set when codex was mostly blind: coverage is `degraded`, whatever else was omitted.
    degraded_reason: Option<String>,
    /// Untracked files detected, included and omitted.
    untracked: [u64; 3],
    /// Files left out though asked for (`gather::LeftOut`), as `left_out_json` lists them.
    left_out: Value,
    /// What redaction withheld or masked.
    redaction: Value,
}

impl Coverage {
    fn complete(&self) -> bool {
        self.omission_reasons.is_empty()
    }

    fn status(&self) -> CoverageStatus {
        match (&self.degraded_reason, self.complete()) {
            (Some(_), _) => CoverageStatus::Degraded,
            (None, true) => CoverageStatus::Complete,
            (None, false) => CoverageStatus::Partial,
        }
    }

    fn to_json(&self) -> Value {
        let [detected, included, omitted] = self.untracked;
        json!({
            "status": self.status(),
            "untracked_files_detected": detected,
            "untracked_files_included": included,
            "untracked_files_omitted": omitted,
            "left_out_files": self.left_out,
            "omission_reasons": self.omission_reasons,
            "degraded_reason": self.degraded_reason,
            "redaction": self.redaction,
        })
    }
}

pub fn run_review(call: &Call) -> Value {
    let prepared = match prepare(call) {
        Ok(prepared) => prepared,
        Err(envelope) => return envelope,
    };
    let Prepared { workspace, settings, mut meta, gathered, mut coverage, empty, prompt, .. } = prepared;
    let earlier = match codex_run::follow_up(call, &workspace) {
        Ok(record) => record.map(|record| record.findings.unwrap_or_default()),
        Err(error) => return error_envelope(error, &meta),
    };
    if empty {
        let mut summary = format!("No changes to review for scope={}.", meta.scope.unwrap_or("working_tree"));
        // Left-out files count as omitted; naming them again would not get them read.
        let by_mode = gathered.untracked_omitted.saturating_sub(gathered.left_out.len() as u64);
        if by_mode > 0 {
            summary.push_str(&format!(
                " {by_mode} untracked file(s) were left out; name them in paths or pass untracked=include to review them."
            ));
        }
        if !gathered.left_out.is_empty() {
            summary.push_str(&format!(
                " {} file(s) could not be read whole and were left out (see coverage.left_out_files).",
                gathered.left_out.len()
            ));
        }
        let raw = json!({"text": null, "session_id": null, "model": null});
        return review_envelope(
            call,
            summary,
            answer::Answer::default(),
            (Vec::new(), Vec::new()),
            (Verdict::Unknown, Confidence::Low),
            ReviewStatus::NotRun,
            &coverage,
            raw,
            (None, None),
            meta,
        );
    }
    let mut prompt = prompt;
    if let Some(earlier) = earlier.as_ref().filter(|earlier| !earlier.is_empty()) {
        let lines: Vec<String> = earlier
            .iter()
            .map(|f| {
                format!(
                    "- {}: {}",
                    f.file.as_deref().unwrap_or("(no file)"),
                    crate::foundation::text::one_line(&f.title, 200)
                )
            })
            .collect();
        prompt.push_str(
            &crate::foundation::redact::text(&crate::adapters::codex::prompts::earlier_findings(&lines)).text,
        );
    }
    let invocation = settings.invocation(call, &workspace.path, prompt, Some(answer::review_schema()));
    let run = match codex_run::run_codex(call, &invocation, &mut meta) {
        Ok(run) => run,
        Err(envelope) => return envelope,
    };
    let answer = match answer::review(run.last_message.as_deref()) {
        Ok(answer) => answer,
        Err(error) => return error_envelope(error.into(), &meta),
    };
    meta.record_answer(&answer.adjustments);
    if answer.adjustments.findings_incomplete {
        coverage.omission_reasons.push("findings_truncated");
    }
    if let Some(reason) = run.stream.sandbox_blindness() {
        coverage.omission_reasons.push("sandbox_denied");
        coverage.degraded_reason = Some(reason);
    }
    let mut verdict = (answer.verdict.unwrap_or(Verdict::Unknown), answer.confidence.unwrap_or(Confidence::Medium));
    let mut summary = answer.summary.clone();
    if verdict.0 == Verdict::Pass && !coverage.complete() {
        verdict = (Verdict::Unknown, Confidence::Low);
        let why = match &coverage.degraded_reason {
            Some(reason) => format!("coverage was degraded: {reason}"),
            None => "coverage was partial (see coverage.omission_reasons)".to_string(),
        };
        summary = format!("Codex found no problems in what it saw, but {why}, so this is not a pass. {summary}");
    }
    let raw = codex_run::raw_response(call, &run, &mut meta);
    let session = codex_run::session_fields(call, &run);
    let kept: Vec<KeptFinding> = answer
        .findings
        .iter()
        .map(|f| KeptFinding {
            finding_id: finding_id(f.file.as_deref(), &f.title),
            severity: f.severity.to_string(),
            title: f.title.clone(),
            file: f.file.clone(),
        })
        .collect();
    let earlier = earlier.unwrap_or_default();
    let status = |id: &str| {
        if earlier.iter().any(|e| e.finding_id == id) { FindingStatus::StillOpen } else { FindingStatus::New }
    };
    let findings: Vec<Value> = (answer.findings.iter().zip(&kept))
        .map(|(finding, kept)| {
            let mut value = json!(finding);
            value["finding_id"] = json!(kept.finding_id);
            value["status"] = json!(status(&kept.finding_id));
            value
        })
        .collect();
    // An earlier finding not seen again is resolved only when this review saw everything: with
    // findings cut, files left out or codex mostly blind, it may simply not have been looked at.
    let unseen: Vec<KeptFinding> =
        earlier.into_iter().filter(|e| !kept.iter().any(|k| k.finding_id == e.finding_id)).collect();
    let (resolved, still_open) = if coverage.complete() { (unseen, Vec::new()) } else { (Vec::new(), unseen) };
    if !still_open.is_empty() {
        meta.answer_warnings.push(format!(
            "{} earlier finding(s) were not reported again, but coverage was not complete, so they are not marked resolved and stay open for the next re-review",
            still_open.len()
        ));
    }
    let resolved: Vec<Value> = (resolved.iter())
        .map(|e| {
            json!({"finding_id": e.finding_id, "severity": e.severity, "title": e.title, "file": e.file, "status": FindingStatus::Resolved})
        })
        .collect();
    let open: Vec<KeptFinding> = kept.into_iter().chain(still_open).collect();
    codex_run::remember(call, &workspace, &run, &mut meta, |record| record.findings = Some(open));
    review_envelope(
        call,
        summary,
        answer,
        (findings, resolved),
        verdict,
        ReviewStatus::Completed,
        &coverage,
        raw,
        session,
        meta,
    )
}

#[allow(clippy::too_many_arguments)]
fn review_envelope(
    call: &Call,
    summary: String,
    answer: answer::Answer<Verdict>,
    (findings, resolved_findings): (Vec<Value>, Vec<Value>),
    (verdict, confidence): (Verdict, Confidence),
    review_status: ReviewStatus,
    coverage: &Coverage,
    raw_response: Value,
    (session_id, resume_command): (Option<String>, Option<String>),
    meta: Meta,
) -> Value {
    json!(Success {
        ok: true,
        summary,
        verdict,
        confidence,
        review_status,
        findings,
        resolved_findings,
        coverage: coverage.to_json(),
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

/// The `ok:true` envelope of `codex_review_changes`, in the order the model reads it: the
/// verdict first, then findings and coverage, the raw text, and `meta` last. A test checks it
/// against `review_success_schema`.
#[derive(Serialize)]
struct Success<'a> {
    ok: bool,
    summary: String,
    verdict: Verdict,
    confidence: Confidence,
    review_status: ReviewStatus,
    /// Codex's findings, each with its `finding_id` and `status`.
    findings: Vec<Value>,
    resolved_findings: Vec<Value>,
    coverage: Value,
    questions: Vec<String>,
    assumptions: Vec<String>,
    next_steps: Vec<String>,
    session_id: Option<String>,
    resume_command: Option<String>,
    tool: &'a str,
    raw_response: Value,
    meta: Meta,
}

/// The `ok:true` envelope of `codex_dry_run`: what a review would send, then `meta`. A test
/// checks it against `dry_run_success_schema`.
#[derive(Serialize)]
struct DryRun<'a> {
    ok: bool,
    would_call_model: bool,
    prompt_bytes: usize,
    truncated: bool,
    truncation_hint: Option<String>,
    context_summary: Option<ContextSummary>,
    coverage: Value,
    redacted_paths: Vec<String>,
    binary_files: Vec<String>,
    label: String,
    tool: &'a str,
    meta: Meta,
}

pub fn run_dry_run(call: &Call) -> Value {
    let prepared = match prepare(call) {
        Ok(prepared) => prepared,
        Err(envelope) => return envelope,
    };
    let prompt_bytes = if prepared.empty { 0 } else { prepared.prompt.len() };
    let Prepared { meta, gathered, coverage, empty, .. } = prepared;
    json!(DryRun {
        ok: true,
        would_call_model: !empty,
        prompt_bytes,
        truncated: meta.truncated,
        truncation_hint: meta.truncation_hint.clone(),
        context_summary: meta.context_summary,
        coverage: coverage.to_json(),
        redacted_paths: meta.redacted_paths.clone(),
        binary_files: gathered.binary_files,
        label: gathered.label,
        tool: call.tool.name,
        meta,
    })
}

fn prepare(call: &Call) -> Result<Prepared, Value> {
    let Opening { workspace, settings, mut meta } = Opening::new(call, &["extra_context", "focus"])?;
    let request = review_request(call, &mut meta).map_err(|e| error_envelope(e, &meta))?;
    let git_timeout = std::time::Duration::from_secs(call.config.git_timeout_seconds);
    let gathered = gather::gather(&workspace.path, &request, git_timeout, &call.cancel)
        .map_err(|e| error_envelope(e.into(), &meta))?;

    let bounded = bound(
        call,
        &gathered,
        &mut meta,
        "the diff",
        "retry with paths=[...], a closer branch base, or a single commit",
    );
    let (redaction, diff, truncated) = (&bounded.redaction, bounded.text(), bounded.truncated);
    meta.context_summary = Some(ContextSummary {
        files_changed: gathered.files_changed,
        lines_added: gathered.lines_added,
        lines_removed: gathered.lines_removed,
    });

    let mut omission_reasons = Vec::new();
    if gathered.untracked_omitted > 0 {
        omission_reasons.push("untracked_omitted");
    }
    if !gathered.left_out.is_empty() {
        omission_reasons.push("files_left_out");
    }
    if truncated {
        omission_reasons.push("truncated");
    }
    if !redaction.withheld_paths.is_empty() {
        omission_reasons.push("redacted");
    }
    let coverage = Coverage {
        omission_reasons,
        degraded_reason: None,
        untracked: [gathered.untracked_detected, gathered.untracked_included, gathered.untracked_omitted],
        left_out: left_out_json(&gathered.left_out),
        redaction: json!({
            "withheld_paths": redaction.withheld_paths,
            "masked_paths": redaction.masked_paths,
            "inline_masks": redaction.inline_masks,
        }),
    };
    let empty = gathered.files_changed == 0 && gathered.diff.trim().is_empty();
    let extra_context = codex_run::redact_input(call.args.text("extra_context"), "extra_context", &mut meta);
    let focus = codex_run::redact_input(call.args.text("focus"), "focus", &mut meta);
    meta.focus.clone_from(&focus);
    let prompt =
        crate::adapters::codex::prompts::review(&gathered.label, diff, extra_context.as_deref(), focus.as_deref());
    Ok(Prepared { workspace, settings, meta, gathered, coverage, empty, prompt })
}

/// What the review looks at, from the arguments; records scope, base, commit and paths in `meta`.
fn review_request(call: &Call, meta: &mut Meta) -> Result<gather::Request, ToolError> {
    let args = &call.args;
    let paths = args.text_list("paths");
    meta.base = args.text("base").map(str::to_string);
    meta.commit = args.text("commit").map(str::to_string);
    meta.paths = (!paths.is_empty()).then(|| paths.clone());
    let scope = match args.text("scope") {
        Some("branch") => {
            let base = meta
                .base
                .clone()
                .ok_or_else(|| ToolError::new(ErrorCode::InvalidBase, "scope=branch needs base").offending("base"))?;
            Scope::Branch { base }
        }
        Some("commit") => {
            let commit = meta.commit.clone().ok_or_else(|| {
                ToolError::new(ErrorCode::InvalidCommit, "scope=commit needs commit").offending("commit")
            })?;
            Scope::Commit { commit }
        }
        _ => Scope::WorkingTree,
    };
    meta.scope = Some(scope.name());
    let untracked = args.text("untracked").and_then(Untracked::parse).unwrap_or(Untracked::ExplicitOnly);
    Ok(gather::Request { scope, paths, untracked, capture_bytes: capture_bytes(call) })
}

/// Files a gather left out, each `{path, reason}` (`reason` a `LeftOutReason` name), with
/// `bytes` and `limit_bytes` for one too large to read.
fn left_out_json(left_out: &[gather::LeftOut]) -> Value {
    let entries = left_out.iter().map(|file| {
        let mut entry = json!({"path": file.path, "reason": file.reason.name()});
        if let gather::LeftOutReason::TooLarge { bytes, limit } = file.reason {
            entry["bytes"] = json!(bytes);
            entry["limit_bytes"] = json!(limit);
        }
        entry
    });
    Value::Array(entries.collect())
}

/// How much of git's output a gather keeps: headroom over the input limit, since withheld files
/// and masks shrink the text before it is bounded.
pub(super) fn capture_bytes(call: &Call) -> usize {
    usize::try_from(call.config.max_input_bytes).unwrap_or(usize::MAX).saturating_mul(4).max(1024 * 1024)
}

/// What was gathered (`what`: "the diff", "the files") as it may be sent: redacted, then bounded
/// to the input limit; a cut (with `hint`, how to avoid it), the redacted paths and the filters
/// not run are recorded in `meta`.
pub(super) fn bound(call: &Call, gathered: &Gathered, meta: &mut Meta, what: &str, hint: &str) -> redact::BoundedDiff {
    let limit = usize::try_from(call.config.max_input_bytes).unwrap_or(usize::MAX);
    let bounded = redact::bound_diff(&gathered.diff, gathered.capture_truncated, limit, redact::diff);
    if bounded.truncated {
        meta.note_truncation(&format!("{what} exceeded {limit} bytes; {hint}"));
    }
    meta.redacted_paths = bounded.redaction.redacted_paths();
    if gathered.untracked_unlisted {
        meta.security_warnings.push(
            "untracked files were not listed or sent: the repository's git config sets status.showUntrackedFiles=no, which the review honours; name them in git add -N to review them".into(),
        );
    }
    if !gathered.neutralised_filters.is_empty() {
        meta.security_warnings.push(format!(
            "the repository's own config defines the filter driver(s) {}; repository-configured programs never run, so files using them were compared as they are on disk and may show changes the filter would hide",
            crate::foundation::text::one_line(&gathered.neutralised_filters.join(", "), 300)
        ));
    }
    bounded
}

/// Everything a review can check before it runs (for a background review, before the job
/// starts): input size, scope, ref and path shape, the repository, and that the refs name commits.
pub fn check_review(call: &Call, workspace: &Workspace, meta: &mut Meta) -> Result<(), ToolError> {
    let inputs = ["extra_context", "focus"].map(|name| (name, call.args.text(name)));
    codex_run::check_input_size(call, &inputs)?;
    let request = review_request(call, meta)?;
    let git_timeout = std::time::Duration::from_secs(call.config.git_timeout_seconds);
    gather::check(&workspace.path, &request, git_timeout, &call.cancel).map_err(ToolError::from)
}

/// A finding's stable id: the same file and title (normalised) give the same id; the line is
/// left out because it moves as the code does.
fn finding_id(file: Option<&str>, title: &str) -> String {
    let file = file.map_or("", |f| f.trim().trim_start_matches("./"));
    let title: Vec<String> =
        title.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).map(str::to_lowercase).collect();
    let digest = crate::foundation::hash::sha256_hex(format!("{file}\n{}", title.join(" ")).as_bytes());
    format!("f-{}", &digest[..12])
}

/// The success members of a review: consult's plus verdict, confidence, status and coverage.
pub fn review_success_schema() -> Value {
    let names = [super::consult::MEMBERS, &["coverage", "resolved_findings"]].concat();
    schema::members(
        &names,
        &[("verdict", Verdict::NAMES), ("confidence", Confidence::NAMES), ("review_status", ReviewStatus::NAMES)],
    )
}

pub fn dry_run_success_schema() -> Value {
    let names = [
        "tool",
        "would_call_model",
        "prompt_bytes",
        "label",
        "context_summary",
        "coverage",
        "binary_files",
        "truncated",
        "truncation_hint",
        "redacted_paths",
    ];
    schema::members(&names, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::policy::Tier;

    #[test]
    fn the_review_and_dry_run_envelopes_match_their_schemas() {
        let coverage = Coverage {
            omission_reasons: Vec::new(),
            degraded_reason: None,
            untracked: [0, 0, 0],
            left_out: json!([]),
            redaction: json!({"withheld_paths": [], "masked_paths": [], "inline_masks": 0}),
        };
        let review = json!(Success {
            ok: true,
            summary: "s".into(),
            verdict: Verdict::Pass,
            confidence: Confidence::High,
            review_status: ReviewStatus::Completed,
            findings: Vec::new(),
            resolved_findings: Vec::new(),
            coverage: coverage.to_json(),
            questions: Vec::new(),
            assumptions: Vec::new(),
            next_steps: Vec::new(),
            session_id: None,
            resume_command: None,
            tool: "codex_review_changes",
            raw_response: json!({"text": null}),
            meta: Meta::new(Tier::Consult, None),
        });
        crate::tools::check_against_schema(&review, &review_success_schema());
        let dry_run = json!(DryRun {
            ok: true,
            would_call_model: false,
            prompt_bytes: 0,
            truncated: false,
            truncation_hint: None,
            context_summary: None,
            coverage: coverage.to_json(),
            redacted_paths: Vec::new(),
            binary_files: Vec::new(),
            label: "working_tree".into(),
            tool: "codex_dry_run",
            meta: Meta::new(Tier::Consult, None),
        });
        crate::tools::check_against_schema(&dry_run, &dry_run_success_schema());
    }

    #[test]
    fn finding_ids_ignore_case_punctuation_spacing_and_a_leading_dot_slash() {
        let id = finding_id(Some("src/lib.rs"), "Unchecked unwrap on user input");
        assert_eq!(id, finding_id(Some("./src/lib.rs"), "  unchecked UNWRAP -- on user input. "));
        assert!(id.starts_with("f-") && id.len() == 14, "{id}");
        assert_ne!(id, finding_id(Some("src/main.rs"), "Unchecked unwrap on user input"));
        assert_ne!(id, finding_id(Some("src/lib.rs"), "Unchecked index on user input"));
        assert_ne!(finding_id(None, "x"), finding_id(Some("x"), ""));
    }
}
