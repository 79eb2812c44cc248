//! One `codex exec` run: the argv (docs/product.md §4 safety pins, docs/codex-cli.md §2), the prompt on
//! stdin, the temp files, the event stream read as it arrives, and the classified outcome.
//!
//! Argv, in this order:
//! `exec --json --sandbox S --cd DIR --output-last-message F [--ephemeral] --disable remote_plugin
//!  --disable goals SHELL-ENVIRONMENT PINS (`environment::shell_policy_pins`)
//!  [WORKSPACE-WRITE PINS (`workspace_write_pins`)]
//!  [--ignore-user-config [--ignore-rules]] [--skip-git-repo-check] [--output-schema F]
//!  [--model M] [-c model_reasoning_effort="E"] --strict-config -`
//! `--strict-config` rides with the `-c` pins, so a key this codex does not know fails at
//! start-up, before any spend, instead of being silently ignored (an ignored environment pin
//! would hand the commands codex's whole environment). `--ephemeral` only under
//! `CODEX_IN_CLAUDE_EPHEMERAL`: otherwise codex keeps the session so a follow-up can continue it.
//!
//! A follow-up continues a session (docs/codex-cli.md §2): `exec resume` takes the same flags
//! except `--sandbox` and `--cd`, so the sandbox is the `-c sandbox_mode="S"` override and the
//! directory is the process cwd:
//! `exec resume --json --output-last-message F --disable remote_plugin --disable goals
//!  -c sandbox_mode="S" SHELL-ENVIRONMENT PINS [PINS] [ISOLATION] [--skip-git-repo-check]
//!  [--output-schema F] [--model M] [-c EFFORT] --strict-config SESSION_ID -`
//!
//! codex runs with an allowlisted environment (`environment::codex`), and the commands its
//! shell runs with a narrower one pinned by the shell-environment pins.
//!
//! A workspace-write run may write only its `WriteScope`: the throwaway copy and a private
//! temporary directory, which is also codex's `TMPDIR`. codex's sandbox would otherwise leave
//! `/tmp` and `$TMPDIR` writable, and with them a repository that lives there.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::events::Stream;
use super::failure::{self, CodexFailure};
use crate::foundation::cancel::CancelToken;
use crate::foundation::policy::{Isolation, Tier};
use crate::foundation::process::{Cmd, RunError};
use crate::foundation::scratch;

/// stderr kept from a run: enough for every error codex prints before or after a turn.
const STDERR_CAP: usize = 256 * 1024;

/// Everything that decides how codex is run.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub tier: Tier,
    /// codex's working root (`--cd`) and the process cwd.
    pub dir: std::path::PathBuf,
    pub prompt: String,
    /// Sent with `--output-schema`; the answer is then a JSON document.
    pub output_schema: Option<Value>,
    /// Consult may run outside a git repository.
    pub skip_git_repo_check: bool,
    pub isolation: Isolation,
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    pub timeout: Duration,
    pub max_output_bytes: usize,
    /// Where a workspace-write run may write; `None` means nowhere but `dir`.
    pub write_scope: Option<WriteScope>,
    /// Variables set on top of codex's allowlisted environment and passed on to the commands it
    /// runs: the git policy for the git codex and those commands run in `dir`.
    pub env: Vec<(String, String)>,
    /// `--ephemeral`: codex keeps no session file.
    pub ephemeral: bool,
    /// The session a follow-up continues (`exec resume`); a validated UUID.
    pub resume: Option<String>,
    /// Where the `codex exec --help` probe is kept between processes (the state directory).
    pub probe_kept_in: Option<std::path::PathBuf>,
}

/// The directories a workspace-write run may write, besides nothing else.
#[derive(Debug, Clone)]
pub struct WriteScope {
    /// Writable roots (the throwaway copy's top level, the private temporary directory).
    pub roots: Vec<std::path::PathBuf>,
    /// codex's `TMPDIR`; must be one of `roots`.
    pub tmpdir: std::path::PathBuf,
}

/// A finished (or stopped) run.
#[derive(Debug)]
pub struct Run {
    pub exit_code: Option<i32>,
    pub elapsed: Duration,
    /// The `-o` file, read only after a successful turn (a failed turn leaves it stale or empty).
    pub last_message: Option<String>,
    /// The `-o` file was longer than `max_output_bytes` and was cut there.
    pub last_message_truncated: bool,
    pub stream: Stream,
    /// The model actually requested with `--model` (`None` when none was, or it was dropped).
    pub model_sent: Option<String>,
    /// Optional flags left out because this codex's help does not list them.
    pub compat_warnings: Vec<String>,
    /// Why the run failed, classified (docs/product.md §5 order); `None` on success.
    pub failure: Option<CodexFailure>,
}

/// Why codex could not start; nothing was spent.
#[derive(Debug)]
pub enum StartError {
    /// codex is not on the server's PATH.
    NotFound,
    /// codex is there but could not be started.
    Spawn(RunError),
    /// The temporary directory for the run's files could not be made.
    TempDir(std::io::Error),
    SchemaFile(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::NotFound => write!(f, "codex was not found on the server's PATH"),
            StartError::Spawn(err) => write!(f, "{}", crate::foundation::text::one_line(&err.to_string(), 300)),
            StartError::TempDir(err) => write!(f, "cannot create a temporary directory: {err}"),
            StartError::SchemaFile(err) => write!(f, "cannot write the output schema file: {err}"),
        }
    }
}

/// Called with (events seen, what codex is doing) after every event.
pub type OnEvent<'a> = &'a (dyn Fn(u64, &str) + Sync);

/// Who hears about a run as it goes, and how long codex may stay silent: after `stall_warn`
/// without an event the run is reported stalled (`on_stall`, once per silent spell), after
/// `stall_kill` it is stopped and fails as `codex_stalled`.
pub struct Watch<'a> {
    pub on_event: OnEvent<'a>,
    pub on_stall: OnEvent<'a>,
    pub stall_warn: Duration,
    pub stall_kill: Duration,
}

/// Runs codex once. `Err` only when it could not start (then nothing was spent).
pub fn run(invocation: &Invocation, cancel: &CancelToken, watch: &Watch) -> Result<Run, StartError> {
    // Owner-only and locked while the run lives, so another local user cannot read codex's raw
    // answer and a killed run's area is reaped by the next start (`foundation::scratch`).
    let scratch = scratch::Area::new(scratch::Kind::CodexRun).map_err(StartError::TempDir)?;
    let last_message_path = scratch.path().join("last-message.txt");
    let schema_path = scratch.path().join("schema.json");
    if let Some(schema) = &invocation.output_schema {
        scratch::private_file(&schema_path)
            .and_then(|mut file| file.write_all(schema.to_string().as_bytes()))
            .map_err(StartError::SchemaFile)?;
    }
    let flags = super::probe::exec_flags(false, cancel, invocation.probe_kept_in.as_deref());
    let (argv, model_sent, compat_warnings) =
        argv(invocation, &last_message_path, &schema_path, |flag| flags.supports(flag));

    let stream = Arc::new(Mutex::new(Stream { root: Some(invocation.dir.clone()), ..Stream::default() }));
    let observer_stream = Arc::clone(&stream);
    // The observer runs on the drain thread; `on_event` must not block it for long.
    let run = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(u64, String)>();
        // Reports are throttled downstream; re-offering the latest one every second makes sure
        // the last activity before a quiet spell (a long test run) is not the one dropped. A
        // spell past `stall_warn` is reported once as a stall, and nothing is re-offered over
        // that report until codex speaks again.
        let forwarder = scope.spawn(move || {
            let mut latest: Option<(u64, String)> = None;
            let mut last_heard = std::time::Instant::now();
            let mut stall_reported = false;
            loop {
                match rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(report) => {
                        latest = Some(report);
                        last_heard = std::time::Instant::now();
                        stall_reported = false;
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
                let silent = last_heard.elapsed();
                if silent >= watch.stall_warn {
                    if !stall_reported {
                        let message = format!(
                            "stalled: no event from codex for {} s; it is stopped after {} s without one",
                            silent.as_secs(),
                            watch.stall_kill.as_secs()
                        );
                        (watch.on_stall)(latest.as_ref().map_or(0, |(seen, _)| *seen), &message);
                        stall_reported = true;
                    }
                } else if let Some((seen, activity)) = &latest {
                    (watch.on_event)(*seen, activity);
                }
            }
        });
        let mut vars = invocation.env.clone();
        if let Some(scope) = &invocation.write_scope {
            vars.push(("TMPDIR".into(), scope.tmpdir.display().to_string()));
        }
        let env = super::environment::codex(vars);
        let result = Cmd::new(super::PROGRAM)
            .args(&argv)
            .env(env)
            .cwd(&invocation.dir)
            .stdin(invocation.prompt.clone().into_bytes())
            .timeout(invocation.timeout)
            .quiet_limit(watch.stall_kill)
            .cancel(cancel)
            .capture_caps(invocation.max_output_bytes, STDERR_CAP)
            .on_stdout_line(Box::new(move |line| {
                let mut stream = observer_stream.lock().unwrap_or_else(|e| e.into_inner());
                if stream.observe(line) {
                    let _ = tx.send((stream.events_seen, stream.activity.clone().unwrap_or_default()));
                }
            }))
            .run();
        let _ = forwarder.join();
        result
    });
    let output = match run {
        Ok(output) => output,
        Err(RunError::NotFound { .. }) => return Err(StartError::NotFound),
        Err(err @ RunError::Spawn { .. }) => return Err(StartError::Spawn(err)),
    };
    let stream = std::mem::take(&mut *stream.lock().unwrap_or_else(|e| e.into_inner()));
    let (last_message, last_message_truncated) =
        if output.success() { read_bounded(&last_message_path, invocation.max_output_bytes) } else { (None, false) };
    let failure = if output.stalled {
        Some(CodexFailure::Stalled { after: watch.stall_kill, last_activity: stream.activity.clone() })
    } else {
        failure::classify(&failure::Evidence {
            exit_code: output.exit_code,
            timed_out: output.timed_out,
            cancelled: output.cancelled,
            timeout: invocation.timeout,
            stderr: &output.stderr.text(),
            stream: &stream,
        })
    };
    Ok(Run {
        exit_code: output.exit_code,
        elapsed: output.elapsed,
        last_message,
        last_message_truncated,
        stream,
        model_sent,
        compat_warnings,
        failure,
    })
}

/// The argv after `codex`, plus the model actually sent and the flags dropped.
fn argv(
    invocation: &Invocation,
    last_message: &Path,
    schema: &Path,
    supports: impl Fn(&str) -> bool,
) -> (Vec<OsString>, Option<String>, Vec<String>) {
    let mut args: Vec<OsString> = Vec::new();
    let push = |args: &mut Vec<OsString>, items: &[&str]| args.extend(items.iter().map(OsString::from));
    if invocation.resume.is_some() {
        push(&mut args, &["exec", "resume", "--json"]);
    } else {
        push(&mut args, &["exec", "--json", "--sandbox", invocation.tier.sandbox(), "--cd"]);
        args.push(invocation.dir.clone().into_os_string());
    }
    args.push("--output-last-message".into());
    args.push(last_message.into());
    if invocation.ephemeral {
        push(&mut args, &["--ephemeral"]);
    }
    // Third-party connectors are on by default since codex 0.143; none of our runs needs them.
    // Goals (on by default in 0.169, offered as `create_goal`/`update_goal` on a run that keeps
    // its session) let an active goal start another turn after the final answer: a turn we
    // would never report, paid for, and in a delegation editing after the diff was taken.
    push(&mut args, &["--disable", "remote_plugin", "--disable", "goals"]);
    if invocation.resume.is_some() {
        // `exec resume` has no --sandbox: the same sandbox, as a config override.
        args.extend(["-c".into(), OsString::from(format!("sandbox_mode=\"{}\"", invocation.tier.sandbox()))]);
    }
    let git_policy: Vec<String> = invocation.env.iter().map(|(name, _)| name.clone()).collect();
    args.extend(super::environment::shell_policy_pins(&git_policy));
    if invocation.tier == Tier::Propose {
        args.extend(workspace_write_pins(invocation.write_scope.as_ref()));
    }
    match invocation.isolation {
        Isolation::Inherit => {}
        Isolation::IgnoreConfig => push(&mut args, &["--ignore-user-config"]),
        Isolation::IgnoreRules => push(&mut args, &["--ignore-user-config", "--ignore-rules"]),
    }
    if invocation.skip_git_repo_check {
        push(&mut args, &["--skip-git-repo-check"]);
    }
    if invocation.output_schema.is_some() {
        args.push("--output-schema".into());
        args.push(schema.into());
    }
    let mut compat_warnings = Vec::new();
    let mut model_sent = None;
    if let Some(model) = &invocation.model {
        if supports("--model") {
            args.extend(["--model".into(), OsString::from(model)]);
            model_sent = Some(model.clone());
        } else {
            compat_warnings.push("--model".to_string());
        }
    }
    if let Some(effort) = &invocation.reasoning_effort {
        // A JSON string is a valid TOML basic string, so any effort text arrives verbatim.
        let value = serde_json::to_string(effort).unwrap_or_default();
        args.extend(["-c".into(), OsString::from(format!("model_reasoning_effort={value}"))]);
    }
    args.push("--strict-config".into());
    if let Some(session) = &invocation.resume {
        args.push(session.into());
    }
    args.push("-".into());
    (args, model_sent, compat_warnings)
}

/// The `-c` pins of every workspace-write sandbox: no network, `/tmp` and `$TMPDIR` not
/// writable, and exactly the scope's roots writable besides the working directory. A user config
/// or profile could otherwise grant the run network or more roots. Shared with the sandbox probe.
pub fn workspace_write_pins(scope: Option<&WriteScope>) -> Vec<OsString> {
    // The roots are UTF-8 (the worktree base is checked), so `display` is exact; a JSON array of
    // strings is a valid TOML array, so every path arrives verbatim.
    let roots: Vec<String> = scope.map_or_else(Vec::new, |s| s.roots.iter().map(|r| r.display().to_string()).collect());
    let roots = serde_json::to_string(&roots).unwrap_or_else(|_| "[]".into());
    [
        "sandbox_workspace_write.network_access=false".to_string(),
        "sandbox_workspace_write.exclude_slash_tmp=true".to_string(),
        "sandbox_workspace_write.exclude_tmpdir_env_var=true".to_string(),
        format!("sandbox_workspace_write.writable_roots={roots}"),
    ]
    .into_iter()
    .flat_map(|pin| [OsString::from("-c"), OsString::from(pin)])
    .collect()
}

/// The `-o` file, or `None` when it is missing or empty; a file over `cap` is cut, and the
/// second value says so.
fn read_bounded(path: &Path, cap: usize) -> (Option<String>, bool) {
    use std::io::Read as _;
    let Ok(file) = std::fs::File::open(path) else { return (None, false) };
    let mut bytes = Vec::new();
    // One byte over the cap tells a cut file from one that is exactly `cap` long.
    if file.take(cap as u64 + 1).read_to_end(&mut bytes).is_err() {
        return (None, false);
    }
    let cut = bytes.len() > cap;
    bytes.truncate(cap);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    ((!text.trim().is_empty()).then_some(text), cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(tier: Tier) -> Invocation {
        Invocation {
            probe_kept_in: None,
            tier,
            dir: "/repo".into(),
            prompt: "p".into(),
            output_schema: None,
            skip_git_repo_check: false,
            isolation: Isolation::Inherit,
            model: None,
            reasoning_effort: None,
            timeout: Duration::from_secs(10),
            max_output_bytes: 1024,
            write_scope: None,
            env: Vec::new(),
            ephemeral: true,
            resume: None,
        }
    }

    fn render(invocation: &Invocation, supports: bool) -> (String, Option<String>, Vec<String>) {
        let (args, model, warnings) =
            argv(invocation, Path::new("/t/last-message.txt"), Path::new("/t/schema.json"), |_| supports);
        let joined: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        (joined.join(" "), model, warnings)
    }

    /// The shell-environment pins as `render` joins them, for a run whose git policy is `env`.
    fn shell_pins(env: &[(String, String)]) -> String {
        let names: Vec<String> = env.iter().map(|(name, _)| name.clone()).collect();
        let pins = crate::adapters::codex::environment::shell_policy_pins(&names);
        pins.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn consult_argv_is_read_only_with_schema_goals_off_and_the_environment_pinned() {
        let mut consult = invocation(Tier::Consult);
        consult.skip_git_repo_check = true;
        consult.output_schema = Some(serde_json::json!({}));
        consult.env = vec![("GIT_CONFIG_PARAMETERS".into(), "'a.b'='c'".into())];
        let (argv, _, _) = render(&consult, true);
        assert_eq!(
            argv,
            format!(
                "exec --json --sandbox read-only --cd /repo --output-last-message /t/last-message.txt --ephemeral \
                 --disable remote_plugin --disable goals {} --skip-git-repo-check --output-schema /t/schema.json \
                 --strict-config -",
                shell_pins(&consult.env)
            )
        );
        assert!(argv.contains(",\"GIT_CONFIG_PARAMETERS\"]"), "the git policy reaches the commands: {argv}");
    }

    #[test]
    fn workspace_write_pins_network_tmp_and_roots_and_goes_strict() {
        let (argv, _, _) = render(&invocation(Tier::Propose), true);
        assert!(argv.starts_with("exec --json --sandbox workspace-write --cd /repo"), "{argv}");
        assert!(
            argv.contains(
                "-c sandbox_workspace_write.network_access=false -c sandbox_workspace_write.exclude_slash_tmp=true \
                 -c sandbox_workspace_write.exclude_tmpdir_env_var=true -c sandbox_workspace_write.writable_roots=[]"
            ),
            "{argv}"
        );
        assert!(argv.ends_with("--strict-config -"), "{argv}");
        assert!(!argv.contains("danger") && !argv.contains("--approve-for-me"));

        let mut scoped = invocation(Tier::Propose);
        scoped.write_scope =
            Some(WriteScope { roots: vec!["/a/tree".into(), "/a/t\"mp".into()], tmpdir: "/a/tmp".into() });
        let (argv, _, _) = render(&scoped, true);
        assert!(argv.contains(r#"-c sandbox_workspace_write.writable_roots=["/a/tree","/a/t\"mp"]"#), "{argv}");
    }

    #[test]
    fn isolation_model_and_effort() {
        let mut inv = invocation(Tier::Consult);
        inv.isolation = Isolation::IgnoreRules;
        inv.model = Some("gpt-5.5".into());
        inv.reasoning_effort = Some("high".into());
        let (argv, model, warnings) = render(&inv, true);
        assert!(argv.contains("--ignore-user-config --ignore-rules"), "{argv}");
        assert!(argv.ends_with("--model gpt-5.5 -c model_reasoning_effort=\"high\" --strict-config -"), "{argv}");
        assert_eq!(model.as_deref(), Some("gpt-5.5"));
        assert!(warnings.is_empty());
    }

    #[test]
    fn a_follow_up_resumes_with_the_sandbox_as_an_override_and_goes_strict() {
        let mut consult = invocation(Tier::Consult);
        consult.ephemeral = false;
        consult.resume = Some("01a21247-a64d-7423-8ab9-0ac7989a36c0".into());
        let (argv, _, _) = render(&consult, true);
        assert_eq!(
            argv,
            format!(
                "exec resume --json --output-last-message /t/last-message.txt --disable remote_plugin --disable goals \
                 -c sandbox_mode=\"read-only\" {} --strict-config 01a21247-a64d-7423-8ab9-0ac7989a36c0 -",
                shell_pins(&[])
            )
        );
        let mut delegate = invocation(Tier::Propose);
        delegate.ephemeral = false;
        delegate.resume = consult.resume.clone();
        let (argv, _, _) = render(&delegate, true);
        assert!(argv.contains(&format!(
            "-c sandbox_mode=\"workspace-write\" {} -c sandbox_workspace_write.network_access=false",
            shell_pins(&[])
        )));
        assert!(!argv.contains("--sandbox") && !argv.contains("--cd") && !argv.contains("--ephemeral"), "{argv}");
        assert!(argv.ends_with("--strict-config 01a21247-a64d-7423-8ab9-0ac7989a36c0 -"), "{argv}");
    }

    #[test]
    fn the_last_message_file_says_when_it_was_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last-message.txt");
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_bounded(&path, 10), (Some("0123456789".into()), false));
        assert_eq!(read_bounded(&path, 4), (Some("0123".into()), true));
        std::fs::write(&path, " \n").unwrap();
        assert_eq!(read_bounded(&path, 10), (None, false));
        assert_eq!(read_bounded(&dir.path().join("missing"), 10), (None, false));
    }

    #[test]
    fn model_is_dropped_when_the_help_does_not_list_it() {
        let mut inv = invocation(Tier::Consult);
        inv.model = Some("m".into());
        let (argv, model, warnings) = render(&inv, false);
        assert!(!argv.contains("--model"));
        assert_eq!(model, None);
        assert_eq!(warnings, vec!["--model".to_string()]);
    }
}
