//! The processes behind a background job: the launch from the server, the intermediate that
//! detaches the worker (so the server keeps no zombie and the worker its own session), and the
//! worker itself, which holds the job's lock for its whole life, runs the job's synchronous tool
//! through the same registry as any call, and records the envelope atomically.
//!
//! A SIGTERM (cancel, deadline) cancels the run: codex's process group is killed and a delegate
//! worktree removed by the normal cleanup paths, and the worker exits without a result, leaving
//! the end to be recorded by whoever stopped it. A SIGKILLed worker takes its codex with it
//! (parent-death signal) and is found dead by the next read.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Activity, Spec, StartError, Status, StoredResult, Terminal};
use crate::cancel::CancelToken;
use crate::process::Cmd;
use crate::statefile;

/// Written by the worker once it holds the lock; the launch waits for it.
pub const STARTED_MARKER: &str = "worker.started";
/// How long a launch may take before it counts as failed.
pub const LAUNCH_TIMEOUT_MS: u64 = 15_000;
const LOCK_FILE: &str = "worker.lock";
const PID_FILE: &str = "worker.pid";
/// How often the worker writes `activity.json`.
const ACTIVITY_INTERVAL: Duration = Duration::from_secs(1);
/// After a SIGKILL, how long to wait for the kernel to release the lock.
const KILL_WAIT: Duration = Duration::from_secs(2);
/// The exit code of the intermediate and the worker when a state write failed (a full or
/// read-only state directory), so the launch can say so instead of reporting a bug.
const STATE_WRITE_FAILED: u8 = 3;
/// How long a worker keeps trying to store a finished result the disk refuses (it is paid for);
/// it holds its lock meanwhile, so the job reads as running, not failed.
const RESULT_WRITE_PATIENCE: Duration = Duration::from_secs(60);

/// Server side: starts the intermediate (`__job-spawn <dir>`) and waits for it to report the
/// worker running.
pub fn launch(dir: &Path) -> Result<(), StartError> {
    let exe = std::env::current_exe()
        .map_err(|e| StartError::Launch(format!("cannot find our own binary to start a worker: {e}")))?;
    let output = Cmd::new(&exe.to_string_lossy())
        .arg("__job-spawn")
        .arg(dir)
        .cwd(dir)
        .timeout(Duration::from_millis(LAUNCH_TIMEOUT_MS))
        .run()
        .map_err(|e| StartError::Launch(format!("cannot start the background worker: {e}")))?;
    let why = || format!("the background worker did not start: {}", crate::text::one_line(&output.stderr.text(), 300));
    match output.exit_code {
        _ if output.success() => Ok(()),
        Some(code) if code == i32::from(STATE_WRITE_FAILED) => Err(StartError::StateWrite(why())),
        _ => Err(StartError::Launch(why())),
    }
}

/// The intermediate (`__job-spawn <dir>`): starts the worker in a new session with its output
/// in `worker.log`, records its process group, waits until it holds the lock, and exits.
pub fn spawn_main(dir: &Path) -> ExitCode {
    let log = match OpenOptions::new().create(true).append(true).mode(0o600).open(dir.join("worker.log")) {
        Ok(log) => log,
        Err(err) => {
            eprintln!("cannot open the worker log: {err}");
            return ExitCode::from(STATE_WRITE_FAILED);
        }
    };
    let spawned = std::env::current_exe().map_err(|e| e.to_string()).and_then(|exe| {
        crate::process::spawn_detached(&exe, &[OsString::from("__job-worker"), dir.into()], log)
            .map_err(|e| e.to_string())
    });
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            eprintln!("cannot start the worker: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = statefile::write_json(&dir.join(PID_FILE), &json!({"pid": child.id()})) {
        eprintln!("cannot record the worker's pid: {err}");
        let _ = child.kill();
        let _ = child.wait();
        return ExitCode::from(STATE_WRITE_FAILED);
    }
    let mut exited = None;
    let started = super::wait_until(Duration::from_millis(LAUNCH_TIMEOUT_MS), || {
        exited = exited.or(child.try_wait().ok().flatten());
        dir.join(STARTED_MARKER).exists() || exited.is_some()
    });
    if started && dir.join(STARTED_MARKER).exists() {
        return ExitCode::SUCCESS;
    }
    eprintln!("the worker exited or stalled before taking its lock; see {}", dir.join("worker.log").display());
    if exited.and_then(|status| status.code()) == Some(i32::from(STATE_WRITE_FAILED)) {
        ExitCode::from(STATE_WRITE_FAILED)
    } else {
        ExitCode::FAILURE
    }
}

/// The worker (`__job-worker <dir>`).
pub fn worker_main(dir: &Path, mut config: crate::config::Config) -> ExitCode {
    let lock = match OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(dir.join(LOCK_FILE)) {
        Ok(lock) => lock,
        Err(err) => {
            say(format_args!("cannot open the job lock: {err}"));
            return ExitCode::FAILURE;
        }
    };
    if lock.try_lock().is_err() {
        say(format_args!("another worker holds this job's lock"));
        return ExitCode::FAILURE;
    }
    let terminate = crate::sys::catch_terminate();
    if let Err(err) = statefile::write_bytes(&dir.join(STARTED_MARKER), std::process::id().to_string().as_bytes()) {
        say(format_args!("cannot mark the worker started: {err}"));
        return ExitCode::from(STATE_WRITE_FAILED);
    }
    let Ok(spec) = statefile::read_json::<Spec>(&dir.join("spec.json")) else {
        say(format_args!("the job spec is missing or corrupt"));
        return ExitCode::FAILURE;
    };
    let Some(tool) = crate::tools::find(&spec.tool) else {
        say(format_args!("the job names an unknown tool"));
        return ExitCode::FAILURE;
    };
    // The job's deadline is codex's timeout, so an unwatched job still ends on time.
    let remaining_ms = spec.deadline_epoch_ms().saturating_sub(crate::clock::now_ms());
    config.timeout_seconds = (remaining_ms / 1000).max(1);

    let cancel = CancelToken::new();
    let finished = std::sync::atomic::AtomicBool::new(false);
    let activity = ActivityFile { dir, last_write: Mutex::new(None) };
    // Full detail is stored; `codex_job_result` applies the caller's choice.
    let mut arguments = spec.arguments.clone();
    arguments["detail"] = json!("full");
    let envelope = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::SeqCst) {
                if terminate.load(Ordering::SeqCst) {
                    cancel.cancel();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let context = crate::tools::Context::new(&config, &crate::tools::NoRoots, &activity, cancel.clone());
        let envelope = crate::tools::call_tool(tool, Some(&arguments), &context);
        finished.store(true, Ordering::SeqCst);
        envelope
    });
    if terminate.load(Ordering::SeqCst) {
        // Whoever stopped the job records how it ended.
        return ExitCode::SUCCESS;
    }
    let now = crate::clock::now_ms();
    let hit_deadline = envelope["error"]["code"] == json!("timeout") && now + 2_000 >= spec.deadline_epoch_ms();
    let write = || {
        if hit_deadline {
            let detail = format!("the job exceeded its deadline of {} s and was stopped", spec.deadline_seconds);
            let terminal =
                Terminal { status: Status::Timeout, completed_epoch_ms: now, detail, cleanup_warnings: Vec::new() };
            statefile::write_json(&dir.join("terminal.json"), &terminal)
        } else {
            statefile::write_json(
                &dir.join("result.json"),
                &StoredResult { completed_epoch_ms: now, envelope: envelope.clone() },
            )
        }
    };
    let patience = Instant::now() + RESULT_WRITE_PATIENCE;
    for attempt in 0.. {
        match write() {
            Ok(()) => break,
            Err(err) if Instant::now() >= patience || terminate.load(Ordering::SeqCst) => {
                say(format_args!("cannot store the job's result, gave up: {err}"));
                return ExitCode::FAILURE;
            }
            Err(err) => {
                if attempt == 0 {
                    say(format_args!(
                        "cannot store the job's result yet ({err}); retrying for up to {RESULT_WRITE_PATIENCE:?}"
                    ));
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    ExitCode::SUCCESS
}

/// A line in the worker's log (its stderr), whatever the log level: a failed job's reason is read
/// from there. A disk that refuses the line is ignored (`eprintln!` would panic and kill the
/// worker, losing the result it is about to store).
fn say(line: std::fmt::Arguments) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Whether a live worker holds the job's lock.
pub fn holds_lock(dir: &Path) -> bool {
    let Ok(file) = OpenOptions::new().write(true).open(dir.join(LOCK_FILE)) else { return false };
    match file.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
}

/// Stops the job's worker: SIGTERM to its process group, `grace` to finish cleaning up, then
/// SIGKILL. Signals are only sent while the worker holds its lock, so a pid that was reused after
/// the worker exited is never hit.
pub fn stop(dir: &Path, grace: Duration) {
    let Some(pid) = statefile::read_json::<Value>(&dir.join(PID_FILE))
        .ok()
        .and_then(|v| v["pid"].as_i64())
        .and_then(|pid| i32::try_from(pid).ok())
    else {
        return;
    };
    if !holds_lock(dir) {
        return;
    }
    crate::sys::terminate_group(pid);
    if super::wait_until(grace, || !holds_lock(dir)) {
        return;
    }
    if holds_lock(dir) {
        crate::sys::kill_group(pid);
        super::wait_until(KILL_WAIT, || !holds_lock(dir));
    }
}

/// The worker's progress sink: `activity.json`, at most once a second.
struct ActivityFile<'a> {
    dir: &'a Path,
    last_write: Mutex<Option<Instant>>,
}

impl crate::tools::Progress for ActivityFile<'_> {
    fn report(&self, events_seen: u64, activity: &str) {
        let mut last = self.last_write.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < ACTIVITY_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        let record = Activity {
            events_seen,
            last_event_at_ms: Some(crate::clock::now_ms()),
            last_event: Some(activity.to_string()),
            stalled_since_ms: None,
            stalled: None,
        };
        self.write(&record);
    }

    /// Kept beside the last event (not over it), and written at once: a stall is news.
    fn stalled(&self, _events_seen: u64, message: &str) {
        let mut record: Activity = statefile::read_json(&self.dir.join("activity.json")).unwrap_or_default();
        record.stalled_since_ms = Some(crate::clock::now_ms());
        record.stalled = Some(message.to_string());
        self.write(&record);
    }
}

impl ActivityFile<'_> {
    fn write(&self, record: &Activity) {
        if let Err(err) = statefile::write_json(&self.dir.join("activity.json"), record) {
            crate::log_warn!("cannot write job activity: {err}");
        }
    }
}
