//! The processes behind a background job, as the store sees them: the launch from the server,
//! the intermediate that detaches the worker (so the server keeps no zombie and the worker its
//! own session), the worker's lock (liveness) and how it is stopped, and the files the worker
//! writes (its start marker, activity and outcome). The worker itself runs a tool, so it is a
//! front end (`crate::frontends::worker`); it touches its job directory only through the functions here.
//!
//! A SIGKILLed worker takes its codex with it (parent-death signal) and is found dead by the next
//! read.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Activity, Spec, StartError, Status, StoredResult, Terminal};
use crate::foundation::process::Cmd;
use crate::foundation::statefile;

/// Written by the worker once it holds the lock; the launch waits for it.
pub const STARTED_MARKER: &str = "worker.started";
/// How long a launch may take before it counts as failed.
pub const LAUNCH_TIMEOUT_MS: u64 = 15_000;
const LOCK_FILE: &str = "worker.lock";
const PID_FILE: &str = "worker.pid";
/// After a SIGKILL, how long to wait for the kernel to release the lock.
const KILL_WAIT: Duration = Duration::from_secs(2);
/// The exit code of the intermediate and the worker when a state write failed (a full or
/// read-only state directory), so the launch can say so instead of reporting a bug.
pub const STATE_WRITE_FAILED: u8 = 3;

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
    let why = || {
        format!(
            "the background worker did not start: {}",
            crate::foundation::text::one_line(&output.stderr.text(), 300)
        )
    };
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
        crate::foundation::process::spawn_detached(&exe, &[OsString::from("__job-worker"), dir.into()], log)
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

/// The worker's hold on its job, taken first and kept for its whole life: while it is held the
/// job reads as running. `Err` says why it could not be taken.
pub fn take_lock(dir: &Path) -> Result<File, String> {
    let lock = statefile::open_lock(&dir.join(LOCK_FILE)).map_err(|err| format!("cannot open the job lock: {err}"))?;
    if lock.try_lock().is_err() {
        return Err("another worker holds this job's lock".into());
    }
    Ok(lock)
}

/// Tells the intermediate that the worker holds its lock.
pub fn mark_started(dir: &Path) -> std::io::Result<()> {
    statefile::write_bytes(&dir.join(STARTED_MARKER), std::process::id().to_string().as_bytes())
}

/// The job's spec; `None` when it is missing or corrupt.
pub fn read_spec(dir: &Path) -> Option<Spec> {
    statefile::read_json::<Spec>(&dir.join("spec.json")).ok()
}

/// Records how a finished run ended: its envelope, or, when codex was stopped at the job's own
/// deadline, a `timeout` terminal that says so.
pub fn record_outcome(dir: &Path, spec: &Spec, now: u64, hit_deadline: bool, envelope: &Value) -> std::io::Result<()> {
    if hit_deadline {
        let detail = format!("the job exceeded its deadline of {} s and was stopped", spec.deadline_seconds);
        let terminal =
            Terminal { status: Status::Timeout, completed_epoch_ms: now, detail, cleanup_warnings: Vec::new() };
        // A cancel or a read that got there first keeps its end.
        statefile::write_json_once(&dir.join("terminal.json"), &terminal).map(drop)
    } else {
        statefile::write_json(
            &dir.join("result.json"),
            &StoredResult { completed_epoch_ms: now, envelope: envelope.clone() },
        )
    }
}

/// Whether the job's record is still in place (not deleted under a running worker, say by a
/// cache cleaner or the README's uninstall line removing the state directory).
pub fn record_present(dir: &Path) -> bool {
    super::still_there(dir)
}

/// Puts back the record of a running job whose directory was deleted: built in a staging
/// directory (owner only, the state directory above it recreated too) with a fresh lock taken
/// by this worker (returned: hold it while running), its pid, start marker and spec, then
/// renamed into place in one step, as a start does, so a reader sees the job running or not at
/// all (never a directory without its spec, which reads as damaged). `Err` says why it could
/// not be done.
pub fn recreate(dir: &Path, spec: &Spec) -> Result<File, String> {
    let failed = |what: &str, err: std::io::Error| format!("cannot {what}: {err}");
    let store = dir.parent().ok_or_else(|| "the job directory has no parent".to_string())?;
    let staging =
        store.join(format!("{}{}-{}", super::STAGING_PREFIX, spec.job_id, crate::foundation::hash::random_hex(4)));
    let built = statefile::private_dir(&staging)
        .map_err(|e| failed("recreate the job directory", e))
        .and_then(|()| take_lock(&staging))
        .and_then(|lock| {
            statefile::write_json(&staging.join(PID_FILE), &json!({"pid": std::process::id()}))
                .map_err(|e| failed("record the worker's pid", e))?;
            mark_started(&staging).map_err(|e| failed("mark the worker started", e))?;
            statefile::write_json(&staging.join("spec.json"), spec).map_err(|e| failed("rewrite the job spec", e))?;
            // What is left of a removal still under way (no spec, so no record) makes way.
            let _ = std::fs::remove_dir_all(dir);
            std::fs::rename(&staging, dir).map_err(|e| failed("put the job directory back", e))?;
            Ok(lock)
        });
    if built.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    built
}

/// What codex is doing, as last recorded (the default when nothing is).
pub fn read_activity(dir: &Path) -> Activity {
    statefile::read_json(&dir.join("activity.json")).unwrap_or_default()
}

/// Records what codex is doing.
pub fn write_activity(dir: &Path, record: &Activity) -> std::io::Result<()> {
    statefile::write_json(&dir.join("activity.json"), record)
}

/// Whether a live worker holds the job's lock.
pub fn holds_lock(dir: &Path) -> bool {
    // Read-only: a lock probe must work on a state disk remounted read-only, where the worker
    // still runs (flock needs no write access).
    let Ok(file) = open_lock(dir) else { return false };
    match file.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
}

/// The job's lock file, opened without following a link or blocking on a FIFO planted in its
/// place.
fn open_lock(dir: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(dir.join(LOCK_FILE))
}

/// Stops the job's worker: SIGTERM to its process group, `grace` to finish cleaning up, then
/// SIGKILL. Signals are only sent while the lock is held by our own worker (`held_by_our_worker`),
/// so neither a pid reused after the worker exited nor a pid someone wrote into the record is hit.
pub fn stop(dir: &Path, grace: Duration) {
    let Some(pid) = statefile::read_json::<Value>(&dir.join(PID_FILE))
        .ok()
        .and_then(|v| v["pid"].as_i64())
        .and_then(|pid| i32::try_from(pid).ok())
    else {
        return;
    };
    if !holds_lock(dir) || !held_by_our_worker(dir, pid) {
        return;
    }
    crate::foundation::sys::terminate_group(pid);
    if super::wait_until(grace, || !holds_lock(dir)) {
        return;
    }
    if holds_lock(dir) {
        crate::foundation::sys::kill_group(pid);
        super::wait_until(KILL_WAIT, || !holds_lock(dir));
    }
}

/// Whether `pid` is this user's worker of this job and holds the job's lock itself: the kernel's
/// lock table (`/proc/locks`) names `pid` as the holder of the lock file's flock, the process
/// belongs to this user, and it runs as `__job-worker <this job directory>`. A lock held by
/// anyone else proves nothing about `pid`.
fn held_by_our_worker(dir: &Path, pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(lock) = open_lock(dir).and_then(|file| file.metadata()) else { return false };
    let process = Path::new("/proc").join(pid.to_string());
    let ours = std::fs::metadata(&process).is_ok_and(|meta| meta.uid() == crate::foundation::sys::effective_uid());
    let cmdline = std::fs::read(process.join("cmdline")).unwrap_or_default();
    let argv: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let same_dir = |arg: &[u8]| {
        let named = Path::new(std::ffi::OsStr::from_bytes(arg)).canonicalize().ok();
        named.is_some() && named == dir.canonicalize().ok()
    };
    let runs_this_job = argv.get(1) == Some(&&b"__job-worker"[..]) && argv.get(2).is_some_and(|arg| same_dir(arg));
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    ours && runs_this_job && flock_holders(&locks, lock.dev(), lock.ino()).contains(&pid)
}

/// The pids `/proc/locks` names as holding a flock on the file `(dev, ino)`. A line reads
/// `1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF`; the device is `major:minor` in hex.
fn flock_holders(locks: &str, dev: u64, ino: u64) -> Vec<i32> {
    // The kernel's split of a device number (as glibc's `major`/`minor` decode it).
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    let file = format!("{major:02x}:{minor:02x}:{ino}");
    locks
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // A blocked waiter's line starts `1: ->`; it holds nothing.
            (fields.get(1) == Some(&"FLOCK") && fields.get(5) == Some(&file.as_str()))
                .then(|| fields.get(4)?.parse().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    #[test]
    fn the_kernel_names_a_flocks_holder_and_only_our_worker_counts() {
        let dir = tempfile::tempdir().unwrap();
        let lock = take_lock(dir.path()).unwrap();
        let meta = lock.metadata().unwrap();
        let locks = std::fs::read_to_string("/proc/locks").unwrap();
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(flock_holders(&locks, meta.dev(), meta.ino()).contains(&me), "{locks}");
        assert!(holds_lock(dir.path()));
        // The lock is held, and by this pid, but this process is no `__job-worker` of the job:
        // a pid written into the record next to a held lock is never signalled.
        assert!(!held_by_our_worker(dir.path(), me));
        drop(lock);
        assert!(flock_holders(&std::fs::read_to_string("/proc/locks").unwrap(), meta.dev(), meta.ino()).is_empty());
    }
}
