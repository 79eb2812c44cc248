//! Background jobs on disk (docs/lessons.md §4, docs/product.md §4 "Jobs"): one directory per job under a
//! per-workspace directory of `CODEX_IN_CLAUDE_STATE_DIR`, written only through `statefile`
//! (atomic), read and judged on every access — there is no daemon.
//!
//! A job directory holds:
//! - `spec.json`: what to run (the synchronous tool and its validated arguments) and when it
//!   started; written before the worker is launched;
//! - `worker.lock`: locked by the worker for its whole life. Liveness is "is the lock held",
//!   never "does a process with that pid exist" (pids are reused);
//! - `worker.pid`, `worker.started`, `worker.log`: the worker's process group, its "I hold the
//!   lock" marker, and its stdout/stderr;
//! - `activity.json`: what codex is doing (events seen, last event), at most once a second, and
//!   whether it has gone silent (stalled);
//! - `result.json`: the finished envelope; `terminal.json`: cancelled / timeout / failed, set by
//!   whoever observed it first and never replaced (one terminal status per job);
//! - `cancel.requested`: written by a cancel before it stops the worker, so a read that finds
//!   the worker dead meanwhile records `cancelled`, not `failed`.
//!
//! Beside the job directories, `delivered/<job id>.json` says that (and when) a job's result
//! was handed out: by `codex_job_result`, or to a synchronous call's waiter once it holds the
//! envelope. Only delivered records are evicted past the cap (oldest delivery first), so a
//! result nobody has had is kept until it is fetched, consumed or expires, whatever cap the
//! evicting server has; the eviction reads these marks, never the records.
//!
//! Beside the job directories, `patches/<job id>.patch` holds a delegate's whole patch (owner
//! only, written atomically). It is outside the job's directory on purpose: consuming a result
//! deletes the directory, but the result names the patch, so the patch stays until it expires a
//! TTL after it was written (like the finished job), consumed or evicted record or not; only a
//! run whose record is removed unfinished (a cancelled call) takes its patch with it.
//!
//! Status on every read: terminal file → that; result → `done`; lock held → `running` (stopped
//! and marked `timeout` once past its deadline); otherwise the worker died without a result →
//! `failed`, with the tail of its log (redacted) as the reason.
//!
//! What may never happen, whatever the disk does: a read that recurses or panics, a stored result
//! written over (one that cannot be read now is reported and kept), a write that fails passed
//! off as done (it is reported in `View::unrecorded`), or a result handed out twice. A job
//! directory appears whole (staged, then renamed into place) and disappears whole (renamed to a
//! fresh `.gone-` name, then removed), so every reader sees the entire job or none of it.

pub mod worker;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::foundation::statefile;

pub const SPEC_FORMAT: u32 = 1;
/// How long a running worker gets to stop cleanly after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The worker ends its own run at the deadline; a read only steps in after this much slack.
const DEADLINE_SLACK_MS: u64 = 5_000;
/// Tail of the worker log read when a worker died without a result, and how much of it is quoted.
const LOG_TAIL_BYTES: u64 = 4_000;
const LOG_TAIL_CHARS: usize = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Done,
    Failed,
    Cancelled,
    Timeout,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::Running, Status::Done, Status::Failed, Status::Cancelled, Status::Timeout];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Timeout => "timeout",
        }
    }
}

/// Where the job's workspace resolved to when it started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    pub cwd: String,
    pub workspace_source: String,
    pub workspace_warning: Option<String>,
}

/// What a job runs; written once, before the worker starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub format: u32,
    pub job_id: String,
    /// The tool that started it (e.g. `codex_delegate_async`).
    pub kind: String,
    /// The synchronous tool the worker runs (e.g. `codex_delegate`).
    pub tool: String,
    /// That tool's validated arguments, `workspace_root` resolved to an absolute path.
    pub arguments: Value,
    pub workspace: WorkspaceInfo,
    pub started_epoch_ms: u64,
    pub deadline_seconds: u64,
}

impl Spec {
    pub fn deadline_epoch_ms(&self) -> u64 {
        self.started_epoch_ms.saturating_add(self.deadline_seconds.saturating_mul(1000))
    }

    /// The run of a synchronous call, which waits for the tool's own envelope (a timeout
    /// included), as opposed to a background job started by an `_async` tool.
    pub fn waited_on(&self) -> bool {
        self.kind == self.tool
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredResult {
    completed_epoch_ms: u64,
    envelope: Value,
}

/// That a job's result was handed out, and when.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Delivered {
    delivered_epoch_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Terminal {
    status: Status,
    completed_epoch_ms: u64,
    detail: String,
    cleanup_warnings: Vec<String>,
}

/// What codex is doing in a running job, as last written by the worker.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Activity {
    pub events_seen: u64,
    pub last_event_at_ms: Option<u64>,
    pub last_event: Option<String>,
    /// Set while codex has been silent past the stall warning: since when, and what was said.
    #[serde(default)]
    pub stalled_since_ms: Option<u64>,
    #[serde(default)]
    pub stalled: Option<String>,
}

/// A job as a read found it.
#[derive(Debug, Clone)]
pub struct View {
    pub spec: Spec,
    pub status: Status,
    pub completed_epoch_ms: Option<u64>,
    /// Why it ended when it did not end `done`; for a `done` job whose stored result cannot be
    /// read now, why not.
    pub detail: Option<String>,
    pub cleanup_warnings: Vec<String>,
    pub activity: Activity,
    /// The stored envelope of a `done` job whose result could be read.
    pub result: Option<Value>,
    /// The end this read judged (`failed`, `timeout`, `cancelled`) could not be recorded: why.
    /// The status above is the judged one; the next read judges again.
    pub unrecorded: Option<String>,
    /// When its result was first handed out (`codex_job_result`, a synchronous call's waiter);
    /// until then it is never evicted.
    pub delivered_epoch_ms: Option<u64>,
}

impl View {
    pub fn elapsed_ms(&self) -> u64 {
        self.completed_epoch_ms
            .unwrap_or_else(crate::foundation::clock::now_ms)
            .saturating_sub(self.spec.started_epoch_ms)
    }

    /// "Wait about as long as it has run", bounded to 1–10 s; 1 s once it has ended.
    pub fn poll_after_ms(&self) -> u64 {
        match self.status {
            Status::Running => self.elapsed_ms().clamp(1_000, 10_000),
            _ => 1_000,
        }
    }

    pub fn expires_epoch_ms(&self, ttl_seconds: u64) -> Option<u64> {
        self.completed_epoch_ms.map(|at| at.saturating_add(ttl_seconds.saturating_mul(1000)))
    }

    pub fn result_available(&self) -> bool {
        self.status == Status::Done && self.result.is_some()
    }
}

/// A job directory whose spec cannot be read (unreadable, corrupt or missing): reported by
/// `list`, kept until it expires a TTL after it last changed.
#[derive(Debug, Clone)]
pub struct Damaged {
    pub job_id: String,
    pub problem: String,
    pub modified_epoch_ms: u64,
    /// A worker still holds its lock: it never expires while that lasts.
    pub worker_alive: bool,
}

impl Damaged {
    pub fn expires_epoch_ms(&self, ttl_seconds: u64) -> u64 {
        self.modified_epoch_ms.saturating_add(ttl_seconds.saturating_mul(1000))
    }
}

/// One page of a workspace's records, newest first.
pub struct Listing {
    pub jobs: Vec<View>,
    /// The page's records whose spec cannot be read.
    pub damaged: Vec<Damaged>,
    /// Records in the workspace (expired ones found on this page left out).
    pub total: usize,
    /// Where the next page starts, when there is one.
    pub next_offset: Option<usize>,
}

/// Why a job (or its result) cannot be handed out.
#[derive(Debug)]
pub enum Unavailable {
    /// Never started here, consumed, expired or evicted.
    NotFound,
    /// The record exists but its spec cannot be read.
    Damaged(String),
    NotDone(Box<View>),
    /// The job is `done` but its stored result cannot be read now; it is kept.
    ResultUnreadable(String),
    /// The consumer could not claim the record (the state directory refuses changes); nothing
    /// was handed out.
    Unclaimable(String),
}

/// Why a job could not be started; nothing of it is left.
#[derive(Debug)]
pub enum StartError {
    /// The state directory refused a write (full, read-only, permissions).
    StateWrite(String),
    Launch(String),
    /// A job with this id already exists (an idempotency key names it); nothing was started.
    Exists,
}

/// What one read of a job directory found, with nothing changed.
enum Reading {
    /// No job there (never was, or consumed, expired or evicted meanwhile).
    Gone,
    Damaged(Damaged),
    Job(Box<View>),
    /// Running past its deadline: to be stopped and recorded `timeout`.
    Overdue(Box<View>),
    /// Its worker is gone without a result: to be recorded `failed` with this reason.
    Dead(Box<View>, String),
}

/// What a judgement found: a job, or a record that cannot be read.
enum Found {
    Job(Box<View>),
    Damaged(Damaged),
}

/// The jobs of one workspace.
pub struct Jobs {
    dir: PathBuf,
    ttl_seconds: u64,
    max_count: u64,
    worktree_base: PathBuf,
}

/// Prefix of a job directory being written by `start`, before it is renamed into place.
const STAGING_PREFIX: &str = ".new-";
/// Prefix of a job directory claimed for deletion (consumed, expired, evicted): renamed out of
/// the way in one step, so a reader sees the whole job or nothing, then removed.
const DISCARD_PREFIX: &str = ".gone-";
/// The directory, beside the job directories, of the delegates' patches.
const PATCHES_DIR: &str = "patches";
/// The directory, beside the job directories, of delivery marks (`<job id>.json`).
const DELIVERED_DIR: &str = "delivered";
/// Written by `cancel` before it stops the worker.
const CANCEL_REQUESTED: &str = "cancel.requested";
const CANCELLED: &str = "the job was cancelled";
/// A staging directory older than this was left by a start that died.
const STAGING_STALE_MS: u64 = 60_000;

impl Jobs {
    pub fn for_workspace(config: &crate::foundation::config::Config, workspace: &Path) -> Jobs {
        Jobs {
            dir: config.state_dir.join(workspace_key(workspace)),
            ttl_seconds: config.job_ttl_seconds,
            max_count: config.job_max_count,
            worktree_base: config.worktree_base.clone(),
        }
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    fn job_dir(&self, job_id: &str) -> Option<PathBuf> {
        valid_job_id(job_id).then(|| self.dir.join(job_id))
    }

    /// Writes the spec and launches the detached worker; returns once the worker holds its lock.
    /// The directory appears under its job id only with its spec complete, by one rename that
    /// fails when the id is taken: of any number of starts of one id, in any processes, exactly
    /// one succeeds and the others get `Exists`.
    pub fn start(&self, spec: &Spec) -> Result<(), StartError> {
        let dir = self.job_dir(&spec.job_id).ok_or(StartError::Launch("invalid job id".into()))?;
        let write_error = |what: &str, err: std::io::Error| StartError::StateWrite(format!("cannot {what}: {err}"));
        statefile::private_dir(&self.dir).map_err(|e| write_error(&format!("create {}", self.dir.display()), e))?;
        if still_there(&dir) {
            return Err(StartError::Exists);
        }
        let staging =
            self.dir.join(format!("{STAGING_PREFIX}{}-{}", spec.job_id, crate::foundation::hash::random_hex(4)));
        std::fs::create_dir(&staging).map_err(|e| write_error("create the job directory", e))?;
        let staged = statefile::write_json(&staging.join("spec.json"), spec)
            .map_err(|e| write_error("write the job spec", e))
            .and_then(|()| {
                std::fs::rename(&staging, &dir).map_err(|e| match e.kind() {
                    // Renaming onto a directory that is not empty: another start took the id.
                    std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists => StartError::Exists,
                    _ => write_error("create the job directory", e),
                })
            });
        if let Err(error) = staged {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error);
        }
        if let Err(error) = worker::launch(&dir) {
            // Nothing may be left half-made: no worker runs without a record, no record without one.
            self.discard(&dir);
            return Err(error);
        }
        self.evict_over_cap();
        Ok(())
    }

    /// The job as it is now, judged and (past its deadline) enforced.
    pub fn view(&self, job_id: &str) -> Result<View, Unavailable> {
        let dir = self.job_dir(job_id).ok_or(Unavailable::NotFound)?;
        match self.judge(&dir) {
            None => Err(Unavailable::NotFound),
            Some(found) if self.expired(&found) => {
                self.discard(&dir);
                Err(Unavailable::NotFound)
            }
            Some(Found::Damaged(damaged)) => Err(Unavailable::Damaged(damaged.problem)),
            Some(Found::Job(view)) => Ok(*view),
        }
    }

    /// `limit` records of the workspace from `offset`, newest first. Only the page's records
    /// are read and judged (the order is their specs' write times, one `stat` each, so a list
    /// costs about the same with 1,000 records as with 10); expired ones met on the way
    /// (damaged ones included) are deleted, and so are the leftovers of a deletion or a start
    /// that died half-way, and delivery marks whose job is gone.
    pub fn list(&self, offset: usize, limit: usize) -> Listing {
        let mut listing = Listing { jobs: Vec::new(), damaged: Vec::new(), total: 0, next_offset: None };
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return listing };
        let mut records: Vec<(u64, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            // Only real directories are ours; a link (a `patches` or job planted to lead
            // elsewhere) is never followed, swept or deleted through.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if name.starts_with(DISCARD_PREFIX) {
                let _ = std::fs::remove_dir_all(&path);
                continue;
            }
            if name == PATCHES_DIR {
                self.sweep_patches(&path);
                continue;
            }
            if name == DELIVERED_DIR {
                self.sweep_delivery_marks(&path);
                continue;
            }
            if name.starts_with(STAGING_PREFIX) {
                if modified_ms(&path)
                    .is_some_and(|at| at.saturating_add(STAGING_STALE_MS) < crate::foundation::clock::now_ms())
                {
                    let _ = std::fs::remove_dir_all(&path);
                }
                continue;
            }
            if !valid_job_id(&name) {
                continue;
            }
            let written = modified_ms(&path.join("spec.json")).or_else(|| modified_ms(&path)).unwrap_or(0);
            records.push((written, path));
        }
        records.sort_by(|a, b| b.cmp(a));
        let mut total = records.len();
        let mut next = offset;
        for (_, path) in records.iter().skip(offset) {
            if listing.jobs.len() + listing.damaged.len() >= limit {
                break;
            }
            match self.judge(path) {
                None => total -= 1,
                Some(found) if self.expired(&found) => {
                    self.discard(path);
                    total -= 1;
                }
                Some(Found::Job(view)) => {
                    listing.jobs.push(*view);
                    next += 1;
                }
                Some(Found::Damaged(damaged)) => {
                    listing.damaged.push(damaged);
                    next += 1;
                }
            }
        }
        listing.jobs.sort_by_key(|v| std::cmp::Reverse(v.spec.started_epoch_ms));
        listing.total = total;
        listing.next_offset = (next < total).then_some(next);
        listing
    }

    /// Stops a running job (SIGTERM to its group, grace, SIGKILL), cleans up its worktree and
    /// marks it `cancelled`. A job that already ended is returned unchanged.
    pub fn cancel(&self, job_id: &str) -> Result<View, Unavailable> {
        let view = self.view(job_id)?;
        if view.status != Status::Running {
            return Ok(view);
        }
        let dir = self.job_dir(job_id).ok_or(Unavailable::NotFound)?;
        // Said before the worker is stopped: a read that finds it dead meanwhile records the
        // end as this cancel, not as a worker that died.
        let _ = statefile::write_bytes(&dir.join(CANCEL_REQUESTED), b"");
        worker::stop(&dir, STOP_GRACE);
        match self.settle(&dir, Box::new(view), Status::Cancelled, CANCELLED.into()) {
            Some(Found::Job(view)) => Ok(*view),
            Some(Found::Damaged(damaged)) => Err(Unavailable::Damaged(damaged.problem)),
            None => Err(Unavailable::NotFound),
        }
    }

    /// Deletes a job's record whole, whatever its state (its worker must be stopped first), and
    /// any patch its run wrote.
    pub fn remove(&self, job_id: &str) {
        if let Some(dir) = self.job_dir(job_id) {
            self.discard(&dir);
            let _ = std::fs::remove_file(patch_path(&dir));
        }
    }

    /// Whether the job's worker still holds its lock (it lets go as it exits).
    pub fn worker_alive(&self, job_id: &str) -> bool {
        self.job_dir(job_id).is_some_and(|dir| worker::holds_lock(&dir))
    }

    /// The stored envelope of a `done` job, without deleting it; the job is marked delivered.
    pub fn result(&self, job_id: &str) -> Result<Value, Unavailable> {
        let view = self.view(job_id)?;
        match (view.status, &view.result) {
            (Status::Done, Some(envelope)) => {
                self.mark_delivered(job_id);
                Ok(envelope.clone())
            }
            (Status::Done, None) => Err(Unavailable::ResultUnreadable(view.detail.unwrap_or_default())),
            _ => Err(Unavailable::NotDone(Box::new(view))),
        }
    }

    /// The stored envelope of a `done` job, then the record is deleted. The whole job directory
    /// is claimed by one rename to a fresh name, which exactly one of any number of concurrent
    /// consumers (in any processes) wins; the others find no job. Only the winner hands the
    /// result out, and the claimed directory is gone before it does.
    pub fn consume(&self, job_id: &str) -> Result<Value, Unavailable> {
        let view = self.view(job_id)?;
        let envelope = match (view.status, view.result) {
            (Status::Done, Some(envelope)) => envelope,
            (Status::Done, None) => return Err(Unavailable::ResultUnreadable(view.detail.unwrap_or_default())),
            (_, result) => return Err(Unavailable::NotDone(Box::new(View { result, ..view }))),
        };
        let dir = self.job_dir(job_id).ok_or(Unavailable::NotFound)?;
        let claimed = self.claim(&dir).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => Unavailable::NotFound,
            _ => Unavailable::Unclaimable(err.to_string()),
        })?;
        let _ = std::fs::remove_dir_all(&claimed);
        let _ = std::fs::remove_file(delivered_path(&dir));
        Ok(envelope)
    }

    /// Renames a job directory out of the way, to a name no reader looks at.
    fn claim(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let claimed = self.dir.join(format!("{DISCARD_PREFIX}{}", crate::foundation::hash::random_hex(8)));
        std::fs::rename(dir, &claimed)?;
        Ok(claimed)
    }

    /// Deletes a job directory as one step (claim, then remove), and its delivery mark; a
    /// directory that cannot be claimed is left whole for a later pass. True when it was
    /// deleted here.
    fn discard(&self, dir: &Path) -> bool {
        let Ok(claimed) = self.claim(dir) else { return false };
        let _ = std::fs::remove_dir_all(claimed);
        let _ = std::fs::remove_file(delivered_path(dir));
        true
    }

    fn expired(&self, found: &Found) -> bool {
        let now = crate::foundation::clock::now_ms();
        match found {
            Found::Job(view) => {
                view.status != Status::Running
                    && view.unrecorded.is_none()
                    && view.expires_epoch_ms(self.ttl_seconds).is_some_and(|at| at <= now)
            }
            Found::Damaged(damaged) => !damaged.worker_alive && damaged.expires_epoch_ms(self.ttl_seconds) <= now,
        }
    }

    /// Past `max_count` records, deletes delivered ones, the longest delivered first, until the
    /// count is back under the cap or none is left: a result nobody has had yet (a background
    /// job's, or a synchronous run's whose waiter has not read it) is never evicted, whatever
    /// cap the evicting server has. It reads the store's names and the delivery marks only,
    /// never a record, so a start costs the same with 1,000 records as with 10.
    fn evict_over_cap(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let count = entries.flatten().filter(|e| valid_job_id(&e.file_name().to_string_lossy())).count();
        let mut excess = count.saturating_sub(usize::try_from(self.max_count).unwrap_or(usize::MAX));
        if excess == 0 {
            return;
        }
        let Ok(marks) = std::fs::read_dir(self.dir.join(DELIVERED_DIR)) else { return };
        let mut delivered: Vec<(u64, String)> = marks
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let job_id = name.strip_suffix(".json").filter(|id| valid_job_id(id))?.to_string();
                Some((read_delivered(&entry.path())?, job_id))
            })
            .collect();
        delivered.sort();
        for (_, job_id) in delivered {
            if excess == 0 {
                break;
            }
            let Some(dir) = self.job_dir(&job_id) else { continue };
            if self.discard(&dir) {
                excess -= 1;
            }
        }
    }

    /// Records that the result of `job_id` was handed out (the first time only): from then on
    /// the record may be evicted past the cap. A mark that cannot be written leaves the record
    /// undelivered, which only keeps it longer.
    pub fn mark_delivered(&self, job_id: &str) {
        let Some(dir) = self.job_dir(job_id) else { return };
        let path = delivered_path(&dir);
        let mark = Delivered { delivered_epoch_ms: crate::foundation::clock::now_ms() };
        let written = path
            .parent()
            .map_or(Ok(()), statefile::private_dir)
            .and_then(|()| statefile::write_json_once(&path, &mark));
        if let Err(err) = written {
            crate::log_warn!("cannot mark job {job_id} delivered: {err}");
        }
        // Consumed or deleted meanwhile: the mark names nothing.
        if !still_there(&dir) {
            let _ = std::fs::remove_file(&path);
        }
    }

    /// Removes the delivery marks whose job is gone (a mark written as its job was consumed).
    fn sweep_delivery_marks(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let job_id = name.strip_suffix(".json").unwrap_or(&name);
            if !valid_job_id(job_id) || !self.dir.join(job_id).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Reads a job directory and decides its status, recording an end it observed (a deadline
    /// passed, a worker gone). At most one record is attempted per call: a write that fails is
    /// reported in `View::unrecorded`, never retried here.
    fn judge(&self, dir: &Path) -> Option<Found> {
        match read(dir) {
            Reading::Gone => None,
            Reading::Damaged(damaged) => Some(Found::Damaged(damaged)),
            Reading::Job(view) => Some(Found::Job(view)),
            Reading::Overdue(view) => {
                worker::stop(dir, STOP_GRACE);
                let detail =
                    format!("the job exceeded its deadline of {} s and was stopped", view.spec.deadline_seconds);
                self.settle(dir, view, Status::Timeout, detail)
            }
            Reading::Dead(view, _) if dir.join(CANCEL_REQUESTED).exists() => {
                self.settle(dir, view, Status::Cancelled, CANCELLED.into())
            }
            Reading::Dead(view, detail) => self.settle(dir, view, Status::Failed, detail),
        }
    }

    /// Records how a stopped (or dead) job ended, unless a result or another end made it first
    /// (the first end written wins), and reads the job back once.
    fn settle(&self, dir: &Path, mut view: Box<View>, status: Status, detail: String) -> Option<Found> {
        let recorded = if dir.join("result.json").exists() {
            Ok(())
        } else {
            let terminal = Terminal {
                status,
                completed_epoch_ms: crate::foundation::clock::now_ms(),
                detail: detail.clone(),
                cleanup_warnings: self.clean_worktrees(),
            };
            statefile::write_json_once(&dir.join("terminal.json"), &terminal).map(drop)
        };
        match recorded {
            Ok(()) => match read(dir) {
                Reading::Gone => None,
                Reading::Damaged(damaged) => Some(Found::Damaged(damaged)),
                Reading::Job(view) | Reading::Overdue(view) | Reading::Dead(view, _) => Some(Found::Job(view)),
            },
            // Consumed or deleted meanwhile: there is nothing left to record.
            Err(_) if !still_there(dir) => None,
            Err(err) => {
                crate::log_warn!("cannot record the end of job {}: {err}", dir.display());
                view.status = status;
                view.completed_epoch_ms = Some(crate::foundation::clock::now_ms());
                view.detail = Some(detail);
                view.unrecorded = Some(err.to_string());
                Some(Found::Job(view))
            }
        }
    }

    /// Deletes the patches written more than a TTL ago (and temporary files a crashed write
    /// left there).
    fn sweep_patches(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let now = crate::foundation::clock::now_ms();
        for path in entries.flatten().map(|entry| entry.path()) {
            if modified_ms(&path).is_some_and(|at| at.saturating_add(self.ttl_seconds.saturating_mul(1000)) <= now) {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// Removes a delegate worktree a stopped worker could not remove itself (its owner lock is
    /// free now). Returns what could not be done.
    fn clean_worktrees(&self) -> Vec<String> {
        crate::adapters::git::worktree::reap_orphans(&self.worktree_base)
    }
}

/// Reads a job directory without changing it. A directory is only ever removed by renaming it
/// away in one step, so whatever this read saw missing, it re-checks the spec before concluding
/// anything from an absence: a job consumed mid-read reads as gone, never as failed or starting.
fn read(dir: &Path) -> Reading {
    let job_id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let spec: Spec = match statefile::read_json(&dir.join("spec.json")) {
        Ok(spec) => spec,
        Err(_) if !dir.exists() => return Reading::Gone,
        Err(err) => {
            let problem = format!("the job's spec.json {err}");
            let (modified_epoch_ms, worker_alive) = (modified_ms(dir).unwrap_or(0), worker::holds_lock(dir));
            return Reading::Damaged(Damaged { job_id, problem, modified_epoch_ms, worker_alive });
        }
    };
    let mut view = Box::new(View {
        spec,
        status: Status::Running,
        completed_epoch_ms: None,
        detail: None,
        cleanup_warnings: Vec::new(),
        activity: statefile::read_json(&dir.join("activity.json")).unwrap_or_default(),
        result: None,
        unrecorded: None,
        delivered_epoch_ms: read_delivered(&delivered_path(dir)),
    });
    if let Ok(terminal) = statefile::read_json::<Terminal>(&dir.join("terminal.json")) {
        view.status = terminal.status;
        view.completed_epoch_ms = Some(terminal.completed_epoch_ms);
        view.detail = Some(terminal.detail);
        view.cleanup_warnings = terminal.cleanup_warnings;
        return Reading::Job(view);
    }
    if take_result(dir, &mut view) {
        return Reading::Job(view);
    }
    // A worker being launched has not taken its lock yet; `start` removes the job if the
    // launch fails, so a young job without the marker is starting, not dead.
    let starting = !dir.join(worker::STARTED_MARKER).exists()
        && crate::foundation::clock::now_ms() < view.spec.started_epoch_ms.saturating_add(worker::LAUNCH_TIMEOUT_MS);
    if starting || worker::holds_lock(dir) {
        if !still_there(dir) {
            return Reading::Gone;
        }
        if crate::foundation::clock::now_ms() > view.spec.deadline_epoch_ms().saturating_add(DEADLINE_SLACK_MS) {
            return Reading::Overdue(view);
        }
        return Reading::Job(view);
    }
    // The lock is free: the worker is gone. It writes its result before it lets go, so look
    // once more before calling it a failure.
    if take_result(dir, &mut view) {
        return Reading::Job(view);
    }
    if !still_there(dir) {
        return Reading::Gone;
    }
    let detail = format!("the background worker ended without a result; the end of its log:\n{}", log_tail(dir));
    Reading::Dead(view, detail)
}

/// Fills in a `done` job from `result.json`; false when there is none. A result that exists
/// but cannot be read now (permissions, a truncated or foreign file) still makes the job
/// `done`, so nothing is ever recorded over it; the reason is the job's detail.
fn take_result(dir: &Path, view: &mut View) -> bool {
    let path = dir.join("result.json");
    let problem = match statefile::read_json::<StoredResult>(&path) {
        Err(statefile::ReadError::Missing) => return false,
        Ok(stored) if is_envelope(&stored.envelope) => {
            view.status = Status::Done;
            view.completed_epoch_ms = Some(stored.completed_epoch_ms);
            view.result = Some(stored.envelope);
            return true;
        }
        Ok(_) => "it is not a result envelope".to_string(),
        Err(err) => err.to_string(),
    };
    view.status = Status::Done;
    view.completed_epoch_ms = Some(modified_ms(&path).unwrap_or_else(crate::foundation::clock::now_ms));
    view.detail = Some(format!(
        "the job finished but its stored result cannot be read now ({problem}); it is kept in {} until it expires",
        path.display()
    ));
    true
}

/// Where the patch of the job in `job_dir` is kept: `patches/<job id>.patch` beside it.
fn patch_path(job_dir: &Path) -> PathBuf {
    let store = job_dir.parent().unwrap_or(job_dir);
    let job_id = job_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    store.join(PATCHES_DIR).join(format!("{job_id}.patch"))
}

/// Where the delivery mark of the job in `job_dir` is kept: `delivered/<job id>.json` beside it.
fn delivered_path(job_dir: &Path) -> PathBuf {
    let store = job_dir.parent().unwrap_or(job_dir);
    let job_id = job_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    store.join(DELIVERED_DIR).join(format!("{job_id}.json"))
}

/// When a delivery mark says its job was delivered; read only when it is a regular file, since
/// opening a FIFO put in its place would block every status, list and start of the workspace.
fn read_delivered(path: &Path) -> Option<u64> {
    let regular = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_file());
    let mark = regular.then(|| statefile::read_json::<Delivered>(path).ok()).flatten()?;
    Some(mark.delivered_epoch_ms)
}

/// Writes the whole patch of the delegate running as the job in `job_dir` (owner only,
/// atomically) and returns its absolute path.
pub fn write_patch(job_dir: &Path, patch: &str) -> std::io::Result<PathBuf> {
    let path = patch_path(job_dir);
    let dir = path.parent().ok_or_else(|| std::io::Error::other("a patch needs a directory"))?;
    statefile::private_dir(dir)?;
    let path = dir.canonicalize()?.join(path.file_name().unwrap_or_default());
    statefile::write_bytes(&path, patch.as_bytes())?;
    Ok(path)
}

/// Whether the job's directory is still in place (not consumed or deleted meanwhile).
fn still_there(dir: &Path) -> bool {
    dir.join("spec.json").exists()
}

fn modified_ms(path: &Path) -> Option<u64> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(since_epoch.as_millis()).ok()
}

/// Deletes the expired records of every workspace's store in `config`'s state directory (and
/// the leftovers a list removes), reading every record: run in the background at server start,
/// so results past their TTL go away even in a workspace nobody lists, while starts read no
/// record. Other state (sessions, the review gate) is not a store and is left alone.
pub fn sweep_expired(config: &crate::foundation::config::Config) {
    let Ok(entries) = std::fs::read_dir(&config.state_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_workspace_key(&name) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let store = Jobs {
            dir: entry.path(),
            ttl_seconds: config.job_ttl_seconds,
            max_count: config.job_max_count,
            worktree_base: config.worktree_base.clone(),
        };
        store.list(0, usize::MAX);
    }
}

/// Whether `name` has the shape [`workspace_key`] gives: a name, a dash, 12 hex digits.
fn is_workspace_key(name: &str) -> bool {
    name.rsplit_once('-').is_some_and(|(_, digest)| {
        digest.len() == 12 && digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `<basename>-<first 12 hex of sha256(path)>`: readable, and distinct per workspace.
pub fn workspace_key(workspace: &Path) -> String {
    let name: String = workspace
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .take(40)
        .collect();
    let name = if name.trim_matches(['.', '-']).is_empty() { "workspace".to_string() } else { name };
    let digest = crate::foundation::hash::sha256_hex(workspace.as_os_str().as_encoded_bytes());
    format!("{name}-{}", &digest[..12])
}

/// What a job id looks like, 32 lowercase hex digits: checked before any path is built from an
/// id, and by the tools' argument validation.
pub fn valid_job_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn new_job_id() -> String {
    crate::foundation::hash::random_hex(16)
}

/// The job id an idempotency key names in a workspace's store: a digest, so the key itself is
/// never written anywhere, and two calls with one key meet at one directory.
pub fn job_id_for_key(key: &str) -> String {
    let digest = crate::foundation::hash::sha256_hex(format!("codex-in-claude idempotency_key\0{key}").as_bytes());
    digest[..32].to_string()
}

/// A stored result is handed out only if it is an envelope.
fn is_envelope(value: &Value) -> bool {
    match value.get("ok") {
        Some(Value::Bool(true)) => value.get("tool").is_some_and(Value::is_string),
        Some(Value::Bool(false)) => value.get("error").and_then(|e| e.get("code")).is_some_and(Value::is_string),
        _ => false,
    }
}

/// The last lines of the worker's log, sanitised and redacted, for a `failed` job's reason:
/// lines stay lines, and the newest are the ones kept.
fn log_tail(dir: &Path) -> String {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Ok(mut file) = statefile::open_regular(&dir.join("worker.log")) else { return "(no log)".into() };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = length.saturating_sub(LOG_TAIL_BYTES);
    let _ = file.seek(SeekFrom::Start(start));
    let mut tail = Vec::new();
    let _ = file.read_to_end(&mut tail);
    let text = String::from_utf8_lossy(&tail);
    // A tail that starts mid-line starts after that line's end, so no line (or secret) is split.
    let text = if start > 0 { text.split_once('\n').map_or("", |(_, rest)| rest) } else { &text };
    let text = crate::foundation::redact::text(&crate::foundation::text::strip_controls(text, true)).text;
    last_lines(&text, LOG_TAIL_CHARS)
}

/// The last non-empty lines of `text` that fit in `max_chars`, in order; "(the log is empty)"
/// when there are none. A kept line over the budget on its own keeps its end.
fn last_lines(text: &str, max_chars: usize) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut used = 0;
    for line in text.lines().rev().map(str::trim_end).filter(|l| !l.trim().is_empty()) {
        let cost = line.chars().count() + 1;
        if used + cost > max_chars {
            if kept.is_empty() {
                let skip = line.chars().count().saturating_sub(max_chars);
                return format!("…{}", line.chars().skip(skip + 1).collect::<String>());
            }
            break;
        }
        used += cost;
        kept.push(line);
    }
    if kept.is_empty() {
        return "(the log is empty; the worker was probably killed)".into();
    }
    kept.reverse();
    kept.join("\n")
}

/// Waits up to `limit` for `done`, polling.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    // Most waits end within milliseconds (a worker exiting after its result is stored): look
    // again soon, then less often.
    let mut pause = Duration::from_millis(1);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_listed_once_with_its_serde_name() {
        for status in Status::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), serde_json::json!(status.as_str()));
        }
        let mut names: Vec<_> = Status::ALL.map(Status::as_str).to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 5);
    }

    #[test]
    fn workspace_keys_are_readable_and_distinct() {
        let a = workspace_key(Path::new("/home/u/my project"));
        let b = workspace_key(Path::new("/srv/my project"));
        assert!(a.starts_with("my-project-") && b.starts_with("my-project-"));
        assert_ne!(a, b);
        assert!(workspace_key(Path::new("/")).starts_with("workspace-"));
        assert!(is_workspace_key(&a) && is_workspace_key(&workspace_key(Path::new("/"))));
        for other in ["sessions", "review-gate", "usage-limit.json", "a-0123456789ab.x"] {
            assert!(!is_workspace_key(other), "{other}");
        }
    }

    #[test]
    fn job_ids_are_checked_before_paths_are_built() {
        assert!(valid_job_id(&new_job_id()));
        for bad in ["", "../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789", "0123456789abcdef0123456789abcde/"] {
            assert!(!valid_job_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_log_tail_keeps_its_last_lines_apart() {
        let log = (1..=200).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n");
        let tail = last_lines(&log, 40);
        assert!(tail.ends_with("line 199\nline 200"), "{tail}");
        assert!(!tail.contains("line 1\n"));
        assert!(tail.lines().count() > 1);
        assert_eq!(last_lines("\n \n", 40), "(the log is empty; the worker was probably killed)");
        let long = last_lines(&"x".repeat(100), 10);
        assert_eq!(long.chars().count(), 10, "{long}");
    }

    #[test]
    fn a_patch_is_private_beside_its_job_outlives_it_and_expires_with_the_ttl() {
        use std::os::unix::fs::PermissionsExt as _;
        let state = tempfile::tempdir().unwrap();
        let mut config = crate::foundation::config::Config::from_map(&Default::default());
        config.state_dir = state.path().to_path_buf();
        config.job_ttl_seconds = 5;
        let jobs = Jobs::for_workspace(&config, Path::new("/w"));
        let job_id = new_job_id();
        let path = write_patch(&jobs.dir.join(&job_id), "diff --git a/x b/x\n").unwrap();
        assert_eq!(
            path,
            state
                .path()
                .canonicalize()
                .unwrap()
                .join(workspace_key(Path::new("/w")))
                .join("patches")
                .join(format!("{job_id}.patch"))
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "diff --git a/x b/x\n");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
        // A listing leaves a young patch (whose job record is gone) alone, and removes an old one.
        jobs.list(0, 10);
        assert!(path.exists());
        let aged = std::time::SystemTime::now() - Duration::from_secs(6);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(aged).unwrap();
        jobs.list(0, 10);
        assert!(!path.exists(), "a patch outlived the TTL");
        // A run whose record is removed unfinished takes its patch with it.
        let path = write_patch(&jobs.dir.join(&job_id), "x\n").unwrap();
        jobs.remove(&job_id);
        assert!(!path.exists());
    }

    #[test]
    fn only_envelopes_count_as_results() {
        assert!(is_envelope(&serde_json::json!({"ok": true, "tool": "codex_consult"})));
        assert!(is_envelope(&serde_json::json!({"ok": false, "error": {"code": "timeout"}})));
        assert!(!is_envelope(&serde_json::json!({"ok": "yes"})));
        assert!(!is_envelope(&serde_json::json!([1])));
    }
}
