//! Cheap, spend-free questions to the codex CLI: its version, whether it is logged in, which
//! `codex exec` flags it accepts, and whether its workspace-write sandbox can run here. Used by
//! `codex_status` and before a delegation; the flag probe is cached because `codex exec --help`
//! costs a process spawn.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::exec::WriteScope;
use crate::foundation::cancel::CancelToken;
use crate::foundation::process::{Cmd, Env, RunError};
use crate::foundation::{clock, statefile};

const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
const FLAGS_CACHE_TTL: Duration = Duration::from_secs(300);

/// Flags our `codex exec` invocations rely on (docs/product.md §4 safety pins and docs/codex-cli.md §2).
/// If codex stops accepting one, runs would fail at argument parsing, before any spend.
/// `--model` is not listed: it is optional, and dropped (with a `compat_warnings` entry) when the
/// help does not mention it.
pub const REQUIRED_EXEC_FLAGS: &[&str] = &[
    "--json",
    "--sandbox",
    "--cd",
    "--output-last-message",
    "--output-schema",
    "--ephemeral",
    "--skip-git-repo-check",
    "--ignore-user-config",
    "--ignore-rules",
    "--strict-config",
    "--config",
    "--disable",
];

/// Every probe starts codex as a run does: with the allowlisted environment, so what it finds
/// (a login, a flag) is what a run will find.
fn codex_env() -> Env {
    super::environment::codex(Vec::new())
}

#[derive(Debug, Clone)]
pub enum Version {
    /// The binary is not on PATH (or cannot be started).
    Missing,
    /// It started but `--version` failed or timed out.
    Broken { detail: String },
    /// Trimmed, sanitised `--version` output and the parsed `major.minor.patch`, if any.
    Found { text: String, parsed: Option<(u64, u64, u64)> },
}

pub fn version(cancel: &CancelToken) -> Version {
    match Cmd::new(super::PROGRAM).arg("--version").env(codex_env()).timeout(PROBE_TIMEOUT).cancel(cancel).run() {
        Err(RunError::NotFound { .. }) => Version::Missing,
        Err(err @ RunError::Spawn { .. }) => Version::Broken { detail: err.to_string() },
        Ok(out) if out.timed_out || out.cancelled => {
            Version::Broken { detail: "codex --version did not finish".into() }
        }
        Ok(out) if !out.success() => Version::Broken { detail: format!("codex --version exited {:?}", out.exit_code) },
        Ok(out) => {
            let raw = out.stdout.text();
            Version::Found { text: crate::foundation::text::one_line(&raw, 100), parsed: parse_version(&raw) }
        }
    }
}

/// The first `N.N.N` in the text (extra components ignored).
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find_map(|run| {
        let mut parts = run.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next()?.parse().ok()?;
        Some((major, minor, patch))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `codex login status` exited 0; the method, when it names one we recognise.
    LoggedIn {
        method: Option<&'static str>,
    },
    NotLoggedIn,
    /// The probe could not run or timed out.
    Unknown,
}

/// `codex login status`. Its output may name the account, so only the method is kept.
pub fn login_status(cancel: &CancelToken) -> Auth {
    match Cmd::new(super::PROGRAM)
        .args(["login", "status"])
        .env(codex_env())
        .timeout(PROBE_TIMEOUT)
        .cancel(cancel)
        .run()
    {
        Err(_) => Auth::Unknown,
        Ok(out) if out.timed_out || out.cancelled || out.exit_code.is_none() => Auth::Unknown,
        Ok(out) if out.exit_code != Some(0) => Auth::NotLoggedIn,
        Ok(out) => {
            let text = format!("{}\n{}", out.stdout.text(), out.stderr.text()).to_ascii_lowercase();
            let method = if text.contains("chatgpt") {
                Some("ChatGPT")
            } else if text.contains("api key") {
                Some("API key")
            } else {
                None
            };
            Auth::LoggedIn { method }
        }
    }
}

/// The long flags `codex exec --help` mentions, or `None` when the help could not be read (then
/// nothing is known and every flag is assumed to work: failing open here only loses a warning).
#[derive(Debug)]
pub struct ExecFlags(pub Option<BTreeSet<String>>);

impl ExecFlags {
    /// Whether an optional flag may be sent. Unknown help means yes: the run itself will say.
    pub fn supports(&self, flag: &str) -> bool {
        self.0.as_ref().is_none_or(|flags| flags.contains(flag))
    }

    /// Required flags the help does not mention.
    pub fn missing(&self) -> Vec<&'static str> {
        match &self.0 {
            None => Vec::new(),
            Some(flags) => REQUIRED_EXEC_FLAGS.iter().copied().filter(|f| !flags.contains(*f)).collect(),
        }
    }
}

/// `codex exec --help`, cached for five minutes in this process and, when `kept_in` names a
/// directory, for an hour in a file there for the processes that follow (every paid run is a
/// job worker process of its own, and the probe would otherwise cost each run a codex start).
/// The file is used only while the `codex` on PATH is the same file, unchanged, that was
/// probed. `refresh` forces a new probe. A cancelled probe is not cached.
pub fn exec_flags(refresh: bool, cancel: &CancelToken, kept_in: Option<&Path>) -> Arc<ExecFlags> {
    static CACHE: Mutex<Option<(Instant, Arc<ExecFlags>)>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, flags)) = cache.as_ref()
        && !refresh
        && at.elapsed() < FLAGS_CACHE_TTL
    {
        return Arc::clone(flags);
    }
    let kept = kept_in.map(|dir| dir.join(KEPT_FLAGS_FILE));
    let program = KeptFlags::identify();
    if !refresh
        && let (Some(kept), Some(program)) = (&kept, &program)
        && let Ok(record) = statefile::read_json::<KeptFlags>(kept)
        && record.program == *program
        && clock::now_ms().saturating_sub(record.probed_ms) < KEPT_FLAGS_TTL_MS
    {
        let flags = Arc::new(ExecFlags(Some(record.flags)));
        *cache = Some((Instant::now(), Arc::clone(&flags)));
        return flags;
    }
    let help = Cmd::new(super::PROGRAM)
        .args(["exec", "--help"])
        .env(codex_env())
        .timeout(PROBE_TIMEOUT)
        .cancel(cancel)
        .run()
        .ok()
        .filter(|out| !out.timed_out && !out.cancelled)
        .map(|out| format!("{}\n{}", out.stdout.text(), out.stderr.text()))
        .filter(|text| !text.trim().is_empty());
    let flags = Arc::new(ExecFlags(help.map(|text| long_flags(&text))));
    if !cancel.is_cancelled() {
        *cache = Some((Instant::now(), Arc::clone(&flags)));
        // Only a help that was read is worth keeping; a refused write only costs the next run
        // its own probe.
        if let (Some(kept), Some(program), Some(known)) = (&kept, program, &flags.0) {
            let record = KeptFlags { program, probed_ms: clock::now_ms(), flags: known.clone() };
            if let Err(err) = statefile::write_json(kept, &record) {
                crate::log_debug!("could not keep the codex exec --help probe in {}: {err}", kept.display());
            }
        }
    }
    flags
}

/// The file, in the state directory, that keeps the flag probe between processes.
const KEPT_FLAGS_FILE: &str = "codex-exec-flags.json";
/// How long a kept probe of an unchanged codex is trusted.
const KEPT_FLAGS_TTL_MS: u64 = 3_600_000;

/// A kept `codex exec --help` probe and the codex file it describes.
#[derive(Debug, Serialize, Deserialize)]
struct KeptFlags {
    program: ProgramFile,
    probed_ms: u64,
    flags: BTreeSet<String>,
}

/// The `codex` a run would start, told apart by path, size and modification time: an upgrade or
/// another codex earlier on PATH is another file.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ProgramFile {
    path: String,
    len: u64,
    modified_ns: u128,
}

impl KeptFlags {
    fn identify() -> Option<ProgramFile> {
        let path = crate::foundation::process::locate(super::PROGRAM)?;
        let metadata = path.metadata().ok()?;
        let modified = metadata.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(ProgramFile { path: path.display().to_string(), len: metadata.len(), modified_ns: modified.as_nanos() })
    }
}

/// What `sandbox` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxCheck {
    Works,
    /// codex is not on PATH: the run itself reports `codex_not_found`.
    CodexMissing,
    /// The sandbox could not run a command; codex's reason, sanitised and bounded.
    Fails(String),
}

/// Whether codex's workspace-write sandbox, with the pins a delegation uses, can run a command
/// in `dir`: `codex sandbox … -- true`, no model call. Where the sandbox cannot start (no user
/// namespaces, a seccomp profile that forbids them) every edit of the run would fail.
pub fn sandbox(dir: &Path, scope: &WriteScope, cancel: &CancelToken) -> SandboxCheck {
    let mut args: Vec<OsString> = vec!["sandbox".into(), "-c".into(), "sandbox_mode=\"workspace-write\"".into()];
    args.extend(super::exec::workspace_write_pins(Some(scope)));
    args.extend(["--".into(), "true".into()]);
    let env = super::environment::codex(vec![("TMPDIR".into(), scope.tmpdir.display().to_string())]);
    let outcome = Cmd::new(super::PROGRAM).args(args).cwd(dir).env(env).timeout(PROBE_TIMEOUT).cancel(cancel).run();
    match outcome {
        Err(RunError::NotFound { .. }) => SandboxCheck::CodexMissing,
        Err(err) => SandboxCheck::Fails(crate::foundation::text::one_line(&err.to_string(), 300)),
        Ok(out) if out.success() => SandboxCheck::Works,
        Ok(out) if out.timed_out => SandboxCheck::Fails("codex sandbox did not finish".into()),
        Ok(out) => {
            let said = crate::foundation::text::one_line(&format!("{} {}", out.stderr.text(), out.stdout.text()), 300);
            SandboxCheck::Fails(format!("codex sandbox -- true exited {:?}: {said}", out.exit_code))
        }
    }
}

/// Every `--[a-z][a-z0-9-]+` token in the text.
fn long_flags(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let at_boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-');
        if at_boundary && bytes[i] == b'-' && bytes[i + 1] == b'-' && bytes[i + 2].is_ascii_lowercase() {
            let end = (i + 2..bytes.len())
                .find(|&j| !(bytes[j].is_ascii_lowercase() || bytes[j].is_ascii_digit() || bytes[j] == b'-'))
                .unwrap_or(bytes.len());
            flags.insert(text[i..end].trim_end_matches('-').to_string());
            i = end;
        } else {
            i += 1;
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_first_semver_triple() {
        assert_eq!(parse_version("codex-cli 0.169.0\n"), Some((0, 169, 0)));
        assert_eq!(parse_version("v1.2.3-beta"), Some((1, 2, 3)));
        assert_eq!(parse_version("codex 12"), None);
        assert_eq!(parse_version("build 7. then 0.5.1"), Some((0, 5, 1)));
    }

    #[test]
    fn finds_long_flags_in_real_help_text() {
        let help = include_str!("../../../fixtures/codex-exec-help-0.169.txt");
        let flags = long_flags(help);
        let missing: Vec<_> = REQUIRED_EXEC_FLAGS.iter().filter(|f| !flags.contains(**f)).collect();
        assert!(missing.is_empty(), "missing {missing:?}");
        assert!(!flags.contains("--full-auto"));
    }
}
