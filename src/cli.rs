//! The command line: which mode to run, the help text (generated from the config table, so every
//! environment variable is listed), and the human rendering of `status`.

use std::ffi::OsString;

use serde_json::Value;

#[derive(Debug, PartialEq)]
pub enum Mode {
    /// MCP on stdin/stdout (the default).
    Serve,
    Status {
        json: bool,
    },
    Version,
    Help,
}

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
        [first, ..] => {
            Err(UsageError(format!("unrecognised arguments starting at '{}'", crate::text::one_line(first, 60))))
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
    codex-in-claude --version
    codex-in-claude --help

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
