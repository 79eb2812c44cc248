//! The tool registry: every tool declared once in `ALL`, and everything generated from it —
//! the `tools/list` entries, the `codex_capabilities` inventory and the surface fingerprint —
//! plus the one dispatch path (`call_tool`) that validates arguments, runs the handler under a
//! panic guard and always returns an envelope that matches the tool's output schema.

mod budget;
mod capabilities;
pub(crate) mod codex_run;
mod consult;
mod delegate;
mod errors;
mod inline;
mod jobs;
mod lean;
mod meta;
mod models;
pub mod params;
mod review;
mod schema;
mod status;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::adapters::git::gather;
use crate::adapters::jobs::Spec;
use crate::adapters::workspace::Workspace;
use crate::foundation::cancel::CancelToken;
use crate::foundation::config::Config;
use crate::foundation::envelope::{ErrorCode, ErrorCode as E, ToolError};
use crate::foundation::policy::{Isolation, Tier};
use meta::{Meta, error_envelope};
use params::{Args, Kind, Param};
pub use review::{CoverageStatus, ReviewStatus};

/// Whether calling the tool spends model quota. Rendered as the first word of the description,
/// which is what the model reads when choosing a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    Paid,
    Free,
}

impl Cost {
    pub fn as_str(self) -> &'static str {
        match self {
            Cost::Paid => "paid",
            Cost::Free => "free",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Cost::Paid => "PAID",
            Cost::Free => "Free",
        }
    }
}

/// MCP tool annotations, stated honestly: anything that spends, writes a job record or a
/// worktree is not read-only (docs/lessons.md §5 item 1).
#[derive(Debug, Clone, Copy)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

impl Annotations {
    /// MCP's value of each hint a client assumes when the hint is absent.
    const MCP_DEFAULTS: Annotations =
        Annotations { read_only: false, destructive: true, idempotent: false, open_world: true };

    /// The `annotations` of `tools/list`: each hint that differs from MCP's default. A hint equal
    /// to the default says nothing a client does not assume, and `tools/list` is read into every
    /// conversation.
    fn hints(self) -> Value {
        let d = Self::MCP_DEFAULTS;
        let hints = [
            ("readOnlyHint", self.read_only, d.read_only),
            ("destructiveHint", self.destructive, d.destructive),
            ("idempotentHint", self.idempotent, d.idempotent),
            ("openWorldHint", self.open_world, d.open_world),
        ];
        let stated = hints.into_iter().filter(|(_, hint, default)| hint != default);
        Value::Object(stated.map(|(name, hint, _)| (name.to_string(), json!(hint))).collect())
    }
}

const READS_LOCAL_STATE: Annotations =
    Annotations { read_only: true, destructive: false, idempotent: true, open_world: false };
const ASKS_THE_MODEL: Annotations =
    Annotations { read_only: false, destructive: false, idempotent: false, open_world: true };
const EDITS_A_WORKTREE: Annotations =
    Annotations { read_only: false, destructive: true, idempotent: false, open_world: true };
const DELETES_A_RECORD: Annotations =
    Annotations { read_only: false, destructive: true, idempotent: false, open_world: false };
const STOPS_A_JOB: Annotations =
    Annotations { read_only: false, destructive: false, idempotent: true, open_world: false };

pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub cost: Cost,
    /// What it does and when to use it; `tools/list` prefixes the cost label.
    pub summary: &'static str,
    pub tier: Tier,
    pub params: &'static [Param],
    /// The tool whose `inputSchema` describes these parameters (this tool's summary names it);
    /// `None` when this one does. A twin's or a preview's parameters are the same ones, so
    /// their descriptions are not paid for twice in `tools/list`.
    pub params_described_in: Option<&'static str>,
    pub annotations: Annotations,
    pub error_codes: &'static [ErrorCode],
    /// The top-level members of its `ok:true` envelope (`schema::members`).
    pub success_schema: fn() -> Value,
    /// The handler. For a tool with a `job_check`, it is what the job worker runs.
    pub run: fn(&Call) -> Value,
    /// A synchronous paid tool: what is checked before its run is handed to a detached job
    /// worker, which runs `run` while the call waits for it (docs/product.md §6: no paid result is
    /// lost). `None` for everything else.
    pub job_check: Option<jobs::Check>,
}

/// Where a call runs: the server's configuration, the client's roots, where to report
/// progress, and the call's cancel token.
pub struct Context<'a> {
    pub config: &'a Config,
    pub roots: &'a dyn Roots,
    pub progress: &'a dyn Progress,
    pub cancel: CancelToken,
    /// Set only in the job worker, to its job's directory: a paid tool runs codex here instead
    /// of starting a job.
    job_dir: Option<&'a Path>,
    /// The job's spec, beside `job_dir`.
    job: Option<&'a Spec>,
}

impl<'a> Context<'a> {
    pub fn new(config: &'a Config, roots: &'a dyn Roots, progress: &'a dyn Progress, cancel: CancelToken) -> Self {
        Context { config, roots, progress, cancel, job_dir: None, job: None }
    }

    /// The job worker's context: the run of the job in `job_dir` (described by `spec`) happens
    /// in this process.
    pub fn in_worker(self, job_dir: &'a Path, spec: &'a Spec) -> Self {
        Context { job_dir: Some(job_dir), job: Some(spec), ..self }
    }
}

/// What a handler gets: its tool, the validated arguments, and the call's context.
pub struct Call<'a> {
    pub tool: &'a Tool,
    pub args: Args,
    pub config: &'a Config,
    pub roots: &'a dyn Roots,
    pub progress: &'a dyn Progress,
    pub cancel: CancelToken,
    /// The directory of the job this run is (in the job worker only).
    pub job_dir: Option<&'a Path>,
    /// That job's spec: where its workspace came from, and its deadline.
    pub job: Option<&'a Spec>,
}

/// Where a long call reports what codex is doing. `events_seen` only grows; implementations
/// decide how often to pass reports on, each through a `Throttle`.
pub trait Progress: Sync {
    fn report(&self, events_seen: u64, activity: &str);

    /// codex has been silent past `CODEX_IN_CLAUDE_STALL_WARN_SECONDS`: `message` says so. Sent
    /// once per silent spell; the next `report` means codex spoke again.
    fn stalled(&self, events_seen: u64, message: &str) {
        self.report(events_seen, message);
    }
}

/// The one rule for how often a progress sink passes a report on: at most once a second. Each
/// sink (MCP notifications, the command line's stderr, a job's activity file) keeps one inside
/// its own lock, beside whatever else it compares.
#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    pub const INTERVAL: Duration = Duration::from_secs(1);

    /// Whether a report may go out now; when it may, now counts as the last one.
    pub fn ready(&mut self) -> bool {
        if self.last.is_some_and(|at| at.elapsed() < Self::INTERVAL) {
            return false;
        }
        self.last = Some(Instant::now());
        true
    }

    /// Something went out regardless (a stall notice): the next report waits a full interval.
    pub fn mark(&mut self) {
        self.last = Some(Instant::now());
    }
}

/// The client's declared roots, as far as this call may know them. Legacy sessions fetch them
/// with `roots/list`; stateless 2026 requests have none.
pub trait Roots: Sync {
    fn current(&self) -> Vec<PathBuf>;
}

/// No client roots: stateless requests, and the command line.
pub struct NoRoots;

impl Roots for NoRoots {
    fn current(&self) -> Vec<PathBuf> {
        Vec::new()
    }
}

impl Call<'_> {
    /// Resolves the call's workspace (docs/product.md §3 order). In the job worker the workspace
    /// arrives as an explicit path; where it came from, and any warning about that, is what the
    /// call that started the job resolved (kept in the spec), so every result tells it.
    pub fn workspace(&self) -> Result<Workspace, ToolError> {
        let project_dir = std::env::var("CLAUDE_PROJECT_DIR").ok();
        let mut workspace = crate::adapters::workspace::resolve(
            self.args.text("workspace_root"),
            &self.roots.current(),
            project_dir.as_deref(),
        )
        .map_err(ToolError::from)?;
        if let Some(origin) = self.job.map(|spec| &spec.workspace)
            && origin.cwd == workspace.path.display().to_string()
            && let Some(source) = crate::adapters::workspace::Source::parse(&origin.workspace_source)
        {
            workspace.source = source;
            workspace.warning.clone_from(&origin.workspace_warning);
        }
        Ok(workspace)
    }

    /// How long codex may still run: what is left until the job's deadline (in the job worker),
    /// at most `timeout`.
    pub fn time_left(&self, timeout: Duration) -> Duration {
        match self.job {
            Some(spec) => {
                let left = spec.deadline_epoch_ms().saturating_sub(crate::foundation::clock::now_ms());
                timeout.min(Duration::from_millis(left).max(Duration::from_secs(1)))
            }
            None => timeout,
        }
    }

    /// The checks every tool that would run codex makes before spending anything: a usable
    /// workspace and no unexpanded `${NAME}` in the configuration.
    pub fn preflight(&self) -> Result<Workspace, Value> {
        let workspace = self.workspace().map_err(|e| self.fail(e, None))?;
        if !self.config.unexpanded_placeholders.is_empty() {
            let error = ToolError::new(
                ErrorCode::UnexpandedEnvPlaceholder,
                format!("unexpanded placeholder in {}", self.config.unexpanded_placeholders.join(", ")),
            );
            return Err(self.fail(error, Some(&workspace)));
        }
        Ok(workspace)
    }

    /// The error envelope of this call.
    pub fn fail(&self, error: ToolError, workspace: Option<&Workspace>) -> Value {
        error_envelope(error, &Meta::new(self.tool.tier, workspace))
    }
}

// Parameters shared by several tools. Text limits are generous: size limits that depend on
// configuration (MAX_INPUT_BYTES) are checked by the tools, with their own error code.
pub(super) const WORKSPACE_ROOT: Param = Param {
    name: "workspace_root",
    kind: Kind::Text { non_blank: true, max_len: Some(4096) },
    required: false,
    description: "Absolute, within the roots; default: first root, CLAUDE_PROJECT_DIR, cwd.",
};
const MODEL: Param = Param {
    name: "model",
    kind: Kind::Argument { max_len: 128 },
    required: false,
    description: "Default: CODEX_IN_CLAUDE_MODEL, else codex's; see codex_models.",
};
const REASONING_EFFORT: Param = Param {
    name: "reasoning_effort",
    kind: Kind::Argument { max_len: 128 },
    required: false,
    description: "e.g. low, medium, high; see codex_models.",
};
const ISOLATION: Param = Param {
    name: "isolation",
    kind: Kind::Choice(Isolation::NAMES),
    required: false,
    description: "Your codex config: inherit, ignore-config (no config.toml), ignore-rules (nor exec rules).",
};
const TIMEOUT_SECONDS: Param = Param {
    name: "timeout_seconds",
    kind: Kind::Integer { min: 10, max: 600 },
    required: false,
    description: "Default 300; longer work: the _async tool.",
};
const DETAIL: Param = Param {
    name: "detail",
    kind: Kind::Choice(codex_run::Detail::NAMES),
    required: false,
    description: "full adds codex's raw final message.",
};
const QUESTION: Param = Param {
    name: "question",
    kind: Kind::Text { non_blank: true, max_len: None },
    required: true,
    description: "Self-contained question.",
};
const KIND: Param = Param {
    name: "kind",
    kind: Kind::Choice(consult::ConsultKind::NAMES),
    required: false,
    description: "plan: review question as a plan; adds a verdict.",
};
const FILES: Param = Param {
    name: "files",
    kind: Kind::TextList { max_items: 20, max_len: 4096 },
    required: false,
    description: "kind=plan: repo files sent with the plan, as a review reads them.",
};
const EXTRA_CONTEXT: Param = Param {
    name: "extra_context",
    kind: Kind::Text { non_blank: false, max_len: None },
    required: false,
    description: "Background to weigh (untrusted data).",
};
const SCOPE: Param = Param {
    name: "scope",
    kind: Kind::Choice(gather::Scope::NAMES),
    required: false,
    description: "working_tree (default): uncommitted vs HEAD; branch: base...HEAD; commit: one commit.",
};
const BASE: Param = Param {
    name: "base",
    kind: Kind::Name { max_len: 256 },
    required: false,
    description: "Base ref for scope=branch, e.g. main.",
};
const COMMIT: Param = Param {
    name: "commit",
    kind: Kind::Name { max_len: 256 },
    required: false,
    description: "Commit for scope=commit.",
};
const PATHS: Param = Param {
    name: "paths",
    kind: Kind::TextList { max_items: 256, max_len: 4096 },
    required: false,
    description: "Repo-relative paths to limit the review to.",
};
const UNTRACKED: Param = Param {
    name: "untracked",
    kind: Kind::Choice(gather::Untracked::NAMES),
    required: false,
    description: "explicit_only (default): untracked files in paths; include: all; exclude: none.",
};
const FOCUS: Param = Param {
    name: "focus",
    kind: Kind::Text { non_blank: true, max_len: Some(2000) },
    required: false,
    description: "What to examine hardest, e.g. hostile input.",
};
const TASK: Param = Param {
    name: "task",
    kind: Kind::Text { non_blank: true, max_len: None },
    required: true,
    description: "Self-contained coding task.",
};
const IGNORED_FILES: Param = Param {
    name: "ignored_files",
    kind: Kind::Choice(crate::adapters::git::capture::IgnoredFiles::NAMES),
    required: false,
    description: "list (default): new files ignore rules or artefact patterns match are listed, not diffed; include: diffed.",
};
const SESSION_ID: Param = Param {
    name: "session_id",
    kind: Kind::SessionId,
    required: false,
    description: "An earlier result's session_id, to continue that Codex session.",
};
const IDEMPOTENCY_KEY: Param = Param {
    name: "idempotency_key",
    kind: Kind::Text { non_blank: true, max_len: Some(256) },
    required: false,
    description: "Same key and arguments return the kept run: no new model call.",
};
pub(super) const JOB_ID: Param =
    Param { name: "job_id", kind: Kind::JobId, required: true, description: "From an _async tool." };

/// What a preview takes: a fresh call's arguments, with no session to continue and no run to
/// replay.
const REVIEW_DRY_RUN_PARAMS: &[Param] =
    &[SCOPE, BASE, COMMIT, PATHS, UNTRACKED, EXTRA_CONTEXT, WORKSPACE_ROOT, MODEL, REASONING_EFFORT, ISOLATION];
const DELEGATE_DRY_RUN_PARAMS: &[Param] = &[TASK, WORKSPACE_ROOT, MODEL, REASONING_EFFORT, ISOLATION];
/// A background job has its own deadline and returns its result in full.
const CONSULT_ASYNC_PARAMS: &[Param] = &[
    QUESTION,
    KIND,
    FILES,
    EXTRA_CONTEXT,
    SESSION_ID,
    WORKSPACE_ROOT,
    MODEL,
    REASONING_EFFORT,
    ISOLATION,
    IDEMPOTENCY_KEY,
];
const REVIEW_ASYNC_PARAMS: &[Param] = &concat::<13, _>(&[REVIEW_DRY_RUN_PARAMS, &[FOCUS, SESSION_ID, IDEMPOTENCY_KEY]]);
const DELEGATE_ASYNC_PARAMS: &[Param] =
    &concat::<8, _>(&[DELEGATE_DRY_RUN_PARAMS, &[IGNORED_FILES, SESSION_ID, IDEMPOTENCY_KEY]]);
const CONSULT_PARAMS: &[Param] = &concat::<12, _>(&[CONSULT_ASYNC_PARAMS, &[TIMEOUT_SECONDS, DETAIL]]);
const REVIEW_PARAMS: &[Param] = &concat::<15, _>(&[REVIEW_ASYNC_PARAMS, &[TIMEOUT_SECONDS, DETAIL]]);
const DELEGATE_PARAMS: &[Param] = &concat::<10, _>(&[DELEGATE_ASYNC_PARAMS, &[TIMEOUT_SECONDS, DETAIL]]);
const JOB_PARAMS: &[Param] = &[JOB_ID, WORKSPACE_ROOT];
const LIST_OFFSET: Param = Param {
    name: "offset",
    kind: Kind::Integer { min: 0, max: 1_000_000 },
    required: false,
    description: "Jobs to skip, newest first (a page's next_offset); default 0.",
};
const LIST_PAGE_LIMIT: Param = Param {
    name: "limit",
    kind: Kind::Integer { min: 1, max: 200 },
    required: false,
    description: "Jobs in the page; default 20.",
};
const JOB_LIST_PARAMS: &[Param] = &[WORKSPACE_ROOT, LIST_OFFSET, LIST_PAGE_LIMIT];
const JOB_RESULT_PARAMS: &[Param] = &[JOB_ID, WORKSPACE_ROOT, DETAIL];

// Error-code sets, composed from the checks a tool makes, in the order it makes them.
/// Any tool that takes a workspace.
const WORKSPACE_CODES: &[ErrorCode] = &[E::InvalidArguments, E::InvalidWorkspaceRoot, E::WorkspaceOutsideRoots];
/// Before anything is spent: configuration and input size.
const PREFLIGHT_CODES: &[ErrorCode] = &[E::UnexpandedEnvPlaceholder, E::InputTooLarge];
/// Reading the changes to review.
const GIT_CODES: &[ErrorCode] = &[
    E::InvalidBase,
    E::InvalidCommit,
    E::InvalidPaths,
    E::NotAGitRepo,
    E::UnsafeRepository,
    E::NoCommits,
    E::GitUnavailable,
    E::GitFailed,
];
/// Reading the files a plan review names.
const FILE_CODES: &[ErrorCode] =
    &[E::InvalidPaths, E::NotAGitRepo, E::UnsafeRepository, E::GitUnavailable, E::GitFailed];
/// A codex run that failed, classified.
const CODEX_RUN_CODES: &[ErrorCode] = &[
    E::CodexNotFound,
    E::CodexAuthRequired,
    E::UserConfigRejected,
    E::CliContractChanged,
    E::CodexRateLimited,
    E::Timeout,
    E::CodexStalled,
    E::NonzeroExit,
];
/// Checked just before codex starts: the effort against the model, then the day's budget (whose
/// ledger may be unreadable).
/// What the spend checks refuse a paid run for (an unreadable ledger is `state_write_failed`,
/// which every waited run can answer already).
const SPEND_CODES: &[ErrorCode] = &[E::InvalidReasoningEffort, E::BudgetExhausted];
/// A run whose turn completed with no answer.
const NO_ANSWER_CODES: &[ErrorCode] = &[E::NoFinalMessage];
/// A structured answer that is not the schema's.
const ANSWER_CODES: &[ErrorCode] = &[E::InvalidJson, E::SchemaViolation];
/// Every tool: a state directory that cannot be trusted is refused before anything else, and a
/// bug is answered as one.
const EVERY_TOOL_CODES: &[ErrorCode] = &[E::UnsafeStateDir, E::InternalError];
/// A synchronous paid run is a job the call waits on: its record must be written, and the wait
/// can end without the tool's own envelope (the server leaving, the job cancelled, gone,
/// stopped at its deadline, dead, or unreadable).
const WAITED_JOB_CODES: &[ErrorCode] = &[
    E::StateWriteFailed,
    E::JobRunning,
    E::JobNotFound,
    E::JobCancelled,
    E::JobTimeout,
    E::JobFailed,
    E::JobUnreadable,
];

/// The concatenation of `parts`; `N` must be the total length (checked at compile time).
const fn concat<const N: usize, T: Copy>(parts: &[&[T]]) -> [T; N] {
    let mut out = [parts[0][0]; N];
    let (mut filled, mut part) = (0, 0);
    while part < parts.len() {
        let mut i = 0;
        while i < parts[part].len() {
            out[filled] = parts[part][i];
            filled += 1;
            i += 1;
        }
        part += 1;
    }
    assert!(filled == N, "concatenation length mismatch");
    out
}

/// The concatenation of error-code sets.
const fn codes<const N: usize>(parts: &[&[ErrorCode]]) -> [ErrorCode; N] {
    concat(parts)
}

const LOCAL_ONLY_CODES: &[ErrorCode] = &[E::InvalidArguments, E::UnsafeStateDir, E::InternalError];
const CONSULT_CODES: &[ErrorCode] = &codes::<32>(&[
    WORKSPACE_CODES,
    PREFLIGHT_CODES,
    FILE_CODES,
    SPEND_CODES,
    CODEX_RUN_CODES,
    NO_ANSWER_CODES,
    ANSWER_CODES,
    WAITED_JOB_CODES,
    EVERY_TOOL_CODES,
]);
const REVIEW_CODES: &[ErrorCode] = &codes::<35>(&[
    WORKSPACE_CODES,
    PREFLIGHT_CODES,
    GIT_CODES,
    SPEND_CODES,
    CODEX_RUN_CODES,
    NO_ANSWER_CODES,
    ANSWER_CODES,
    WAITED_JOB_CODES,
    EVERY_TOOL_CODES,
]);
const DRY_RUN_CODES: &[ErrorCode] = &codes::<15>(&[WORKSPACE_CODES, PREFLIGHT_CODES, GIT_CODES, EVERY_TOOL_CODES]);
/// Making, reading and removing the delegate worktree.
const WORKTREE_CODES: &[ErrorCode] = &[E::NotAGitRepo, E::UnsafeRepository, E::GitUnavailable, E::WorktreeError];
const DELEGATE_CODES: &[ErrorCode] = &codes::<30>(&[
    WORKSPACE_CODES,
    PREFLIGHT_CODES,
    WORKTREE_CODES,
    &[E::SandboxUnavailable],
    SPEND_CODES,
    CODEX_RUN_CODES,
    NO_ANSWER_CODES,
    WAITED_JOB_CODES,
    EVERY_TOOL_CODES,
]);
const DELEGATE_DRY_RUN_CODES: &[ErrorCode] =
    &codes::<11>(&[WORKSPACE_CODES, PREFLIGHT_CODES, WORKTREE_CODES, EVERY_TOOL_CODES]);

/// Starting a job: codex must exist, the day's budget (or a used-up plan) must allow a run, and
/// the job state must take the record.
const JOB_START_CODES: &[ErrorCode] = &[E::CodexNotFound, E::CodexRateLimited, E::BudgetExhausted, E::StateWriteFailed];
const CONSULT_ASYNC_CODES: &[ErrorCode] =
    &codes::<16>(&[WORKSPACE_CODES, PREFLIGHT_CODES, FILE_CODES, JOB_START_CODES, EVERY_TOOL_CODES]);
const REVIEW_ASYNC_CODES: &[ErrorCode] =
    &codes::<19>(&[WORKSPACE_CODES, PREFLIGHT_CODES, GIT_CODES, JOB_START_CODES, EVERY_TOOL_CODES]);
const DELEGATE_ASYNC_CODES: &[ErrorCode] =
    &codes::<15>(&[WORKSPACE_CODES, PREFLIGHT_CODES, WORKTREE_CODES, JOB_START_CODES, EVERY_TOOL_CODES]);
/// A job record that cannot be read now, or an end that could not be recorded.
const JOB_STORE_CODES: &[ErrorCode] = &[E::JobUnreadable, E::StateWriteFailed];
/// A background job's life: unknown, not finished yet, or ended without a result.
const JOB_LIFECYCLE_CODES: &[ErrorCode] = &[E::JobRunning, E::JobCancelled, E::JobTimeout, E::JobFailed];
const JOB_CODES: &[ErrorCode] = &codes::<8>(&[WORKSPACE_CODES, &[E::JobNotFound], JOB_STORE_CODES, EVERY_TOOL_CODES]);
const JOB_LIST_CODES: &[ErrorCode] = &codes::<5>(&[WORKSPACE_CODES, EVERY_TOOL_CODES]);
/// A stored result may be any envelope the job's tool could return.
const JOB_RESULT_CODES: &[ErrorCode] = &codes::<37>(&[
    WORKSPACE_CODES,
    &[E::JobNotFound],
    JOB_LIFECYCLE_CODES,
    JOB_STORE_CODES,
    PREFLIGHT_CODES,
    GIT_CODES,
    &[E::WorktreeError, E::SandboxUnavailable],
    &[E::InvalidReasoningEffort, E::BudgetExhausted],
    CODEX_RUN_CODES,
    NO_ANSWER_CODES,
    ANSWER_CODES,
    EVERY_TOOL_CODES,
]);

/// `codex_consult`; `codex_consult_async` runs it in a job.
pub const CONSULT: Tool = Tool {
    name: "codex_consult",
    title: "Ask Codex",
    cost: Cost::Paid,
    summary: "Second opinion from OpenAI Codex (read-only sandbox); sends the question and context to OpenAI. Blocks until it answers.",
    tier: Tier::Consult,
    params: CONSULT_PARAMS,
    params_described_in: None,
    annotations: ASKS_THE_MODEL,
    error_codes: CONSULT_CODES,
    success_schema: consult::success_schema,
    run: consult::run,
    job_check: Some(consult::check),
};

/// `codex_review_changes`; `codex_review_changes_async` runs it in a job.
pub const REVIEW: Tool = Tool {
    name: "codex_review_changes",
    title: "Codex code review",
    cost: Cost::Paid,
    summary: "Review (verdict, findings, coverage) of uncommitted changes, a branch or a commit by OpenAI Codex, read-only; sends the redacted diff to OpenAI. No changes, no model call.",
    tier: Tier::Consult,
    params: REVIEW_PARAMS,
    params_described_in: None,
    annotations: ASKS_THE_MODEL,
    error_codes: REVIEW_CODES,
    success_schema: review::review_success_schema,
    run: review::run_review,
    job_check: Some(review::check_review),
};

/// `codex_delegate`; `codex_delegate_async` runs it in a job.
pub const DELEGATE: Tool = Tool {
    name: "codex_delegate",
    title: "Delegate to Codex",
    cost: Cost::Paid,
    summary: "OpenAI Codex does the task in a sandboxed copy of the repo (no network); returns a diff and whether it applies cleanly. Your repo is never written; review before applying.",
    tier: Tier::Propose,
    params: DELEGATE_PARAMS,
    params_described_in: None,
    annotations: EDITS_A_WORKTREE,
    error_codes: DELEGATE_CODES,
    success_schema: delegate::success_schema,
    run: delegate::run_delegate,
    job_check: Some(jobs::check_delegate),
};

/// Every tool, in the order `tools/list` shows them.
pub static ALL: &[Tool] = &[
    Tool {
        name: "codex_status",
        title: "Codex readiness",
        cost: Cost::Free,
        summary: "Is codex installed, supported and logged in? Version, auth, flags, defaults, config warnings. Call first when a paid tool fails.",
        tier: Tier::Consult,
        params: &[],
        params_described_in: None,
        annotations: READS_LOCAL_STATE,
        error_codes: LOCAL_ONLY_CODES,
        success_schema: status::success_schema,
        run: status::run,
        job_check: None,
    },
    Tool {
        name: "codex_models",
        title: "Codex models and efforts",
        cost: Cost::Free,
        summary: "Models codex offers, with the reasoning efforts each accepts and its default, from codex itself.",
        tier: Tier::Consult,
        params: &[],
        params_described_in: None,
        annotations: READS_LOCAL_STATE,
        error_codes: LOCAL_ONLY_CODES,
        success_schema: models::success_schema,
        run: models::run,
        job_check: None,
    },
    Tool {
        name: "codex_capabilities",
        title: "Codex tool inventory",
        cost: Cost::Free,
        summary: "These tools' cost, parameters and error codes, and the surface fingerprint.",
        tier: Tier::Consult,
        params: &[],
        params_described_in: None,
        annotations: READS_LOCAL_STATE,
        error_codes: LOCAL_ONLY_CODES,
        success_schema: capabilities::success_schema,
        run: capabilities::run,
        job_check: None,
    },
    CONSULT,
    Tool {
        name: "codex_consult_async",
        title: "Ask Codex in the background",
        cost: Cost::Paid,
        summary: "Like codex_consult (same parameters) but returns a job_id at once; poll codex_job_status, then codex_job_result.",
        tier: Tier::Consult,
        params: CONSULT_ASYNC_PARAMS,
        params_described_in: Some("codex_consult"),
        annotations: ASKS_THE_MODEL,
        error_codes: CONSULT_ASYNC_CODES,
        success_schema: jobs::started_schema,
        run: jobs::run_consult_async,
        job_check: None,
    },
    REVIEW,
    Tool {
        name: "codex_review_changes_async",
        title: "Codex code review in the background",
        cost: Cost::Paid,
        summary: "Like codex_review_changes (same parameters) but returns a job_id at once; poll codex_job_status, then codex_job_result.",
        tier: Tier::Consult,
        params: REVIEW_ASYNC_PARAMS,
        params_described_in: Some("codex_review_changes"),
        annotations: ASKS_THE_MODEL,
        error_codes: REVIEW_ASYNC_CODES,
        success_schema: jobs::started_schema,
        run: jobs::run_review_async,
        job_check: None,
    },
    DELEGATE,
    Tool {
        name: "codex_delegate_async",
        title: "Delegate to Codex in the background",
        cost: Cost::Paid,
        summary: "Like codex_delegate (same parameters) but returns a job_id at once; poll codex_job_status, then codex_job_result.",
        tier: Tier::Propose,
        params: DELEGATE_ASYNC_PARAMS,
        params_described_in: Some("codex_delegate"),
        annotations: EDITS_A_WORKTREE,
        error_codes: DELEGATE_ASYNC_CODES,
        success_schema: jobs::started_schema,
        run: jobs::run_delegate_async,
        job_check: None,
    },
    Tool {
        name: "codex_dry_run",
        title: "Preview a review",
        cost: Cost::Free,
        summary: "What codex_review_changes would send (same parameters): scope, diff size, coverage, redactions, prompt bytes. No model call.",
        tier: Tier::Consult,
        params: REVIEW_DRY_RUN_PARAMS,
        params_described_in: Some("codex_review_changes"),
        annotations: READS_LOCAL_STATE,
        error_codes: DRY_RUN_CODES,
        success_schema: review::dry_run_success_schema,
        run: review::run_dry_run,
        job_check: None,
    },
    Tool {
        name: "codex_delegate_dry_run",
        title: "Preview a delegation",
        cost: Cost::Free,
        summary: "What codex_delegate would start from (same parameters): HEAD, tracked/uncommitted/untracked files, prompt bytes. No model call, no worktree.",
        tier: Tier::Propose,
        params: DELEGATE_DRY_RUN_PARAMS,
        params_described_in: Some("codex_delegate"),
        annotations: READS_LOCAL_STATE,
        error_codes: DELEGATE_DRY_RUN_CODES,
        success_schema: delegate::dry_run_success_schema,
        run: delegate::run_dry_run,
        job_check: None,
    },
    Tool {
        name: "codex_job_status",
        title: "Background job status",
        cost: Cost::Free,
        summary: "A background job's status, elapsed time, what Codex is doing, when to poll next.",
        tier: Tier::Consult,
        params: JOB_PARAMS,
        params_described_in: None,
        annotations: READS_LOCAL_STATE,
        error_codes: JOB_CODES,
        success_schema: jobs::status_schema,
        run: jobs::run_status,
        job_check: None,
    },
    Tool {
        name: "codex_job_result",
        title: "Background job result",
        cost: Cost::Free,
        summary: "The stored result of a finished job; the record is kept.",
        tier: Tier::Consult,
        params: JOB_RESULT_PARAMS,
        params_described_in: None,
        annotations: READS_LOCAL_STATE,
        error_codes: JOB_RESULT_CODES,
        success_schema: jobs::result_schema,
        run: jobs::run_result,
        job_check: None,
    },
    Tool {
        name: "codex_job_consume_result",
        title: "Take a background job result",
        cost: Cost::Free,
        summary: "Like codex_job_result (same parameters), then the record is deleted.",
        tier: Tier::Consult,
        params: JOB_RESULT_PARAMS,
        params_described_in: Some("codex_job_result"),
        annotations: DELETES_A_RECORD,
        error_codes: JOB_RESULT_CODES,
        success_schema: jobs::result_schema,
        run: jobs::run_consume,
        job_check: None,
    },
    Tool {
        name: "codex_job_cancel",
        title: "Cancel a background job",
        cost: Cost::Free,
        summary: "Stops a running job (same parameters as codex_job_status) and removes its worktree; a finished job is left as it is.",
        tier: Tier::Consult,
        params: JOB_PARAMS,
        params_described_in: Some("codex_job_status"),
        annotations: STOPS_A_JOB,
        error_codes: JOB_CODES,
        success_schema: jobs::status_schema,
        run: jobs::run_cancel,
        job_check: None,
    },
    Tool {
        name: "codex_job_list",
        title: "List background jobs",
        cost: Cost::Free,
        summary: "Background jobs of this workspace, newest first, a page at a time (total, next_offset), each with a preview of what it was asked.",
        tier: Tier::Consult,
        params: JOB_LIST_PARAMS,
        params_described_in: None,
        annotations: READS_LOCAL_STATE,
        error_codes: JOB_LIST_CODES,
        success_schema: jobs::list_schema,
        run: jobs::run_list,
        job_check: None,
    },
];

/// The `codex_status` report, for the `status` command.
pub fn status_report(config: &Config) -> Value {
    status::report(config, &CancelToken::new())
}

pub fn find(name: &str) -> Option<&'static Tool> {
    ALL.iter().find(|t| t.name == name)
}

impl Tool {
    pub fn description(&self) -> String {
        format!("{} — {}", self.cost.label(), self.summary)
    }

    fn list_entry(&self) -> Value {
        json!({
            "name": self.name,
            "title": self.title,
            "description": self.description(),
            "inputSchema": params::input_schema(self.params, self.params_described_in.is_none()),
            "outputSchema": schema::output((self.success_schema)()),
            "annotations": self.annotations.hints()
        })
    }
}

/// The `tools/list` entries, built once.
pub fn list() -> &'static [Value] {
    static LIST: OnceLock<Vec<Value>> = OnceLock::new();
    LIST.get_or_init(|| ALL.iter().map(Tool::list_entry).collect())
}

/// `codex-in-claude/<major>.<minor>/sha256:<12 hex>` of the canonical tool surface (every
/// `tools/list` entry plus the error-code set). Maps keep the order they were written in, so
/// every key is sorted first: the serialisation is canonical, and the digest changes exactly
/// when the surface does, not when a key moves.
pub fn fingerprint() -> &'static str {
    static FINGERPRINT: OnceLock<String> = OnceLock::new();
    FINGERPRINT.get_or_init(|| {
        let mut surface = json!({"tools": list(), "error_codes": ErrorCode::ALL});
        surface.sort_all_objects();
        let digest = crate::foundation::hash::sha256_hex(surface.to_string().as_bytes());
        let mut version = crate::foundation::identity::VERSION.split('.');
        let (major, minor) = (version.next().unwrap_or("0"), version.next().unwrap_or("0"));
        format!("codex-in-claude/{major}.{minor}/sha256:{}", &digest[..12])
    })
}

/// Runs one tool call to an envelope: argument validation, then the handler (for a synchronous
/// paid tool outside the job worker, a job running it, waited on) under a panic guard, then the
/// summary view unless the call asked for `detail: "full"`.
pub fn call_tool(tool: &Tool, arguments: Option<&Value>, context: &Context) -> Value {
    // Before anything: every tool reads or writes the state directory (job records, sessions,
    // the budget, probe caches), and one another user can replace is not read at all.
    if let Err(unsafe_dir) = crate::adapters::state_dir::verify(&context.config.state_dir) {
        let mut envelope = error_envelope(unsafe_dir.into(), &Meta::new(tool.tier, None));
        lean::summarise(&mut envelope, &Args::default());
        return envelope;
    }
    let args = match params::validate(tool.params, arguments) {
        Ok(args) => args,
        Err(error) => {
            let mut envelope = error_envelope(error, &Meta::new(tool.tier, None));
            lean::summarise(&mut envelope, &Args::default());
            return envelope;
        }
    };
    let call = Call {
        tool,
        args,
        config: context.config,
        roots: context.roots,
        progress: context.progress,
        cancel: context.cancel.clone(),
        job_dir: context.job_dir,
        job: context.job,
    };
    let run = || match tool.job_check {
        Some(check) if context.job_dir.is_none() => jobs::run_waited(&call, check),
        _ => (tool.run)(&call),
    };
    let mut envelope = catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|_| {
        crate::log_error!("{} panicked; answered internal_error", tool.name);
        let error = ToolError::new(ErrorCode::InternalError, format!("{} failed unexpectedly", tool.name));
        error_envelope(error, &Meta::new(tool.tier, None))
    });
    // The job worker keeps the whole envelope (it asks for `detail: "full"`); a caller is
    // handed the view its `detail` asks for, fitted under the inline cap.
    if codex_run::Detail::of(&call) == codex_run::Detail::Summary {
        lean::summarise(&mut envelope, &call.args);
    }
    if context.job_dir.is_none() {
        let cap = usize::try_from(context.config.max_inline_bytes).unwrap_or(usize::MAX);
        // A preview reports its own cuts at its top level too.
        inline::fit(&mut envelope, cap, || (tool.success_schema)().get("truncated").is_some());
    }
    envelope
}

/// Checks a tool's whole envelope (`detail: "full"`) against the success members its output
/// schema names (`schema::members`): the envelope has every one of them but those the inline
/// cap adds (`inline::ADDED_MEMBERS`), and nothing else; the summary view keeps `ok`.
#[cfg(test)]
pub(crate) fn check_against_schema(whole: &Value, members: &Value) {
    let fields = whole.as_object().expect("an envelope is an object");
    let named = members.as_object().expect("success members are an object");
    for member in named.keys().filter(|m| !inline::ADDED_MEMBERS.contains(&m.as_str())) {
        assert!(fields.contains_key(member), "the schema names {member}, which the envelope lacks: {whole}");
    }
    for field in fields.keys().filter(|f| !["ok", "meta"].contains(&f.as_str())) {
        assert!(named.contains_key(field), "the envelope has {field}, which the schema does not name: {whole}");
    }
    let mut lean = whole.clone();
    lean::summarise(&mut lean, &Args::default());
    assert_eq!(lean["ok"], whole["ok"], "the summary view keeps ok: {lean}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nobody is listening.
    struct NoProgress;

    impl Progress for NoProgress {
        fn report(&self, _events_seen: u64, _activity: &str) {}
    }

    #[test]
    fn a_throttle_lets_one_report_through_per_interval() {
        let mut throttle = Throttle::default();
        assert!(throttle.ready(), "the first report goes out");
        assert!(!throttle.ready(), "a second within the interval does not");
        throttle.last = Some(Instant::now() - Throttle::INTERVAL);
        assert!(throttle.ready(), "one a full interval later does");
        throttle.mark();
        assert!(!throttle.ready(), "a stall notice counts as the last report");
    }

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut names: Vec<&str> = ALL.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), 16);
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 16);
        assert!(ALL.iter().all(|t| t.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    }

    #[test]
    fn paid_tools_are_never_read_only_and_delegates_are_destructive() {
        for tool in ALL {
            if tool.cost == Cost::Paid {
                assert!(!tool.annotations.read_only, "{}", tool.name);
            }
            if tool.tier == Tier::Propose && tool.cost == Cost::Paid {
                assert!(tool.annotations.destructive, "{}", tool.name);
            }
        }
    }

    #[test]
    fn every_error_code_is_advertised_by_some_tool() {
        for code in ErrorCode::ALL {
            assert!(ALL.iter().any(|t| t.error_codes.contains(code)), "{code:?} advertised by no tool");
        }
    }

    #[test]
    fn fingerprint_has_the_documented_shape() {
        let fp = fingerprint();
        let (prefix, digest) = fp.rsplit_once(":").unwrap();
        assert!(prefix.starts_with("codex-in-claude/") && prefix.ends_with("/sha256"));
        assert_eq!(digest.len(), 12);
        assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn a_panicking_handler_becomes_internal_error() {
        fn boom(_: &Call) -> Value {
            panic!("boom")
        }
        let tool = Tool { run: boom, ..ALL[0] };
        let envelope = call_tool(
            &tool,
            None,
            &Context::new(&Config::from_map(&Default::default()), &NoRoots, &NoProgress, CancelToken::new()),
        );
        assert_eq!(envelope["error"]["code"], json!("internal_error"));
        assert_eq!(envelope["error"]["retryable"], json!(true));
    }

    #[test]
    fn tools_list_fits_the_context_budget() {
        let bytes = serde_json::to_vec(&json!({"tools": list()})).unwrap().len();
        assert!(bytes <= 20_000, "the tools/list result is {bytes} bytes, over the 20,000-byte budget");
        for (tool, entry) in ALL.iter().zip(list()) {
            let name = tool.name;
            assert!(entry["title"].as_str().is_some_and(|t| !t.is_empty()), "{name}: title");
            let description = entry["description"].as_str().unwrap();
            assert!(description.starts_with("PAID — ") || description.starts_with("Free — "), "{name}: {description}");
            assert_eq!(description.starts_with("PAID"), tool.cost == Cost::Paid, "{name}: cost label");
            assert_eq!(entry["inputSchema"]["type"], json!("object"), "{name}: inputSchema");
            assert_eq!(entry["inputSchema"]["additionalProperties"], json!(false), "{name}: inputSchema closed");
            assert_eq!(entry["outputSchema"]["type"], json!("object"), "{name}: outputSchema");
            assert_eq!(entry["outputSchema"]["required"], json!(["ok"]), "{name}: only ok is required");
            assert!(entry["annotations"].is_object(), "{name}: annotations");
        }
    }

    #[test]
    fn annotations_state_every_hint_that_differs_from_the_mcp_default() {
        for (tool, entry) in ALL.iter().zip(list()) {
            let hint =
                |key: &str, default: bool| entry["annotations"].get(key).map_or(default, |h| h.as_bool().unwrap());
            let a = tool.annotations;
            assert_eq!(hint("readOnlyHint", false), a.read_only, "{}", tool.name);
            assert_eq!(hint("destructiveHint", true), a.destructive, "{}", tool.name);
            assert_eq!(hint("idempotentHint", false), a.idempotent, "{}", tool.name);
            assert_eq!(hint("openWorldHint", true), a.open_world, "{}", tool.name);
        }
    }

    #[test]
    fn parameters_described_elsewhere_are_described_there_and_the_summary_says_where() {
        for tool in ALL {
            let Some(elsewhere) = tool.params_described_in else { continue };
            let there = find(elsewhere).unwrap_or_else(|| panic!("{}: no tool {elsewhere}", tool.name));
            assert!(there.params_described_in.is_none(), "{}: {elsewhere} describes its own", tool.name);
            assert!(tool.summary.contains(elsewhere), "{}: the summary names {elsewhere}", tool.name);
            for param in tool.params {
                let described = there.params.iter().find(|p| p.name == param.name);
                assert!(
                    described.is_some_and(|p| p.description == param.description),
                    "{}: {} is not described in {elsewhere}",
                    tool.name,
                    param.name
                );
            }
        }
    }
}
