//! The command line: which mode to run, the tool subcommands (`consult`, `review`, `dry-run`)
//! mapped onto the same tool arguments MCP clients send, the help text (generated from the
//! config table, so every environment variable is listed), and the human rendering of `status`.
//! A usage error names the word at fault; `-` as the question or task reads it from stdin.
//! `review --format sarif` prints the review as SARIF (`sarif`), even for a usage error.

use std::ffi::OsString;
use std::io::Read;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use crate::frontends::sarif::FailOn;
use crate::tools::params::Kind;

#[derive(Debug, PartialEq)]
pub enum Mode {
    /// MCP on stdin/stdout (the default).
    Serve,
    /// Exits 1 when codex is not ready.
    Status {
        json: bool,
        pretty: bool,
    },
    /// Checks everything a first run needs; exits 1 while something is missing.
    Setup,
    /// Drops the note of a used-up plan, so paid calls are sent again before its reset.
    ClearUsageLimit,
    Version,
    Help,
    /// Hidden: the intermediate that detaches a background worker.
    JobSpawn {
        dir: std::path::PathBuf,
    },
    /// Hidden: a background worker running the job in `dir`.
    JobWorker {
        dir: std::path::PathBuf,
    },
    /// `review-gate`: the plugin's Stop hook (reads its input on stdin), or the project's switch.
    ReviewGate {
        action: GateAction,
    },
    /// A tool run from the shell; prints its envelope (or only the diff).
    Tool {
        name: &'static str,
        arguments: Value,
        print: Print,
    },
    /// `review --format sarif`: the review as a SARIF log; the exit status follows the verdict.
    ReviewSarif {
        arguments: Value,
        pretty: bool,
        fail_on: FailOn,
    },
    /// `review --format sarif` with a command line we do not understand: a SARIF log that says
    /// so, for a pipeline's upload step, and exit status 2.
    SarifUsageError(String),
}

/// What a tool command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Print {
    /// `--pretty`: JSON indented for people, wherever an envelope is printed.
    pub pretty: bool,
    /// `delegate --diff-only`: stdout is the diff alone, byte for byte (`--pretty` never touches
    /// it, so it still applies with `git apply`); the envelope goes to stderr when there is no
    /// diff to print.
    pub diff_only: bool,
}

/// What `review-gate` does: answer the Stop hook, or set or show the project's switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateAction {
    Hook,
    Enable,
    Disable,
    Status,
}

/// What the bare (non-option) words of a tool command are.
#[derive(Clone, Copy, PartialEq)]
enum Bare {
    /// Exactly one, the value of this parameter.
    One(&'static str),
    /// Any number (also after `--`): `paths`.
    Paths,
    None,
}

/// Shell subcommand → tool, and what its bare words are.
const TOOL_COMMANDS: &[(&str, &str, Bare)] = &[
    ("consult", "codex_consult", Bare::One("question")),
    ("review", "codex_review_changes", Bare::Paths),
    ("dry-run", "codex_dry_run", Bare::Paths),
    ("delegate", "codex_delegate", Bare::One("task")),
    ("delegate-dry-run", "codex_delegate_dry_run", Bare::One("task")),
    ("jobs list", "codex_job_list", Bare::None),
    ("jobs status", "codex_job_status", Bare::One("job_id")),
    ("jobs result", "codex_job_result", Bare::One("job_id")),
    ("jobs consume", "codex_job_consume_result", Bare::One("job_id")),
    ("jobs cancel", "codex_job_cancel", Bare::One("job_id")),
];

/// Flags whose names differ from the parameter they set; every other `--x-y` sets `x_y`.
const FLAG_ALIASES: &[(&str, &str)] = &[
    ("--workspace", "workspace_root"),
    ("--context", "extra_context"),
    ("--timeout", "timeout_seconds"),
    ("--session", "session_id"),
    ("--file", "files"),
];

/// A command line we do not understand: printed with the usage, exit status 2.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

/// The most `-` reads from stdin. The tools have their own, smaller cap
/// (`CODEX_IN_CLAUDE_MAX_INPUT_BYTES`) and say when it is passed; this one only keeps a runaway
/// pipe out of memory, and passing it is an error, never a silent cut.
const MAX_STDIN_BYTES: usize = 16 << 20;

/// Reads the command line; a `-` question or task is read from the process's stdin.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Mode, UsageError> {
    parse_with_stdin(args, &mut std::io::stdin())
}

pub fn parse_with_stdin(args: impl IntoIterator<Item = OsString>, stdin: &mut dyn Read) -> Result<Mode, UsageError> {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.into_string().map_err(|_| UsageError("arguments must be UTF-8".into())))
        .collect::<Result<_, _>>()?;
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["serve"] => Ok(Mode::Serve),
        ["serve", extra, ..] => Err(UsageError(format!("serve takes no arguments, not {}", quoted(extra)))),
        ["status", options @ ..] => parse_status(options),
        ["setup"] => Ok(Mode::Setup),
        ["setup", "--help" | "-h"] => Ok(Mode::Help),
        ["setup", extra, ..] => Err(UsageError(format!("setup takes no arguments, not {}", quoted(extra)))),
        ["review-gate", options @ ..] => parse_review_gate(options),
        ["clear-usage-limit"] => Ok(Mode::ClearUsageLimit),
        ["clear-usage-limit", "--help" | "-h"] => Ok(Mode::Help),
        ["clear-usage-limit", extra, ..] => {
            Err(UsageError(format!("clear-usage-limit takes no arguments, not {}", quoted(extra))))
        }
        ["--version" | "-V"] => Ok(Mode::Version),
        ["--help" | "-h" | "help", ..] => Ok(Mode::Help),
        ["__job-spawn", dir] => Ok(Mode::JobSpawn { dir: dir.into() }),
        ["__job-worker", dir] => Ok(Mode::JobWorker { dir: dir.into() }),
        ["jobs"] => Err(UsageError(format!("jobs needs a subcommand: {}", job_subcommands()))),
        ["jobs", sub, rest @ ..] => match TOOL_COMMANDS.iter().find(|(c, ..)| c.strip_prefix("jobs ") == Some(sub)) {
            Some((command, ..)) => parse_tool(command, rest, stdin),
            None => Err(UsageError(format!("jobs has no subcommand {}; use {}", quoted(sub), job_subcommands()))),
        },
        [command, rest @ ..] if TOOL_COMMANDS.iter().any(|(c, ..)| c == command) => {
            parse_tool(command, rest, stdin).or_else(|error| sarif_usage_error(command, rest, error))
        }
        [option, ..] if option.starts_with('-') => Err(UsageError(format!("unknown option {}", quoted(option)))),
        [command, ..] => Err(UsageError(format!("unknown command {}", quoted(command)))),
    }
}

/// A usage error of a command asking for `--format sarif` before any `--`: still a SARIF log.
fn sarif_usage_error(command: &str, words: &[&str], error: UsageError) -> Result<Mode, UsageError> {
    let options = words.split(|word| *word == "--").next().unwrap_or_default();
    if command == "review" && options.windows(2).any(|pair| pair == ["--format", "sarif"]) {
        Ok(Mode::SarifUsageError(error.0))
    } else {
        Err(error)
    }
}

/// A word of the command line as a message quotes it: on one line, at most 60 characters.
fn quoted(word: &str) -> String {
    format!("'{}'", crate::foundation::text::one_line(word, 60))
}

/// `list, status ID, result ID, consume ID or cancel ID`, from the command table.
fn job_subcommands() -> String {
    let subs: Vec<String> = TOOL_COMMANDS
        .iter()
        .filter_map(|(command, _, bare)| {
            let sub = command.strip_prefix("jobs ")?;
            Some(if matches!(bare, Bare::One(_)) { format!("{sub} ID") } else { sub.to_string() })
        })
        .collect();
    match subs.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => subs.join(""),
    }
}

/// `status [--json] [--pretty]`.
fn parse_status(options: &[&str]) -> Result<Mode, UsageError> {
    let (mut json, mut pretty) = (false, false);
    for option in options {
        match *option {
            "--json" => json = true,
            "--pretty" => pretty = true,
            "--help" | "-h" => return Ok(Mode::Help),
            other => {
                return Err(UsageError(format!(
                    "status has no option {}; it takes --json and --pretty",
                    quoted(other)
                )));
            }
        }
    }
    Ok(Mode::Status { json, pretty })
}

/// `review-gate [--enable | --disable | --status]`.
fn parse_review_gate(options: &[&str]) -> Result<Mode, UsageError> {
    let action = match options {
        [] => GateAction::Hook,
        ["--enable"] => GateAction::Enable,
        ["--disable"] => GateAction::Disable,
        ["--status"] => GateAction::Status,
        ["--help" | "-h"] => return Ok(Mode::Help),
        [other, ..] => {
            return Err(UsageError(format!(
                "review-gate takes one of --enable, --disable or --status, not {}",
                quoted(other)
            )));
        }
    };
    Ok(Mode::ReviewGate { action })
}

/// `consult "<question>" [--flag value]...`, `review [--flag value]... [-- paths...]`.
fn parse_tool(command: &str, words: &[&str], stdin: &mut dyn Read) -> Result<Mode, UsageError> {
    let &(_, name, bare) = TOOL_COMMANDS.iter().find(|(c, ..)| *c == command).expect("known command");
    let tool = crate::tools::find(name).expect("registered tool");
    let mut arguments = Map::new();
    let mut paths = Vec::new();
    let mut print = Print::default();
    let mut words = words.iter().copied();
    let mut only_positional = false;
    let (mut sarif, mut fail_on) = (false, None);
    while let Some(word) = words.next() {
        if only_positional || !word.starts_with("--") {
            match bare {
                Bare::One(param) if !arguments.contains_key(param) => {
                    let value = if word == "-" && matches!(param, "question" | "task") {
                        read_stdin(stdin, param)?
                    } else {
                        word.to_string()
                    };
                    arguments.insert(param.to_string(), json!(value));
                }
                Bare::One(param) => {
                    return Err(UsageError(format!(
                        "{command} takes one {}, and {} is a second one (quote a {0} that has spaces)",
                        param.replace('_', " "),
                        quoted(word)
                    )));
                }
                Bare::Paths => paths.push(json!(word)),
                Bare::None => {
                    return Err(UsageError(format!("{command} takes only options, not {}", quoted(word))));
                }
            }
            continue;
        }
        match word {
            "--" => only_positional = true,
            "--pretty" => print.pretty = true,
            "--diff-only" if name == "codex_delegate" => print.diff_only = true,
            "--format" if name == "codex_review_changes" => match words.next() {
                Some("sarif") => sarif = true,
                Some("json") => sarif = false,
                Some(other) => return Err(UsageError(format!("--format takes json or sarif, not {}", quoted(other)))),
                None => return Err(UsageError("--format needs a value".into())),
            },
            "--fail-on" if name == "codex_review_changes" => {
                let value = words.next().ok_or_else(|| UsageError("--fail-on needs a value".into()))?;
                let parsed = FailOn::parse(value);
                fail_on =
                    Some(parsed.ok_or_else(|| {
                        UsageError(format!("--fail-on takes {}, not {}", FailOn::NAMES, quoted(value)))
                    })?);
            }
            "--plan" if name == "codex_consult" => {
                arguments.insert("kind".into(), json!("plan"));
            }
            "--help" => return Ok(Mode::Help),
            _ => {
                let (param, value) = option_value(command, tool, bare, word, words.next())?;
                // A list option repeats: each use adds an item.
                match (arguments.get_mut(param), value) {
                    (Some(Value::Array(items)), Value::Array(more)) => items.extend(more),
                    (_, value) => {
                        arguments.insert(param.to_string(), value);
                    }
                }
            }
        }
    }
    if let Bare::One(param) = bare
        && !arguments.contains_key(param)
    {
        let what = param.replace('_', " ");
        let stdin_hint = if matches!(param, "question" | "task") { ", or - to read it from stdin" } else { "" };
        return Err(UsageError(format!("{command} needs a {what} as its argument{stdin_hint}")));
    }
    if fail_on.is_some() && !sarif {
        return Err(UsageError("--fail-on goes with --format sarif".into()));
    }
    if !paths.is_empty() {
        match arguments.get_mut("paths") {
            Some(Value::Array(items)) => items.extend(paths),
            _ => {
                arguments.insert("paths".into(), Value::Array(paths));
            }
        }
    }
    // From a shell, the project is where the command runs, and a relative --workspace is
    // relative to it (the tools take absolute paths only).
    let workspace = arguments.get("workspace_root").and_then(Value::as_str).map(std::path::PathBuf::from);
    if workspace.as_ref().is_none_or(|path| path.is_relative()) {
        let cwd = std::env::current_dir().map_err(|e| UsageError(format!("cannot read the current directory: {e}")))?;
        let path = workspace.map_or_else(|| cwd.clone(), |relative| cwd.join(relative));
        arguments.insert("workspace_root".into(), json!(path.display().to_string()));
    }
    let arguments = Value::Object(arguments);
    if sarif {
        return Ok(Mode::ReviewSarif { arguments, pretty: print.pretty, fail_on: fail_on.unwrap_or_default() });
    }
    Ok(Mode::Tool { name, arguments, print })
}

/// `--flag VALUE` of a tool command: the parameter it sets and its JSON value.
fn option_value(
    command: &str,
    tool: &crate::tools::Tool,
    bare: Bare,
    flag: &str,
    value: Option<&str>,
) -> Result<(&'static str, Value), UsageError> {
    let param_name = FLAG_ALIASES
        .iter()
        .find(|(alias, _)| *alias == flag)
        .map_or_else(|| flag.trim_start_matches('-').replace('-', "_"), |(_, param)| param.to_string());
    let Some(param) = tool.params.iter().find(|p| p.name == param_name && bare != Bare::One(p.name)) else {
        return Err(UsageError(format!("{command} has no option {}", quoted(flag))));
    };
    let value = value.ok_or_else(|| UsageError(format!("{flag} needs a value")))?;
    let value = match param.kind {
        Kind::Integer { .. } => json!(
            value
                .parse::<i64>()
                .map_err(|_| { UsageError(format!("{flag} needs a whole number, not {}", quoted(value))) })?
        ),
        Kind::TextList { .. } => json!([value]),
        _ => json!(value),
    };
    Ok((param.name, value))
}

/// The question or task piped in for `-`: all of it, or a usage error.
fn read_stdin(stdin: &mut dyn Read, param: &str) -> Result<String, UsageError> {
    let mut bytes = Vec::new();
    stdin
        .take(MAX_STDIN_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| UsageError(format!("cannot read the {param} from stdin: {e}")))?;
    if bytes.len() > MAX_STDIN_BYTES {
        return Err(UsageError(format!(
            "the {param} on stdin is over {} MiB; nothing was sent",
            MAX_STDIN_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| UsageError(format!("the {param} on stdin is not UTF-8 text")))
}

/// Progress of a shell-run tool, for the person watching: one stderr line a second at most.
/// A line repeats nothing: an unchanged activity is not said again.
#[derive(Default)]
pub struct StderrProgress {
    last: Mutex<(crate::tools::Throttle, Option<String>)>,
}

impl crate::tools::Progress for StderrProgress {
    fn report(&self, _events_seen: u64, activity: &str) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (throttle, said) = &mut *last;
        if said.as_deref() == Some(activity) || !throttle.ready() {
            return;
        }
        eprintln!("codex: {activity}");
        *said = Some(activity.to_string());
    }
}

pub fn usage() -> String {
    let mut text = format!(
        "codex-in-claude {} — MCP server that lets Claude Code consult, review with, and delegate to the OpenAI codex CLI

USAGE:
    codex-in-claude [serve]        MCP server on stdin/stdout (what an MCP client launches)
    codex-in-claude status [--json] [--pretty]
                                   is codex installed, supported and logged in? (exit 1 if not)
    codex-in-claude setup          checks everything a first run needs (codex, its version, login,
                                   its sandbox, git, the Claude Code plugin) and prints the fix for
                                   each gap; free; exit 1 while something is missing
    codex-in-claude consult QUESTION [--context TEXT] [--plan [--file PATH]...] [OPTIONS]
                                   ask Codex for a second opinion (PAID); - as QUESTION reads it
                                   from stdin; --plan (or --kind plan): QUESTION is a plan for
                                   Codex to review, with a verdict, and each --file PATH
                                   (repo-relative) is sent with it, redacted like a review's diff
    codex-in-claude review [--scope working_tree|branch|commit] [--base REF] [--commit REF]
                           [--untracked explicit_only|include|exclude] [--context TEXT] [--focus TEXT]
                           [--format json|sarif] [--fail-on unknown|concerns|fail|never] [OPTIONS] [-- PATHS...]
                                   have Codex review changes (PAID; no changes, no model call);
                                   --focus says what to examine hardest (e.g. assume hostile input);
                                   --format sarif prints a SARIF 2.1.0 log for CI and exits 0 on a
                                   pass or nothing to review, 1 on a verdict at or above --fail-on
                                   (default unknown: anything but a pass), 2 on an error (still
                                   printing a log that says what went wrong)
    codex-in-claude dry-run [review options] [-- PATHS...]
                                   what review would send, without calling the model (free)
    codex-in-claude delegate TASK [--diff-only] [--ignored-files list|include] [OPTIONS]
                                   Codex does TASK in a throwaway copy; prints the envelope, or with
                                   --diff-only just the diff, paths from the repository's top level
                                   (pipe it to: git -C \"$(git rev-parse --show-toplevel)\" apply) (PAID);
                                   - as TASK reads it from stdin
    codex-in-claude delegate-dry-run TASK [OPTIONS]
                                   what delegate would start from, no model call (free)
    codex-in-claude jobs list | status ID | result ID | consume ID | cancel ID [--workspace DIR]
                                   background jobs of a workspace (started by the _async tools)
    codex-in-claude review-gate    the plugin's Stop hook: reads Claude Code's hook input on stdin and
                                   blocks the stop when Codex's review of the uncommitted changes
                                   finds problems; silent while off (PAID when on)
    codex-in-claude review-gate --enable | --disable | --status
                                   turn the review gate on or off for this project, or show it
    codex-in-claude clear-usage-limit
                                   forget that codex said the plan's usage limit is used up (after
                                   buying credits or upgrading), so paid calls are sent again before
                                   the reset it named; a login change does this by itself
    codex-in-claude --version
    codex-in-claude --help

OPTIONS (tool commands):
    --workspace DIR  (default: the current directory; a relative DIR is taken from it)
    --model NAME   --reasoning-effort LEVEL   --isolation inherit|ignore-config|ignore-rules
    --timeout SECONDS, --detail summary|full (consult, review, delegate)
    --session ID     follow-up: continue the Codex session of an earlier result (its session_id)
                     with this question, review or task (consult, review, delegate)
    --idempotency-key KEY (consult, review, delegate): a retry with the same KEY and arguments
                   returns the first run's result, with no second model call
    Paid commands run as jobs kept like background ones (see jobs list); Ctrl-C stops the run and
    deletes its record, while any other end of the command leaves the run going.
    --pretty  indented JSON (with --diff-only: the envelope on stderr; the diff is never changed)
    Tool commands print the result envelope as JSON and exit 0 when ok is true, 1 when it is
    false, 2 on a usage error (review --format sarif: as above). status exits 0 when codex is
    ready, 1 when it is not.

Add to Claude Code:  claude mcp add codex -- codex-in-claude

ENVIRONMENT (invalid values fall back to the default and are reported by `status`):
",
        crate::foundation::identity::VERSION
    );
    for var in crate::foundation::config::VARS {
        text.push_str(&format!(
            "    {}{:<24} {} (default: {})\n",
            crate::foundation::config::PREFIX,
            var.name,
            var.help,
            var.default
        ));
    }
    text.push_str("    CLAUDE_PROJECT_DIR                      workspace when the client declares no roots (set by Claude Code)\n");
    text
}

/// `status` for a person: the verdict first, then the facts behind it.
pub fn render_status(report: &Value) -> String {
    let field = |key: &str| report.get(key).and_then(Value::as_str).unwrap_or("unknown").to_string();
    let mut lines = vec![
        format!(
            "ready:    {} ({})",
            if report["ready"] == Value::Bool(true) { "yes" } else { "no" },
            field("readiness_detail")
        ),
        format!(
            "codex:    {}",
            match report["codex_version"].as_str() {
                Some(version) => format!(
                    "{version}{}",
                    if report["version_supported"] == Value::Bool(false) { " (outside the tested range)" } else { "" }
                ),
                None => field("version_detail"),
            }
        ),
        format!("auth:     {}", field("auth_detail")),
        format!("sessions: {} ({})", field("session_persistence"), field("session_persistence_detail")),
        format!("quota:    {}", render_rate_limit(&report["rate_limit"])),
        format!("budget:   {}", render_budget(&report["budget"])),
    ];
    for key in ["version_warning", "flags_warning"] {
        if let Some(text) = report[key].as_str() {
            lines.push(format!("warning:  {text}"));
        }
    }
    for warning in report["config_warnings"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        lines.push(format!("config:   {warning}"));
    }
    for name in report["unexpanded_env_placeholders"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        lines.push(format!("config:   {name} holds an unexpanded ${{...}} placeholder"));
    }
    lines.join("\n") + "\n"
}

/// `available; 5-hour 12% used (resets …); weekly 3% used (resets …)`, or why it is unknown.
fn render_rate_limit(limit: &Value) -> String {
    let status = limit["status"].as_str().unwrap_or("unknown");
    let mut parts = vec![status.to_string()];
    for (key, name) in [("primary", "5-hour"), ("secondary", "weekly")] {
        if let Some(used) = limit[key]["used_percent"].as_f64() {
            let resets = limit[key]["resets_at"].as_str().map(|at| format!(" (resets {at})")).unwrap_or_default();
            parts.push(format!("{name} window {used}% used{resets}"));
        }
    }
    if let Some(reason) = limit["reason"].as_str() {
        parts.push(reason.to_string());
    }
    parts.join("; ")
}

/// `1200 of 50000 tokens used today (3 paid runs), 48800 left; renews …`.
fn render_budget(budget: &Value) -> String {
    if let Some(error) = budget["error"].as_str() {
        return error.to_string();
    }
    let plan = budget["usage_limit_resets_at"]
        .as_str()
        .map(|at| format!("; codex said the plan's usage limit resets at {at}: no paid call before then"))
        .unwrap_or_default();
    let limit = match budget["daily_token_budget"].as_u64() {
        Some(limit) => format!(
            "{} of {limit} tokens used today ({} paid runs), {} left; renews {}",
            budget["used_tokens"].as_u64().unwrap_or(0),
            budget["paid_runs"].as_u64().unwrap_or(0),
            budget["remaining_tokens"].as_u64().unwrap_or(0),
            budget["renews_at"].as_str().unwrap_or("?")
        ),
        None => "no daily limit (set CODEX_IN_CLAUDE_DAILY_TOKEN_BUDGET to have paid runs counted and capped)".into(),
    };
    limit + &plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_prints_the_windows_and_the_budget() {
        let report = serde_json::json!({
            "rate_limit": {"status": "limited", "reason": null,
                "primary": {"used_percent": 85.0, "resets_at": "2026-11-25T15:00:00.000Z"}, "secondary": null},
            "budget": {"daily_token_budget": 1000, "used_tokens": 400, "paid_runs": 2, "remaining_tokens": 600,
                "renews_at": "2026-11-26T00:00:00.000Z", "error": null},
        });
        let text = render_status(&report);
        assert!(text.contains("quota:    limited; 5-hour window 85% used (resets 2026-11-25T15:00:00.000Z)"), "{text}");
        assert!(text.contains("budget:   400 of 1000 tokens used today (2 paid runs), 600 left"), "{text}");
        let plan_used_up = serde_json::json!({"rate_limit": {}, "budget": {"daily_token_budget": null,
            "usage_limit_resets_at": "2030-11-26T00:05:00.000Z", "error": null}});
        let text = render_status(&plan_used_up);
        assert!(text.contains("budget:   no daily limit"), "{text}");
        assert!(text.contains("usage limit resets at 2030-11-26T00:05:00.000Z"), "{text}");
    }

    fn parse_words(words: &[&str]) -> Result<Mode, UsageError> {
        parse_with_stdin(words.iter().map(OsString::from), &mut std::io::empty())
    }

    #[test]
    fn parses_every_mode() {
        assert_eq!(parse_words(&[]), Ok(Mode::Serve));
        assert_eq!(parse_words(&["serve"]), Ok(Mode::Serve));
        assert_eq!(parse_words(&["setup"]), Ok(Mode::Setup));
        assert_eq!(parse_words(&["status", "--json"]), Ok(Mode::Status { json: true, pretty: false }));
        assert_eq!(parse_words(&["status", "--pretty", "--json"]), Ok(Mode::Status { json: true, pretty: true }));
        assert_eq!(parse_words(&["consult", "q", "--help"]), Ok(Mode::Help));
        assert_eq!(parse_words(&["-V"]), Ok(Mode::Version));
        assert_eq!(parse_words(&["clear-usage-limit"]), Ok(Mode::ClearUsageLimit));
        assert!(parse_words(&["clear-usage-limit", "now"]).is_err());
        assert_eq!(parse_words(&["--help"]), Ok(Mode::Help));
        assert!(parse_words(&["serve", "extra"]).is_err());
        assert!(parse_words(&["--bogus"]).is_err());
        assert_eq!(parse_words(&["review-gate"]), Ok(Mode::ReviewGate { action: GateAction::Hook }));
        assert_eq!(parse_words(&["review-gate", "--enable"]), Ok(Mode::ReviewGate { action: GateAction::Enable }));
        assert_eq!(
            parse_words(&["review-gate", "on"]),
            Err(UsageError("review-gate takes one of --enable, --disable or --status, not 'on'".into()))
        );
    }

    #[test]
    fn tool_commands_map_flags_to_tool_arguments() {
        let Ok(Mode::Tool { name, arguments, print }) = parse_words(&[
            "consult",
            "Is it safe?",
            "--context",
            "c",
            "--timeout",
            "60",
            "--pretty",
            "--workspace",
            "/w",
        ]) else {
            panic!("not a tool mode")
        };
        assert_eq!(name, "codex_consult");
        assert_eq!(print, Print { pretty: true, diff_only: false });
        let Ok(Mode::Tool { name, print, .. }) = parse_words(&["delegate", "fix it", "--diff-only"]) else {
            panic!("not a tool mode")
        };
        assert_eq!((name, print), ("codex_delegate", Print { pretty: false, diff_only: true }));
        for words in [&["delegate", "t", "--diff-only", "--pretty"], &["delegate", "t", "--pretty", "--diff-only"]] {
            let Ok(Mode::Tool { print, .. }) = parse_words(words) else { panic!("{words:?} refused") };
            assert_eq!(print, Print { pretty: true, diff_only: true }, "{words:?}");
        }
        assert!(parse_words(&["consult", "q", "--diff-only"]).is_err(), "--diff-only is for delegate");
        let Ok(Mode::Tool { arguments: keyed, .. }) = parse_words(&["review", "--idempotency-key", "k-1"]) else {
            panic!("not a tool mode")
        };
        assert_eq!(keyed["idempotency_key"], json!("k-1"));
        assert!(parse_words(&["dry-run", "--idempotency-key", "k"]).is_err(), "a dry run spends nothing to replay");
        assert_eq!(
            arguments,
            json!({"question": "Is it safe?", "extra_context": "c", "timeout_seconds": 60, "workspace_root": "/w"})
        );
        let Ok(Mode::Tool { arguments, .. }) = parse_words(&[
            "review",
            "--scope",
            "branch",
            "--base",
            "main",
            "--focus",
            "races",
            "--",
            "src",
            "--odd-name",
        ]) else {
            panic!("not a tool mode")
        };
        assert_eq!(arguments["paths"], json!(["src", "--odd-name"]));
        assert_eq!(arguments["base"], json!("main"));
        assert_eq!(arguments["focus"], json!("races"));
        let Ok(Mode::Tool { arguments, .. }) =
            parse_words(&["consult", "the plan", "--plan", "--file", "a.md", "--file", "src/b.rs"])
        else {
            panic!("not a tool mode")
        };
        assert_eq!((&arguments["kind"], &arguments["files"]), (&json!("plan"), &json!(["a.md", "src/b.rs"])));
        let Ok(Mode::Tool { arguments: kinded, .. }) = parse_words(&["consult", "p", "--kind", "plan"]) else {
            panic!("not a tool mode")
        };
        assert_eq!(kinded["kind"], json!("plan"));
        assert!(parse_words(&["review", "--plan"]).is_err(), "--plan is for consult");
        let Ok(Mode::Tool { arguments: both, .. }) = parse_words(&["review", "--paths", "a", "--", "b"]) else {
            panic!("not a tool mode")
        };
        assert_eq!(both["paths"], json!(["a", "b"]));
        assert!(parse_words(&["dry-run", "--focus", "races"]).is_err(), "a preview sends no prompt to focus");
        let session = "01a21247-a64d-7423-8ab9-0ac7989a36c0";
        for (command, bare) in [("consult", Some("q")), ("review", None), ("delegate", Some("t"))] {
            let mut words = vec![command];
            words.extend(bare);
            words.extend(["--session", session]);
            let Ok(Mode::Tool { arguments, .. }) = parse_words(&words) else { panic!("{words:?} refused") };
            assert_eq!(arguments["session_id"], json!(session), "{words:?}");
        }
        assert!(parse_words(&["dry-run", "--session", session]).is_err(), "a preview continues no session");
        assert!(arguments["workspace_root"].as_str().is_some_and(|w| w.starts_with('/')));
    }

    #[test]
    fn tool_command_usage_errors() {
        assert!(parse_words(&["consult", "a", "b"]).is_err());
        assert!(parse_words(&["consult", "q", "--bogus", "x"]).is_err());
        assert!(parse_words(&["consult", "q", "--timeout"]).is_err());
        assert!(parse_words(&["consult", "q", "--timeout", "soon"]).is_err());
        assert!(parse_words(&["dry-run", "--timeout", "60"]).is_err(), "dry-run has no timeout");
        assert!(parse_words(&["consult", "q", "--question", "x"]).is_err());
    }

    /// Each usage error names the word at fault, in a sentence.
    #[test]
    fn usage_errors_name_the_argument_at_fault() {
        let cases: &[(&[&str], &str)] = &[
            (&["status", "--bogus"], "status has no option '--bogus'; it takes --json and --pretty"),
            (&["setup", "now"], "setup takes no arguments, not 'now'"),
            (&["jobs"], "jobs needs a subcommand: list, status ID, result ID, consume ID or cancel ID"),
            (
                &["jobs", "lsit"],
                "jobs has no subcommand 'lsit'; use list, status ID, result ID, consume ID or cancel ID",
            ),
            (&["serve", "now"], "serve takes no arguments, not 'now'"),
            (&["--bogus"], "unknown option '--bogus'"),
            (&["consul", "q"], "unknown command 'consul'"),
            (
                &["consult", "a", "b"],
                "consult takes one question, and 'b' is a second one (quote a question that has spaces)",
            ),
            (&["consult"], "consult needs a question as its argument, or - to read it from stdin"),
            (&["jobs", "status"], "jobs status needs a job id as its argument"),
            (&["jobs", "list", "x"], "jobs list takes only options, not 'x'"),
            (&["consult", "q", "--bogus", "x"], "consult has no option '--bogus'"),
            (&["consult", "q", "--timeout"], "--timeout needs a value"),
            (&["consult", "q", "--timeout", "soon"], "--timeout needs a whole number, not 'soon'"),
            (&["consult", "q", "--diff-only"], "consult has no option '--diff-only'"),
        ];
        for (words, expected) in cases {
            assert_eq!(parse_words(words), Err(UsageError(expected.to_string())), "{words:?}");
        }
    }

    #[test]
    fn review_format_sarif_and_fail_on() {
        let Ok(Mode::ReviewSarif { arguments, pretty, fail_on }) =
            parse_words(&["review", "--format", "sarif", "--scope", "branch", "--base", "main", "--", "src"])
        else {
            panic!("not a SARIF review")
        };
        assert_eq!((arguments["base"].clone(), arguments["paths"].clone()), (json!("main"), json!(["src"])));
        assert_eq!((pretty, fail_on), (false, FailOn::Unknown), "the default fails anything but a pass");
        let Ok(Mode::ReviewSarif { fail_on, pretty, .. }) =
            parse_words(&["review", "--fail-on", "concerns", "--pretty", "--format", "sarif"])
        else {
            panic!("not a SARIF review")
        };
        assert_eq!((pretty, fail_on), (true, FailOn::Concerns));
        assert!(matches!(parse_words(&["review", "--format", "json"]), Ok(Mode::Tool { .. })));
        let cases: &[(&[&str], &str)] = &[
            (&["review", "--format", "xml"], "--format takes json or sarif, not 'xml'"),
            (&["review", "--fail-on", "fail"], "--fail-on goes with --format sarif"),
            (&["consult", "q", "--format", "sarif"], "consult has no option '--format'"),
        ];
        for (words, expected) in cases {
            let got = parse_words(words);
            let message = match &got {
                Err(UsageError(message)) => message.as_str(),
                _ => panic!("{words:?} gave {got:?}"),
            };
            assert_eq!(message, *expected, "{words:?}");
        }
        let Ok(Mode::Tool { arguments, .. }) = parse_words(&["review", "--", "--format", "sarif"]) else {
            panic!("after --, every word is a path")
        };
        assert_eq!(arguments["paths"], json!(["--format", "sarif"]));
        // A usage error of a SARIF review is still a SARIF log for the pipeline.
        assert_eq!(
            parse_words(&["review", "--format", "sarif", "--fail-on", "sometimes"]),
            Ok(Mode::SarifUsageError("--fail-on takes unknown, concerns, fail or never, not 'sometimes'".into()))
        );
        assert_eq!(
            parse_words(&["review", "--timeout", "soon", "--format", "sarif"]),
            Ok(Mode::SarifUsageError("--timeout needs a whole number, not 'soon'".into()))
        );
    }

    #[test]
    fn a_dash_reads_the_question_or_task_from_stdin() {
        let question = "why?\n".repeat(30_000);
        let mut stdin = std::io::Cursor::new(question.clone());
        let Ok(Mode::Tool { arguments, .. }) = parse_with_stdin(["consult", "-"].map(OsString::from), &mut stdin)
        else {
            panic!("not a tool mode")
        };
        assert_eq!(arguments["question"], json!(question));
        let mut stdin = std::io::Cursor::new("fix it");
        let Ok(Mode::Tool { arguments, .. }) =
            parse_with_stdin(["delegate", "-", "--diff-only"].map(OsString::from), &mut stdin)
        else {
            panic!("not a tool mode")
        };
        assert_eq!(arguments["task"], json!("fix it"));
        let mut stdin = std::io::Cursor::new("");
        let Ok(Mode::Tool { arguments, .. }) =
            parse_with_stdin(["delegate", "do it", "--ignored-files", "include"].map(OsString::from), &mut stdin)
        else {
            panic!("not a tool mode")
        };
        assert_eq!(arguments["ignored_files"], json!("include"));
        let mut too_much = std::io::repeat(b'a');
        let Err(UsageError(message)) = parse_with_stdin(["consult", "-"].map(OsString::from), &mut too_much) else {
            panic!("an endless stdin must be refused")
        };
        assert_eq!(message, "the question on stdin is over 16 MiB; nothing was sent");
        let mut binary = std::io::Cursor::new(vec![0xff, 0xfe]);
        assert!(parse_with_stdin(["consult", "-"].map(OsString::from), &mut binary).is_err());
        // A job id is never read from stdin.
        let Ok(Mode::Tool { arguments, .. }) = parse_words(&["jobs", "status", "-"]) else { panic!("not a tool mode") };
        assert_eq!(arguments["job_id"], json!("-"));
    }

    #[test]
    fn a_relative_workspace_is_taken_from_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        let Ok(Mode::Tool { arguments, .. }) = parse_words(&["dry-run", "--workspace", "sub/dir"]) else {
            panic!("not a tool mode")
        };
        assert_eq!(arguments["workspace_root"], json!(cwd.join("sub/dir").display().to_string()));
        let Ok(Mode::Tool { arguments, .. }) = parse_words(&["dry-run", "--workspace", "/abs"]) else {
            panic!("not a tool mode")
        };
        assert_eq!(arguments["workspace_root"], json!("/abs"));
    }

    #[test]
    fn help_and_readme_list_every_environment_variable() {
        let help = usage();
        let readme = include_str!("../../README.md");
        for var in crate::foundation::config::VARS {
            let name = format!("CODEX_IN_CLAUDE_{}", var.name);
            assert!(help.contains(&name), "--help misses {name}");
            assert!(readme.contains(&format!("`{name}`")), "README misses {name}");
        }
    }
}
