//! `meta`, the context stamped on every envelope of a workspace-bound tool, and the `ok:false`
//! envelope built from it. It lives with the tools because it records what they did: the
//! workspace they resolved, the codex run they made, what parsing changed in its answer.

use serde::Serialize;
use serde_json::{Value, json};

use crate::adapters::codex::answer::Adjustments;
use crate::adapters::codex::events::Usage;
use crate::adapters::codex::exec::Run;
use crate::adapters::workspace::Workspace;
use crate::foundation::envelope::ToolError;
use crate::foundation::policy::Tier;

/// Context stamped on every envelope of a workspace-bound tool: where it ran, how, what it
/// looked at and what it cost. Declared in the order it serialises: what was cut, withheld or
/// warned about first, the request and the constants last. Every key is serialised here (nulls
/// included): that is the whole envelope the job store keeps and `detail: "full"` returns; the
/// summary view (`super::lean`) drops what carries no information.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub job_id: Option<String>,
    /// This call's `idempotency_key` named an earlier run, which is what it returns: nothing
    /// new was started or spent.
    pub replayed: bool,
    /// Whether what was sent (or returned) was cut to a size bound; `truncation_hint` names
    /// every cut ("; "-separated) and how to avoid it.
    pub truncated: bool,
    pub truncation_hint: Option<String>,
    pub security_warnings: Vec<String>,
    /// What was changed in Codex's answer to fit the result: severities mapped, unusable line
    /// numbers nulled, items that were not findings dropped, a missing summary.
    pub answer_warnings: Vec<String>,
    /// Optional codex flags left out because this codex does not list them.
    pub compat_warnings: Vec<String>,
    /// Files withheld whole or with values masked before anything was sent.
    pub redacted_paths: Vec<String>,
    /// Files whose change is binary: reported, never inlined.
    pub binary_files: Vec<String>,
    pub workspace_warning: Option<String>,
    pub context_summary: Option<ContextSummary>,
    pub cwd: Option<String>,
    pub workspace_source: Option<&'static str>,
    /// Wall time of the codex process; 0 when codex never ran.
    pub elapsed_ms: u64,
    pub usage: Option<Usage>,
    pub session_id: Option<String>,
    pub command_exit_code: Option<i32>,
    pub tier: Tier,
    pub sandbox: &'static str,
    pub isolation: Option<&'static str>,
    /// The model requested with `--model`; null when none was, or this codex could not take it.
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    pub scope: Option<&'static str>,
    pub base: Option<String>,
    pub commit: Option<String>,
    pub paths: Option<Vec<String>>,
    /// A review's `focus`, as sent (secrets masked).
    pub focus: Option<String>,
    /// A consult's `kind` when it is `plan`; null for a question.
    pub kind: Option<&'static str>,
    pub timeout_seconds: Option<u64>,
    pub request_id: String,
    pub server_version: &'static str,
    pub fingerprint: &'static str,
}

/// Size of the change a tool looked at (before redaction and truncation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ContextSummary {
    pub files_changed: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
}

impl Meta {
    /// Meta for a call whose workspace is known (`Some`) or could not be resolved (`None`).
    pub fn new(tier: Tier, workspace: Option<&Workspace>) -> Meta {
        Meta {
            cwd: workspace.map(|w| w.path.display().to_string()),
            workspace_source: workspace.map(|w| w.source.as_str()),
            workspace_warning: workspace.and_then(|w| w.warning.clone()),
            tier,
            sandbox: tier.sandbox(),
            isolation: None,
            model: None,
            reasoning_effort: None,
            scope: None,
            base: None,
            commit: None,
            paths: None,
            focus: None,
            kind: None,
            timeout_seconds: None,
            elapsed_ms: 0,
            command_exit_code: None,
            session_id: None,
            usage: None,
            truncated: false,
            truncation_hint: None,
            context_summary: None,
            redacted_paths: Vec::new(),
            compat_warnings: Vec::new(),
            security_warnings: Vec::new(),
            answer_warnings: Vec::new(),
            binary_files: Vec::new(),
            job_id: None,
            replayed: false,
            request_id: crate::foundation::hash::random_hex(16),
            server_version: crate::foundation::identity::VERSION,
            fingerprint: super::fingerprint(),
        }
    }

    /// Records a cut: `truncated` is set and `what` joins the hint.
    pub fn note_truncation(&mut self, what: &str) {
        self.truncated = true;
        self.truncation_hint = Some(match self.truncation_hint.take() {
            Some(hint) => format!("{hint}; {what}"),
            None => what.to_string(),
        });
    }

    /// Records what parsing changed in Codex's answer: cuts in `truncated`/`truncation_hint`,
    /// the rest in `answer_warnings`.
    pub fn record_answer(&mut self, adjustments: &Adjustments) {
        for cut in &adjustments.cuts {
            self.note_truncation(cut);
        }
        self.answer_warnings.extend(adjustments.warnings.iter().cloned());
    }

    /// Records what a codex run reported: time, exit code, session, usage, and the model that
    /// was really requested.
    pub fn record_run(&mut self, run: &Run) {
        self.elapsed_ms = u64::try_from(run.elapsed.as_millis()).unwrap_or(u64::MAX);
        self.command_exit_code = run.exit_code;
        self.session_id = run.stream.session_id.clone();
        self.usage = run.stream.usage;
        self.model = run.model_sent.clone();
        self.compat_warnings = run.compat_warnings.clone();
    }
}

/// The whole `ok:false` envelope.
pub fn error_envelope(error: ToolError, meta: &Meta) -> Value {
    json!({ "ok": false, "error": error, "meta": meta })
}
