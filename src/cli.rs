//! The command line: which mode to run, the tool subcommands (`consult`, `review`, `dry-run`)
//! mapped onto the same tool arguments MCP clients send, the help text (generated from the
//! config table, so every environment variable is listed), and the human rendering of `status`.

use std::ffi::OsString;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::tools::params::Kind;

#[derive(Debug, PartialEq)]
pub enum Mode {
    /// MCP on stdin/stdout (the default).
    Serve,
    Status {
        json: bool,
    },
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
    /// A tool run from the shell; prints its envelope (or only the diff).
    Tool {
        name: &'static str,
        arguments: Value,
        print: Print,
    },
}

/// What a tool command prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Print {
    Envelope {
        pretty: bool,
    },
    /// `delegate --diff-only`: the diff alone, ready for `git apply` from the repository's top
    /// level; the envelope goes to stderr when there is no diff to print, and files left out of
    /// the diff are named on stderr.
    DiffOnly,
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
const FLAG_ALIASES: &[(&str, &str)] =
    &[("--workspace", "workspace_root"), ("--context", "extra_context"), ("--timeout", "timeout_seconds")];

/// A command line we do not understand: printed with the usage, exit status 2.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Mode, UsageError> {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.into_string().map_err(|_| UsageError("arguments must be UTF-8".into())))
        .collect::<Result<_, _>>()?;
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["serve"] => Ok(Mode::Serve),
        ["status"] => Ok(Mode::Status { json: false }),
        ["status", "--json"] => Ok(Mode::Status { json: true }),
        ["--version" | "-V"] => Ok(Mode::Version),
        ["--help" | "-h" | "help"] => Ok(Mode::Help),
        ["__job-spawn", dir] => Ok(Mode::JobSpawn { dir: dir.into() }),
        ["__job-worker", dir] => Ok(Mode::JobWorker { dir: dir.into() }),
        ["jobs", sub, rest @ ..] if TOOL_COMMANDS.iter().any(|(c, ..)| *c == format!("jobs {sub}")) => {
            parse_tool(&format!("jobs {sub}"), rest)
        }
        [command, rest @ ..] if TOOL_COMMANDS.iter().any(|(c, ..)| c == command) => parse_tool(command, rest),
        [first, ..] => {
            Err(UsageError(format!("unrecognised arguments starting at '{}'", crate::text::one_line(first, 60))))
        }
    }
}

/// `consult "<question>" [--flag value]...`, `review [--flag value]... [-- paths...]`.
fn parse_tool(command: &str, words: &[&str]) -> Result<Mode, UsageError> {
    let &(_, name, bare) = TOOL_COMMANDS.iter().find(|(c, ..)| *c == command).expect("known command");
    let tool = crate::tools::find(name).expect("registered tool");
    let mut arguments = Map::new();
    let mut paths = Vec::new();
    let mut print = Print::Envelope { pretty: false };
    let mut words = words.iter().copied();
    let mut only_positional = false;
    while let Some(word) = words.next() {
        if only_positional || !word.starts_with("--") {
            match bare {
                Bare::One(param) if !arguments.contains_key(param) => {
                    arguments.insert(param.to_string(), json!(word));
                }
                Bare::One(_) => return Err(UsageError(format!("{command} takes one quoted argument"))),
                Bare::Paths => paths.push(json!(word)),
                Bare::None => return Err(UsageError(format!("{command} takes no arguments besides options"))),
            }
            continue;
        }
        if word == "--" {
            only_positional = true;
            continue;
        }
        if word == "--pretty" && print != Print::DiffOnly {
            print = Print::Envelope { pretty: true };
            continue;
        }
        if word == "--diff-only" && name == "codex_delegate" {
            print = Print::DiffOnly;
            continue;
        }
        let param_name = FLAG_ALIASES
            .iter()
            .find(|(flag, _)| *flag == word)
            .map_or_else(|| word.trim_start_matches('-').replace('-', "_"), |(_, param)| param.to_string());
        let Some(param) = tool.params.iter().find(|p| p.name == param_name && bare != Bare::One(p.name)) else {
            return Err(UsageError(format!("{command} has no option {}", crate::text::one_line(word, 60))));
        };
        let value = words.next().ok_or_else(|| UsageError(format!("{word} needs a value")))?;
        let value = match param.kind {
            Kind::Integer { .. } => {
                json!(value.parse::<i64>().map_err(|_| UsageError(format!("{word} needs a whole number")))?)
            }
            _ => json!(value),
        };
        arguments.insert(param.name.to_string(), value);
    }
    if let Bare::One(param) = bare
        && !arguments.contains_key(param)
    {
        return Err(UsageError(format!("{command} needs the {param} as an argument")));
    }
    if !paths.is_empty() {
        arguments.insert("paths".into(), Value::Array(paths));
    }
    if !arguments.contains_key("workspace_root") {
        // From a shell, the project is where the command runs.
        let cwd = std::env::current_dir().map_err(|e| UsageError(format!("cannot read the current directory: {e}")))?;
        arguments.insert("workspace_root".into(), json!(cwd.display().to_string()));
    }
    Ok(Mode::Tool { name, arguments: Value::Object(arguments), print })
}

/// Progress of a shell-run tool, for the person watching: one stderr line a second at most.
#[derive(Default)]
pub struct StderrProgress {
    last: Mutex<Option<(Instant, String)>>,
}

impl crate::tools::Progress for StderrProgress {
    fn report(&self, _events_seen: u64, activity: &str) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.as_ref().is_none_or(|(at, said)| said != activity && at.elapsed() >= Duration::from_secs(1));
        if due {
            eprintln!("codex: {activity}");
            *last = Some((Instant::now(), activity.to_string()));
        }
    }
}

pub fn usage() -> String {
    let mut text = format!(
        "codex-in-claude {} — MCP server that lets Claude Code consult, review with, and delegate to the OpenAI codex CLI

USAGE:
    codex-in-claude [serve]        MCP server on stdin/stdout (what an MCP client launches)
    codex-in-claude status [--json]
                                   is codex installed, supported and logged in?
    codex-in-claude consult QUESTION [--context TEXT] [OPTIONS]
                                   ask Codex for a second opinion (PAID)
    codex-in-claude review [--scope working_tree|branch|commit] [--base REF] [--commit REF]
                           [--untracked explicit_only|include|exclude] [--context TEXT] [OPTIONS] [-- PATHS...]
                                   have Codex review changes (PAID; no changes, no model call)
    codex-in-claude dry-run [review options] [-- PATHS...]
                                   what review would send, without calling the model (free)
    codex-in-claude delegate TASK [--diff-only] [OPTIONS]
                                   Codex does TASK in a throwaway copy; prints the envelope, or with
                                   --diff-only just the diff, paths from the repository's top level
                                   (pipe it to: git -C \"$(git rev-parse --show-toplevel)\" apply) (PAID)
    codex-in-claude delegate-dry-run TASK [OPTIONS]
                                   what delegate would start from, no model call (free)
    codex-in-claude jobs list | status ID | result ID | consume ID | cancel ID [--workspace DIR]
                                   background jobs of a workspace (started by the _async tools)
    codex-in-claude --version
    codex-in-claude --help

OPTIONS (tool commands):
    --workspace DIR  (default: the current directory)   --model NAME   --reasoning-effort LEVEL
    --isolation inherit|ignore-config|ignore-rules      --timeout SECONDS (consult, review, delegate)
    --detail summary|full (consult, review, delegate)   --pretty (indented JSON)
    Tool commands print the result envelope as JSON and exit 0 when ok is true, 1 when it is
    false, 2 on a usage error.

Add to Claude Code:  claude mcp add codex -- codex-in-claude

ENVIRONMENT (invalid values fall back to the default and are reported by `status`):
",
        crate::VERSION
    );
    for var in crate::config::VARS {
        text.push_str(&format!(
            "    {}{:<24} {} (default: {})\n",
            crate::config::PREFIX,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Mode, UsageError> {
        parse(words.iter().map(OsString::from))
    }

    #[test]
    fn parses_every_mode() {
        assert_eq!(parse_words(&[]), Ok(Mode::Serve));
        assert_eq!(parse_words(&["serve"]), Ok(Mode::Serve));
        assert_eq!(parse_words(&["status", "--json"]), Ok(Mode::Status { json: true }));
        assert_eq!(parse_words(&["-V"]), Ok(Mode::Version));
        assert_eq!(parse_words(&["--help"]), Ok(Mode::Help));
        assert!(parse_words(&["serve", "extra"]).is_err());
        assert!(parse_words(&["--bogus"]).is_err());
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
        assert_eq!(print, Print::Envelope { pretty: true });
        let Ok(Mode::Tool { name, print, .. }) = parse_words(&["delegate", "fix it", "--diff-only"]) else {
            panic!("not a tool mode")
        };
        assert_eq!((name, print), ("codex_delegate", Print::DiffOnly));
        assert!(parse_words(&["consult", "q", "--diff-only"]).is_err(), "--diff-only is for delegate");
        assert_eq!(
            arguments,
            json!({"question": "Is it safe?", "extra_context": "c", "timeout_seconds": 60, "workspace_root": "/w"})
        );
        let Ok(Mode::Tool { arguments, .. }) =
            parse_words(&["review", "--scope", "branch", "--base", "main", "--", "src", "--odd-name"])
        else {
            panic!("not a tool mode")
        };
        assert_eq!(arguments["paths"], json!(["src", "--odd-name"]));
        assert_eq!(arguments["base"], json!("main"));
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

    #[test]
    fn help_and_readme_list_every_environment_variable() {
        let help = usage();
        let readme = include_str!("../README.md");
        for var in crate::config::VARS {
            let name = format!("CODEX_IN_CLAUDE_{}", var.name);
            assert!(help.contains(&name), "--help misses {name}");
            assert!(readme.contains(&format!("`{name}`")), "README misses {name}");
        }
    }
}
