//! The one place where the adapters' typed errors become the agent-visible `ToolError`: which
//! `ErrorCode` each failure is, and the repair, offending parameter and retry time that follow
//! from its facts. The adapters say what happened (an error's `Display` is the agent's message
//! unless the mapping words it otherwise); what an agent should do about it is decided here.

use crate::adapters::budget::BudgetError;
use crate::adapters::codex::answer::AnswerError;
use crate::adapters::codex::exec::StartError;
use crate::adapters::codex::failure::CodexFailure;
use crate::adapters::git::GitError;
use crate::adapters::git::gather::GatherError;
use crate::adapters::git::worktree::WorktreeError;
use crate::adapters::state_dir::{Problem, UnsafeStateDir};
use crate::adapters::workspace::WorkspaceError;
use crate::foundation::envelope::{ErrorCode, ToolError};

/// What a used-up plan (or API quota) needs: not fewer calls, but time, more usage, or another
/// login; and how to drop the note that keeps calls from being sent once that is done.
const USED_UP_PLAN_REPAIR: &str = "The plan's usage (or the API key's quota) is used up: wait until retry_after_ms \
     passes, or give codex more usage (buy credits or upgrade the plan) or another login (`codex login`). A login \
     change lifts the refusal by itself; after buying credits or upgrading in place, run `codex-in-claude \
     clear-usage-limit` so calls are sent again";

/// Only a missing git or a timeout is `git_unavailable` (a retry may help); every other failure
/// gets the code that says what happened and a repair that fixes it.
impl From<GitError> for ToolError {
    fn from(error: GitError) -> ToolError {
        match &error {
            GitError::Missing => ToolError::new(ErrorCode::GitUnavailable, error.to_string())
                .repair("Install git on the server's PATH, then retry"),
            GitError::TimedOut => ToolError::new(ErrorCode::GitUnavailable, error.to_string()).repair(
                "Retry; if git keeps timing out, name fewer paths or raise CODEX_IN_CLAUDE_GIT_TIMEOUT_SECONDS in the server's environment",
            ),
            GitError::NotARepo => ToolError::new(ErrorCode::NotAGitRepo, error.to_string()).offending("workspace_root"),
            GitError::Unsafe { path } => ToolError::new(ErrorCode::UnsafeRepository, error.to_string())
                .repair(format!(
                    "If you trust this repository, run `git config --global --add safe.directory {}` as the user the server runs as, then retry",
                    shell_quote(path)
                ))
                .offending("workspace_root"),
            GitError::Cancelled => ToolError::new(ErrorCode::InternalError, "the call was cancelled"),
            GitError::Failed { message } => {
                let error =
                    ToolError::new(ErrorCode::GitFailed, format!("git failed: {}", crate::foundation::redact::text(message).text));
                if message.contains("promisor remote") {
                    error.repair(
                        "This partial clone lacks objects the diff needs, and the server never fetches: fetch them yourself (for example git fetch --refetch), or pick a scope whose objects are present, then retry",
                    )
                } else {
                    error
                }
            }
        }
    }
}

impl From<WorkspaceError> for ToolError {
    fn from(error: WorkspaceError) -> ToolError {
        let code = match error {
            WorkspaceError::OutsideRoots { .. } => ErrorCode::WorkspaceOutsideRoots,
            WorkspaceError::NotAbsolute
            | WorkspaceError::ContainsNul
            | WorkspaceError::NotFound
            | WorkspaceError::NotADirectory => ErrorCode::InvalidWorkspaceRoot,
        };
        ToolError::new(code, error.to_string()).offending("workspace_root")
    }
}

/// A refusal before anything is sent; a used-up plan is the model API's rate limit, told early.
impl From<BudgetError> for ToolError {
    fn from(error: BudgetError) -> ToolError {
        match &error {
            BudgetError::LedgerUnreadable { ledger, .. } => ToolError::new(
                ErrorCode::StateWriteFailed,
                error.to_string(),
            )
            .repair(format!("Remove or fix {} (codex_status shows the state directory), then retry", ledger.display())),
            BudgetError::UsageLimit { retry_after_ms, .. } => {
                ToolError::new(ErrorCode::CodexRateLimited, error.to_string())
                    .retry_after_ms(*retry_after_ms)
                    .repair(USED_UP_PLAN_REPAIR)
            }
            BudgetError::Exhausted { retry_after_ms, .. } => {
                ToolError::new(ErrorCode::BudgetExhausted, error.to_string()).retry_after_ms(*retry_after_ms)
            }
        }
    }
}

/// The repair names the fix for what was found: a directory of someone else's is not to be
/// used at all, one of the user's own only needs its mode fixed.
impl From<UnsafeStateDir> for ToolError {
    fn from(error: UnsafeStateDir) -> ToolError {
        let elsewhere = "set CODEX_IN_CLAUDE_STATE_DIR in the server's environment to an absolute directory only you own (or unset it to use ~/.cache/codex-in-claude/jobs)";
        let repair = match &error.problem {
            Problem::Writable(_) => format!(
                "Run `chmod go-w {}` if that directory is yours and nobody else needs to write it, or {elsewhere}; then retry",
                shell_quote(&error.component.to_string_lossy())
            ),
            Problem::Owner(_) => format!(
                "Do not use a directory another user owns: {elsewhere}, then restart the server (leave {} alone: its contents are not yours to trust)",
                error.component.display()
            ),
            Problem::NotAbsolute | Problem::Unreadable(_) => {
                format!("Fix what the message names, or {elsewhere}; then restart the server")
            }
        };
        ToolError::new(ErrorCode::UnsafeStateDir, error.to_string()).repair(repair)
    }
}

impl From<AnswerError> for ToolError {
    fn from(error: AnswerError) -> ToolError {
        let code = match error {
            AnswerError::NoFinalMessage => ErrorCode::NoFinalMessage,
            AnswerError::NotJson => ErrorCode::InvalidJson,
            AnswerError::NotObject | AnswerError::Incomplete { .. } => ErrorCode::SchemaViolation,
        };
        ToolError::new(code, error.to_string())
    }
}

/// codex could not start: nothing was spent.
impl From<StartError> for ToolError {
    fn from(error: StartError) -> ToolError {
        let code = match error {
            StartError::NotFound | StartError::Spawn(_) => ErrorCode::CodexNotFound,
            StartError::TempDir(_) | StartError::SchemaFile(_) => ErrorCode::InternalError,
        };
        ToolError::new(code, error.to_string())
    }
}

/// A stale session is the caller's argument to drop; every other failure is codex's, and the
/// code says which kind (the order they are told apart in is `failure::classify`'s).
impl From<CodexFailure> for ToolError {
    fn from(failure: CodexFailure) -> ToolError {
        let message = failure.to_string();
        match failure {
            CodexFailure::TimedOut { .. } => ToolError::new(ErrorCode::Timeout, message),
            CodexFailure::Stalled { .. } => ToolError::new(ErrorCode::CodexStalled, message),
            CodexFailure::Cancelled => ToolError::new(ErrorCode::InternalError, message),
            CodexFailure::OverrideRejected { .. } | CodexFailure::ContractChanged { .. } => {
                ToolError::new(ErrorCode::CliContractChanged, message)
            }
            CodexFailure::UserConfigRejected { .. } => ToolError::new(ErrorCode::UserConfigRejected, message),
            CodexFailure::NoSession => ToolError::new(ErrorCode::InvalidArguments, message)
                .offending("session_id")
                .repair("Make a fresh call without session_id"),
            CodexFailure::AuthRequired { .. } => ToolError::new(ErrorCode::CodexAuthRequired, message),
            CodexFailure::RateLimited { retry_after_ms, detail, .. } => {
                let error = ToolError::new(ErrorCode::CodexRateLimited, message).retry_after_ms(retry_after_ms);
                // Fewer calls at once do not help a plan that is used up.
                let lower = detail.to_lowercase();
                if ["usage limit", "quota", "credits", "billing"].iter().any(|word| lower.contains(word)) {
                    error.repair(USED_UP_PLAN_REPAIR)
                } else {
                    error
                }
            }
            // Still `nonzero_exit` (the code says codex failed), but worth a retry once the
            // model API recovers: the facts say when.
            CodexFailure::Transient { retry_after_ms, .. } => {
                let mut error = ToolError::new(ErrorCode::NonzeroExit, message).retry_after_ms(retry_after_ms).repair(
                    "The model API failed for a while (a server error or a dropped stream): wait retry_after_ms, then retry; run codex_status if it persists",
                );
                error.retryable = true;
                error
            }
            CodexFailure::Exited { .. } => ToolError::new(ErrorCode::NonzeroExit, message),
        }
    }
}

/// A run stopped (timeout, stall, cancel) before it had anything to hand over, whose session
/// codex kept: a follow-up of that session (`tool` with `params`) continues the work already
/// paid for, so that is the repair, and a retry from scratch, which pays for it again, is not
/// offered. `lead` says what the run had not done yet, `ask` what the follow-up is given.
pub fn stopped_with_session(
    failure: CodexFailure,
    tool: &str,
    params: serde_json::Value,
    lead: &str,
    ask: &str,
) -> ToolError {
    let session_id = params["session_id"].as_str().unwrap_or_default().to_string();
    let mut error = ToolError::from(failure).repair(format!(
        "{lead}, but its session is kept: call {tool} with session_id {session_id} and {ask} to continue it, rather \
         than a fresh call that pays for the work again"
    ));
    error.retryable = false;
    error.repair_tool(tool, params)
}

/// A review's scope that git cannot resolve is the parameter that named it.
impl From<GatherError> for ToolError {
    fn from(error: GatherError) -> ToolError {
        match error {
            GatherError::InvalidBase(message) => ToolError::new(ErrorCode::InvalidBase, message).offending("base"),
            GatherError::InvalidCommit(message) => {
                ToolError::new(ErrorCode::InvalidCommit, message).offending("commit")
            }
            GatherError::InvalidPaths(message) => ToolError::new(ErrorCode::InvalidPaths, message).offending("paths"),
            GatherError::NoCommits(message) => ToolError::new(ErrorCode::NoCommits, message),
            GatherError::Scratch(message) => ToolError::new(ErrorCode::InternalError, message).repair(
                "Check that the server's temp directory (TMPDIR) exists, is writable and has free space, then retry",
            ),
            GatherError::Git(error) => error.into(),
        }
    }
}

/// A delegation's throwaway worktree that cannot be made or used; git's own failures map as git's.
impl From<WorktreeError> for ToolError {
    fn from(error: WorktreeError) -> ToolError {
        match error {
            WorktreeError::NotAGitRepo => {
                ToolError::new(ErrorCode::NotAGitRepo, "the workspace is not inside a git repository")
                    .offending("workspace_root")
            }
            WorktreeError::NoCommits => ToolError::new(
                ErrorCode::WorktreeError,
                "the repository has no commits yet; a worktree needs HEAD to start from",
            )
            .repair("Commit once (git commit), then retry"),
            WorktreeError::Git(error) => error.into(),
            WorktreeError::Failed(message) => {
                ToolError::new(ErrorCode::WorktreeError, crate::foundation::redact::text(&message).text)
            }
            WorktreeError::Cancelled => ToolError::new(ErrorCode::InternalError, "the call was cancelled"),
        }
    }
}

/// `path` as one shell word: left bare when it is plainly safe, else single-quoted.
fn shell_quote(path: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c);
    if !path.is_empty() && path.chars().all(plain) {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsafe_repository_names_the_safe_directory_command_for_its_path() {
        let error = ToolError::from(GitError::Unsafe { path: "/srv/repo".into() });
        assert_eq!(error.code, ErrorCode::UnsafeRepository);
        assert_eq!(error.offending_param.as_deref(), Some("workspace_root"));
        assert!(error.repair.contains("git config --global --add safe.directory /srv/repo` as"), "{}", error.repair);
        assert!(error.message.contains("/srv/repo"), "{}", error.message);
    }

    #[test]
    fn a_workspace_root_outside_the_roots_is_its_own_code_and_names_the_parameter() {
        let outside = ToolError::from(WorkspaceError::OutsideRoots { declared: 2 });
        assert_eq!(outside.code, ErrorCode::WorkspaceOutsideRoots);
        assert_eq!(outside.message, "workspace_root is outside the client's 2 declared root(s)");
        let missing = ToolError::from(WorkspaceError::NotFound);
        assert_eq!(
            (missing.code, missing.message.as_str()),
            (ErrorCode::InvalidWorkspaceRoot, "workspace_root does not exist")
        );
        for error in [outside, missing] {
            assert_eq!(error.offending_param.as_deref(), Some("workspace_root"));
        }
    }

    #[test]
    fn budget_refusals_carry_their_retry_time_and_the_ledger_to_fix() {
        let exhausted = ToolError::from(BudgetError::Exhausted {
            tokens: 120,
            runs: 2,
            limit: 100,
            renews_ms: 86_400_000,
            retry_after_ms: 5_000,
        });
        assert_eq!(exhausted.code, ErrorCode::BudgetExhausted);
        assert!(exhausted.retryable && exhausted.retry_after_ms == Some(5_000), "{exhausted:?}");
        assert!(exhausted.message.starts_with("today's token budget is used up: 120 of 100 tokens over 2 paid run(s)"));
        let plan = ToolError::from(BudgetError::UsageLimit { resets_ms: 86_400_000, retry_after_ms: 7_000 });
        assert_eq!((plan.code, plan.retry_after_ms), (ErrorCode::CodexRateLimited, Some(7_000)));
        let ledger = ToolError::from(BudgetError::LedgerUnreadable {
            ledger: "/state/spend.json".into(),
            why: "truncated".into(),
        });
        assert_eq!(ledger.code, ErrorCode::StateWriteFailed);
        assert_eq!(ledger.message, "the spend ledger cannot be read: truncated");
        assert!(ledger.repair.starts_with("Remove or fix /state/spend.json "), "{}", ledger.repair);
    }

    #[test]
    fn an_answer_that_is_no_review_is_a_format_error_and_none_at_all_is_no_final_message() {
        let code = |error: AnswerError| ToolError::from(error).code;
        assert_eq!(code(AnswerError::NoFinalMessage), ErrorCode::NoFinalMessage);
        assert_eq!(code(AnswerError::NotJson), ErrorCode::InvalidJson);
        assert_eq!(code(AnswerError::NotObject), ErrorCode::SchemaViolation);
        let incomplete =
            ToolError::from(AnswerError::Incomplete { what: "review", fields: vec!["summary", "verdict"] });
        assert_eq!(incomplete.code, ErrorCode::SchemaViolation);
        assert_eq!(incomplete.message, "codex's review is missing or has invalid summary, verdict");
    }

    #[test]
    fn each_codex_failure_has_its_code_and_a_stale_session_names_its_parameter() {
        use crate::adapters::codex::failure::Exit;
        let (exit, detail) = (Exit::Code(1), String::from("boom"));
        let cases = [
            (CodexFailure::TimedOut { after: std::time::Duration::from_secs(30) }, ErrorCode::Timeout),
            (
                CodexFailure::Stalled { after: std::time::Duration::from_secs(9), last_activity: None },
                ErrorCode::CodexStalled,
            ),
            (CodexFailure::Cancelled, ErrorCode::InternalError),
            (CodexFailure::OverrideRejected { line: "x".into() }, ErrorCode::CliContractChanged),
            (CodexFailure::UserConfigRejected { line: "x".into() }, ErrorCode::UserConfigRejected),
            (CodexFailure::NoSession, ErrorCode::InvalidArguments),
            (CodexFailure::AuthRequired { exit, detail: detail.clone() }, ErrorCode::CodexAuthRequired),
            (CodexFailure::ContractChanged { exit, detail: detail.clone() }, ErrorCode::CliContractChanged),
            (
                CodexFailure::RateLimited { exit, detail: detail.clone(), retry_after_ms: 20_000 },
                ErrorCode::CodexRateLimited,
            ),
            (CodexFailure::Exited { exit: Exit::Signal, detail }, ErrorCode::NonzeroExit),
        ];
        for (failure, code) in cases {
            let message = failure.to_string();
            let error = ToolError::from(failure);
            assert_eq!((error.code, error.message), (code, message));
        }
        let stale = ToolError::from(CodexFailure::NoSession);
        assert_eq!(stale.offending_param.as_deref(), Some("session_id"));
        assert_eq!(stale.repair, "Make a fresh call without session_id");
        let limited = ToolError::from(CodexFailure::RateLimited { exit, detail: "429".into(), retry_after_ms: 20_000 });
        assert!(limited.retryable && limited.retry_after_ms == Some(20_000), "{limited:?}");
        assert_eq!(limited.message, "codex exited 1: 429");
        let timeout = ToolError::from(CodexFailure::TimedOut { after: std::time::Duration::from_secs(30) });
        assert!(timeout.retryable);
        let stalled = CodexFailure::Stalled { after: std::time::Duration::from_secs(9), last_activity: None };
        assert_eq!(
            ToolError::from(stalled).message,
            "codex sent no event for 9 s and was stopped; its last activity was: (none)"
        );
    }

    #[test]
    fn codex_that_cannot_start_is_not_found_unless_our_own_files_failed() {
        assert_eq!(ToolError::from(StartError::NotFound).message, "codex was not found on the server's PATH");
        assert_eq!(ToolError::from(StartError::NotFound).code, ErrorCode::CodexNotFound);
        let disk = ToolError::from(StartError::TempDir(std::io::Error::other("disk full")));
        assert_eq!(
            (disk.code, disk.message.as_str()),
            (ErrorCode::InternalError, "cannot create a temporary directory: disk full")
        );
    }

    #[test]
    fn repair_commands_quote_odd_paths() {
        assert_eq!(shell_quote("/srv/repo-1.x"), "/srv/repo-1.x");
        assert_eq!(shell_quote("/srv/my repo/it's"), r"'/srv/my repo/it'\''s'");
    }
}
