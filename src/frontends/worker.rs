//! The background-job worker (`__job-worker <dir>`), a front end beside the MCP server and the
//! command line: it holds the job's lock for its whole life, runs the job's synchronous tool
//! through the same registry as any call, and records the envelope through the job store.
//!
//! A SIGTERM (cancel, deadline) cancels the run: codex's process group is killed and a delegate
//! worktree removed by the normal cleanup paths, and the worker exits without a result, leaving
//! the end to be recorded by whoever stopped it; a delegation that had edited by then stores its
//! edits so far (a `partial` result) first, and that is how the job ends. One that timed out
//! before any edit stores its error, which names the follow-up of its kept session, rather than
//! a bare `timeout` end.
//!
//! While it runs it checks every half second that its record is still there: one deleted under
//! it (its state directory removed) is put back and the result says so, or, when that keeps
//! failing for 2 s, codex is stopped at once. It checks again before every write of the result,
//! so a record deleted in codex's last moments is put back too. A result the disk refuses is retried, then stored without its diff
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

/// How often a running worker checks that its record is still there.
const RECORD_CHECK_EVERY: Duration = Duration::from_millis(500);
/// How long a worker keeps trying to put back its deleted record before it stops codex (a
/// waiting call gives it 5 s, `tools::jobs`).
const RECREATE_PATIENCE: Duration = Duration::from_secs(2);

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
            let mut failing_since: Option<Instant> = None;
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
                                failing_since = None;
                            }
                            // A removal still under way (`rm -rf` racing the files written
                            // meanwhile) can take the new one with it: tried again first.
                            Err(err)
                                if failing_since.get_or_insert_with(Instant::now).elapsed() < RECREATE_PATIENCE =>
                            {
                                say(format_args!("the job's record was deleted mid-run and {err}; trying again"));
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
    // A delegation that timed out before any edit, with its session kept, names the follow-up
    // that continues it (`repair_tool`): that is its result, at the job's deadline too, where a
    // bare `timeout` end would lose the session.
    let follow_up_kept = envelope["error"]["code"] == json!("timeout")
        && envelope["error"]["repair_tool_params"]["session_id"].is_string();
    // Whoever stopped the job records how it ended, unless the run has work to hand over: a
    // delegation stopped mid-edit returns its edits so far (`partial`), or one that timed out
    // its follow-up, which are stored like any result, so the cancel (or the deadline's reaper,
    // which may stop a worker still storing after its timeout) finds it and leaves it there.
    if terminate.load(Ordering::SeqCst) && envelope["partial"] != json!(true) && !follow_up_kept {
        return ExitCode::SUCCESS;
    }
    if abandoned.load(Ordering::SeqCst) {
        // There is no record to store a result in; the waiting caller is told codex was stopped.
        return ExitCode::FAILURE;
    }
    let mut envelope = envelope;
    let mut recreated_at = recreated_at.into_inner().unwrap_or_else(|e| e.into_inner());
    let now = clock::now_ms();
    // A background job stopped at its deadline reads `timeout`; a waited-on run keeps the
    // tool's own timeout envelope, which is what its caller would have had.
    let hit_deadline = !spec.waited_on()
        && envelope["error"]["code"] == json!("timeout")
        && !follow_up_kept
        && now + 2_000 >= spec.deadline_epoch_ms();
    // Degrade, never drop: the whole record is tried for the patience; then the smaller one
    // (everything but the diff, which stays in its patch file if that fits) beside it for as
    // long again. The patch file a full disk refused is tried again with every record.
    let mut smaller = None;
    // How long the worker keeps trying to store a finished result the disk refuses (it is paid
    // for), then as long again with the smaller record; it holds its lock meanwhile, so the job
    // reads as running, not failed.
    let retry = Duration::from_secs(config.job_write_retry_seconds);
    let mut patience = Instant::now() + retry;
    for attempt in 0.. {
        // Deleted after the watcher's last look (codex's last half second) or while the disk
        // refused the result: put back here too, or the paid result has nowhere to go.
        if !jobs::worker::record_present(dir) {
            match jobs::worker::recreate(dir, &spec) {
                Ok(lock) => {
                    say(format_args!("the job's record was deleted before its result was stored; recreated it"));
                    relocked.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
                    recreated_at = Some(clock::now_ms());
                }
                Err(err) if attempt == 0 => say(format_args!("the job's record was deleted and {err}; retrying")),
                Err(_) => {}
            }
        }
        if let Some(at) = recreated_at {
            note_recreated(&mut envelope, at);
            if let Some(small) = smaller.as_mut() {
                note_recreated(small, at);
            }
        }
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
                smaller = Some(without_diff(&envelope, retry));
                patience = Instant::now() + retry;
            }
            Err(err) if Instant::now() >= patience || terminate.load(Ordering::SeqCst) => {
                say(format_args!("cannot store the job's result, gave up: {err}"));
                return ExitCode::FAILURE;
            }
            Err(err) => {
                if attempt == 0 {
                    say(format_args!("cannot store the job's result yet ({err}); retrying for up to {retry:?}"));
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    ExitCode::SUCCESS
}

/// Says in the result that the job's record was deleted under the worker and put back at `at`.
fn note_recreated(envelope: &mut serde_json::Value, at: u64) {
    let warning = format!(
        "the job's record was deleted while it ran (its state directory removed?) and recreated at {}; the result was kept",
        clock::rfc3339(at)
    );
    envelope["meta"]["state_warnings"] = json!([warning]);
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
fn without_diff(envelope: &serde_json::Value, retried: Duration) -> serde_json::Value {
    let mut small = envelope.clone();
    let Some(diff) = envelope["diff"].as_str() else { return small };
    let kept = if envelope["patch_file"].is_string() {
        "patch_file holds the whole diff"
    } else {
        "the diff is lost (its patch file could not be written either)"
    };
    let note = format!(
        "the state disk had no room for the whole result for {} s: it was stored without its {}-byte diff; {kept}",
        retried.as_secs(),
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
