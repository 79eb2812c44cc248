//! Tools that are listed with their final inputs but whose behaviour is still to be built. They
//! validate exactly what the real tool will validate, then answer `not_implemented` — never a
//! fake success, and nothing is spent.

use serde_json::{Value, json};

use super::Call;
use crate::envelope::{ErrorCode, ToolError};

fn not_implemented(call: &Call) -> ToolError {
    ToolError::new(
        ErrorCode::NotImplemented,
        format!("{} is not implemented in this build; nothing was run", call.tool.name),
    )
}

/// Tools that would run codex or git: the workspace and configuration checks, then
/// `not_implemented`.
pub fn run_codex_tool(call: &Call) -> Value {
    match call.preflight() {
        Ok(workspace) => call.fail(not_implemented(call), Some(&workspace)),
        Err(envelope) => envelope,
    }
}

/// Job lifecycle tools: the workspace check, then `not_implemented`.
pub fn run_job_tool(call: &Call) -> Value {
    match call.workspace() {
        Ok(workspace) => call.fail(not_implemented(call), Some(&workspace)),
        Err(error) => call.fail(error, None),
    }
}

/// Until the tool exists its success shape is only promised to be an `ok:true` object.
pub fn success_schema() -> Value {
    json!({"type": "object", "required": ["ok"], "properties": {"ok": {"const": true}}})
}
