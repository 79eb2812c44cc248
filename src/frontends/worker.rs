//! The background-job worker (`__job-worker <dir>`), a front end beside the MCP server and the
//! command line: it holds the job's lock for its whole life, runs the job's synchronous tool
//! through the same registry as any call, and records the envelope through the job store.
//!
//! A SIGTERM (cancel, deadline) cancels the run: codex's process group is killed and a delegate
//! worktree removed by the normal cleanup paths, and the worker exits without a result, leaving
//! the end to be recorded by whoever stopped it.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::adapters::jobs::{self, Activity};
use crate::foundation::cancel::CancelToken;
use crate::foundation::config::Config;
use crate::foundation::{clock, sys};
use crate::tools;

/// How long a worker keeps trying to store a finished result the disk refuses (it is paid for);
/// it holds its lock meanwhile, so the job reads as running, not failed.
const RESULT_WRITE_PATIENCE: Duration = Duration::from_secs(60);

/// The worker (`__job-worker <dir>`).
pub fn main(dir: &Path, mut config: Config) -> ExitCode {
    // The job directory is only trusted inside a state directory nobody else can write.
    if let Err(unsafe_dir) = crate::adapters::state_dir::verify(&config.state_dir) {
        say(format_args!("{unsafe_dir}"));
        return ExitCode::FAILURE;
    }
    // Held until the worker exits: while it is, the job reads as running.
    let _lock = match jobs::worker::take_lock(dir) {
        Ok(lock) => lock,
        Err(why) => {
            say(format_args!("{why}"));
            return ExitCode::FAILURE;
        }
    };
    let terminate = sys::catch_terminate();
    if let Err(err) = jobs::worker::mark_started(dir) {
        say(format_args!("cannot mark the worker started: {err}"));
        return ExitCode::from(jobs::worker::STATE_WRITE_FAILED);
    }
    let Some(spec) = jobs::worker::read_spec(dir) else {
        say(format_args!("the job spec is missing or corrupt"));
        return ExitCode::FAILURE;
    };
    let Some(tool) = tools::find(&spec.tool) else {
        say(format_args!("the job names an unknown tool"));
        return ExitCode::FAILURE;
    };
    // The job's deadline is codex's timeout, so an unwatched job still ends on time.
    let remaining_ms = spec.deadline_epoch_ms().saturating_sub(clock::now_ms());
    config.timeout_seconds = (remaining_ms / 1000).max(1);

    let cancel = CancelToken::new();
    let finished = std::sync::atomic::AtomicBool::new(false);
    let activity = ActivityFile { dir, throttle: Mutex::default() };
    // Full detail is stored; `codex_job_result` applies the caller's choice.
    let mut arguments = spec.arguments.clone();
    arguments["detail"] = json!(tools::codex_run::Detail::Full.as_str());
    // A caller's timeout beyond the job's deadline would outrun it: the deadline wins (left to
    // the config value above, since the parameter's schema has a floor the rest may be under).
    if arguments["timeout_seconds"].as_u64().is_some_and(|asked| asked > config.timeout_seconds)
        && let Some(arguments) = arguments.as_object_mut()
    {
        arguments.remove("timeout_seconds");
    }
    let envelope = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            while !finished.load(Ordering::SeqCst) {
                if terminate.load(Ordering::SeqCst) {
                    cancel.cancel();
                    return;
                }
                std::thread::park_timeout(Duration::from_millis(50));
            }
        });
        let context = tools::Context::new(&config, &tools::NoRoots, &activity, cancel.clone()).in_worker(dir);
        let envelope = tools::call_tool(tool, Some(&arguments), &context);
        finished.store(true, Ordering::SeqCst);
        // The result is not stored until the scope ends: wake the watcher rather than wait out
        // its nap (a waiting caller would pay for it on every run).
        watcher.thread().unpark();
        envelope
    });
    if terminate.load(Ordering::SeqCst) {
        // Whoever stopped the job records how it ended.
        return ExitCode::SUCCESS;
    }
    let now = clock::now_ms();
    // A background job stopped at its deadline reads `timeout`; a waited-on run keeps the
    // tool's own timeout envelope, which is what its caller would have had.
    let hit_deadline =
        !spec.waited_on() && envelope["error"]["code"] == json!("timeout") && now + 2_000 >= spec.deadline_epoch_ms();
    let write = || jobs::worker::record_outcome(dir, &spec, now, hit_deadline, &envelope);
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

/// The worker's progress sink: `activity.json`, at most once a second.
struct ActivityFile<'a> {
    dir: &'a Path,
    throttle: Mutex<tools::Throttle>,
}

impl tools::Progress for ActivityFile<'_> {
    fn report(&self, events_seen: u64, activity: &str) {
        if !self.throttle.lock().unwrap_or_else(|e| e.into_inner()).ready() {
            return;
        }
        let record = Activity {
            events_seen,
            last_event_at_ms: Some(clock::now_ms()),
            last_event: Some(activity.to_string()),
            stalled_since_ms: None,
            stalled: None,
        };
        self.write(&record);
    }

    /// Kept beside the last event (not over it), and written at once: a stall is news.
    fn stalled(&self, _events_seen: u64, message: &str) {
        let mut record = jobs::worker::read_activity(self.dir);
        record.stalled_since_ms = Some(clock::now_ms());
        record.stalled = Some(message.to_string());
        self.write(&record);
    }
}

impl ActivityFile<'_> {
    fn write(&self, record: &Activity) {
        if let Err(err) = jobs::worker::write_activity(self.dir, record) {
            crate::log_warn!("cannot write job activity: {err}");
        }
    }
}
