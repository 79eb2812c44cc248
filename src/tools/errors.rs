//! The one place where the adapters' typed errors become the agent-visible `ToolError`: which
//! `ErrorCode` each failure is, and the repair, offending parameter and retry time that follow
//! from its facts. The adapters say what happened (each error's `Display` is its message where
//! the agent sees it unchanged); what an agent should do about it is decided here.

use crate::adapters::git::GitError;
use crate::adapters::workspace::WorkspaceError;
use crate::foundation::envelope::{ErrorCode, ToolError};

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
    fn repair_commands_quote_odd_paths() {
        assert_eq!(shell_quote("/srv/repo-1.x"), "/srv/repo-1.x");
        assert_eq!(shell_quote("/srv/my repo/it's"), r"'/srv/my repo/it'\''s'");
    }
}
