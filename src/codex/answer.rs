//! Codex's final answer: the JSON Schemas sent with `--output-schema` (OpenAI strict mode: every
//! property required, nullable where optional, no extra properties), and the parse of the `-o`
//! file back into an `Answer`.
//!
//! codex does not validate the answer against the schema (codex-cli-contract §2), so parsing is
//! ours: tolerant where a slip costs nothing (a fenced block, one malformed finding dropped), and
//! strict where it would mislead (a review without a valid verdict is not a review). Every string
//! that comes back is foreign text: control characters stripped, redacted, bounded.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::envelope::{ErrorCode, ToolError};

const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "nit"];
pub const VERDICTS: &[&str] = &["pass", "concerns", "fail", "unknown"];
pub const CONFIDENCES: &[&str] = &["low", "medium", "high"];

/// Bounds on what one answer may carry into an envelope.
const SUMMARY_CHARS: usize = 20_000;
const FIELD_CHARS: usize = 4_000;
const MAX_ITEMS: usize = 100;

/// One evidence-tied issue, as in the reference `Finding`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: String,
    pub title: String,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub line_end: Option<u64>,
    pub evidence: String,
    pub risk: String,
    pub recommendation: String,
}

/// A parsed answer. `verdict` and `confidence` are set for reviews only.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Answer {
    pub summary: String,
    pub findings: Vec<Finding>,
    pub questions: Vec<String>,
    pub assumptions: Vec<String>,
    pub next_steps: Vec<String>,
    #[serde(skip)]
    pub verdict: Option<&'static str>,
    #[serde(skip)]
    pub confidence: Option<&'static str>,
}

fn finding_schema() -> Value {
    let text = json!({"type": "string"});
    let nullable = |t: &str| json!({"type": [t, "null"]});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["severity", "title", "file", "line", "line_end", "evidence", "risk", "recommendation"],
        "properties": {
            "severity": {"type": "string", "enum": SEVERITIES},
            "title": text, "file": nullable("string"), "line": nullable("integer"), "line_end": nullable("integer"),
            "evidence": text, "risk": text, "recommendation": text
        }
    })
}

/// The schema of a consult answer.
pub fn consult_schema() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["summary", "findings", "questions", "assumptions", "next_steps"],
        "properties": {
            "summary": {"type": "string"},
            "findings": {"type": "array", "items": finding_schema()},
            "questions": strings, "assumptions": strings, "next_steps": strings
        }
    })
}

/// The schema of a review answer: a consult answer plus verdict and confidence.
pub fn review_schema() -> Value {
    let mut schema = consult_schema();
    schema["required"] =
        json!(["summary", "verdict", "confidence", "findings", "questions", "assumptions", "next_steps"]);
    schema["properties"]["verdict"] = json!({"type": "string", "enum": VERDICTS});
    schema["properties"]["confidence"] = json!({"type": "string", "enum": CONFIDENCES});
    schema
}

/// A consult answer. Prose instead of JSON is still an answer to a question: it becomes the
/// summary. `None` (no message at all) gets a placeholder summary.
pub fn consult(text: Option<&str>) -> Answer {
    let Some(text) = text else {
        return Answer { summary: "(codex returned no message)".into(), ..Answer::default() };
    };
    match parse_object(text) {
        Ok(object) => fields(&object),
        Err(_) => Answer { summary: clean(text.trim(), SUMMARY_CHARS), ..Answer::default() },
    }
}

/// A review answer, which must be the schema's JSON: a prose "review" has no verdict an agent
/// could trust, so it is an error (`invalid_json` / `schema_violation`), never a silent pass.
pub fn review(text: Option<&str>) -> Result<Answer, ToolError> {
    let text = text.ok_or_else(|| {
        ToolError::new(ErrorCode::InvalidJson, "codex finished without a final message; there is no review to report")
    })?;
    let object = parse_object(text).map_err(|problem| match problem {
        Problem::NotJson => ToolError::new(ErrorCode::InvalidJson, "codex's final message is not JSON"),
        Problem::NotObject => {
            ToolError::new(ErrorCode::SchemaViolation, "codex's final message is JSON but not an object")
        }
    })?;
    let mut answer = fields(&object);
    answer.verdict = object.get("verdict").and_then(Value::as_str).and_then(|v| pick(VERDICTS, v));
    answer.confidence = object.get("confidence").and_then(Value::as_str).and_then(|v| pick(CONFIDENCES, v));
    let summary_ok = object.get("summary").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
    let mut missing = Vec::new();
    if !summary_ok {
        missing.push("summary");
    }
    if answer.verdict.is_none() {
        missing.push("verdict");
    }
    if answer.confidence.is_none() {
        missing.push("confidence");
    }
    if !missing.is_empty() {
        let message = format!("codex's review is missing or has invalid {}", missing.join(", "));
        return Err(ToolError::new(ErrorCode::SchemaViolation, message));
    }
    Ok(answer)
}

enum Problem {
    NotJson,
    NotObject,
}

/// The JSON object in `text`, allowing one surrounding Markdown code fence.
fn parse_object(text: &str) -> Result<Map<String, Value>, Problem> {
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .map(|body| body.split_once('\n').map_or("", |(_, json)| json))
        .unwrap_or(trimmed);
    match serde_json::from_str::<Value>(unfenced) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Problem::NotObject),
        Err(_) => Err(Problem::NotJson),
    }
}

fn pick(allowed: &[&'static str], value: &str) -> Option<&'static str> {
    allowed.iter().copied().find(|a| *a == value)
}

/// The fields both answer kinds share; malformed findings and non-text list items are dropped.
fn fields(object: &Map<String, Value>) -> Answer {
    let summary = object.get("summary").and_then(Value::as_str).map(|s| clean(s.trim(), SUMMARY_CHARS));
    let strings = |key: &str| -> Vec<String> {
        let items = object.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(clean(s, FIELD_CHARS)),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .take(MAX_ITEMS)
            .collect()
    };
    let findings = object.get("findings").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    Answer {
        summary: summary.filter(|s| !s.is_empty()).unwrap_or_else(|| "(no summary)".into()),
        findings: findings.iter().filter_map(finding).take(MAX_ITEMS).collect(),
        questions: strings("questions"),
        assumptions: strings("assumptions"),
        next_steps: strings("next_steps"),
        verdict: None,
        confidence: None,
    }
}

/// A finding only when it has the schema's shape; optional members may be absent or null.
fn finding(value: &Value) -> Option<Finding> {
    let object = value.as_object()?;
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(|s| clean(s, FIELD_CHARS));
    let line = |key: &str| match object.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(v) => v.as_u64().map(Some),
    };
    Some(Finding {
        severity: pick(SEVERITIES, object.get("severity")?.as_str()?)?.to_string(),
        title: text("title").filter(|t| !t.trim().is_empty())?,
        file: match object.get("file") {
            None | Some(Value::Null) => None,
            Some(v) => Some(clean(v.as_str()?, FIELD_CHARS)),
        },
        line: line("line")?,
        line_end: line("line_end")?,
        evidence: text("evidence").unwrap_or_default(),
        risk: text("risk").unwrap_or_default(),
        recommendation: text("recommendation").unwrap_or_default(),
    })
}

/// Foreign text made safe for an envelope: controls stripped (newlines kept), redacted, bounded.
pub fn clean(text: &str, max_chars: usize) -> String {
    let stripped = crate::text::strip_controls(text, true);
    crate::text::bounded(&crate::redact::text(&stripped).text, max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINDING: &str = r#"{"severity":"high","title":"Off by one","file":"src/a.rs","line":3,"line_end":null,"evidence":"e","risk":"r","recommendation":"fix"}"#;

    #[test]
    fn schemas_are_strict_mode_valid() {
        for schema in [consult_schema(), review_schema()] {
            let properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
            let required: Vec<&str> =
                schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(properties.len(), required.len());
            assert!(properties.iter().all(|p| required.contains(&p.as_str())));
            assert_eq!(schema["additionalProperties"], json!(false));
        }
    }

    #[test]
    fn review_parses_verdict_findings_and_drops_bad_items() {
        let text = format!(
            r#"{{"summary":"s","verdict":"concerns","confidence":"high","findings":[{FINDING},{{"severity":"bogus"}},7],"questions":["q",1,{{}}],"assumptions":[],"next_steps":["n"]}}"#
        );
        let answer = review(Some(&text)).unwrap();
        assert_eq!((answer.verdict, answer.confidence), (Some("concerns"), Some("high")));
        assert_eq!(answer.findings.len(), 1);
        assert_eq!(answer.findings[0].line, Some(3));
        assert_eq!(answer.questions, vec!["q", "1"]);
    }

    #[test]
    fn fenced_json_is_accepted() {
        let text = "```json\n{\"summary\":\"ok\",\"verdict\":\"pass\",\"confidence\":\"low\"}\n```";
        assert_eq!(review(Some(text)).unwrap().verdict, Some("pass"));
    }

    #[test]
    fn review_rejects_prose_non_objects_and_missing_verdicts() {
        assert_eq!(review(Some("Looks good to me!")).unwrap_err().code, ErrorCode::InvalidJson);
        assert_eq!(review(None).unwrap_err().code, ErrorCode::InvalidJson);
        assert_eq!(review(Some("[1,2]")).unwrap_err().code, ErrorCode::SchemaViolation);
        let bad_verdict = r#"{"summary":"s","verdict":"great","confidence":"high"}"#;
        let error = review(Some(bad_verdict)).unwrap_err();
        assert_eq!(error.code, ErrorCode::SchemaViolation);
        assert!(error.message.contains("verdict"), "{}", error.message);
    }

    #[test]
    fn consult_accepts_prose_as_the_summary() {
        assert_eq!(consult(Some("  Use a mutex.  ")).summary, "Use a mutex.");
        assert_eq!(consult(None).summary, "(codex returned no message)");
        let structured =
            consult(Some(r#"{"summary":"","findings":[],"questions":[],"assumptions":[],"next_steps":[]}"#));
        assert_eq!(structured.summary, "(no summary)");
    }

    #[test]
    fn answer_text_is_sanitised_and_bounded() {
        let long = "x".repeat(SUMMARY_CHARS + 50);
        let text = format!(r#"{{"summary":"a\u001b[2Jb {long}"}}"#);
        let summary = consult(Some(&text)).summary;
        assert!(!summary.contains('\u{1b}'));
        assert_eq!(summary.chars().count(), SUMMARY_CHARS);
    }
}
