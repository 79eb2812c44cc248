//! `review --format sarif`: a review's envelope as a SARIF 2.1.0 log for CI, and the exit status
//! its verdict gives.
//!
//! One run. Each finding that names a file is a result whose rule is its severity
//! (`codex-review/<severity>`: a small, fixed set, as code scanning expects rules to change only
//! with the tool), whose level follows the severity, whose location is its file, relative to the
//! repository's top level (`%SRCROOT%`), and its lines when it has them, and whose
//! `partialFingerprints` carry its `finding_id`, so the same problem is the same alert from one
//! run to the next. A finding that names no file is not a result: GitHub code scanning refuses a
//! whole log when one result has no location, so such findings go to the run's
//! `properties.findings_without_file`, and a notification says so. Nothing else of the envelope
//! is dropped: every other member (verdict, summary, coverage, `meta` with its truncation and
//! redaction notes, an error) is kept in the run's `properties`, and an error, a review that saw
//! only part of the change, or one that was not run is also said in a tool execution
//! notification. An error still gives a valid log, with `executionSuccessful: false`, so a
//! pipeline's upload step works.
//!
//! Envelopes are read defensively: a member that is absent counts as null or empty.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::adapters::codex::answer::Verdict;
use crate::foundation::identity::{SERVER_NAME, VERSION};
use crate::foundation::policy::Severity;
use crate::tools::{CoverageStatus, ReviewStatus};

/// The schema a log names: the OASIS Standard's, errata 01.
const SCHEMA_URI: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// What relative artifact URIs are resolved against: the repository's top level.
const SRCROOT: &str = "%SRCROOT%";
/// The rule id of a finding is this, `/`, and its severity.
const RULE_PREFIX: &str = "codex-review";
/// The key of the finding id in `partialFingerprints`.
const FINGERPRINT_KEY: &str = "findingId/v1";

/// Exit statuses: the verdict is fine, the verdict fails the build, the review did not complete.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED_VERDICT: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// `--fail-on`: the least verdict that exits 1. Verdicts rank pass < unknown < concerns < fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Anything but a pass: a review that could not tell is not a pass.
    #[default]
    Unknown,
    Concerns,
    Fail,
    /// Exit 0 whatever the verdict (errors still exit 2).
    Never,
}

impl FailOn {
    pub const NAMES: &'static str = "unknown, concerns, fail or never";

    pub fn parse(word: &str) -> Option<FailOn> {
        match word {
            "unknown" => Some(FailOn::Unknown),
            "concerns" => Some(FailOn::Concerns),
            "fail" => Some(FailOn::Fail),
            "never" => Some(FailOn::Never),
            _ => None,
        }
    }

    /// The rank of the least verdict that fails; `Never` is above every verdict.
    fn threshold(self) -> u8 {
        match self {
            FailOn::Unknown => 1,
            FailOn::Concerns => 2,
            FailOn::Fail => 3,
            FailOn::Never => u8::MAX,
        }
    }
}

/// A verdict's rank for `--fail-on`; a verdict we do not know is treated as `unknown`.
fn verdict_rank(verdict: &str) -> u8 {
    match Verdict::parse(verdict).unwrap_or(Verdict::Unknown) {
        Verdict::Pass => 0,
        Verdict::Unknown => 1,
        Verdict::Concerns => 2,
        Verdict::Fail => 3,
    }
}

/// A review envelope's SARIF log and exit status.
pub struct Report {
    log: Log,
    pub exit_status: u8,
}

impl Report {
    /// From the envelope of `codex_review_changes`: findings as results, the rest as properties.
    pub fn from_envelope(envelope: &Value, fail_on: FailOn) -> Report {
        let ok = envelope["ok"] == Value::Bool(true);
        // Nothing to review is fine; untracked files left out of it were not looked at, so the
        // verdict (`unknown`) decides.
        let nothing_to_review = envelope["review_status"] == ReviewStatus::NotRun.as_str()
            && envelope["coverage"]["omission_reasons"].as_array().is_none_or(Vec::is_empty);
        let exit_status = if !ok {
            EXIT_ERROR
        } else if nothing_to_review || verdict_rank(text(&envelope["verdict"])) < fail_on.threshold() {
            EXIT_OK
        } else {
            EXIT_FAILED_VERDICT
        };
        let findings: &[Value] = envelope["findings"].as_array().map_or(&[], Vec::as_slice);
        let mut rules: Vec<Rule> = Vec::new();
        let mut results = Vec::new();
        let mut unplaced = Vec::new();
        for finding in findings {
            let Some(file) = finding["file"].as_str().filter(|file| !file.trim().is_empty()) else {
                unplaced.push(finding.clone());
                continue;
            };
            let severity = text(&finding["severity"]);
            let rule_index = match rules.iter().position(|rule| rule.severity == severity) {
                Some(index) => index,
                None => {
                    rules.push(Rule::for_severity(severity));
                    rules.len() - 1
                }
            };
            results.push(SarifResult::from_finding(finding, file, &rules[rule_index], rule_index));
        }
        let mut properties = envelope.as_object().cloned().unwrap_or_default();
        properties.remove("findings");
        let mut notifications =
            if ok { review_notifications(envelope) } else { vec![error_notification(&envelope["error"])] };
        if !unplaced.is_empty() {
            notifications.push(Notification::new(
                Level::Warning,
                format!(
                    "{} finding(s) name no file; code scanning refuses a whole log when a result has no location, so they are in the run's properties.findings_without_file instead of results",
                    unplaced.len()
                ),
            ));
            properties.insert("findings_without_file".into(), Value::Array(unplaced));
        }
        let run = Run::new(rules, results, Invocation::new(ok, exit_status, notifications), properties);
        Report { log: Log::new(run), exit_status }
    }

    /// The log of a command line that could not be understood: no review ran.
    pub fn usage_error(message: &str) -> Report {
        let notification = Notification {
            level: Level::Error,
            message: Message::new(format!("usage error: {message}")),
            descriptor: Some(Descriptor { id: "invalid_arguments".into() }),
        };
        let mut properties = Map::new();
        properties.insert("error".into(), serde_json::json!({"code": "invalid_arguments", "message": message}));
        let run = Run::new(Vec::new(), Vec::new(), Invocation::new(false, EXIT_ERROR, vec![notification]), properties);
        Report { log: Log::new(run), exit_status: EXIT_ERROR }
    }

    /// The log as JSON and a line break, `$schema` and `version` first: indented with `pretty`.
    pub fn text(&self, pretty: bool) -> String {
        let json = if pretty { serde_json::to_string_pretty(&self.log) } else { serde_json::to_string(&self.log) };
        json.expect("a SARIF log serialises") + "\n"
    }
}

/// A string member, or "" when it is absent or not a string.
fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// What a completed or skipped review leaves out, said where SARIF viewers look for it.
fn review_notifications(envelope: &Value) -> Vec<Notification> {
    let mut notes = Vec::new();
    if envelope["review_status"] == ReviewStatus::NotRun.as_str() {
        let summary = Some(text(&envelope["summary"])).filter(|summary| !summary.is_empty());
        notes.push(Notification::new(Level::Note, summary.unwrap_or("Nothing to review; no model call.").to_string()));
    }
    let coverage = &envelope["coverage"];
    if !coverage["status"].is_null() && coverage["status"] != CoverageStatus::Complete.as_str() {
        let reasons: Vec<&str> = coverage["omission_reasons"].as_array().into_iter().flatten().map(text).collect();
        let mut message = format!(
            "coverage was {}: {}",
            text(&coverage["status"]),
            if reasons.is_empty() { "-".into() } else { reasons.join(", ") }
        );
        if let Some(reason) = coverage["degraded_reason"].as_str() {
            message.push_str(&format!(" ({reason})"));
        }
        notes.push(Notification::new(Level::Warning, message));
    }
    if let Some(hint) = envelope["meta"]["truncation_hint"].as_str() {
        notes.push(Notification::new(Level::Warning, format!("truncated: {hint}")));
    }
    notes
}

/// The error of an `ok:false` envelope: its code, message and repair.
fn error_notification(error: &Value) -> Notification {
    let code = error["code"].as_str().unwrap_or("internal_error");
    let mut message = format!("{code}: {}", error["message"].as_str().unwrap_or("the review failed"));
    if let Some(repair) = error["repair"].as_str() {
        message.push_str(&format!("; repair: {repair}"));
    }
    Notification {
        level: Level::Error,
        message: Message::new(message),
        descriptor: Some(Descriptor { id: code.into() }),
    }
}

/// A finding's SARIF level: critical/high are errors, medium (and a severity we do not know) a
/// warning, low/nit notes.
fn level(severity: &str) -> Level {
    match Severity::parse(severity).unwrap_or(Severity::Medium) {
        Severity::Critical | Severity::High => Level::Error,
        Severity::Medium => Level::Warning,
        Severity::Low | Severity::Nit => Level::Note,
    }
}

/// A finding's file as a URI reference: relative to the repository's top level (with the
/// `%SRCROOT%` base) as the review's diff names files, or a `file://` URI when Codex wrote an
/// absolute path.
fn artifact_location(file: &str) -> ArtifactLocation {
    let file = file.trim();
    match file.strip_prefix('/') {
        Some(absolute) => ArtifactLocation { uri: format!("file:///{}", percent_encoded(absolute)), uri_base_id: None },
        None => ArtifactLocation { uri: percent_encoded(file.trim_start_matches("./")), uri_base_id: Some(SRCROOT) },
    }
}

/// A path with every byte outside RFC 3986's unreserved set, sub-delimiters, `@` and `/`
/// percent-encoded (`:` too, which would make a relative path read as a scheme).
fn percent_encoded(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@/".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

impl Log {
    fn new(run: Run) -> Log {
        Log { schema: SCHEMA_URI, version: "2.1.0", runs: [run] }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    invocations: [Invocation; 1],
    original_uri_base_ids: Map<String, Value>,
    results: Vec<SarifResult>,
    properties: Map<String, Value>,
}

impl Run {
    fn new(rules: Vec<Rule>, results: Vec<SarifResult>, invocation: Invocation, properties: Map<String, Value>) -> Run {
        let mut base_ids = Map::new();
        base_ids.insert(SRCROOT.into(), serde_json::json!({"description": {"text": "The repository's top level."}}));
        Run {
            tool: Tool {
                driver: Driver {
                    name: SERVER_NAME,
                    version: VERSION,
                    semantic_version: VERSION,
                    information_uri: env!("CARGO_PKG_REPOSITORY"),
                    rules,
                },
            },
            invocations: [invocation],
            original_uri_base_ids: base_ids,
            results,
            properties,
        }
    }
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

/// One rule per severity that has findings.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Message,
    full_description: Message,
    default_configuration: Configuration,
    #[serde(skip)]
    severity: String,
}

impl Rule {
    fn for_severity(severity: &str) -> Rule {
        let shown = if severity.is_empty() { "unranked" } else { severity };
        Rule {
            id: format!("{RULE_PREFIX}/{shown}"),
            name: format!("CodexReview{}", capitalised(shown)),
            short_description: Message::new(format!("Codex review finding, severity {shown}")),
            full_description: Message::new(format!(
                "A problem Codex reported, with severity {shown}, in a review of the change; each result's message says what and why."
            )),
            default_configuration: Configuration { level: level(severity) },
            severity: severity.to_string(),
        }
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

#[derive(Serialize)]
struct Configuration {
    level: Level,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: Level,
    message: Message,
    locations: [Location; 1],
    #[serde(skip_serializing_if = "Map::is_empty")]
    partial_fingerprints: Map<String, Value>,
    /// The finding as the envelope has it, every member.
    properties: Map<String, Value>,
}

impl SarifResult {
    fn from_finding(finding: &Value, file: &str, rule: &Rule, rule_index: usize) -> SarifResult {
        let title = finding["title"].as_str().filter(|t| !t.trim().is_empty()).unwrap_or("(no title)");
        let mut message = title.to_string();
        for (label, key) in [("Risk", "risk"), ("Recommendation", "recommendation"), ("Evidence", "evidence")] {
            if let Some(value) = finding[key].as_str().filter(|v| !v.trim().is_empty()) {
                message.push_str(&format!("\n{label}: {value}"));
            }
        }
        let location = Location {
            physical_location: PhysicalLocation {
                artifact_location: artifact_location(file),
                region: finding["line"].as_u64().filter(|&line| line > 0).map(|start_line| Region {
                    start_line,
                    end_line: finding["line_end"].as_u64().filter(|&end| end >= start_line),
                }),
            },
        };
        let mut partial_fingerprints = Map::new();
        if let Some(id) = finding["finding_id"].as_str() {
            partial_fingerprints.insert(FINGERPRINT_KEY.into(), Value::String(id.to_string()));
        }
        SarifResult {
            rule_id: rule.id.clone(),
            rule_index,
            level: rule.default_configuration.level,
            message: Message::new(message),
            locations: [location],
            partial_fingerprints,
            properties: finding.as_object().cloned().unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    exit_code: u8,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

impl Invocation {
    fn new(successful: bool, exit_code: u8, notifications: Vec<Notification>) -> Invocation {
        Invocation { execution_successful: successful, exit_code, tool_execution_notifications: notifications }
    }
}

#[derive(Serialize)]
struct Notification {
    level: Level,
    message: Message,
    #[serde(skip_serializing_if = "Option::is_none")]
    descriptor: Option<Descriptor>,
}

impl Notification {
    fn new(level: Level, text: String) -> Notification {
        Notification { level, message: Message::new(text), descriptor: None }
    }
}

#[derive(Serialize)]
struct Descriptor {
    id: String,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

impl Message {
    fn new(text: String) -> Message {
        Message { text }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Error,
    Warning,
    Note,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_severity_has_its_level() {
        assert_eq!(
            Severity::NAMES,
            ["critical", "high", "medium", "low", "nit"],
            "a new severity needs its level here"
        );
        let levels: Vec<Level> = Severity::NAMES.iter().map(|s| level(s)).collect();
        assert_eq!(levels, [Level::Error, Level::Error, Level::Warning, Level::Note, Level::Note]);
    }

    #[test]
    fn the_exit_status_follows_the_verdict_and_fail_on() {
        assert_eq!(Verdict::NAMES, ["pass", "concerns", "fail", "unknown"], "a new verdict needs its rank here");
        let status = |verdict: &str, fail_on| {
            let envelope = json!({"ok": true, "verdict": verdict, "review_status": "completed"});
            Report::from_envelope(&envelope, fail_on).exit_status
        };
        let table = [
            (FailOn::Unknown, [0, 1, 1, 1]),
            (FailOn::Concerns, [0, 0, 1, 1]),
            (FailOn::Fail, [0, 0, 0, 1]),
            (FailOn::Never, [0, 0, 0, 0]),
        ];
        for (fail_on, want) in table {
            let got: Vec<u8> = ["pass", "unknown", "concerns", "fail"].iter().map(|v| status(v, fail_on)).collect();
            assert_eq!(got, want, "{fail_on:?}");
        }
        let not_run = json!({"ok": true, "verdict": "unknown", "review_status": "not_run"});
        assert_eq!(Report::from_envelope(&not_run, FailOn::Unknown).exit_status, EXIT_OK);
        let untracked_left_out = json!({"ok": true, "verdict": "unknown", "review_status": "not_run",
            "coverage": {"status": "partial", "omission_reasons": ["untracked_omitted"]}});
        assert_eq!(Report::from_envelope(&untracked_left_out, FailOn::Unknown).exit_status, EXIT_FAILED_VERDICT);
        assert_eq!(Report::from_envelope(&untracked_left_out, FailOn::Concerns).exit_status, EXIT_OK);
        assert_eq!(Report::from_envelope(&json!({"ok": false}), FailOn::Never).exit_status, EXIT_ERROR);
        for word in ["unknown", "concerns", "fail", "never"] {
            assert!(FailOn::parse(word).is_some() && FailOn::NAMES.contains(word), "{word}");
        }
    }

    #[test]
    fn paths_become_uri_references() {
        let relative = artifact_location("./src/my file:1%.rs");
        assert_eq!((relative.uri.as_str(), relative.uri_base_id), ("src/my%20file%3A1%25.rs", Some(SRCROOT)));
        let absolute = artifact_location("/home/ci/ré.rs");
        assert_eq!((absolute.uri.as_str(), absolute.uri_base_id), ("file:///home/ci/r%C3%A9.rs", None));
    }

    #[test]
    fn a_line_end_before_the_line_is_left_out_of_the_region() {
        let finding = json!({"severity": "low", "title": "t", "file": "a.rs", "line": 9, "line_end": 3});
        let result = SarifResult::from_finding(&finding, "a.rs", &Rule::for_severity("low"), 0);
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(value["locations"][0]["physicalLocation"]["region"], json!({"startLine": 9}));
        assert_eq!(value["properties"]["line_end"], json!(3), "the finding keeps what codex wrote");
    }
}
