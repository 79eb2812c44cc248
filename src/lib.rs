//! codex-in-claude: one synchronous binary that lets an MCP client (Claude Code) call the OpenAI
//! `codex` CLI for second opinions, reviews and delegated diffs, safely.
//!
//! The crate is four layers, one folder each; `run` below is the composition root that picks a
//! front end:
//!
//! ```text
//!   frontends   mcp (the MCP server)   cli (the command line)   worker (background jobs)
//!       |                 each calls tools, none calls another
//!   tools       the registry, parameters, the call context, meta, one handler per tool
//!       |
//!   adapters    git (runner, review gathering, the throwaway copy), codex (probe, exec, events,
//!       |       failure, answer parsing, prompts, app-server), workspace, jobs (the job store),
//!       |       sessions (what a follow-up by session id needs), budget (the daily token ledger)
//!   foundation  identity, policy enums, the error contract (envelope), config, redaction,
//!               JSON-RPC, the process runner, state files, logging and small utilities
//! ```
//!
//! **The rule: a module names only its own layer and the layers below it.** foundation names
//! nothing above itself, adapters nothing of tools or front ends, tools nothing of front ends.
//! Within a layer, files may use each other but form no cycle outside a module and its own
//! children. `tests/integration/layers.rs` checks this by reading every `use crate::…`, and
//! that no adapter names the agent-visible error: adapters return typed errors, which
//! `tools/errors.rs` alone maps to an `ErrorCode` with its repair and retry facts.
//!
//! Modules are private to the crate unless `main.rs`, an integration test or the bench needs
//! them, so the compiler reports code nothing uses.

pub mod adapters;
pub mod foundation;
pub mod frontends;
pub(crate) mod tools;

use std::io::Write as _;
use std::process::ExitCode;

use adapters::jobs;
use foundation::identity::VERSION;
use foundation::{cancel, config, log};
use frontends::{cli, mcp, review_gate, sarif, setup, worker};

/// Runs one mode to completion.
pub fn run(mode: cli::Mode) -> ExitCode {
    // First, before anything is created, in every mode (the job worker and its intermediate
    // included): with group and other bits masked off, every file and directory this process
    // and its children create is private to the user from its first instant, wherever it lives
    // and whoever creates it. Explicit modes where the server creates files (`statefile`,
    // `foundation::scratch`) say the same, but only the mask reaches what git, codex and the
    // commands codex runs create (codex's last message, the scratch object store's objects, a
    // build's output in the throwaway copy). A diff is unchanged by it: git records only the
    // executable bit, which the mask keeps for the user. Files copied into the copy keep their
    // source's mode under an owner-only area.
    foundation::sys::private_umask();
    let config = config::Config::from_env();
    log::init(config.log_level, config.log_file.as_deref());
    adapters::codex::environment::pass_through(&config.env_passthrough);
    for warning in &config.warnings {
        log_warn!("{warning}");
    }
    match mode {
        cli::Mode::Serve => {
            log_info!("serving MCP on stdio (version {VERSION})");
            // A server or worker killed mid-run could not remove its temporary areas (a delegate's
            // copy, a scratch object store, codex's last message); clean such leftovers without
            // delaying the handshake. Live runs' areas hold their locks and are kept.
            let bases = vec![config.worktree_base.clone(), std::env::temp_dir()];
            std::thread::spawn(move || {
                for warning in foundation::scratch::reap(&bases, &foundation::scratch::Kind::ALL) {
                    log_warn!("{warning}");
                }
            });
            // Starts read no record, so results past their TTL are swept here, in the background.
            let swept = config.clone();
            std::thread::spawn(move || jobs::sweep_expired(&swept));
            mcp::serve(std::io::stdin(), std::io::stdout(), config);
            ExitCode::SUCCESS
        }
        cli::Mode::Status { json, pretty } => {
            // The report reads probe caches and the budget ledger from the state directory.
            if let Err(unsafe_dir) = adapters::state_dir::verify(&config.state_dir) {
                let error = foundation::envelope::ToolError::from(unsafe_dir);
                eprintln!(
                    "codex-in-claude: {}
{}",
                    error.message, error.repair
                );
                return ExitCode::FAILURE;
            }
            let report = tools::status_report(&config);
            let text = if json { json_text(&report, pretty) } else { cli::render_status(&report) };
            let written = print_stdout(&text);
            // Scripts can tell a usable codex by the exit status alone.
            if report["ready"] == serde_json::Value::Bool(true) { written } else { ExitCode::FAILURE }
        }
        cli::Mode::Tool { name, arguments, print } => {
            let envelope = call_from_shell(&config, name, &arguments);
            let ok = envelope["ok"] == serde_json::Value::Bool(true);
            // A diff left out of the envelope for its size is read from its patch file.
            let patch = envelope["patch_file"].as_str().filter(|_| envelope["diff"].is_null());
            // Through the store's safe open: a link or FIFO planted in the patch's place is
            // neither followed nor waited on.
            let kept = patch.and_then(|path| {
                foundation::statefile::open_regular(std::path::Path::new(path))
                    .and_then(|mut file| {
                        let mut text = String::new();
                        std::io::Read::read_to_string(&mut file, &mut text).map(|_| text)
                    })
                    .ok()
            });
            let written = match envelope["diff"].as_str().or(kept.as_deref()) {
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
        cli::Mode::ReviewSarif { arguments, pretty, fail_on } => {
            let envelope = call_from_shell(&config, "codex_review_changes", &arguments);
            print_sarif(&sarif::Report::from_envelope(&envelope, fail_on), pretty)
        }
        cli::Mode::SarifUsageError(problem) => {
            eprintln!("codex-in-claude: {problem}\n\n{}", cli::usage());
            print_sarif(&sarif::Report::usage_error(&problem), false)
        }
        cli::Mode::ClearUsageLimit => {
            let budget = adapters::budget::Budget::new(&config.state_dir, config.daily_token_budget);
            match budget.clear_usage_limit() {
                Ok(Some(resets_ms)) => print_stdout(&format!(
                    "cleared: paid calls are sent again (codex had said the plan's usage limit resets at {})\n",
                    foundation::clock::rfc3339(resets_ms)
                )),
                Ok(None) => print_stdout("no usage limit was noted; nothing to clear\n"),
                Err(err) => {
                    eprintln!("codex-in-claude: cannot clear the usage limit in {}: {err}", config.state_dir.display());
                    ExitCode::FAILURE
                }
            }
        }
        cli::Mode::Setup => {
            let checks = setup::checks(&config, &cancel::CancelToken::new());
            let written = print_stdout(&setup::render(&checks));
            if setup::all_ok(&checks) { written } else { ExitCode::FAILURE }
        }
        cli::Mode::ReviewGate { action } => match action {
            // The hook always exits 0: a gate that fails lets the stop through, saying why.
            cli::GateAction::Hook => {
                let _ = print_stdout(&review_gate::hook(&config, &mut std::io::stdin()));
                ExitCode::SUCCESS
            }
            cli::GateAction::Enable | cli::GateAction::Disable => {
                let (text, recorded) = review_gate::set_switch(&config, action == cli::GateAction::Enable);
                let written = print_stdout(&text);
                if recorded { written } else { ExitCode::FAILURE }
            }
            cli::GateAction::Status => print_stdout(&review_gate::status(&config)),
        },
        cli::Mode::JobSpawn { dir } => jobs::worker::spawn_main(&dir),
        cli::Mode::JobWorker { dir } => worker::main(&dir, config),
        cli::Mode::Version => print_stdout(&format!("codex-in-claude {VERSION}\n")),
        cli::Mode::Help => print_stdout(&cli::usage()),
    }
}

/// A tool called from the shell, progress on stderr, Ctrl-C cancelling it: its envelope.
fn call_from_shell(config: &config::Config, name: &str, arguments: &serde_json::Value) -> serde_json::Value {
    let tool = tools::find(name).expect("the command line only names registered tools");
    let progress = cli::StderrProgress::default();
    let context = tools::Context::new(config, &tools::NoRoots, &progress, cancel_on_interrupt());
    tools::call_tool(tool, Some(arguments), &context)
}

/// A SARIF log on stdout, and the exit status it carries (an error when it cannot be written).
fn print_sarif(report: &sarif::Report, pretty: bool) -> ExitCode {
    if print_stdout(&report.text(pretty)) == ExitCode::SUCCESS {
        ExitCode::from(report.exit_status)
    } else {
        ExitCode::from(sarif::EXIT_ERROR)
    }
}

/// A token that Ctrl-C cancels: a paid run is then stopped and its record deleted, where
/// another signal (or a closed terminal) leaves the run going and its result kept.
fn cancel_on_interrupt() -> cancel::CancelToken {
    let token = cancel::CancelToken::new();
    let interrupted = foundation::sys::catch_interrupt();
    let watcher = token.clone();
    std::thread::spawn(move || {
        while !interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        watcher.cancel();
    });
    token
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
