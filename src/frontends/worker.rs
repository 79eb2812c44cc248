//! The background-job worker (`__job-worker <dir>`), a front end beside the MCP server and the
//! command line: it holds the job's lock for its whole life, runs the job's synchronous tool
//! through the same registry as any call, and records the envelope through the job store.
//!
//! A SIGTERM (cancel, deadline) cancels the run: codex's process group is killed and a delegate
//! worktree removed by the normal cleanup paths, and the worker exits without a result, leaving
//! the end to be recorded by whoever stopped it; a delegation that had edited by then stores its
//! edits so far (a `partial` result) first, and that is how the job ends.
//!
//! While it runs it checks every half second that its record is still there: one deleted under
//! it (its state directory removed) is put back and the result says so, or, when that fails,
//! codex is stopped at once. A result the disk refuses is retried, then stored without its diff
//! rather than dropped.

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

/// How long a worker keeps trying to store a finished result the disk refuses (it is paid for),
/// then as long again with the smaller record (no diff) beside it; it holds its lock
/// meanwhile, so the job reads as running, not failed.
const RESULT_WRITE_PATIENCE: Duration = Duration::from_secs(60);
/// How often a running worker checks that its record is still there.
const RECORD_CHECK_EVERY: Duration = Duration::from_millis(500);

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
    // The job's deadline bounds codex's timeout (`Call::time_left` stops codex when it passes),
    // so an unwatched job still ends on time; the timeout the result reports is the one the
    // job was given, not what was left of it once the worker started.
    config.timeout_seconds = spec.deadline_seconds;

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
    // The record deleted mid-run: put back (its new lock held here, and when), or not, in which
    // case codex is stopped at once and nothing is stored.
    let relocked = Mutex::new(Vec::new());
    let recreated_at = Mutex::new(None);
    let abandoned = std::sync::atomic::AtomicBool::new(false);
    let envelope = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut checked = Instant::now();
            while !finished.load(Ordering::SeqCst) {
                if terminate.load(Ordering::SeqCst) {
                    cancel.cancel();
                    return;
                }
                if checked.elapsed() >= RECORD_CHECK_EVERY {
                    checked = Instant::now();
                    if !jobs::worker::record_present(dir) {
                        match jobs::worker::recreate(dir, &spec) {
                            Ok(lock) => {
                                say(format_args!("the job's record was deleted mid-run; recreated it"));
                                relocked.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
                                *recreated_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(clock::now_ms());
                            }
                            Err(err) => {
                                say(format_args!("the job's record was deleted mid-run and {err}; stopping codex"));
                                abandoned.store(true, Ordering::SeqCst);
                                cancel.cancel();
                                return;
                            }
                        }
                    }
                }
                std::thread::park_timeout(Duration::from_millis(50));
            }
        });
        let context = tools::Context::new(&config, &tools::NoRoots, &activity, cancel.clone()).in_worker(dir, &spec);
        let envelope = tools::call_tool(tool, Some(&arguments), &context);
        finished.store(true, Ordering::SeqCst);
        // The result is not stored until the scope ends: wake the watcher rather than wait out
        // its nap (a waiting caller would pay for it on every run).
        watcher.thread().unpark();
        envelope
    });
    // Whoever stopped the job records how it ended, unless the run has work to hand over: a
    // delegation stopped mid-edit returns its edits so far (`partial`), which are stored like any
    // result, so the cancel (or the deadline's reaper) finds it and leaves it there.
    if terminate.load(Ordering::SeqCst) && envelope["partial"] != json!(true) {
        return ExitCode::SUCCESS;
    }
    if abandoned.load(Ordering::SeqCst) {
        // There is no record to store a result in; the waiting caller is told codex was stopped.
        return ExitCode::FAILURE;
    }
    let mut envelope = envelope;
    if let Some(at) = *recreated_at.lock().unwrap_or_else(|e| e.into_inner()) {
        let warning = format!(
            "the job's record was deleted while it ran (its state directory removed?) and recreated at {}; the result was kept",
            clock::rfc3339(at)
        );
        envelope["meta"]["state_warnings"] = json!([warning]);
    }
    let now = clock::now_ms();
    // A background job stopped at its deadline reads `timeout`; a waited-on run keeps the
    // tool's own timeout envelope, which is what its caller would have had.
    let hit_deadline =
        !spec.waited_on() && envelope["error"]["code"] == json!("timeout") && now + 2_000 >= spec.deadline_epoch_ms();
    // Degrade, never drop: the whole record is tried for the patience; then the smaller one
    // (everything but the diff, which stays in its patch file if that fits) beside it for as
    // long again. The patch file a full disk refused is tried again with every record.
    let mut smaller = None;
    let mut patience = Instant::now() + RESULT_WRITE_PATIENCE;
    for attempt in 0.. {
        keep_patch(dir, &mut envelope);
        let written = jobs::worker::record_outcome(dir, &spec, now, hit_deadline, &envelope).or_else(|err| {
            smaller
                .as_ref()
                .map_or(Err(err), |small| jobs::worker::record_outcome(dir, &spec, now, hit_deadline, small))
        });
        match written {
            Ok(()) => break,
            Err(err) if Instant::now() >= patience && smaller.is_none() && !terminate.load(Ordering::SeqCst) => {
                say(format_args!("cannot store the whole result ({err}); storing it without its diff from now on"));
                smaller = Some(without_diff(&envelope));
                patience = Instant::now() + RESULT_WRITE_PATIENCE;
            }
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

/// A delegate's patch file the disk refused (`patch_file_error`) is written again; once it is,
/// the envelope names it instead of the error.
fn keep_patch(dir: &Path, envelope: &mut serde_json::Value) {
    let Some(diff) = envelope["diff"].as_str().filter(|_| envelope["patch_file_error"].is_string()) else { return };
    if let Ok(path) = jobs::write_patch(dir, diff) {
        envelope["patch_file"] = json!(path.display().to_string());
        envelope["patch_file_error"] = serde_json::Value::Null;
    }
}

/// The envelope as stored when the whole one does not fit on the state disk: the diff left out
/// in its place (`diff_omitted` says why, and whether `patch_file` holds it), the cut said in
/// `meta.truncated` / `truncation_hint`; summary, session and everything else kept.
fn without_diff(envelope: &serde_json::Value) -> serde_json::Value {
    let mut small = envelope.clone();
    let Some(diff) = envelope["diff"].as_str() else { return small };
    let kept = if envelope["patch_file"].is_string() {
        "patch_file holds the whole diff"
    } else {
        "the diff is lost (its patch file could not be written either)"
    };
    let note = format!(
        "the state disk had no room for the whole result for {} s: it was stored without its {}-byte diff; {kept}",
        RESULT_WRITE_PATIENCE.as_secs(),
        diff.len()
    );
    if let serde_json::Value::Object(members) = &mut small {
        let at = members.keys().position(|key| key == "diff").unwrap_or(members.len());
        members.shift_remove("diff");
        members.shift_insert(at, "diff_omitted".to_string(), json!(note));
    }
    small["meta"]["truncated"] = json!(true);
    let hint = match small["meta"]["truncation_hint"].as_str() {
        Some(hint) => format!("{hint}; {note}"),
        None => note.clone(),
    };
    small["meta"]["truncation_hint"] = json!(hint);
    small
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
