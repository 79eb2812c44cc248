//! Codex's final answer: the JSON Schemas sent with `--output-schema` (OpenAI strict mode: every
//! property required, nullable where optional, no extra properties), and the parse of the `-o`
//! file back into an `Answer`.
//!
//! codex does not validate the answer against the schema (docs/codex-cli.md §2), so parsing is
//! ours: tolerant where a slip costs nothing (a fenced block, `"HIGH"` for `"high"`, a line
//! number written as text), and strict where it would mislead (a review without a valid verdict
//! is not a review; no final message is no answer). Tolerance is never silent: every severity
//! mapped, line number nulled, item dropped or text cut is listed in the answer's `Adjustments`,
//! which the tools report in `meta`. Every string that comes back is foreign text: control
//! characters stripped, redacted, bounded.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value, json};

pub use crate::foundation::policy::Severity;
use crate::foundation::policy::closed_set;

closed_set! {
    /// A review's verdict.
    Verdict { Pass = "pass", Concerns = "concerns", Fail = "fail", Unknown = "unknown" }
}
closed_set! {
    /// A plan review's verdicts: sound as written, worth doing once the findings are addressed,
    /// or the wrong approach.
    PlanVerdict { Approve = "approve", Revise = "revise", Reject = "reject" }
}
closed_set! {
    /// How sure Codex is of a verdict.
    Confidence { Low = "low", Medium = "medium", High = "high" }
}

/// Other names for our severities (Codex's own reviews rank P0 to P3), matched case-insensitively.
const SEVERITY_SYNONYMS: &[(&str, Severity)] = &[
    ("blocker", Severity::Critical),
    ("p0", Severity::Critical),
    ("major", Severity::High),
    ("error", Severity::High),
    ("p1", Severity::High),
    ("moderate", Severity::Medium),
    ("warning", Severity::Medium),
    ("p2", Severity::Medium),
    ("minor", Severity::Low),
    ("p3", Severity::Low),
    ("info", Severity::Nit),
    ("informational", Severity::Nit),
    ("note", Severity::Nit),
    ("trivial", Severity::Nit),
    ("style", Severity::Nit),
    ("nitpick", Severity::Nit),
];
/// Where a severity we cannot place goes: the middle, neither dismissed nor alarming; the
/// finding keeps what Codex wrote in `severity_original`.
const UNKNOWN_SEVERITY: Severity = Severity::Medium;

/// Bounds on what one answer may carry into an envelope.
pub const SUMMARY_CHARS: usize = 20_000;
const FIELD_CHARS: usize = 4_000;
const MAX_ITEMS: usize = 100;
/// Longest `severity_original` kept (characters).
const SEVERITY_CHARS: usize = 64;

/// One evidence-tied issue, as in the reference `Finding`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// What Codex wrote when it was not one of our severities (in any case); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity_original: Option<String>,
    pub title: String,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub line_end: Option<u64>,
    pub evidence: String,
    pub risk: String,
    pub recommendation: String,
}

/// A parsed answer. `verdict` (a `Verdict` for a review, a `PlanVerdict` for a plan review) and
/// `confidence` are set for reviews and plan reviews only.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<V> {
    pub summary: String,
    pub findings: Vec<Finding>,
    pub questions: Vec<String>,
    pub assumptions: Vec<String>,
    pub next_steps: Vec<String>,
    pub verdict: Option<V>,
    pub confidence: Option<Confidence>,
    pub adjustments: Adjustments,
}

impl<V> Default for Answer<V> {
    fn default() -> Answer<V> {
        Answer {
            summary: String::new(),
            findings: Vec::new(),
            questions: Vec::new(),
            assumptions: Vec::new(),
            next_steps: Vec::new(),
            verdict: None,
            confidence: None,
            adjustments: Adjustments::default(),
        }
    }
}

/// What parsing changed in an answer to fit the result. The tools report `cuts` in
/// `meta.truncated`/`truncation_hint` and `warnings` in `meta.answer_warnings`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adjustments {
    /// What a size bound cut, e.g. "150 findings, 100 returned".
    pub cuts: Vec<String>,
    /// What was mapped, replaced or dropped to fit the schema.
    pub warnings: Vec<String>,
    /// A finding was left out or cut short: a review reporting this cannot pass.
    pub findings_incomplete: bool,
}

fn finding_schema() -> Value {
    let text = json!({"type": "string"});
    let nullable = |t: &str| json!({"type": [t, "null"]});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["severity", "title", "file", "line", "line_end", "evidence", "risk", "recommendation"],
        "properties": {
            "severity": {"type": "string", "enum": Severity::NAMES},
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
    verdict_schema(Verdict::NAMES)
}

/// The schema of a plan review's answer: a review's, with the plan verdicts.
pub fn plan_schema() -> Value {
    verdict_schema(PlanVerdict::NAMES)
}

fn verdict_schema(verdicts: &[&str]) -> Value {
    let mut schema = consult_schema();
    schema["required"] =
        json!(["summary", "verdict", "confidence", "findings", "questions", "assumptions", "next_steps"]);
    schema["properties"]["verdict"] = json!({"type": "string", "enum": verdicts});
    schema["properties"]["confidence"] = json!({"type": "string", "enum": Confidence::NAMES});
    schema
}

/// Why codex's final message is no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// The turn completed without a final message: there is no answer, and an `ok:true` around
    /// a placeholder would read as one.
    NoFinalMessage,
    NotJson,
    /// JSON, but not an object.
    NotObject,
    /// A verdicted answer (`what`: a review, a plan review) whose `fields` are missing or
    /// invalid.
    Incomplete {
        what: &'static str,
        fields: Vec<&'static str>,
    },
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerError::NoFinalMessage => {
                write!(f, "codex completed its turn but sent no final message; there is no answer to report")
            }
            AnswerError::NotJson => write!(f, "codex's final message is not JSON"),
            AnswerError::NotObject => write!(f, "codex's final message is JSON but not an object"),
            AnswerError::Incomplete { what, fields } => {
                write!(f, "codex's {what} is missing or has invalid {}", fields.join(", "))
            }
        }
    }
}

/// A consult answer. Prose instead of JSON is still an answer to a question: it becomes the
/// summary. No message at all is `no_final_message`.
pub fn consult<V>(text: Option<&str>) -> Result<Answer<V>, AnswerError> {
    let text = text.ok_or(AnswerError::NoFinalMessage)?;
    Ok(match parse_object(text) {
        Ok(object) => fields(&object),
        Err(_) => {
            let mut adjustments = Adjustments::default();
            let summary = prose_summary(text, &mut adjustments).ok_or(AnswerError::NoFinalMessage)?;
            Answer { summary, adjustments, ..Answer::default() }
        }
    })
}

/// A final message read as prose (a delegation's report, a consult answer that is not JSON):
/// sanitised and bounded, the cut recorded in `adjustments`. `None` when nothing is left.
pub fn prose_summary(text: &str, adjustments: &mut Adjustments) -> Option<String> {
    let (summary, cut) = clean_measured(text.trim(), SUMMARY_CHARS);
    if cut {
        adjustments.cuts.push(format!(
            "codex's message was cut to {SUMMARY_CHARS} characters for summary (detail=full returns more in raw_response.text)"
        ));
    }
    (!summary.trim().is_empty()).then_some(summary)
}

/// A review answer, which must be the schema's JSON: a prose "review" has no verdict an agent
/// could trust, so it is an error (`invalid_json` / `schema_violation`), never a silent pass.
pub fn review(text: Option<&str>) -> Result<Answer<Verdict>, AnswerError> {
    verdicted(text, Verdict::parse, "review")
}

/// A plan review's answer, held to a review's rules with the plan verdicts.
pub fn plan(text: Option<&str>) -> Result<Answer<PlanVerdict>, AnswerError> {
    verdicted(text, PlanVerdict::parse, "plan review")
}

/// An answer that must carry a summary, a verdict `verdict` reads and a confidence.
fn verdicted<V>(
    text: Option<&str>,
    verdict: fn(&str) -> Option<V>,
    what: &'static str,
) -> Result<Answer<V>, AnswerError> {
    let text = text.ok_or(AnswerError::NoFinalMessage)?;
    let object = parse_object(text)?;
    let mut answer = fields(&object);
    let word = |key: &str| object.get(key).and_then(Value::as_str).map(|v| v.trim().to_ascii_lowercase());
    answer.verdict = word("verdict").and_then(|v| verdict(&v));
    answer.confidence = word("confidence").and_then(|v| Confidence::parse(&v));
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
        return Err(AnswerError::Incomplete { what, fields: missing });
    }
    Ok(answer)
}

/// The JSON object in `text`, allowing one surrounding Markdown code fence.
fn parse_object(text: &str) -> Result<Map<String, Value>, AnswerError> {
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .map(|body| body.split_once('\n').map_or("", |(_, json)| json))
        .unwrap_or(trimmed);
    match serde_json::from_str::<Value>(unfenced) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(AnswerError::NotObject),
        Err(_) => Err(AnswerError::NotJson),
    }
}

/// What reading the fields had to change, counted, then reported once per kind.
#[derive(Default)]
struct Tally {
    severities_mapped: usize,
    lines_nulled: usize,
    titles_missing: usize,
    finding_fields_cut: usize,
    list_items_cut: usize,
    /// Finding entries that were neither objects nor text, and null list items.
    findings_dropped: usize,
    list_items_dropped: usize,
}

/// The fields both answer kinds share. Nothing is dropped unsaid: what does not fit is mapped,
/// nulled or cut and counted in the answer's `adjustments`.
fn fields<V>(object: &Map<String, Value>) -> Answer<V> {
    let mut tally = Tally::default();
    let mut adjustments = Adjustments::default();
    let summary = match object.get("summary").and_then(text_of).filter(|s| !s.trim().is_empty()) {
        Some(text) => {
            let (summary, cut) = clean_measured(text.trim(), SUMMARY_CHARS);
            if cut {
                adjustments.cuts.push(format!("summary cut to {SUMMARY_CHARS} characters"));
            }
            summary
        }
        None => {
            adjustments.warnings.push("codex's answer had no summary".into());
            "(no summary)".into()
        }
    };
    let mut findings = Vec::new();
    for entry in items(object.get("findings")) {
        match finding(entry, &mut tally) {
            Some(finding) => findings.push(finding),
            None => tally.findings_dropped += 1,
        }
    }
    capped(&mut findings, "findings", &mut adjustments);
    let mut list = |key: &str| -> Vec<String> {
        let mut out = Vec::new();
        for item in items(object.get(key)) {
            let Some(text) = text_of(item) else {
                tally.list_items_dropped += 1;
                continue;
            };
            let (text, cut) = clean_measured(&text, FIELD_CHARS);
            tally.list_items_cut += usize::from(cut);
            out.push(text);
        }
        capped(&mut out, key, &mut adjustments);
        out
    };
    let (questions, assumptions, next_steps) = (list("questions"), list("assumptions"), list("next_steps"));
    adjustments.findings_incomplete |= tally.findings_dropped > 0 || tally.finding_fields_cut > 0;
    tally.report(&mut adjustments);
    Answer { summary, findings, questions, assumptions, next_steps, verdict: None, confidence: None, adjustments }
}

/// Keeps the first `MAX_ITEMS` of `items`, recording the cut (a cut finding makes the findings
/// incomplete).
fn capped<T>(items: &mut Vec<T>, name: &str, adjustments: &mut Adjustments) {
    if items.len() > MAX_ITEMS {
        adjustments.cuts.push(format!("{} {name}, {MAX_ITEMS} returned", items.len()));
        adjustments.findings_incomplete |= name == "findings";
        items.truncate(MAX_ITEMS);
    }
}

impl Tally {
    fn report(&self, adjustments: &mut Adjustments) {
        let mut warn = |count: usize, what: &str| {
            if count > 0 {
                adjustments.warnings.push(format!("{count} {what}"));
            }
        };
        warn(
            self.severities_mapped,
            &format!(
                "finding severities were not {}: synonyms were mapped to their match, anything else to \
                 {UNKNOWN_SEVERITY}; severity_original keeps what codex wrote",
                Severity::NAMES.join("/")
            ),
        );
        warn(self.lines_nulled, "finding line numbers were not positive integers and were set to null");
        warn(self.titles_missing, "findings had no title and were given \"(no title)\"");
        warn(self.findings_dropped, "findings were neither objects nor text and were dropped");
        warn(self.list_items_dropped, "null items in questions, assumptions or next_steps were dropped");
        if self.finding_fields_cut > 0 {
            adjustments
                .cuts
                .push(format!("{} finding fields cut to {FIELD_CHARS} characters", self.finding_fields_cut));
        }
        if self.list_items_cut > 0 {
            adjustments.cuts.push(format!(
                "{} items of questions, assumptions or next_steps cut to {FIELD_CHARS} characters",
                self.list_items_cut
            ));
        }
    }
}

/// The entries of a list member; a lone value where a list belongs is a one-item list.
fn items(value: Option<&Value>) -> &[Value] {
    match value {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(other) => std::slice::from_ref(other),
    }
}

/// A value as text: a string as it is, a number, boolean, list or object as its JSON; null has
/// none.
fn text_of(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(Cow::Borrowed(text)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// A finding from an object, or from bare text (taken as its title). A bad member never drops
/// the finding: it is mapped, nulled or replaced, and counted in `tally`.
fn finding(value: &Value, tally: &mut Tally) -> Option<Finding> {
    let object = match value {
        Value::Object(object) => Cow::Borrowed(object),
        Value::String(text) if !text.trim().is_empty() => Cow::Owned(Map::from_iter([("title".into(), value.clone())])),
        _ => return None,
    };
    let mut text = |key: &str| -> String {
        let Some(raw) = object.get(key).and_then(text_of) else { return String::new() };
        let (cleaned, cut) = clean_measured(&raw, FIELD_CHARS);
        tally.finding_fields_cut += usize::from(cut);
        cleaned
    };
    let (title, file) = (text("title"), text("file"));
    let (evidence, risk, recommendation) = (text("evidence"), text("risk"), text("recommendation"));
    let (severity, severity_original) = severity(object.get("severity"));
    tally.severities_mapped += usize::from(severity_original.is_some());
    let title = if title.trim().is_empty() {
        tally.titles_missing += 1;
        "(no title)".to_string()
    } else {
        title
    };
    Some(Finding {
        severity,
        severity_original,
        title,
        file: (!file.trim().is_empty()).then_some(file),
        line: line_number(object.get("line"), tally),
        line_end: line_number(object.get("line_end"), tally),
        evidence,
        risk,
        recommendation,
    })
}

/// Codex's severity in our set: one of ours in any case, else a synonym, else `UNKNOWN_SEVERITY`.
/// What Codex wrote comes back too when it was not one of ours, to be kept on the finding.
fn severity(value: Option<&Value>) -> (Severity, Option<String>) {
    let written = value.and_then(text_of).map(|s| s.trim().to_string()).unwrap_or_default();
    let lower = written.to_ascii_lowercase();
    if let Some(ours) = Severity::parse(&lower) {
        return (ours, None);
    }
    let mapped =
        SEVERITY_SYNONYMS.iter().find(|(synonym, _)| *synonym == lower).map_or(UNKNOWN_SEVERITY, |(_, to)| *to);
    let original = if written.is_empty() { "(missing)".to_string() } else { clean(&written, SEVERITY_CHARS) };
    (mapped, Some(original))
}

/// A line number: a positive integer, or text holding one (`"12"`). Anything else (zero,
/// negative, fractional, other text) is unusable: null, counted in `tally`.
fn line_number(value: Option<&Value>, tally: &mut Tally) -> Option<u64> {
    let line = match value? {
        Value::Null => return None,
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    }
    .filter(|&line| line > 0);
    tally.lines_nulled += usize::from(line.is_none());
    line
}

/// Foreign text made safe for an envelope: controls stripped (newlines kept), redacted, bounded.
pub fn clean(text: &str, max_chars: usize) -> String {
    clean_measured(text, max_chars).0
}

/// `clean`, and whether the bound cut anything.
pub fn clean_measured(text: &str, max_chars: usize) -> (String, bool) {
    let redacted = crate::foundation::redact::text(&crate::foundation::text::strip_controls(text, true)).text;
    let cut = redacted.chars().count() > max_chars;
    (crate::foundation::text::bounded(&redacted, max_chars), cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINDING: &str = r#"{"severity":"high","title":"Off by one","file":"src/a.rs","line":3,"line_end":null,"evidence":"e","risk":"r","recommendation":"fix"}"#;

    #[test]
    fn schemas_are_strict_mode_valid() {
        for schema in [consult_schema(), review_schema(), plan_schema()] {
            let properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
            let required: Vec<&str> =
                schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(properties.len(), required.len());
            assert!(properties.iter().all(|p| required.contains(&p.as_str())));
            assert_eq!(schema["additionalProperties"], json!(false));
        }
    }

    fn finding_with(members: Value) -> Value {
        let mut finding: Value = serde_json::from_str(FINDING).unwrap();
        finding.as_object_mut().unwrap().extend(members.as_object().unwrap().clone());
        finding
    }

    fn consult_with_findings(findings: Value) -> Answer<Verdict> {
        consult::<Verdict>(Some(&json!({"summary": "s", "findings": findings}).to_string())).unwrap()
    }

    #[test]
    fn review_parses_verdict_and_keeps_findings_with_bad_members() {
        let text = format!(
            r#"{{"summary":"s","verdict":"Concerns","confidence":"HIGH","findings":[{FINDING},{{"severity":"bogus"}},7,"Bare text finding"],"questions":["q",1,{{}},null],"assumptions":[],"next_steps":["n"]}}"#
        );
        let answer = review(Some(&text)).unwrap();
        assert_eq!((answer.verdict, answer.confidence), (Some(Verdict::Concerns), Some(Confidence::High)));
        let titles: Vec<&str> = answer.findings.iter().map(|f| f.title.as_str()).collect();
        assert_eq!(titles, ["Off by one", "(no title)", "Bare text finding"]);
        assert_eq!(answer.findings[0].line, Some(3));
        assert_eq!(answer.findings[1].severity_original.as_deref(), Some("bogus"));
        assert_eq!(answer.findings[2].severity_original.as_deref(), Some("(missing)"));
        assert_eq!(answer.questions, vec!["q", "1", "{}"]);
        let adjustments = &answer.adjustments;
        assert!(adjustments.findings_incomplete, "the 7 was dropped: {adjustments:?}");
        for said in [
            "1 findings were neither objects nor text",
            "2 finding severities",
            "1 findings had no title",
            "1 null items",
        ] {
            assert!(adjustments.warnings.iter().any(|w| w.starts_with(said)), "{said}: {adjustments:?}");
        }
    }

    #[test]
    fn severities_are_matched_in_any_case_and_mapped_never_dropped() {
        let cases = [
            (json!("HIGH"), Severity::High, None),
            (json!(" Nit "), Severity::Nit, None),
            (json!("info"), Severity::Nit, Some("info")),
            (json!("Informational"), Severity::Nit, Some("Informational")),
            (json!("note"), Severity::Nit, Some("note")),
            (json!("Blocker"), Severity::Critical, Some("Blocker")),
            (json!("P1"), Severity::High, Some("P1")),
            (json!("urgent"), Severity::Medium, Some("urgent")),
            (json!(3), Severity::Medium, Some("3")),
            (Value::Null, Severity::Medium, Some("(missing)")),
        ];
        let findings: Vec<Value> =
            cases.iter().map(|(severity, _, _)| finding_with(json!({"severity": severity}))).collect();
        let answer = consult_with_findings(json!(findings));
        assert_eq!(answer.findings.len(), cases.len());
        for ((written, want, original), got) in cases.iter().zip(&answer.findings) {
            assert_eq!((got.severity, got.severity_original.as_deref()), (*want, *original), "{written}");
        }
        let mapped = answer.adjustments.warnings.iter().find(|w| w.contains("severities")).unwrap();
        assert!(mapped.starts_with("8 finding severities") && mapped.contains("to medium"), "{mapped}");
        assert!(!answer.adjustments.findings_incomplete);
        let serialised = serde_json::to_value(&answer.findings[0]).unwrap();
        assert!(serialised.get("severity_original").is_none(), "only mapped findings carry it: {serialised}");
    }

    #[test]
    fn unusable_line_numbers_become_null_and_the_finding_stays() {
        let lines = [json!(-3), json!(0), json!(2.5), json!("abc"), json!(true), json!("12"), json!(7), Value::Null];
        let findings: Vec<Value> = lines.iter().map(|line| finding_with(json!({"line": line}))).collect();
        let answer = consult_with_findings(json!(findings));
        let got: Vec<Option<u64>> = answer.findings.iter().map(|f| f.line).collect();
        assert_eq!(got, [None, None, None, None, None, Some(12), Some(7), None]);
        assert!(answer.adjustments.warnings.iter().any(|w| w.starts_with("5 finding line numbers")), "{answer:?}");
    }

    #[test]
    fn every_cut_is_recorded() {
        let many: Vec<Value> = (0..150).map(|i| finding_with(json!({"title": format!("f{i}")}))).collect();
        let questions: Vec<String> = (0..130).map(|i| format!("q{i}")).collect();
        let long = "y".repeat(FIELD_CHARS + 1);
        let mut findings = many;
        findings[0]["evidence"] = json!(long);
        let text = json!({"summary": "z".repeat(SUMMARY_CHARS + 1), "findings": findings, "questions": questions});
        let answer = consult::<Verdict>(Some(&text.to_string())).unwrap();
        assert_eq!((answer.findings.len(), answer.questions.len()), (MAX_ITEMS, MAX_ITEMS));
        assert_eq!(answer.findings[0].evidence.chars().count(), FIELD_CHARS);
        let cuts = &answer.adjustments.cuts;
        for said in [
            "summary cut to 20000 characters",
            "150 findings, 100 returned",
            "130 questions, 100 returned",
            "1 finding fields cut to 4000 characters",
        ] {
            assert!(cuts.iter().any(|c| c == said), "{said}: {cuts:?}");
        }
        assert!(answer.adjustments.findings_incomplete);
        let clean = consult_with_findings(json!([finding_with(json!({}))]));
        assert_eq!(clean.adjustments, Adjustments::default(), "nothing to report for a well-formed answer");
    }

    #[test]
    fn fenced_json_is_accepted() {
        let text = "```json\n{\"summary\":\"ok\",\"verdict\":\"pass\",\"confidence\":\"low\"}\n```";
        assert_eq!(review(Some(text)).unwrap().verdict, Some(Verdict::Pass));
    }

    #[test]
    fn review_rejects_prose_non_objects_and_missing_verdicts() {
        assert_eq!(review(Some("Looks good to me!")).unwrap_err(), AnswerError::NotJson);
        assert_eq!(review(Some("[1,2]")).unwrap_err(), AnswerError::NotObject);
        let bad_verdict = r#"{"summary":"s","verdict":"great","confidence":"high"}"#;
        let error = review(Some(bad_verdict)).unwrap_err();
        assert_eq!(error, AnswerError::Incomplete { what: "review", fields: vec!["verdict"] });
        assert!(error.to_string().contains("verdict"), "{error}");
    }

    #[test]
    fn a_plan_review_takes_the_plan_verdicts_only() {
        let answer = |verdict: &str| {
            plan(Some(&json!({"summary": "s", "verdict": verdict, "confidence": "low", "findings": []}).to_string()))
        };
        assert_eq!(answer(" Revise ").unwrap().verdict, Some(PlanVerdict::Revise));
        let error = answer("pass").unwrap_err();
        assert_eq!(error, AnswerError::Incomplete { what: "plan review", fields: vec!["verdict"] });
        assert_eq!(error.to_string(), "codex's plan review is missing or has invalid verdict");
        assert_eq!(plan_schema()["properties"]["verdict"]["enum"], json!(["approve", "revise", "reject"]));
        assert_eq!(review(Some("{}")).unwrap_err().to_string().split(" is ").next(), Some("codex's review"));
    }

    #[test]
    fn no_final_message_is_an_error_not_an_answer() {
        assert_eq!(review(None).unwrap_err(), AnswerError::NoFinalMessage);
        assert_eq!(consult::<Verdict>(None).unwrap_err(), AnswerError::NoFinalMessage);
        assert_eq!(consult::<Verdict>(Some(" \u{1b}\u{202E}\u{7} ")).unwrap_err(), AnswerError::NoFinalMessage);
    }

    #[test]
    fn consult_accepts_prose_as_the_summary() {
        assert_eq!(consult::<Verdict>(Some("  Use a mutex.  ")).unwrap().summary, "Use a mutex.");
        let structured =
            consult::<Verdict>(Some(r#"{"summary":"","findings":[],"questions":[],"assumptions":[],"next_steps":[]}"#))
                .unwrap();
        assert_eq!(structured.summary, "(no summary)");
        assert_eq!(structured.adjustments.warnings, ["codex's answer had no summary"]);
    }

    #[test]
    fn long_prose_is_cut_and_says_so() {
        let answer = consult::<Verdict>(Some(&"word ".repeat(SUMMARY_CHARS))).unwrap();
        assert_eq!(answer.summary.chars().count(), SUMMARY_CHARS);
        assert_eq!(answer.adjustments.cuts.len(), 1, "{:?}", answer.adjustments);
        assert!(answer.adjustments.cuts[0].contains("cut to 20000 characters"));
    }

    #[test]
    fn answer_text_is_sanitised_and_bounded() {
        let long = "x".repeat(SUMMARY_CHARS + 50);
        let text = format!(r#"{{"summary":"a\u001b[2Jb\u202e\u2066c {long}"}}"#);
        let summary = consult::<Verdict>(Some(&text)).unwrap().summary;
        assert!(!summary.contains('\u{1b}') && !summary.contains('\u{202e}') && !summary.contains('\u{2066}'));
        assert!(summary.starts_with("a[2Jbc "), "{}", &summary[..10]);
        assert_eq!(summary.chars().count(), SUMMARY_CHARS);
    }
}
