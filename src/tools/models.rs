//! `codex_models`: the models this codex offers and, for each, the reasoning efforts it accepts
//! and its default, from codex itself (docs/codex-cli.md §6), with where the list came from.
//! Also the check every paid tool makes of `reasoning_effort` against the chosen model.

use serde_json::{Value, json};

use super::Call;
use crate::adapters::codex::app_server::{self, ModelSource};
use crate::foundation::cancel::CancelToken;
use crate::foundation::envelope::{ErrorCode, ToolError};

pub fn run(call: &Call) -> Value {
    match app_server::models(&call.cancel) {
        Ok((models, source)) => {
            let (source, detail) = match source {
                ModelSource::AppServer => ("app-server", None),
                ModelSource::Cache { path, app_server_error } => (
                    "cache",
                    Some(format!("read from {} because codex app-server failed: {app_server_error}", path.display())),
                ),
            };
            let models: Vec<Value> = models
                .iter()
                .map(|m| {
                    json!({
                        "model": m.id,
                        "reasoning_efforts": m.efforts,
                        "default_reasoning_effort": m.default_effort,
                        "is_default": m.is_default,
                        "hidden": m.hidden,
                    })
                })
                .collect();
            json!({"ok": true, "source": source, "source_detail": detail, "models": models})
        }
        Err(why) => json!({"ok": true, "source": "unavailable", "source_detail": why, "models": []}),
    }
}

/// `invalid_reasoning_effort` when codex's model list knows `model` and it does not take
/// `effort`. A model codex does not list, or a list that cannot be read, is not checked: the
/// run then says what codex thinks.
pub fn check_effort(model: Option<&str>, effort: Option<&str>, cancel: &CancelToken) -> Result<(), ToolError> {
    let (Some(model), Some(effort)) = (model, effort) else { return Ok(()) };
    let Ok((models, _)) = app_server::models(cancel) else { return Ok(()) };
    let Some(known) = models.iter().find(|m| m.id == model) else { return Ok(()) };
    if known.efforts.is_empty() || known.efforts.iter().any(|e| e == effort) {
        return Ok(());
    }
    let mut error = ToolError::new(
        ErrorCode::InvalidReasoningEffort,
        format!("model {model} does not accept reasoning_effort {effort}; it takes {}", known.efforts.join(", ")),
    )
    .offending("reasoning_effort");
    error.allowed_values = Some(known.efforts.clone());
    Err(error)
}

pub fn success_schema() -> Value {
    json!({
        "type": "object",
        "required": ["ok", "source"],
        "properties": {
            "ok": {"const": true},
            "source": {"enum": ["app-server", "cache", "unavailable"]},
            "source_detail": {"type": ["string", "null"]},
            "models": {"type": "array", "items": {
                "type": "object",
                "required": ["model"],
                "properties": {
                    "model": {"type": "string"},
                    "reasoning_efforts": {"type": "array", "items": {"type": "string"}},
                    "default_reasoning_effort": {"type": ["string", "null"]},
                    "is_default": {"type": "boolean"},
                    "hidden": {"type": "boolean"}
                }
            }}
        }
    })
}
