//! `codex_models`: the models this codex offers and, for each, the reasoning efforts it accepts
//! and its default, from codex itself (docs/codex-cli.md §6), with where the list came from.
//! Also the check every paid tool makes of `reasoning_effort` against the chosen model.

use serde::Serialize;
use serde_json::{Value, json};

use super::Call;
use super::schema;
use crate::adapters::codex::app_server::{self, ModelSource};
use crate::foundation::cancel::CancelToken;
use crate::foundation::envelope::{ErrorCode, ToolError};

/// The `codex_models` success envelope.
#[derive(Serialize)]
struct Models<'a> {
    ok: bool,
    source: Source,
    source_detail: Option<String>,
    models: Vec<Entry<'a>>,
}

/// Where the list came from.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum Source {
    AppServer,
    Cache,
    Unavailable,
}

/// One model and the reasoning efforts it takes.
#[derive(Serialize)]
struct Entry<'a> {
    model: &'a str,
    reasoning_efforts: &'a [String],
    default_reasoning_effort: Option<&'a str>,
    is_default: bool,
    hidden: bool,
}

impl<'a> From<&'a app_server::Model> for Entry<'a> {
    fn from(m: &'a app_server::Model) -> Self {
        Entry {
            model: &m.id,
            reasoning_efforts: &m.efforts,
            default_reasoning_effort: m.default_effort.as_deref(),
            is_default: m.is_default,
            hidden: m.hidden,
        }
    }
}

pub fn run(call: &Call) -> Value {
    match app_server::models(&call.cancel) {
        Ok((models, source)) => {
            let (source, source_detail) = match source {
                ModelSource::AppServer => (Source::AppServer, None),
                ModelSource::Cache { path, app_server_error } => (
                    Source::Cache,
                    Some(format!("read from {} because codex app-server failed: {app_server_error}", path.display())),
                ),
            };
            json!(Models { ok: true, source, source_detail, models: models.iter().map(Entry::from).collect() })
        }
        Err(why) => {
            json!(Models { ok: true, source: Source::Unavailable, source_detail: Some(why), models: Vec::new() })
        }
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
    schema::members(&["source_detail", "models"], &[("source", &["app-server", "cache", "unavailable"])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_models_envelope_matches_its_schema() {
        let model = app_server::Model {
            id: "m".into(),
            efforts: vec!["low".into()],
            default_effort: Some("low".into()),
            is_default: true,
            hidden: false,
        };
        for source in [Source::AppServer, Source::Cache, Source::Unavailable] {
            let models = json!(Models { ok: true, source, source_detail: None, models: vec![Entry::from(&model)] });
            crate::tools::check_against_schema(&models, &success_schema());
            let allowed = &success_schema()["source"]["enum"];
            assert!(allowed.as_array().unwrap().contains(&models["source"]), "{models} against {allowed}");
        }
    }
}
