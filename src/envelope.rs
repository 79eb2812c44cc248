//! The agent-visible result contract: `ErrorCode`, the `ok:false` error envelope, and the `meta`
//! block that rides on every envelope of a workspace-bound tool.
//!
//! Everything here is serialised into `structuredContent`, so every shape must match the output
//! schemas that `tools::schema` publishes. The JSON Schema of the error branch lives here too, next
//! to the types it describes, so the two cannot drift apart.

use serde::Serialize;
use serde_json::{Value, json};

use crate::workspace::Workspace;

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
    /// The tool is listed but its behaviour has not been built yet; nothing was spent.
    NotImplemented,
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
        ErrorCode::NotImplemented,
        ErrorCode::InternalError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArguments => "invalid_arguments",
            ErrorCode::InvalidWorkspaceRoot => "invalid_workspace_root",
            ErrorCode::WorkspaceOutsideRoots => "workspace_outside_roots",
            ErrorCode::UnexpandedEnvPlaceholder => "unexpanded_env_placeholder",
            ErrorCode::NotImplemented => "not_implemented",
            ErrorCode::InternalError => "internal_error",
        }
    }

    /// Whether the same call may succeed if simply retried later.
    fn retryable(self) -> bool {
        matches!(self, ErrorCode::InternalError)
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
            ErrorCode::NotImplemented => {
                "This tool is not available in this build; use codex_capabilities to see what is"
            }
            ErrorCode::InternalError => {
                "Retry once; if it persists, rerun the server with CODEX_IN_CLAUDE_LOG_LEVEL=DEBUG and report the stderr log"
            }
        }
    }
}

/// The `error` object of an `ok:false` envelope. All keys are always serialised (nulls included)
/// so agents can branch on them without probing for presence.
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

    pub fn repair_tool(mut self, tool: &str, params: Value) -> ToolError {
        self.repair_tool = Some(tool.to_string());
        self.repair_tool_params = Some(params);
        self
    }
}

/// Which part of the system a call runs in. Fixed per tool, reported so an agent knows what a
/// call was allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Read-only codex runs (consult, review) and free tools.
    Consult,
    /// Codex writes inside a throwaway worktree; the user gets a diff (delegate).
    Propose,
}

impl Tier {
    pub fn sandbox(self) -> &'static str {
        match self {
            Tier::Consult => "read-only",
            Tier::Propose => "workspace-write",
        }
    }
}

/// Context stamped on every envelope of a workspace-bound tool: where it ran, how, and which
/// surface produced it.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub cwd: Option<String>,
    pub workspace_source: Option<&'static str>,
    pub workspace_warning: Option<String>,
    pub tier: Tier,
    pub sandbox: &'static str,
    pub request_id: String,
    pub server_version: &'static str,
    pub fingerprint: &'static str,
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
            request_id: crate::hash::random_hex(16),
            server_version: crate::VERSION,
            fingerprint: crate::tools::fingerprint(),
        }
    }
}

/// The whole `ok:false` envelope.
pub fn error_envelope(error: ToolError, meta: &Meta) -> Value {
    json!({ "ok": false, "error": error, "meta": meta })
}

/// JSON Schema of the `ok:false` branch shared by every tool's `outputSchema`. `codes` is the
/// tool's own error-code list, so a client can see exactly which codes a tool may return. The
/// other `error` members are typed by `ToolError` and documented in the README; they are left
/// out here because this schema is repeated for every tool in `tools/list`, which every Claude
/// Code conversation pays for.
pub fn error_branch_schema(codes: &[ErrorCode]) -> Value {
    let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    json!({
        "required": ["ok", "error"],
        "properties": {
            "ok": {"const": false},
            "error": {
                "type": "object",
                "required": ["code", "message", "repair", "retryable"],
                "properties": {"code": {"enum": names}, "message": {"type": "string"}}
            }
        }
    })
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
    fn error_serialises_every_key_even_when_null() {
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
