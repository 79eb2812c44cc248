//! Background jobs on disk (original-spec §6, SPEC §4 "Jobs"): one directory per job under a
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
//! - `activity.json`: what codex is doing (events seen, last event), at most once a second;
//! - `result.json`: the finished envelope; `terminal.json`: cancelled / timeout / failed, set by
//!   whoever observed it.
//!
//! Status on every read: terminal file → that; result → `done`; lock held → `running` (stopped
//! and marked `timeout` once past its deadline); otherwise the worker died without a result →
//! `failed`, with the tail of its log (redacted) as the reason.

pub mod worker;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::statefile;

pub const SPEC_FORMAT: u32 = 1;
/// How long a running worker gets to stop cleanly after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The worker ends its own run at the deadline; a read only steps in after this much slack.
const DEADLINE_SLACK_MS: u64 = 5_000;
/// Tail of the worker log quoted when a worker died without a result.
const LOG_TAIL_BYTES: u64 = 2_000;

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredResult {
    completed_epoch_ms: u64,
    envelope: Value,
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
}

/// A job as a read found it.
#[derive(Debug, Clone)]
pub struct View {
    pub spec: Spec,
    pub status: Status,
    pub completed_epoch_ms: Option<u64>,
    /// Why it ended when it did not end `done`.
    pub detail: Option<String>,
    pub cleanup_warnings: Vec<String>,
    pub activity: Activity,
    /// The stored envelope of a `done` job.
    pub result: Option<Value>,
}

impl View {
    pub fn elapsed_ms(&self) -> u64 {
        self.completed_epoch_ms.unwrap_or_else(crate::clock::now_ms).saturating_sub(self.spec.started_epoch_ms)
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
}

/// Why a result cannot be handed out.
#[derive(Debug)]
pub enum Unavailable {
    NotFound,
    NotDone(Box<View>),
    /// The stored result is not an envelope; the record is kept.
    Corrupt,
}

/// The jobs of one workspace.
pub struct Jobs {
    dir: PathBuf,
    ttl_seconds: u64,
    max_count: u64,
    worktree_base: PathBuf,
}

impl Jobs {
    pub fn for_workspace(config: &crate::config::Config, workspace: &Path) -> Jobs {
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
    pub fn start(&self, spec: &Spec) -> Result<(), String> {
        let dir = self.job_dir(&spec.job_id).ok_or("invalid job id")?;
        statefile::private_dir(&self.dir).map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create the job directory: {e}"))?;
        let launched = statefile::write_json(&dir.join("spec.json"), spec)
            .map_err(|e| format!("cannot write the job spec: {e}"))
            .and_then(|()| worker::launch(&dir));
        if let Err(error) = launched {
            // Nothing may be left half-made: no worker runs without a record, no record without one.
            let _ = std::fs::remove_dir_all(&dir);
            return Err(error);
        }
        self.evict_over_cap();
        Ok(())
    }

    /// The job as it is now, judged and (past its deadline) enforced; `None` when unknown,
    /// consumed, expired or evicted.
    pub fn view(&self, job_id: &str) -> Option<View> {
        let dir = self.job_dir(job_id)?;
        let view = self.judge(&dir)?;
        if self.expired(&view) {
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
        Some(view)
    }

    /// Every job of the workspace, newest first; expired ones are deleted on the way.
    pub fn list(&self) -> Vec<View> {
        let mut views: Vec<View> = self
            .job_dirs()
            .into_iter()
            .filter_map(|dir| {
                let view = self.judge(&dir)?;
                if self.expired(&view) {
                    let _ = std::fs::remove_dir_all(&dir);
                    return None;
                }
                Some(view)
            })
            .collect();
        views.sort_by_key(|v| std::cmp::Reverse(v.spec.started_epoch_ms));
        views
    }

    /// Stops a running job (SIGTERM to its group, grace, SIGKILL), cleans up its worktree and
    /// marks it `cancelled`. A job that already ended is returned unchanged.
    pub fn cancel(&self, job_id: &str) -> Option<View> {
        let view = self.view(job_id)?;
        if view.status != Status::Running {
            return Some(view);
        }
        let dir = self.job_dir(job_id)?;
        self.stop(&dir, Status::Cancelled, "the job was cancelled");
        self.view(job_id)
    }

    /// The stored envelope of a `done` job, without deleting it.
    pub fn result(&self, job_id: &str) -> Result<Value, Unavailable> {
        let view = self.view(job_id).ok_or(Unavailable::NotFound)?;
        match (&view.status, &view.result) {
            (Status::Done, Some(envelope)) if is_envelope(envelope) => Ok(envelope.clone()),
            (Status::Done, _) => Err(Unavailable::Corrupt),
            _ => Err(Unavailable::NotDone(Box::new(view))),
        }
    }

    /// The stored envelope of a `done` job, then the record is deleted. The result is validated
    /// first, and claimed by an atomic rename, so two consumers get it exactly once between them.
    pub fn consume(&self, job_id: &str) -> Result<Value, Unavailable> {
        let envelope = self.result(job_id)?;
        let dir = self.job_dir(job_id).ok_or(Unavailable::NotFound)?;
        let claimed = dir.join(format!("result.claimed-{}", crate::hash::random_hex(8)));
        std::fs::rename(dir.join("result.json"), &claimed).map_err(|_| Unavailable::NotFound)?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(envelope)
    }

    fn job_dirs(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        entries.flatten().filter(|e| e.file_name().to_str().is_some_and(valid_job_id)).map(|e| e.path()).collect()
    }

    fn expired(&self, view: &View) -> bool {
        view.status != Status::Running
            && view.expires_epoch_ms(self.ttl_seconds).is_some_and(|at| at <= crate::clock::now_ms())
    }

    /// Keeps at most `max_count` jobs: the oldest finished ones go first; running ones never.
    fn evict_over_cap(&self) {
        let views = self.list();
        let excess = views.len().saturating_sub(usize::try_from(self.max_count).unwrap_or(usize::MAX));
        let mut finished: Vec<&View> = views.iter().filter(|v| v.status != Status::Running).collect();
        finished.sort_by_key(|v| v.spec.started_epoch_ms);
        for view in finished.into_iter().take(excess) {
            if let Some(dir) = self.job_dir(&view.spec.job_id) {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    /// Reads a job directory and decides its status, enforcing the deadline.
    fn judge(&self, dir: &Path) -> Option<View> {
        let spec: Spec = statefile::read_json(&dir.join("spec.json"))?;
        let activity = statefile::read_json(&dir.join("activity.json")).unwrap_or_default();
        let mut view = View {
            spec,
            status: Status::Running,
            completed_epoch_ms: None,
            detail: None,
            cleanup_warnings: Vec::new(),
            activity,
            result: None,
        };
        if let Some(terminal) = statefile::read_json::<Terminal>(&dir.join("terminal.json")) {
            view.status = terminal.status;
            view.completed_epoch_ms = Some(terminal.completed_epoch_ms);
            view.detail = Some(terminal.detail);
            view.cleanup_warnings = terminal.cleanup_warnings;
            return Some(view);
        }
        if self.take_result(dir, &mut view) {
            return Some(view);
        }
        // A worker being launched has not taken its lock yet; `start` removes the job if the
        // launch fails, so a young job without the marker is starting, not dead.
        let starting = !dir.join(worker::STARTED_MARKER).exists()
            && crate::clock::now_ms() < view.spec.started_epoch_ms.saturating_add(worker::LAUNCH_TIMEOUT_MS);
        if starting || worker::holds_lock(dir) {
            if crate::clock::now_ms() > view.spec.deadline_epoch_ms().saturating_add(DEADLINE_SLACK_MS) {
                let detail = format!("exceeded its deadline of {} s and was stopped", view.spec.deadline_seconds);
                self.stop(dir, Status::Timeout, &detail);
                return self.judge(dir);
            }
            return Some(view);
        }
        // The lock is free: the worker is gone. It writes its result before it lets go, so look
        // once more before calling it a failure.
        if self.take_result(dir, &mut view) {
            return Some(view);
        }
        let detail = format!("the background worker ended without a result: {}", log_tail(dir));
        let cleanup_warnings = self.clean_worktrees();
        self.mark(dir, Status::Failed, &detail, cleanup_warnings);
        self.judge(dir)
    }

    fn take_result(&self, dir: &Path, view: &mut View) -> bool {
        let Some(stored) = statefile::read_json::<StoredResult>(&dir.join("result.json")) else { return false };
        view.status = Status::Done;
        view.completed_epoch_ms = Some(stored.completed_epoch_ms);
        view.result = Some(stored.envelope);
        true
    }

    /// Stops the worker's process group and records `status` unless a result made it first.
    fn stop(&self, dir: &Path, status: Status, detail: &str) {
        worker::stop(dir, STOP_GRACE);
        if dir.join("result.json").exists() {
            return;
        }
        let cleanup_warnings = self.clean_worktrees();
        self.mark(dir, status, detail, cleanup_warnings);
    }

    fn mark(&self, dir: &Path, status: Status, detail: &str, cleanup_warnings: Vec<String>) {
        let terminal = Terminal {
            status,
            completed_epoch_ms: crate::clock::now_ms(),
            detail: detail.to_string(),
            cleanup_warnings,
        };
        if let Err(err) = statefile::write_json(&dir.join("terminal.json"), &terminal) {
            crate::log_warn!("cannot record the end of job {}: {err}", dir.display());
        }
    }

    /// Removes a delegate worktree a stopped worker could not remove itself (its owner lock is
    /// free now). Returns what could not be done.
    fn clean_worktrees(&self) -> Vec<String> {
        crate::worktree::reap_orphans(&self.worktree_base)
    }
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
    let digest = crate::hash::sha256_hex(workspace.as_os_str().as_encoded_bytes());
    format!("{name}-{}", &digest[..12])
}

/// 32 lowercase hex digits: checked before any path is built from an id.
pub fn valid_job_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn new_job_id() -> String {
    crate::hash::random_hex(16)
}

/// A stored result is handed out only if it is an envelope.
fn is_envelope(value: &Value) -> bool {
    match value.get("ok") {
        Some(Value::Bool(true)) => value.get("tool").is_some_and(Value::is_string),
        Some(Value::Bool(false)) => value.get("error").and_then(|e| e.get("code")).is_some_and(Value::is_string),
        _ => false,
    }
}

/// The end of the worker's log, sanitised and redacted, for a `failed` job's reason.
fn log_tail(dir: &Path) -> String {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Ok(mut file) = std::fs::File::open(dir.join("worker.log")) else { return "(no log)".into() };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(LOG_TAIL_BYTES)));
    let mut tail = Vec::new();
    let _ = file.read_to_end(&mut tail);
    let text = crate::redact::text_cut(&crate::text::strip_controls(&String::from_utf8_lossy(&tail), false)).text;
    let text = text.trim();
    if text.is_empty() { "(the log is empty; it was probably killed)".into() } else { crate::text::bounded(text, 400) }
}

/// Waits up to `limit` for `done`, polling.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_keys_are_readable_and_distinct() {
        let a = workspace_key(Path::new("/home/u/my project"));
        let b = workspace_key(Path::new("/srv/my project"));
        assert!(a.starts_with("my-project-") && b.starts_with("my-project-"));
        assert_ne!(a, b);
        assert!(workspace_key(Path::new("/")).starts_with("workspace-"));
    }

    #[test]
    fn job_ids_are_checked_before_paths_are_built() {
        assert!(valid_job_id(&new_job_id()));
        for bad in ["", "../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789", "0123456789abcdef0123456789abcde/"] {
            assert!(!valid_job_id(bad), "{bad}");
        }
    }

    #[test]
    fn only_envelopes_count_as_results() {
        assert!(is_envelope(&serde_json::json!({"ok": true, "tool": "codex_consult"})));
        assert!(is_envelope(&serde_json::json!({"ok": false, "error": {"code": "timeout"}})));
        assert!(!is_envelope(&serde_json::json!({"ok": "yes"})));
        assert!(!is_envelope(&serde_json::json!([1])));
    }
}
