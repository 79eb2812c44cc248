//! `codex-in-claude setup`: everything a first run needs, checked for free (no model call,
//! nothing spent), each gap printed with the exact fix. The codex facts (found, version, login)
//! are read from the `codex_status` report (and with them the names of the environment variables
//! codex gets), and the sandbox from the probe a delegation runs before it starts codex, so
//! nothing is checked two ways; git and the Claude Code registration
//! are checked here. A check that cannot run until an earlier gap is fixed says so.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::adapters::codex::exec::WriteScope;
use crate::adapters::codex::probe::{self, SandboxCheck};
use crate::foundation::cancel::CancelToken;
use crate::foundation::config::Config;
use crate::foundation::process::{Cmd, RunError};
use crate::foundation::scratch;

/// How long `git --version` and the `claude` queries may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// The plugin's and the program's name.
const NAME: &str = "codex-in-claude";

/// What one check found.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Ok(String),
    Gap {
        detail: String,
        fix: String,
    },
    /// It cannot be checked until an earlier gap is fixed.
    NotChecked(String),
}

#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
}

/// Runs every check; the codex ones only as far as the earlier ones allow.
pub fn checks(config: &Config, cancel: &CancelToken) -> Vec<Check> {
    let status = crate::tools::status_report(config);
    let text = |key: &str| status[key].as_str().unwrap_or_default().to_string();
    let found = status["codex_found"] == Value::Bool(true);
    let not_found = || Verdict::NotChecked("codex is not installed (see above)".into());

    let codex = if found {
        Verdict::Ok(text("codex_version"))
    } else {
        Verdict::Gap {
            detail: status["version_detail"].as_str().unwrap_or("codex was not found").to_string(),
            fix: format!("install it: {}; then make sure `codex` is on PATH", install_command(config)),
        }
    };
    let supported = status["supported_versions"].as_array().into_iter().flatten().filter_map(Value::as_str);
    let range = supported.collect::<Vec<_>>().join(", ");
    let version = match status["version_supported"].as_bool() {
        _ if !found => not_found(),
        Some(true) => Verdict::Ok(format!("{} is in the tested range ({range})", text("codex_version"))),
        Some(false) => Verdict::Gap {
            detail: format!("{} is outside the tested range ({range})", text("codex_version")),
            fix: format!("install the tested version: {}", install_command(config)),
        },
        None => Verdict::Gap {
            detail: format!("`codex --version` printed no version number ({})", text("codex_version")),
            fix: format!("reinstall codex: {}", install_command(config)),
        },
    };
    let login = match status["codex_authenticated"].as_bool() {
        _ if !found => not_found(),
        Some(true) => Verdict::Ok(text("auth_detail")),
        Some(false) => Verdict::Gap {
            detail: text("auth_detail"),
            fix: "run `codex login` in a terminal (a custom model provider configured in codex's config.toml may not need it)".into(),
        },
        None => Verdict::Gap {
            detail: text("auth_detail"),
            fix: "run `codex login status` in a terminal to see why, then `codex login`".into(),
        },
    };
    let sandbox = if found { sandbox(cancel) } else { not_found() };
    vec![
        Check { name: "codex installed", verdict: codex },
        Check { name: "codex version", verdict: version },
        Check { name: "codex logged in", verdict: login },
        Check { name: "codex sandbox", verdict: sandbox },
        Check { name: "environment passed", verdict: Verdict::Ok(environment(&status["environment"])) },
        Check { name: "git installed", verdict: git(cancel) },
        Check { name: "Claude Code registration", verdict: registration(cancel) },
    ]
}

/// Which of the server's variables codex and the commands it runs get, by name (the status
/// report's `environment`); never a value.
fn environment(passed: &Value) -> String {
    let names = |key: &str| {
        let names: Vec<&str> = passed[key].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    };
    format!(
        "codex and the commands it runs get {}; codex alone gets {}; every other variable is withheld \
         (add names with CODEX_IN_CLAUDE_ENV_PASSTHROUGH; now: {})",
        names("commands"),
        names("codex_only"),
        names("passthrough")
    )
}

/// `npm install -g @openai/codex@<the newest tested version>`.
fn install_command(config: &Config) -> String {
    match config.supported_versions.iter().max() {
        Some((major, minor)) => format!("npm install -g @openai/codex@{major}.{minor}"),
        None => "npm install -g @openai/codex".into(),
    }
}

/// The probe a delegation runs first, in a throwaway directory laid out like its copy.
fn sandbox(cancel: &CancelToken) -> Verdict {
    let area = match scratch::Area::new(scratch::Kind::Setup) {
        Ok(area) => area,
        Err(err) => {
            return Verdict::Gap {
                detail: format!("could not make a temporary directory to try the sandbox in: {err}"),
                fix: "make the temporary directory ($TMPDIR, else /tmp) writable, then rerun".into(),
            };
        }
    };
    let (work, tmp) = (area.path().join("work"), area.path().join("tmp"));
    if let Err(err) = std::fs::create_dir(&work).and_then(|()| std::fs::create_dir(&tmp)) {
        return Verdict::Gap {
            detail: format!("could not lay out {}: {err}", area.path().display()),
            fix: "make the temporary directory ($TMPDIR, else /tmp) writable, then rerun".into(),
        };
    }
    let scope = WriteScope { roots: vec![work.clone(), tmp.clone()], tmpdir: tmp };
    match probe::sandbox(&work, &scope, cancel) {
        SandboxCheck::Works => Verdict::Ok("`codex sandbox -- true` runs here (delegated tasks can edit)".into()),
        SandboxCheck::CodexMissing => Verdict::NotChecked("codex is not installed (see above)".into()),
        SandboxCheck::Fails(reason) => Verdict::Gap {
            detail: format!("codex's sandbox cannot run a command here, so delegated tasks would fail: {reason}"),
            fix: sandbox_fix().into(),
        },
    }
}

fn sandbox_fix() -> &'static str {
    if cfg!(target_os = "linux") {
        "allow unprivileged user namespaces, which codex's bubblewrap sandbox needs (`sudo sysctl -w user.max_user_namespaces=15000`; on Ubuntu 24.04 and later also `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), or run outside a container that forbids them; then rerun setup"
    } else {
        "run `codex sandbox -- true` in a terminal and fix what it reports; then rerun setup"
    }
}

fn git(cancel: &CancelToken) -> Verdict {
    match Cmd::new("git").arg("--version").cwd(Path::new("/")).timeout(QUERY_TIMEOUT).cancel(cancel).run() {
        Ok(out) if out.success() => Verdict::Ok(out.stdout.text().trim().to_string()),
        Err(RunError::NotFound { .. }) => Verdict::Gap {
            detail: "git was not found on PATH".into(),
            fix: "install git (Debian/Ubuntu: `sudo apt-get install git`; macOS: `xcode-select --install`) and put it on PATH".into(),
        },
        other => Verdict::Gap {
            detail: format!("`git --version` failed: {}", outcome_text(other)),
            fix: "reinstall git, then rerun setup".into(),
        },
    }
}

/// The plugin installed and enabled in Claude Code (`claude plugin list --json`), or else a
/// server running this program added by hand (`claude mcp get`).
fn registration(cancel: &CancelToken) -> Verdict {
    let install = format!(
        "in Claude Code run `/plugin marketplace add {}` and `/plugin install {NAME}@{NAME}` (see README, Install)",
        repository()
    );
    let claude = |args: &[&str]| Cmd::new("claude").args(args).timeout(QUERY_TIMEOUT).cancel(cancel).run();
    let listing = match claude(&["plugin", "list", "--json"]) {
        Ok(out) if out.success() => out.stdout.text(),
        Err(RunError::NotFound { .. }) => {
            return Verdict::Gap {
                detail: "Claude Code (`claude`) was not found on PATH".into(),
                fix: format!("install Claude Code, then {install}"),
            };
        }
        other => {
            return Verdict::Gap {
                detail: format!("`claude plugin list --json` failed: {}", outcome_text(other)),
                fix: "run `claude plugin list` in a terminal and fix what it reports; then rerun setup".into(),
            };
        }
    };
    let plugins: Vec<Value> = serde_json::from_str(&listing).unwrap_or_default();
    let ours = plugins.iter().find(|p| p["id"].as_str().is_some_and(|id| id.starts_with(&format!("{NAME}@"))));
    match ours {
        Some(plugin) if plugin["enabled"] == Value::Bool(true) => Verdict::Ok(format!(
            "plugin {} {} is installed and enabled",
            plugin["id"].as_str().unwrap_or(NAME),
            plugin["version"].as_str().unwrap_or("(no version)")
        )),
        Some(plugin) => {
            let id = plugin["id"].as_str().unwrap_or(NAME);
            Verdict::Gap {
                detail: format!("plugin {id} is installed but disabled"),
                fix: format!("run `claude plugin enable {id}` (or `/plugin enable {id}` in Claude Code)"),
            }
        }
        None => {
            // Registered by hand: under the name the README uses, or ours; a server named
            // `codex` counts only when it runs this program.
            let by_hand = ["codex", NAME].into_iter().find(|server| {
                claude(&["mcp", "get", server]).is_ok_and(|out| out.success() && out.stdout.text().contains(NAME))
            });
            match by_hand {
                Some(server) => Verdict::Ok(format!(
                    "MCP server `{server}` runs {NAME} (`claude mcp get {server}`), without the plugin"
                )),
                None => Verdict::Gap {
                    detail: format!("Claude Code has neither the plugin nor an MCP server running {NAME}"),
                    fix: install,
                },
            }
        }
    }
}

/// `owner/name` of the repository the releases and the marketplace come from (Cargo.toml).
fn repository() -> &'static str {
    let url = env!("CARGO_PKG_REPOSITORY");
    url.strip_prefix("https://github.com/").unwrap_or(url)
}

/// A failed or odd run, on one line.
fn outcome_text(outcome: Result<crate::foundation::process::Output, RunError>) -> String {
    match outcome {
        Ok(out) => crate::foundation::text::one_line(
            &format!("exit {:?}: {} {}", out.exit_code, out.stderr.text(), out.stdout.text()),
            300,
        ),
        Err(err) => crate::foundation::text::one_line(&err.to_string(), 300),
    }
}

/// The checks for a person: one line each, the fix under every gap, the verdict last.
pub fn render(checks: &[Check]) -> String {
    let mut text = String::new();
    for check in checks {
        match &check.verdict {
            Verdict::Ok(detail) => text.push_str(&format!("ok       {}: {detail}\n", check.name)),
            Verdict::Gap { detail, fix } => {
                text.push_str(&format!("MISSING  {}: {detail}\n         fix: {fix}\n", check.name));
            }
            Verdict::NotChecked(why) => text.push_str(&format!("-        {}: not checked: {why}\n", check.name)),
        }
    }
    let missing = checks.iter().filter(|c| matches!(c.verdict, Verdict::Gap { .. })).count();
    let unchecked = checks.iter().filter(|c| matches!(c.verdict, Verdict::NotChecked(_))).count();
    if missing + unchecked == 0 {
        text.push_str("\nsetup: everything is in place (nothing was spent checking).\n");
    } else {
        text.push_str(&format!(
            "\nsetup: {missing} missing, {unchecked} not checked yet (nothing was spent checking); fix what is missing and rerun `codex-in-claude setup`.\n"
        ));
    }
    text
}

/// Whether every check passed.
pub fn all_ok(checks: &[Check]) -> bool {
    checks.iter().all(|c| matches!(c.verdict, Verdict::Ok(_)))
}
