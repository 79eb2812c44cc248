//! The agent-visible error contract: `ErrorCode` (the closed set of codes, each with its default
//! repair hint and retry facts) and `ToolError`, the `error` member of an `ok:false` envelope.
//! The `meta` block and the envelope itself are the tools' (`tools::meta`).
//!
//! Everything here is serialised into `structuredContent`, so every shape must match the output
//! schemas the tools publish. The JSON Schema of the error branch lives here too, next to the
//! types it describes, so the two cannot drift apart.

use serde::Serialize;
use serde_json::{Value, json};

/// Every error code an agent can see. The set is part of the fingerprint: adding or removing a
/// variant changes the tool surface, so do it deliberately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Arguments failed the tool's input schema (type, unknown key, enum, bounds, blank text).
    InvalidArguments,
    /// `workspace_root` is not absolute, does not exist, or is not a directory.
    InvalidWorkspaceRoot,
    /// `workspace_root` lies outside every root the client declared.
    WorkspaceOutsideRoots,
    /// A `CODEX_IN_CLAUDE_*` variable holds a literal `${NAME}` the host did not expand.
    UnexpandedEnvPlaceholder,
    /// The question, context or task is larger than `CODEX_IN_CLAUDE_MAX_INPUT_BYTES`.
    InputTooLarge,
    /// `base` is missing, malformed, does not name a commit, or shares no history with HEAD.
    InvalidBase,
    /// `commit` is missing, malformed, does not name a commit, or is a shallow clone's boundary.
    InvalidCommit,
    /// A `paths` entry is absolute, escapes the repo, or uses pathspec magic.
    InvalidPaths,
    /// The workspace is not inside a git repository.
    NotAGitRepo,
    /// git is not on the server's PATH, or timed out.
    GitUnavailable,
    /// git refuses the repository: another user owns it and `safe.directory` does not list it.
    UnsafeRepository,
    /// HEAD has no commit yet (a new repository or an orphan branch) and the scope needs one.
    NoCommits,
    /// git ran and failed for another reason (a damaged repository, an object it cannot read).
    GitFailed,
    /// The repository has no commits, or the throwaway worktree could not be made or read.
    WorktreeError,
    /// codex's workspace-write sandbox cannot run on this host, so a delegation is refused
    /// rather than run unsandboxed.
    SandboxUnavailable,
    /// The `codex` binary is not on the server's PATH.
    CodexNotFound,
    /// codex says it is not logged in, or the model API refused the credentials.
    CodexAuthRequired,
    /// The user's codex `config.toml` has a key this codex rejects under `--strict-config`.
    UserConfigRejected,
    /// codex rejected a flag or config key we send: its CLI changed.
    CliContractChanged,
    /// The model API is rate limiting or the quota is used up.
    CodexRateLimited,
    /// `CODEX_IN_CLAUDE_DAILY_TOKEN_BUDGET` is used up for today; nothing was sent.
    BudgetExhausted,
    /// `reasoning_effort` is not one the chosen model accepts (per codex's model list).
    InvalidReasoningEffort,
    /// codex did not finish within the call's timeout and was stopped.
    Timeout,
    /// codex sent no event for `CODEX_IN_CLAUDE_STALL_KILL_SECONDS` and was stopped.
    CodexStalled,
    /// codex failed for another reason.
    NonzeroExit,
    /// codex's turn completed but it sent no final message (and, for a delegation, made no edits).
    NoFinalMessage,
    /// codex finished but its answer was not JSON.
    InvalidJson,
    /// codex's answer was JSON but not the shape the output schema asks for.
    SchemaViolation,
    /// No such background job in this workspace (never started, consumed, expired, evicted).
    JobNotFound,
    /// The job has no result yet; poll `codex_job_status`.
    JobRunning,
    /// The job was cancelled; it has no result.
    JobCancelled,
    /// The job passed its deadline and was stopped; it has no result.
    JobTimeout,
    /// The job's worker ended without a result.
    JobFailed,
    /// The job's record (its spec, or its stored result) exists but cannot be read now; it is
    /// kept, never written over.
    JobUnreadable,
    /// The job state directory refused a write (full disk, read-only, permissions); every file
    /// in it is left whole.
    StateWriteFailed,
    /// The state directory (`CODEX_IN_CLAUDE_STATE_DIR`) is not safe to trust: it, or a directory
    /// above it, is owned by another user or writable by others. Nothing in it was read, written
    /// or acted on.
    UnsafeStateDir,
    /// A bug in the server: a handler panicked. The message names no secret.
    InternalError,
}

impl ErrorCode {
    /// Every variant, in declaration order, for `codex_capabilities` and the fingerprint.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidArguments,
        ErrorCode::InvalidWorkspaceRoot,
        ErrorCode::WorkspaceOutsideRoots,
        ErrorCode::UnexpandedEnvPlaceholder,
        ErrorCode::InputTooLarge,
        ErrorCode::InvalidBase,
        ErrorCode::InvalidCommit,
        ErrorCode::InvalidPaths,
        ErrorCode::NotAGitRepo,
        ErrorCode::GitUnavailable,
        ErrorCode::UnsafeRepository,
        ErrorCode::NoCommits,
        ErrorCode::GitFailed,
        ErrorCode::WorktreeError,
        ErrorCode::SandboxUnavailable,
        ErrorCode::CodexNotFound,
        ErrorCode::CodexAuthRequired,
        ErrorCode::UserConfigRejected,
        ErrorCode::CliContractChanged,
        ErrorCode::CodexRateLimited,
        ErrorCode::BudgetExhausted,
        ErrorCode::InvalidReasoningEffort,
        ErrorCode::Timeout,
        ErrorCode::CodexStalled,
        ErrorCode::NonzeroExit,
        ErrorCode::NoFinalMessage,
        ErrorCode::InvalidJson,
        ErrorCode::SchemaViolation,
        ErrorCode::JobNotFound,
        ErrorCode::JobRunning,
        ErrorCode::JobCancelled,
        ErrorCode::JobTimeout,
        ErrorCode::JobFailed,
        ErrorCode::JobUnreadable,
        ErrorCode::StateWriteFailed,
        ErrorCode::UnsafeStateDir,
        ErrorCode::InternalError,
    ];

    /// The serialised name, spelt out for the tests that check it against serde and the README.
    #[cfg(test)]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArguments => "invalid_arguments",
            ErrorCode::InvalidWorkspaceRoot => "invalid_workspace_root",
            ErrorCode::WorkspaceOutsideRoots => "workspace_outside_roots",
            ErrorCode::UnexpandedEnvPlaceholder => "unexpanded_env_placeholder",
            ErrorCode::InputTooLarge => "input_too_large",
            ErrorCode::InvalidBase => "invalid_base",
            ErrorCode::InvalidCommit => "invalid_commit",
            ErrorCode::InvalidPaths => "invalid_paths",
            ErrorCode::NotAGitRepo => "not_a_git_repo",
            ErrorCode::GitUnavailable => "git_unavailable",
            ErrorCode::UnsafeRepository => "unsafe_repository",
            ErrorCode::NoCommits => "no_commits",
            ErrorCode::GitFailed => "git_failed",
            ErrorCode::WorktreeError => "worktree_error",
            ErrorCode::SandboxUnavailable => "sandbox_unavailable",
            ErrorCode::CodexNotFound => "codex_not_found",
            ErrorCode::CodexAuthRequired => "codex_auth_required",
            ErrorCode::UserConfigRejected => "user_config_rejected",
            ErrorCode::CliContractChanged => "cli_contract_changed",
            ErrorCode::CodexRateLimited => "codex_rate_limited",
            ErrorCode::BudgetExhausted => "budget_exhausted",
            ErrorCode::InvalidReasoningEffort => "invalid_reasoning_effort",
            ErrorCode::Timeout => "timeout",
            ErrorCode::CodexStalled => "codex_stalled",
            ErrorCode::NonzeroExit => "nonzero_exit",
            ErrorCode::NoFinalMessage => "no_final_message",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::SchemaViolation => "schema_violation",
            ErrorCode::JobNotFound => "job_not_found",
            ErrorCode::JobRunning => "job_running",
            ErrorCode::JobCancelled => "job_cancelled",
            ErrorCode::JobTimeout => "job_timeout",
            ErrorCode::JobFailed => "job_failed",
            ErrorCode::JobUnreadable => "job_unreadable",
            ErrorCode::StateWriteFailed => "state_write_failed",
            ErrorCode::UnsafeStateDir => "unsafe_state_dir",
            ErrorCode::InternalError => "internal_error",
        }
    }

    /// Whether the same call may succeed if simply retried later.
    fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::InternalError
                | ErrorCode::Timeout
                | ErrorCode::CodexStalled
                | ErrorCode::CodexRateLimited
                | ErrorCode::BudgetExhausted
                | ErrorCode::GitUnavailable
                | ErrorCode::JobRunning
        )
    }

    /// The default repair prose; a `ToolError` may override it with something more specific.
    fn default_repair(self) -> &'static str {
        match self {
            ErrorCode::InvalidArguments => {
                "Fix the named arguments so they match the tool's inputSchema, then call again"
            }
            ErrorCode::InvalidWorkspaceRoot => "Pass workspace_root as an absolute path of an existing directory",
            ErrorCode::WorkspaceOutsideRoots => {
                "Pass a workspace_root inside one of the client's MCP roots, or omit it to use the first root"
            }
            ErrorCode::UnexpandedEnvPlaceholder => {
                "The MCP host passed a literal ${NAME}; set a real value in the server's environment or remove the variable"
            }
            ErrorCode::InputTooLarge => {
                "Trim the input (or name fewer paths), or raise CODEX_IN_CLAUDE_MAX_INPUT_BYTES in the server's environment"
            }
            ErrorCode::InvalidBase => "Pass base as a branch, tag or commit that exists, e.g. main or HEAD~3",
            ErrorCode::InvalidCommit => "Pass commit as a commit id or revision that exists, e.g. HEAD or a SHA",
            ErrorCode::InvalidPaths => "Pass repo-relative paths with / separators, no .. segments, no leading - or :",
            ErrorCode::NotAGitRepo => "Pass a workspace_root inside a git repository (git init, then commit)",
            ErrorCode::GitUnavailable => {
                "Make sure git is installed on the server's PATH, then retry; raise CODEX_IN_CLAUDE_GIT_TIMEOUT_SECONDS if it timed out"
            }
            ErrorCode::UnsafeRepository => {
                "If you trust the repository, add it with `git config --global --add safe.directory <path>` (the path in the message), then retry"
            }
            ErrorCode::NoCommits => {
                "Commit first (git commit), or review the uncommitted work with scope=working_tree, which needs no commit"
            }
            ErrorCode::GitFailed => {
                "Read git's message; run `git status` (or `git fsck`) in the repository to see and fix the problem, then retry"
            }
            ErrorCode::WorktreeError => {
                "The repository needs at least one commit and a healthy git state; read the message, then retry"
            }
            ErrorCode::SandboxUnavailable => {
                "Run codex where it may create user namespaces (codex sandbox -- true must succeed), e.g. allow unprivileged user namespaces or run outside a container that forbids them"
            }
            ErrorCode::CodexNotFound => {
                "Install the codex CLI (npm install -g @openai/codex) on the server's PATH, then check with codex_status"
            }
            ErrorCode::CodexAuthRequired => "Run `codex login` in a terminal, then check with codex_status",
            ErrorCode::UserConfigRejected => {
                "Fix or remove the key named in the message in $CODEX_HOME/config.toml, or pass isolation=ignore-config"
            }
            ErrorCode::CliContractChanged => {
                "This codex version changed its command line: run codex_status, then install the supported codex version or update codex-in-claude"
            }
            ErrorCode::CodexRateLimited => "Wait retry_after_ms, then retry; run fewer calls at once",
            ErrorCode::BudgetExhausted => {
                "Today's token budget is spent: wait retry_after_ms (until the local day turns), or ask the user to raise CODEX_IN_CLAUDE_DAILY_TOKEN_BUDGET; codex_status shows the use"
            }
            ErrorCode::InvalidReasoningEffort => {
                "Pass one of allowed_values as reasoning_effort, or omit it to use the model's default; codex_models lists each model's efforts"
            }
            ErrorCode::Timeout => {
                "Narrow the question or scope, raise timeout_seconds (up to 600), or use the _async variant for long work"
            }
            ErrorCode::CodexStalled => {
                "codex went silent (a hung model request or tool); retry, or raise CODEX_IN_CLAUDE_STALL_KILL_SECONDS if the work runs long without output"
            }
            ErrorCode::NonzeroExit => {
                "Read the message; retry with a smaller input, or run codex_status if it persists"
            }
            ErrorCode::NoFinalMessage => {
                "Codex ended its turn without an answer; retry, perhaps with another model or a higher reasoning_effort, and narrow the request if it keeps happening"
            }
            ErrorCode::InvalidJson | ErrorCode::SchemaViolation => {
                "Codex ignored the requested answer format; retry (perhaps with another model or a higher reasoning_effort)"
            }
            ErrorCode::JobNotFound => {
                "Check the job_id and workspace_root with codex_job_list; finished jobs expire after CODEX_IN_CLAUDE_JOB_TTL"
            }
            ErrorCode::JobRunning => "Poll codex_job_status after retry_after_ms, then fetch the result",
            ErrorCode::JobCancelled => "The job cannot be resumed; start a new one if you still need it",
            ErrorCode::JobTimeout => {
                "Narrow the task, or raise CODEX_IN_CLAUDE_JOB_MAX_SECONDS in the server's environment, then start a new job"
            }
            ErrorCode::JobFailed => "Run codex_status, read the detail, then start a new job",
            ErrorCode::JobUnreadable => {
                "Fix what the message names (file permissions, a damaged file in CODEX_IN_CLAUDE_STATE_DIR), then ask again; the record is kept until it expires"
            }
            ErrorCode::StateWriteFailed => {
                "Free space in (or fix the permissions of) CODEX_IN_CLAUDE_STATE_DIR, which codex_status shows, then retry; nothing was lost"
            }
            ErrorCode::UnsafeStateDir => {
                "Set CODEX_IN_CLAUDE_STATE_DIR to an absolute directory only you own and only you can write (the default, under ~/.cache, is), or fix the owner or mode of the directory the message names, then restart the server"
            }
            ErrorCode::InternalError => {
                "Retry once; if it persists, rerun the server with CODEX_IN_CLAUDE_LOG_LEVEL=DEBUG and report the stderr log"
            }
        }
    }
}

/// The `error` object of an `ok:false` envelope. Every key is serialised here (nulls included):
/// the whole envelope; the summary view a caller reads by default leaves out the unset ones and
/// `retryable: false`.
#[derive(Debug, Clone, Serialize)]
pub struct ToolError {
    pub code: ErrorCode,
    pub message: String,
    pub repair: String,
    pub offending_param: Option<String>,
    pub retryable: bool,
    pub retry_after_ms: Option<u64>,
    pub allowed_values: Option<Vec<String>>,
    pub repair_tool: Option<String>,
    pub repair_tool_params: Option<Value>,
}

impl ToolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ToolError {
        ToolError {
            code,
            message: message.into(),
            repair: code.default_repair().to_string(),
            offending_param: None,
            retryable: code.retryable(),
            retry_after_ms: None,
            allowed_values: None,
            repair_tool: None,
            repair_tool_params: None,
        }
    }

    pub fn offending(mut self, param: impl Into<String>) -> ToolError {
        self.offending_param = Some(param.into());
        self
    }

    pub fn repair(mut self, repair: impl Into<String>) -> ToolError {
        self.repair = repair.into();
        self
    }

    pub fn retry_after_ms(mut self, ms: u64) -> ToolError {
        self.retry_after_ms = Some(ms);
        self
    }

    pub fn repair_tool(mut self, tool: &str, params: Value) -> ToolError {
        self.repair_tool = Some(tool.to_string());
        self.repair_tool_params = Some(params);
        self
    }
}

/// The `error` member of every tool's `outputSchema`: an object with a `code` and a `message`.
/// The other `error` members are typed by `ToolError` and documented in the README, and each
/// tool's codes are listed by `codex_capabilities`; they are left out here because this schema
/// is repeated for every tool in `tools/list`, which every Claude Code conversation pays for.
pub fn error_schema() -> Value {
    json!({"type": "object", "required": ["code", "message"]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde_name_for_every_code() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
    }

    #[test]
    fn the_readme_documents_every_code() {
        let readme = include_str!("../../README.md");
        for code in ErrorCode::ALL {
            assert!(readme.contains(&format!("`{}`", code.as_str())), "README misses {}", code.as_str());
        }
    }

    #[test]
    fn the_whole_error_names_every_key_even_when_null() {
        // The whole envelope (what the job store keeps and `detail: "full"` returns) names every
        // key; the summary view drops the unset ones (`tools::lean`).
        let value = serde_json::to_value(ToolError::new(ErrorCode::InvalidArguments, "x")).unwrap();
        for key in [
            "code",
            "message",
            "repair",
            "offending_param",
            "retryable",
            "retry_after_ms",
            "allowed_values",
            "repair_tool",
            "repair_tool_params",
        ] {
            assert!(value.get(key).is_some(), "missing {key}");
        }
    }
}
