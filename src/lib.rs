//! codex-in-claude: one synchronous binary that lets an MCP client (Claude Code) call the OpenAI
//! `codex` CLI for second opinions, reviews and delegated diffs, safely.
//!
//! Map of the crate:
//! - `cli`: argv → `Mode`, help text; `run` below dispatches on it.
//! - `rpc`: JSON-RPC framing and classification over stdio; knows nothing of tools.
//! - `mcp`: the MCP main loop, both protocol eras, tool calls on threads, roots.
//! - `tools`: the registry every tool is declared in, and the tools themselves.
//! - `envelope`: `ErrorCode`, the error envelope and `meta` (the agent-visible contract).
//! - `process` (+ `sys`): the one runner for every child process.
//! - `codex`: what we assume about the codex CLI and how one run goes; `prompts`: what it is asked.
//! - `review`, `worktree`, `git`, `redact`: what a review looks at, where a delegated task runs,
//!   how git is run safely, and secret masking.
//! - `jobs` (+ `statefile`, `clock`): background jobs on disk, the detached worker, atomic writes.
//! - `setup`: the first-run checklist (`codex-in-claude setup`).
//! - `config`, `workspace`, `text`, `hash`, `log`: the supporting pieces.

pub mod cancel;
pub mod cli;
pub mod clock;
pub mod codex;
pub mod config;
pub mod envelope;
pub mod git;
pub mod hash;
pub mod jobs;
pub mod log;
pub mod mcp;
pub mod process;
pub mod prompts;
pub mod redact;
pub mod review;
pub mod rpc;
pub mod setup;
pub mod statefile;
mod sys;
pub mod text;
pub mod tools;
pub mod workspace;
pub mod worktree;

use std::io::Write as _;
use std::process::ExitCode;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs one mode to completion.
pub fn run(mode: cli::Mode) -> ExitCode {
    let config = config::Config::from_env();
    log::init(config.log_level, config.log_file.as_deref());
    for warning in &config.warnings {
        log_warn!("{warning}");
    }
    match mode {
        cli::Mode::Serve => {
            log_info!("serving MCP on stdio (version {VERSION})");
            // A server killed mid-delegate could not remove its worktree; clean such leftovers
            // without delaying the handshake.
            let base = config.worktree_base.clone();
            std::thread::spawn(move || {
                for warning in worktree::reap_orphans(&base) {
                    log_warn!("{warning}");
                }
            });
            mcp::serve(std::io::stdin(), std::io::stdout(), config);
            ExitCode::SUCCESS
        }
        cli::Mode::Status { json, pretty } => {
            let report = tools::status_report(&config);
            let text = if json { json_text(&report, pretty) } else { cli::render_status(&report) };
            let written = print_stdout(&text);
            // Scripts can tell a usable codex by the exit status alone.
            if report["ready"] == serde_json::Value::Bool(true) { written } else { ExitCode::FAILURE }
        }
        cli::Mode::Tool { name, arguments, print } => {
            let tool = tools::find(name).expect("the command line only names registered tools");
            let progress = cli::StderrProgress::default();
            let context = tools::Context::new(&config, &tools::NoRoots, &progress, cancel::CancelToken::new());
            let envelope = tools::call_tool(tool, Some(&arguments), &context);
            let ok = envelope["ok"] == serde_json::Value::Bool(true);
            let written = match envelope["diff"].as_str() {
                Some(diff) if print.diff_only => {
                    for file in envelope["withheld_files"].as_array().into_iter().flatten() {
                        eprintln!("not in the diff: {} ({})", file["path"].as_str().unwrap_or("?"), file["reason"]);
                    }
                    print_stdout(diff)
                }
                None if print.diff_only => {
                    eprint!("{}", json_text(&envelope, print.pretty));
                    ExitCode::SUCCESS
                }
                _ => print_stdout(&json_text(&envelope, print.pretty)),
            };
            if ok { written } else { ExitCode::FAILURE }
        }
        cli::Mode::Setup => {
            let checks = setup::checks(&config, &cancel::CancelToken::new());
            let written = print_stdout(&setup::render(&checks));
            if setup::all_ok(&checks) { written } else { ExitCode::FAILURE }
        }
        cli::Mode::JobSpawn { dir } => jobs::worker::spawn_main(&dir),
        cli::Mode::JobWorker { dir } => jobs::worker::worker_main(&dir, config),
        cli::Mode::Version => print_stdout(&format!("codex-in-claude {VERSION}\n")),
        cli::Mode::Help => print_stdout(&cli::usage()),
    }
}

/// One JSON document and a line break: indented with `--pretty`, else on one line.
fn json_text(value: &serde_json::Value, pretty: bool) -> String {
    if pretty { format!("{value:#}\n") } else { format!("{value}\n") }
}

/// Writes a command's output; a closed pipe (`| head`) is not a failure.
fn print_stdout(text: &str) -> ExitCode {
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
