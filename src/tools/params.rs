//! Tool parameters, declared once as data: the same `Param` produces the JSON Schema published
//! in `tools/list` and the validation applied to incoming arguments, so the two cannot disagree.
//!
//! Validation failures are reported by field name and reason only; rejected values are never
//! echoed (they may hold secrets or prompt-injection text).

use serde_json::{Map, Value, json};

use crate::adapters::jobs;
use crate::foundation::envelope::{ErrorCode, ToolError};

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A string; `non_blank` rejects whitespace-only text.
    Text {
        non_blank: bool,
        max_len: Option<usize>,
    },
    /// A machine name passed on to codex or git (model, effort, ref): no whitespace or control
    /// characters, so it cannot smuggle a second argument or a terminal escape.
    Name {
        max_len: usize,
    },
    /// A `Name` that becomes an argument of codex's own (model, effort): it may not start with
    /// `-` either, or codex would read it as a flag. (A ref never reaches an argv as an option:
    /// git is given it after `--end-of-options`, and a bad one is answered with the refs that
    /// exist.)
    Argument {
        max_len: usize,
    },
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    Integer {
        min: i64,
        max: i64,
    },
    /// An array of strings.
    TextList {
        max_items: usize,
        max_len: usize,
    },
    /// A background job id: 32 lowercase hex digits, checked before any path is built from it.
    JobId,
    /// A codex session id: a lowercase UUID, checked before it reaches a path or codex's argv.
    SessionId,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

impl Param {
    /// The published schema: type, bounds and enum. A text's non-blank rule, a name's
    /// character rule and an id's form are checked here with an error that names the field, so
    /// they are not restated as patterns; and an optional parameter may also be null (meaning
    /// its default), which is not restated either. `tools/list` is read into every
    /// conversation.
    fn schema(&self, described: bool) -> Value {
        let mut schema = match self.kind {
            Kind::Text { max_len: Some(max), .. } | Kind::Name { max_len: max } | Kind::Argument { max_len: max } => {
                json!({"type": "string", "maxLength": max})
            }
            Kind::Text { max_len: None, .. } | Kind::JobId | Kind::SessionId => json!({"type": "string"}),
            Kind::Choice(values) => json!({"enum": values}),
            Kind::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
            Kind::TextList { max_items, max_len } => json!({
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": max_len},
                "maxItems": max_items
            }),
        };
        if described {
            schema["description"] = json!(self.description);
        }
        schema
    }

    /// Why `value` does not fit, or `None` when it does.
    fn problem(&self, value: &Value) -> Option<&'static str> {
        match (self.kind, value) {
            (Kind::Text { non_blank, max_len }, Value::String(s)) => {
                if non_blank && s.trim().is_empty() {
                    Some("must not be blank")
                } else if max_len.is_some_and(|max| s.chars().count() > max) {
                    Some("is too long")
                } else {
                    None
                }
            }
            (Kind::Argument { .. }, Value::String(s)) if s.starts_with('-') => Some("must not start with '-'"),
            (Kind::Name { max_len } | Kind::Argument { max_len }, Value::String(s)) => {
                if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    Some("must be a name without spaces or control characters")
                } else if s.chars().count() > max_len {
                    Some("is too long")
                } else {
                    None
                }
            }
            (Kind::Text { .. } | Kind::Name { .. } | Kind::Argument { .. }, _) => Some("must be a string"),
            (Kind::Choice(values), Value::String(s)) if values.contains(&s.as_str()) => None,
            (Kind::Choice(_), _) => Some("must be one of the allowed values"),
            (Kind::Integer { min, max }, Value::Number(n)) => match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => None,
                Some(_) => Some("is out of range"),
                None => Some("must be an integer"),
            },
            (Kind::Integer { .. }, _) => Some("must be an integer"),
            (Kind::TextList { max_items, max_len }, Value::Array(items)) => {
                if items.len() > max_items {
                    Some("has too many items")
                } else if items
                    .iter()
                    .any(|i| !i.as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= max_len))
                {
                    Some("must hold non-empty strings within the length limit")
                } else {
                    None
                }
            }
            (Kind::TextList { .. }, _) => Some("must be an array of strings"),
            (Kind::JobId, Value::String(s)) if jobs::valid_job_id(s) => None,
            (Kind::JobId, _) => Some("must be a job id (32 lowercase hex digits)"),
            (Kind::SessionId, Value::String(s)) if crate::adapters::sessions::valid_session_id(s) => None,
            (Kind::SessionId, _) => Some("must be a session id from an earlier result (a lowercase UUID)"),
        }
    }
}

/// The closed input schema for a parameter list; without `described`, the parameters' descriptions
/// are left to another tool that takes them too.
pub fn input_schema(params: &[Param], described: bool) -> Value {
    let properties: Map<String, Value> = params.iter().map(|p| (p.name.to_string(), p.schema(described))).collect();
    let required: Vec<&str> = params.iter().filter(|p| p.required).map(|p| p.name).collect();
    // No `$schema`: JSON Schema 2020-12 is MCP's default dialect, and every byte here is paid
    // for in every conversation.
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// Validated arguments: only declared keys, explicit nulls removed (null means "use the default").
#[derive(Debug, Default)]
pub struct Args(Map<String, Value>);

impl Args {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    pub fn integer(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }

    /// The arguments as a JSON object (what a background job stores and replays).
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// A `TextList` argument; empty when absent.
    pub fn text_list(&self, name: &str) -> Vec<String> {
        let items = self.0.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        items.iter().filter_map(Value::as_str).map(str::to_string).collect()
    }
}

/// Checks `arguments` against `params`. On failure every bad field is named, in parameter order
/// (unknown keys last), and the first one becomes `offending_param`.
pub fn validate(params: &[Param], arguments: Option<&Value>) -> Result<Args, ToolError> {
    let empty = Map::new();
    let object = match arguments {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(object)) => object,
        Some(_) => {
            return Err(ToolError::new(
                ErrorCode::InvalidArguments,
                "invalid arguments: arguments must be a JSON object",
            )
            .offending("arguments"));
        }
    };
    let mut problems: Vec<(String, &str)> = Vec::new();
    let mut allowed = None;
    for param in params {
        match object.get(param.name) {
            None | Some(Value::Null) if param.required => problems.push((param.name.into(), "is required")),
            None | Some(Value::Null) => {}
            Some(value) => {
                if let Some(problem) = param.problem(value) {
                    if let (Kind::Choice(values), None) = (param.kind, &allowed) {
                        allowed = Some(values.iter().map(|v| v.to_string()).collect());
                    }
                    problems.push((param.name.into(), problem));
                }
            }
        }
    }
    for key in object.keys().filter(|k| !params.iter().any(|p| p.name == k.as_str())) {
        problems.push((display_unknown_key(key), "is not a parameter of this tool"));
    }
    if problems.is_empty() {
        let args = object.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
        return Ok(Args(args));
    }
    let listing: Vec<String> = problems.iter().map(|(field, why)| format!("{field} {why}")).collect();
    let mut error = ToolError::new(ErrorCode::InvalidArguments, format!("invalid arguments: {}", listing.join("; ")))
        .offending(problems[0].0.clone());
    error.allowed_values = allowed;
    Err(error)
}

/// An unknown key is caller text: name it only when it looks like an identifier, so a key made of
/// control characters or a pasted secret is not reflected back.
fn display_unknown_key(key: &str) -> String {
    let plain =
        !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain { key.to_string() } else { "(an unknown key, name withheld)".to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &[Param] = &[
        Param {
            name: "question",
            kind: Kind::Text { non_blank: true, max_len: None },
            required: true,
            description: "q",
        },
        Param { name: "detail", kind: Kind::Choice(&["summary", "full"]), required: false, description: "d" },
        Param { name: "timeout_seconds", kind: Kind::Integer { min: 10, max: 600 }, required: false, description: "t" },
        Param { name: "paths", kind: Kind::TextList { max_items: 2, max_len: 10 }, required: false, description: "p" },
        Param { name: "job_id", kind: Kind::JobId, required: false, description: "j" },
        Param { name: "session_id", kind: Kind::SessionId, required: false, description: "s" },
        Param { name: "model", kind: Kind::Argument { max_len: 20 }, required: false, description: "m" },
        Param { name: "base", kind: Kind::Name { max_len: 20 }, required: false, description: "b" },
    ];

    fn error_for(args: Value) -> ToolError {
        validate(PARAMS, Some(&args)).unwrap_err()
    }

    #[test]
    fn accepts_valid_arguments_and_drops_nulls() {
        let args = validate(PARAMS, Some(&json!({"question": "why?", "detail": null, "timeout_seconds": 10}))).unwrap();
        assert_eq!(args.text("question"), Some("why?"));
        assert!(!args.0.contains_key("detail"));
    }

    #[test]
    fn names_every_bad_field_without_echoing_values() {
        let err = error_for(json!({
            "question": "   ", "detail": "SECRET-ENUM", "timeout_seconds": 5, "paths": ["ok", ""],
            "job_id": "../etc", "session_id": "my thread", "bogus": "SECRET-VALUE", "\u{1b}[31m": 1
        }));
        assert_eq!(err.code, ErrorCode::InvalidArguments);
        assert_eq!(err.offending_param.as_deref(), Some("question"));
        for field in
            ["question", "detail", "timeout_seconds", "paths", "job_id", "session_id", "bogus", "name withheld"]
        {
            assert!(err.message.contains(field), "{field} missing from {}", err.message);
        }
        assert!(!err.message.contains("SECRET") && !err.message.contains('\u{1b}'));
        assert_eq!(err.allowed_values, Some(vec!["summary".into(), "full".into()]));
    }

    #[test]
    fn a_name_that_would_be_read_as_a_flag_is_refused() {
        for flag in ["--dangerously-bypass-approvals-and-sandbox", "-c", "-"] {
            let err = error_for(json!({"question": "q", "model": flag}));
            assert_eq!(err.code, ErrorCode::InvalidArguments);
            assert_eq!(err.offending_param.as_deref(), Some("model"), "{flag}");
            assert!(err.message.contains("model must not start with '-'"), "{}", err.message);
        }
        assert!(validate(PARAMS, Some(&json!({"question": "q", "model": "gpt-5.5-x"}))).is_ok());
        // A ref is git's, after `--end-of-options`: its own checks answer it with the refs that exist.
        assert!(validate(PARAMS, Some(&json!({"question": "q", "base": "--output=x"}))).is_ok());
    }

    #[test]
    fn required_and_type_errors() {
        assert!(error_for(json!({})).message.contains("question is required"));
        assert!(error_for(json!({"question": 3})).message.contains("must be a string"));
        assert!(error_for(json!({"question": "q", "timeout_seconds": 12.5})).message.contains("integer"));
        let not_object = validate(PARAMS, Some(&json!([1]))).unwrap_err();
        assert_eq!(not_object.offending_param.as_deref(), Some("arguments"));
    }

    #[test]
    fn schema_is_closed_and_mirrors_the_rules() {
        let schema = input_schema(PARAMS, true);
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["required"], json!(["question"]));
        assert_eq!(schema["properties"]["question"]["type"], json!("string"));
        assert_eq!(schema["properties"]["detail"]["enum"], json!(["summary", "full"]));
        assert_eq!(schema["properties"]["paths"]["maxItems"], json!(2));
        assert_eq!(schema["properties"]["timeout_seconds"]["maximum"], json!(600));
        assert_eq!(schema["properties"]["question"]["description"], json!("q"));
        let bare = input_schema(PARAMS, false);
        assert!(bare["properties"]["question"].get("description").is_none());
        assert_eq!(bare["properties"]["timeout_seconds"]["maximum"], json!(600), "bounds stay without descriptions");
    }
}
