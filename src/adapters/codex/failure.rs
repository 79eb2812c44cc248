//! Why a codex run failed, as a `CodexFailure` an agent can act on once the tools give it its
//! error code (docs/product.md §5 order): binary missing (decided at spawn, in `exec`) → timeout
//! → strict config → auth → CLI contract drift → rate limit → transient model failure →
//! `nonzero_exit`.
//!
//! The order matters: a rejected `-c` key is stderr-anchored and must not be mistaken for auth
//! or drift, and drift must never be mislabelled as a transient rate limit. Only failure text is
//! matched (stderr and the stream's error messages), never the model's answer or command output,
//! so a command that printed "401" cannot turn a failure into `codex_auth_required`.

use std::time::Duration;

use super::events::Stream;

/// Longest failure detail put in a message (characters).
const DETAIL_CHARS: usize = 300;
/// When a rate limit names no delay.
const DEFAULT_RETRY_AFTER_MS: u64 = 60_000;
/// When a transient model failure names no delay: codex has already retried it by then (its
/// own request and stream retries, docs/codex-cli.md §6), so the next try waits a little.
const DEFAULT_TRANSIENT_RETRY_MS: u64 = 15_000;
/// The longest wait taken from codex's text: a ChatGPT plan's longest usage window is a week,
/// so anything beyond (a garbled or hostile "Retry-After: 99999999999999") is capped here, and
/// the failure's detail says so.
const MAX_RETRY_AFTER_MS: u64 = 8 * 24 * 3_600_000;

const AUTH: &[&str] = &[
    "not logged in",
    "not authenticated",
    "please run `codex login`",
    "please run codex login",
    "run `codex login`",
    "401",
    "unauthorized",
];
const CONTRACT_DRIFT: &[&str] = &[
    "unexpected argument",
    "unrecognized subcommand",
    "unrecognized option",
    "unknown option",
    "unknown flag",
    "unknown feature flag",
    "invalid value",
    "invalid choice",
    "no such subcommand",
    "found argument",
];
const RATE_LIMIT: &[&str] = &["rate limit", "too many requests", "usage limit", "quota", "retry-after", "429"];
/// The model API failing for a while rather than for this request (docs/codex-cli.md §6): HTTP
/// 5xx (codex words a 500 as "high demand"), a stream dropped or gone idle, a model at capacity.
const TRANSIENT: &[&str] = &[
    "high demand",
    "temporary error",
    "stream disconnected",
    "at capacity",
    "overloaded",
    "internal server error",
    "bad gateway",
    "service unavailable",
    "gateway timeout",
    "connection failed",
];
/// codex's `--strict-config` rejection (docs/codex-cli.md §2).
/// What `exec resume` prints for an id it keeps no session for (docs/codex-cli.md §2).
const NO_SESSION: &str = "no rollout found for thread id";
const STRICT_CONFIG: &str = "unknown configuration field";
/// The strict-config rejection names a `-c` override (ours) rather than the user's file.
const OVERRIDE_MARKER: &str = "-c/--config override";

/// Why a run failed. `detail` is the most telling failure text, sanitised, redacted and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodexFailure {
    /// It did not finish within the call's timeout (`after`) and was stopped.
    TimedOut {
        after: Duration,
    },
    /// It sent no event for `after` and was stopped (`exec` decides this while the run goes).
    Stalled {
        after: Duration,
        last_activity: Option<String>,
    },
    Cancelled,
    /// `--strict-config` rejected a `-c` key we send: the CLI changed.
    OverrideRejected {
        line: String,
    },
    /// `--strict-config` rejected a key of the user's `config.toml`.
    UserConfigRejected {
        line: String,
    },
    /// `exec resume` found no session for the id it was given.
    NoSession,
    AuthRequired {
        exit: Exit,
        detail: String,
    },
    /// codex rejected a flag or subcommand we send.
    ContractChanged {
        exit: Exit,
        detail: String,
    },
    /// The model API is rate limiting or the plan is used up; retry after `retry_after_ms`.
    RateLimited {
        exit: Exit,
        detail: String,
        retry_after_ms: u64,
    },
    /// The model API failed for a while (HTTP 5xx, a dropped stream); retry after `retry_after_ms`.
    Transient {
        exit: Exit,
        detail: String,
        retry_after_ms: u64,
    },
    /// Any other failure.
    Exited {
        exit: Exit,
        detail: String,
    },
}

impl CodexFailure {
    /// codex was stopped from outside while it worked (timeout, stall, cancel), as opposed to a
    /// run that failed on its own: whatever it did so far is still there.
    pub fn stopped_mid_run(&self) -> bool {
        matches!(self, CodexFailure::TimedOut { .. } | CodexFailure::Stalled { .. } | CodexFailure::Cancelled)
    }
}

/// How a failed codex process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "codex exited {code}"),
            Exit::Signal => write!(f, "codex was killed by a signal"),
        }
    }
}

impl std::fmt::Display for CodexFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodexFailure::TimedOut { after } => {
                write!(f, "codex did not finish within {} s and was stopped", after.as_secs())
            }
            CodexFailure::Stalled { after, last_activity } => write!(
                f,
                "codex sent no event for {} s and was stopped; its last activity was: {}",
                after.as_secs(),
                last_activity.as_deref().unwrap_or("(none)")
            ),
            CodexFailure::Cancelled => write!(f, "the call was cancelled; codex was stopped"),
            CodexFailure::OverrideRejected { line } => write!(f, "codex rejected a config key we send: {line}"),
            CodexFailure::UserConfigRejected { line } => write!(f, "codex rejected the user's config.toml: {line}"),
            CodexFailure::NoSession => {
                write!(f, "codex keeps no session with this session_id (its session files are gone); nothing was sent")
            }
            CodexFailure::AuthRequired { exit, detail }
            | CodexFailure::ContractChanged { exit, detail }
            | CodexFailure::RateLimited { exit, detail, .. }
            | CodexFailure::Transient { exit, detail, .. }
            | CodexFailure::Exited { exit, detail } => write!(f, "{exit}: {detail}"),
        }
    }
}

/// What a finished run left behind to classify.
pub struct Evidence<'a> {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub timeout: Duration,
    pub stderr: &'a str,
    pub stream: &'a Stream,
}

/// `None` when the run succeeded.
pub fn classify(evidence: &Evidence) -> Option<CodexFailure> {
    if evidence.timed_out {
        return Some(CodexFailure::TimedOut { after: evidence.timeout });
    }
    if evidence.cancelled {
        // Never delivered over MCP (a cancelled call gets no response); kept for the CLI and jobs.
        return Some(CodexFailure::Cancelled);
    }
    if evidence.exit_code == Some(0) {
        return None;
    }
    let stderr = crate::foundation::text::strip_controls(evidence.stderr, true);
    let stderr = crate::foundation::redact::text(&stderr).text;
    let stream_error = evidence.stream.error_message.as_deref().unwrap_or_default();
    let failure_text = format!("{stderr}\n{stream_error}").to_ascii_lowercase();
    let stderr_lower = stderr.to_ascii_lowercase();
    let detail = detail(stream_error, &stderr);
    let exit = evidence.exit_code.map_or(Exit::Signal, Exit::Code);

    if let Some(line) = stderr.lines().find(|l| l.to_ascii_lowercase().contains(STRICT_CONFIG)) {
        let line = crate::foundation::text::one_line(line, DETAIL_CHARS);
        return Some(if line.contains(OVERRIDE_MARKER) {
            CodexFailure::OverrideRejected { line }
        } else {
            CodexFailure::UserConfigRejected { line }
        });
    }
    if stderr_lower.contains(NO_SESSION) {
        return Some(CodexFailure::NoSession);
    }
    if AUTH.iter().any(|p| contains_word(&failure_text, p)) {
        return Some(CodexFailure::AuthRequired { exit, detail });
    }
    if CONTRACT_DRIFT.iter().any(|p| stderr_lower.contains(p)) {
        return Some(CodexFailure::ContractChanged { exit, detail });
    }
    let now = crate::foundation::clock::now_ms();
    let said_wait = |default_ms: u64, detail: String| {
        let said =
            retry_at_ms(&failure_text, now).map(|at| at.saturating_sub(now)).or_else(|| retry_after_ms(&failure_text));
        match said {
            Some(wait) if wait > MAX_RETRY_AFTER_MS => (
                MAX_RETRY_AFTER_MS,
                format!("{detail} (codex named a wait of over {} days; capped there)", MAX_RETRY_AFTER_MS / 86_400_000),
            ),
            said => (said.unwrap_or(default_ms), detail),
        }
    };
    if RATE_LIMIT.iter().any(|p| contains_word(&failure_text, p)) {
        let (retry_after_ms, detail) = said_wait(DEFAULT_RETRY_AFTER_MS, detail);
        return Some(CodexFailure::RateLimited { exit, detail, retry_after_ms });
    }
    if TRANSIENT.iter().any(|p| failure_text.contains(p)) || server_error_status(&failure_text) {
        let (retry_after_ms, detail) = said_wait(DEFAULT_TRANSIENT_RETRY_MS, detail);
        return Some(CodexFailure::Transient { exit, detail, retry_after_ms });
    }
    Some(CodexFailure::Exited { exit, detail })
}

/// The most telling failure text: the stream's error, else the last non-empty stderr lines.
fn detail(stream_error: &str, stderr: &str) -> String {
    if !stream_error.trim().is_empty() {
        return crate::foundation::text::one_line(stream_error, DETAIL_CHARS);
    }
    // codex prints warnings first and the fatal error last.
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() { "no error text".to_string() } else { crate::foundation::text::one_line(&tail, DETAIL_CHARS) }
}

/// `needle` in `haystack`, not glued to a letter or digit where the needle itself starts or ends
/// with one: "4290" does not contain the word "429", "quota exceeded" contains "quota".
fn contains_word(haystack: &str, needle: &str) -> bool {
    let bytes = haystack.as_bytes();
    let glued = |i: usize| bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric());
    let first_is_word = needle.as_bytes()[0].is_ascii_alphanumeric();
    let last_is_word = needle.as_bytes()[needle.len() - 1].is_ascii_alphanumeric();
    haystack.match_indices(needle).any(|(at, _)| {
        let glued_before = first_is_word && at > 0 && glued(at - 1);
        let glued_after = last_is_word && glued(at + needle.len());
        !glued_before && !glued_after
    })
}

/// The delay in "try again in 20s", "retry after 30 seconds", "retry-after: 5", "retry_after=7",
/// "try again in 1m30s", "try again in 5 minutes", "try again in 250ms" (lower-cased input), as
/// milliseconds, rounded up to whole seconds. A bare number is seconds (HTTP's `Retry-After`);
/// a number followed by another word than a unit is seconds too ("retry-after: 7 please").
fn retry_after_ms(text: &str) -> Option<u64> {
    for marker in ["try again in", "retry after", "retry-after", "retry_after"] {
        for (at, _) in text.match_indices(marker) {
            if let Some(ms) = duration_ms(&text[at + marker.len()..]) {
                return Some(ms.div_ceil(1000).saturating_mul(1000));
            }
        }
    }
    None
}

/// A duration at the start of `text` (after separators): one or more number-unit parts, as in
/// "1m30s" or "2 minutes 5 seconds"; a number without a unit is seconds.
fn duration_ms(text: &str) -> Option<u64> {
    let mut rest = text.trim_start_matches([' ', ':', '=', '\t', '"']);
    let mut total: Option<u64> = None;
    loop {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let Ok(value) = digits.trim_end_matches('.').parse::<f64>() else { return total };
        let after = rest[digits.len()..].trim_start_matches([' ', '\t']);
        let unit: String = after.chars().take_while(char::is_ascii_alphabetic).collect();
        let scale: f64 = match unit.as_str() {
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1000.0,
            // Not a unit: the number alone, in seconds, and nothing after it belongs to it.
            _ => return Some(total.unwrap_or(0).saturating_add((value * 1000.0).ceil() as u64)),
        };
        total = Some(total.unwrap_or(0).saturating_add((value * scale).ceil() as u64));
        rest = after[unit.len()..].trim_start_matches([' ', '\t', ',']);
        rest = rest.strip_prefix("and ").unwrap_or(rest);
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            return total;
        }
    }
}

/// "unexpected status 5NN" (codex's words for an HTTP status it did not retry away), or a 5NN
/// after "last status: ".
fn server_error_status(text: &str) -> bool {
    ["unexpected status ", "last status: "].iter().any(|marker| {
        text.match_indices(marker).any(|(at, _)| {
            let code = &text.as_bytes()[at + marker.len()..];
            code.len() >= 3 && code[0] == b'5' && code[1..3].iter().all(u8::is_ascii_digit)
        })
    })
}

/// When codex says a used-up plan resets: "try again at 3:45 pm" (today, local time) or "try
/// again at nov 26th, 2026 3:45 pm" (docs/codex-cli.md §6), lower-cased, as epoch milliseconds.
pub fn retry_at_ms(text: &str, now_ms: u64) -> Option<u64> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let at = text.find("try again at ")? + "try again at ".len();
    let words: Vec<&str> = text[at..].split_whitespace().take(5).collect();
    let clock = |time: &str, half: &str| -> Option<(u32, u32)> {
        let (hour, minute) = time.split_once(':')?;
        let (hour, minute): (u32, u32) = (hour.parse().ok()?, minute.parse().ok()?);
        let half = half.trim_end_matches(['.', ',']);
        let hour = match (hour, half) {
            (1..=11, "am") => hour,
            (12, "am") => 0,
            (1..=11, "pm") => hour + 12,
            (12, "pm") => 12,
            _ => return None,
        };
        (minute < 60).then_some((hour, minute))
    };
    let (year, month, day, (hour, minute)) = match words.as_slice() {
        [time, half, ..] if time.contains(':') => {
            let (year, month, day) = crate::foundation::clock::local_date(now_ms);
            (year, month, day, clock(time, half)?)
        }
        [month, day, year, time, half] => {
            let month = MONTHS.iter().position(|m| month.starts_with(m))? as u32 + 1;
            let day: u32 = day.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()?;
            let year: i64 = year.trim_end_matches([',', '.']).parse().ok()?;
            // A year far off either way is only "long ago" or "very far ahead" (the wait is
            // capped by the caller), and date arithmetic on it would overflow.
            let this_year = crate::foundation::clock::local_date(now_ms).0;
            (year.clamp(this_year - 1000, this_year + 1000), month, day, clock(time, half)?)
        }
        _ => return None,
    };
    if !(1..=31).contains(&day) {
        return None;
    }
    crate::foundation::clock::local_epoch_ms(year, month, day, hour, minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(stderr: &str, stream_error: Option<&str>) -> CodexFailure {
        let stream = Stream { error_message: stream_error.map(str::to_string), ..Stream::default() };
        let evidence = Evidence {
            exit_code: Some(1),
            timed_out: false,
            cancelled: false,
            timeout: Duration::from_secs(30),
            stderr,
            stream: &stream,
        };
        classify(&evidence).expect("a failure")
    }

    /// Which failure it is, without its facts.
    fn kind(failure: &CodexFailure) -> &'static str {
        match failure {
            CodexFailure::TimedOut { .. } => "timed_out",
            CodexFailure::Stalled { .. } => "stalled",
            CodexFailure::Cancelled => "cancelled",
            CodexFailure::OverrideRejected { .. } => "override_rejected",
            CodexFailure::UserConfigRejected { .. } => "user_config_rejected",
            CodexFailure::NoSession => "no_session",
            CodexFailure::AuthRequired { .. } => "auth_required",
            CodexFailure::ContractChanged { .. } => "contract_changed",
            CodexFailure::RateLimited { .. } => "rate_limited",
            CodexFailure::Transient { .. } => "transient",
            CodexFailure::Exited { .. } => "exited",
        }
    }

    fn wait_of(failure: &CodexFailure) -> Option<u64> {
        match failure {
            CodexFailure::RateLimited { retry_after_ms, .. } | CodexFailure::Transient { retry_after_ms, .. } => {
                Some(*retry_after_ms)
            }
            _ => None,
        }
    }

    #[test]
    fn an_unknown_session_names_session_id() {
        let error = failed(
            "Error: thread/resume: thread/resume failed: no rollout found for thread id 0199 (code -32600)",
            None,
        );
        assert_eq!(error, CodexFailure::NoSession);
        assert!(error.to_string().contains("session_id"), "{error}");
    }

    #[test]
    fn success_and_timeout() {
        let stream = Stream::default();
        let mut evidence = Evidence {
            exit_code: Some(0),
            timed_out: false,
            cancelled: false,
            timeout: Duration::from_secs(30),
            stderr: "",
            stream: &stream,
        };
        assert!(classify(&evidence).is_none());
        evidence.timed_out = true;
        evidence.exit_code = None;
        let error = classify(&evidence).unwrap();
        assert_eq!(error, CodexFailure::TimedOut { after: Duration::from_secs(30) });
        assert_eq!(error.to_string(), "codex did not finish within 30 s and was stopped");
    }

    #[test]
    fn classifies_the_messages_codex_0_169_prints() {
        let cases = [
            (
                "",
                Some("unexpected status 401 Unauthorized: bad key, url: http://127.0.0.1:1/v1/responses"),
                "auth_required",
            ),
            ("Not logged in", None, "auth_required"),
            ("", Some("exceeded retry limit, last status: 429 Too Many Requests"), "rate_limited"),
            ("", Some("rate limit exceeded: Please try again in 20s."), "rate_limited"),
            ("", Some("Quota exceeded. Check your plan and billing details."), "rate_limited"),
            ("error: unexpected argument '--bogus' found", None, "contract_changed"),
            (
                "Error loading config.toml: unknown configuration field `bogus` in -c/--config override",
                None,
                "override_rejected",
            ),
            ("/home/u/.codex/config.toml:3:1: unknown configuration field `bogus`", None, "user_config_rejected"),
            ("", Some("stream disconnected before completion: boom"), "transient"),
            ("", Some("We’re currently experiencing high demand, which may cause temporary errors."), "transient"),
            ("", Some("unexpected status 503 Service Unavailable: overloaded, url: http://x"), "transient"),
            ("", Some("unexpected status 400 Bad Request: no, url: http://x"), "exited"),
            ("", Some("Selected model is at capacity. Please try a different model."), "transient"),
            ("Failed to read output schema file", None, "exited"),
        ];
        for (stderr, stream_error, kind_of) in cases {
            assert_eq!(kind(&failed(stderr, stream_error)), kind_of, "{stderr} / {stream_error:?}");
        }
    }

    #[test]
    fn strict_config_wins_over_auth_and_drift_over_rate_limit() {
        let both = "Error loading config.toml: unknown configuration field `x` in -c/--config override\nnot logged in";
        assert_eq!(kind(&failed(both, None)), "override_rejected");
        assert_eq!(kind(&failed("error: unexpected argument '--x' found; 429", None)), "contract_changed");
    }

    #[test]
    fn numbers_only_match_as_words() {
        assert_eq!(kind(&failed("", Some("request 4290 failed"))), "exited");
        assert_eq!(kind(&failed("", Some("port 14010 closed"))), "exited");
    }

    #[test]
    fn a_used_up_plan_says_when_it_resets() {
        let now = crate::foundation::clock::now_ms();
        let (y, m, d) = crate::foundation::clock::local_date(now);
        let today_1545 = crate::foundation::clock::local_epoch_ms(y, m, d, 15, 45).unwrap();
        assert_eq!(retry_at_ms("you've hit your usage limit. try again at 3:45 pm.", now), Some(today_1545));
        let dated = crate::foundation::clock::local_epoch_ms(2030, 11, 26, 0, 5).unwrap();
        assert_eq!(retry_at_ms("upgrade to pro, or try again at nov 26th, 2030 12:05 am.", now), Some(dated));
        assert_eq!(retry_at_ms("try again at 13:00 pm", now), None);
        assert_eq!(retry_at_ms("try again later.", now), None);
        // A reset in the future (within the cap: three days on) becomes the error's retry_after_ms.
        let (y, m, d) = crate::foundation::clock::local_date(now + 3 * 86_400_000);
        let dated = crate::foundation::clock::local_epoch_ms(y, m, d, 0, 5).unwrap();
        let month =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m as usize - 1];
        let error =
            failed("", Some(&format!("You've hit your usage limit. Try again at {month} {d}th, {y} 12:05 AM.")));
        assert_eq!(kind(&error), "rate_limited");
        let wait = wait_of(&error).unwrap();
        assert!(wait > 0 && wait.abs_diff(dated - now) < 60_000, "{wait}");
    }

    #[test]
    fn retry_after_is_parsed_in_seconds_only() {
        assert_eq!(wait_of(&failed("", Some("rate limit: try again in 20s"))), Some(20_000));
        assert_eq!(wait_of(&failed("", Some("usage limit reached, retry after 30 seconds"))), Some(30_000));
        assert_eq!(wait_of(&failed("", Some("rate limit: try again in 0s"))), Some(0));
        assert_eq!(wait_of(&failed("", Some("Too Many Requests"))), Some(60_000));
    }

    #[test]
    fn hostile_retry_delays_are_capped_and_said_never_a_panic() {
        let said = |text: &str| {
            let failure = failed("", Some(text));
            (wait_of(&failure), failure.to_string())
        };
        let huge = [
            "rate limit: Retry-After: 99999999999999".to_string(),
            format!("rate limit: try again in {}s", "9".repeat(400)),
            format!("rate limit: try again in {}.{} hours", "9".repeat(30), "9".repeat(30)),
            "rate limit: try again in 18446744073709551615 hours 18446744073709551615 minutes".to_string(),
            "usage limit reached; try again at jan 1st, 9223372036854775807 3:45 pm".to_string(),
            "usage limit reached; try again at jan 1st, 99999 3:45 pm".to_string(),
            "stream disconnected before completion: retry after 99999999999999 seconds".to_string(),
        ];
        for text in &huge {
            let (wait, message) = said(text);
            assert!(wait.is_some_and(|wait| wait <= MAX_RETRY_AFTER_MS), "{text}: {wait:?}");
            assert!(wait != Some(DEFAULT_RETRY_AFTER_MS), "a huge wait is capped, not forgotten: {text}");
            assert!(message.contains("capped"), "the cap is said: {message}");
        }
        // Nonsense is no delay at all (the default), and is not said to be capped.
        for text in ["rate limit: retry-after: -5", "rate limit: try again in ٣٠s", "rate limit: retry after 1.2.3"] {
            let (wait, message) = said(text);
            assert_eq!(wait, Some(DEFAULT_RETRY_AFTER_MS), "{text}");
            assert!(!message.contains("capped"), "{message}");
        }
        // Many numbers: the first that follows a marker.
        assert_eq!(said("rate limit 429: try again in 12s (or 600s, or 9999999s)").0, Some(12_000));
    }

    #[test]
    fn retry_delays_are_taken_as_codex_words_them() {
        let wait = |text: &str| wait_of(&failed("", Some(text)));
        assert_eq!(wait("rate limit exceeded: Retry-After: 7"), Some(7_000));
        assert_eq!(wait("rate limit exceeded (Retry-After: 7). Slow down"), Some(7_000));
        assert_eq!(wait("rate limit exceeded: Retry-After: 7 please"), Some(7_000));
        assert_eq!(wait("rate limit exceeded: retry_after=7"), Some(7_000));
        assert_eq!(wait("rate limit: try again in 5 minutes"), Some(300_000));
        assert_eq!(wait("rate limit: try again in 1m30s."), Some(90_000));
        assert_eq!(wait("rate limit: try again in 1 minute and 5 seconds"), Some(65_000));
        assert_eq!(wait("rate limit: try again in 250ms"), Some(1_000));
        assert_eq!(wait("rate limit: try again in 6.2s"), Some(7_000));
        assert_eq!(wait("rate limit: try again in 2 hours"), Some(7_200_000));
        // A transient failure says its own delay too, else waits a little.
        assert_eq!(wait("stream disconnected before completion: retry after 3s"), Some(3_000));
        assert_eq!(wait("stream disconnected before completion: boom"), Some(DEFAULT_TRANSIENT_RETRY_MS));
    }

    #[test]
    fn messages_are_sanitised() {
        let error = failed("\u{1b}[31mboom\u{1b}[0m", None).to_string();
        assert!(!error.contains('\u{1b}'), "{error}");
        assert!(error.starts_with("codex exited 1: "));
    }
}
