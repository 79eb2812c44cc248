//! Paid runs as jobs, and the background-job tools. Every paid run is a detached job worker
//! (docs/product.md §6: no paid result is lost): the three `_async` starters hand the
//! synchronous tool's arguments to a worker and return its job id; the synchronous paid tools do
//! the same and wait for the job, relaying its activity as progress. Both check everything that
//! can be checked before anything is spent, and both honour `idempotency_key`. The five
//! `codex_job_*` lifecycle tools read and manage the jobs through `crate::adapters::jobs`.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::codex_run::{self, Opening, Settings};
use super::meta::{Meta, error_envelope};
use super::schema;
use super::{Call, Tool};
use crate::adapters::jobs::{Activity, Jobs, Spec, StartError, Status, Unavailable, View, WorkspaceInfo};
use crate::adapters::workspace::Workspace;
use crate::foundation::envelope::{ErrorCode, ToolError};

/// What a paid tool checks before its job starts, so a run that could only fail at once is
/// never started.
pub type Check = fn(&Call, &Workspace, &mut Meta) -> Result<(), ToolError>;

/// How often a waiting call looks at its job: a twentieth of the time it has waited, within
/// these bounds, so a quick run is noticed within milliseconds (a consult against a fast model
/// takes well under a second) while a long one costs a look every tenth of a second.
const WAIT_POLL_MIN: Duration = Duration::from_millis(2);
const WAIT_POLL_MAX: Duration = Duration::from_millis(100);
/// After its result is stored, how long the worker gets to exit before the call returns.
const WORKER_EXIT_WAIT: Duration = Duration::from_secs(2);
/// How long a waiting call gives a worker whose record vanished to put it back (it looks every
/// half second) before saying the record is gone.
const RECREATE_GRACE: Duration = Duration::from_secs(5);
/// Starts of one idempotency key that lost to a record deleted meanwhile, tried again.
const START_ATTEMPTS: usize = 3;

pub fn check_delegate(call: &Call, workspace: &Workspace, _: &mut Meta) -> Result<(), ToolError> {
    codex_run::check_input_size(call, &[("task", call.args.text("task"))])?;
    let git_timeout = Duration::from_secs(call.config.git_timeout_seconds);
    crate::adapters::git::worktree::open_with_head(&workspace.path, git_timeout, &call.cancel)
        .map(|_| ())
        .map_err(ToolError::from)
}

pub fn run_consult_async(call: &Call) -> Value {
    run_background(call, &super::CONSULT)
}

pub fn run_review_async(call: &Call) -> Value {
    run_background(call, &super::REVIEW)
}

pub fn run_delegate_async(call: &Call) -> Value {
    run_background(call, &super::DELEGATE)
}

/// A job as a starter found it: the one it just started, or the run its idempotency key names.
struct Started {
    jobs: Jobs,
    view: Option<View>,
    spec: Spec,
    meta: Meta,
}

impl Started {
    fn replayed(&self) -> bool {
        self.view.is_some()
    }
}

/// `_async`: starts a job running `tool` (the synchronous twin) and returns its id at once.
fn run_background(call: &Call, twin: &Tool) -> Value {
    let check = twin.job_check.expect("an _async tool's twin runs as a job");
    let started = match start(call, twin, check, call.config.job_max_seconds) {
        Ok(started) => started,
        Err(envelope) => return envelope,
    };
    let Started { jobs, view, spec, mut meta } = started;
    meta.job_id = Some(spec.job_id.clone());
    meta.replayed = view.is_some();
    let status = view.as_ref().map_or(Status::Running, |v| v.status);
    json!(Launched {
        ok: true,
        job_id: spec.job_id,
        status: status.as_str(),
        kind: spec.kind,
        started_at: crate::foundation::clock::rfc3339(spec.started_epoch_ms),
        deadline_seconds: spec.deadline_seconds,
        poll_after_ms: view.as_ref().map_or(1000, View::poll_after_ms),
        ttl_seconds: jobs.ttl_seconds(),
        expires_at: view
            .as_ref()
            .and_then(|v| v.expires_epoch_ms(jobs.ttl_seconds()))
            .map(crate::foundation::clock::rfc3339),
        tool: call.tool.name,
        meta,
    })
}

/// The `ok:true` envelope of an `_async` starter: the job, then `meta`. (What to do next is the
/// tool's description: poll `codex_job_status`, then fetch the result.) A test checks it against
/// `started_schema`.
#[derive(Serialize)]
struct Launched<'a> {
    ok: bool,
    job_id: String,
    status: &'static str,
    kind: String,
    started_at: String,
    deadline_seconds: u64,
    poll_after_ms: u64,
    ttl_seconds: u64,
    expires_at: Option<String>,
    tool: &'a str,
    meta: Meta,
}

/// A synchronous paid call: its run is a job (kind = the tool's own name) that outlives this
/// call's server; the call waits for it, relays its activity as progress, and returns its
/// stored envelope. Cancelling the call stops the run and deletes its record; a server going
/// away leaves it running, to be found with `codex_job_list` and `codex_job_result`.
pub fn run_waited(call: &Call, check: Check) -> Value {
    let timeout_seconds = Settings::resolve(call).timeout_seconds;
    let started = match start(call, call.tool, check, timeout_seconds) {
        Ok(started) => started,
        Err(envelope) => return envelope,
    };
    let replayed = started.replayed();
    let Started { jobs, spec, mut meta, .. } = started;
    let job_id = spec.job_id.as_str();
    // An error that ends the wait names the job it was about.
    meta.job_id = Some(spec.job_id.clone());
    meta.replayed = replayed;
    let mut relay = Relay::default();
    let waiting_since = std::time::Instant::now();
    let mut vanished = None;
    loop {
        if call.cancel.is_abandoned() {
            let error = ToolError::new(
                ErrorCode::JobRunning,
                format!("the server is going away; the run goes on as job {job_id} and its result will be kept"),
            );
            return error_envelope(error.repair_tool("codex_job_status", job_params(call, job_id)), &meta);
        }
        if call.cancel.is_cancelled() {
            // A replayed run belongs to the call that started it (another client, perhaps): this
            // call only stops waiting for it.
            if replayed {
                let error = ToolError::new(
                    ErrorCode::JobCancelled,
                    format!(
                        "the call was cancelled; the run it replayed goes on as job {job_id}, started by another call"
                    ),
                );
                return error_envelope(error.repair_tool("codex_job_status", job_params(call, job_id)), &meta);
            }
            let _ = jobs.cancel(job_id);
            jobs.remove(job_id);
            let error = ToolError::new(
                ErrorCode::JobCancelled,
                "the call was cancelled: its run was stopped and its record deleted",
            );
            return error_envelope(error, &meta);
        }
        let mut view = match jobs.view(job_id) {
            Ok(view) => view,
            // A worker whose record was deleted under it puts it back or stops codex within
            // moments: until then the call waits, so it never says "not found" while codex spends.
            // A removal under way reads as damaged (the directory there, its spec gone) as well.
            Err(Unavailable::NotFound | Unavailable::Damaged(_))
                if !replayed && vanished.get_or_insert_with(std::time::Instant::now).elapsed() < RECREATE_GRACE =>
            {
                std::thread::sleep(WAIT_POLL_MAX);
                continue;
            }
            Err(Unavailable::NotFound) => {
                let error = ToolError::new(
                    ErrorCode::JobNotFound,
                    format!(
                        "the record of job {job_id} was deleted before its result could be read (consumed by another call, \
                         or its state directory removed mid-run and not recreated, in which case its worker stopped codex)"
                    ),
                );
                return error_envelope(error, &meta);
            }
            Err(unavailable) => return error_envelope(unavailable_error(call, unavailable), &meta),
        };
        vanished = None;
        relay.pass_on(call.progress, &view.activity);
        let envelope = match view.status {
            Status::Running => {
                std::thread::sleep((waiting_since.elapsed() / 20).clamp(WAIT_POLL_MIN, WAIT_POLL_MAX));
                continue;
            }
            Status::Done => view.result.take(),
            _ => None,
        };
        let Some(envelope) = envelope else {
            // Ended without an envelope to hand out: why, as `codex_job_result` would say it.
            let unavailable = match view.status {
                Status::Done => Unavailable::ResultUnreadable(view.detail.unwrap_or_default()),
                _ => Unavailable::NotDone(Box::new(view)),
            };
            return error_envelope(unavailable_error(call, unavailable), &meta);
        };
        // Marked only now that the envelope is in hand: until then no cap evicts the record.
        jobs.mark_delivered(job_id);
        // The worker stores its result, then exits: a call that returns leaves no process.
        crate::adapters::jobs::wait_until(WORKER_EXIT_WAIT, || !jobs.worker_alive(job_id));
        let mut envelope = stamp(envelope, job_id);
        envelope["meta"]["replayed"] = json!(replayed);
        carry_warnings(&mut envelope, &meta);
        return envelope;
    }
}

/// What this call found before the run (secrets masked in its text) belongs in the run's
/// envelope too: the worker saw the text already masked.
fn carry_warnings(envelope: &mut Value, meta: &Meta) {
    let stored = envelope["meta"]["security_warnings"].as_array().cloned().unwrap_or_default();
    let mut warnings: Vec<Value> = meta.security_warnings.iter().map(|w| json!(w)).collect();
    warnings.extend(stored.into_iter().filter(|w| !meta.security_warnings.iter().any(|m| w == m)));
    envelope["meta"]["security_warnings"] = Value::Array(warnings);
}

/// What of a job's activity has been passed on to the caller.
#[derive(Default)]
struct Relay {
    events_seen: u64,
    last_event: Option<String>,
    stalled_since_ms: Option<u64>,
}

impl Relay {
    /// Reports what the worker recorded since the last look: a new event, or a new stall.
    fn pass_on(&mut self, progress: &dyn super::Progress, activity: &Activity) {
        if let Some(event) = &activity.last_event
            && (activity.events_seen > self.events_seen || activity.last_event != self.last_event)
        {
            progress.report(activity.events_seen, event);
        }
        if let (Some(since), Some(message)) = (activity.stalled_since_ms, &activity.stalled)
            && self.stalled_since_ms != Some(since)
        {
            progress.stalled(activity.events_seen, message);
        }
        self.events_seen = activity.events_seen;
        self.last_event.clone_from(&activity.last_event);
        self.stalled_since_ms = activity.stalled_since_ms;
    }
}

fn job_params(call: &Call, job_id: &str) -> Value {
    let mut params = json!({"job_id": job_id});
    if let Some(root) = call.args.text("workspace_root") {
        params["workspace_root"] = json!(root);
    }
    params
}

/// Checks, then writes the job and launches its worker, which runs `tool` with these arguments;
/// or, when `idempotency_key` names a run of the same arguments, finds that run instead.
fn start(call: &Call, tool: &Tool, check: Check, deadline_seconds: u64) -> Result<Started, Value> {
    // The tool's own check (size included) runs below, once the job's timeout is in meta.
    let Opening { workspace, mut meta, .. } = Opening::new(call, &[])?;
    meta.timeout_seconds = Some(deadline_seconds);
    if let Err(error) =
        check(call, &workspace, &mut meta).and_then(|()| codex_run::follow_up(call, &workspace).map(drop))
    {
        return Err(error_envelope(error, &meta));
    }
    // A job that could only fail at once is not started.
    if !crate::foundation::process::on_path(crate::adapters::codex::PROGRAM) {
        return Err(error_envelope(crate::adapters::codex::exec::StartError::NotFound.into(), &meta));
    }
    // Nor one the day's budget (or a used-up plan) would refuse; the worker checks again.
    if let Err(error) = super::budget::check(call, &super::budget::of(call)) {
        return Err(error_envelope(error.into(), &meta));
    }
    let mut arguments = call.args.to_value();
    // The job record on disk holds no more of the caller's text than the model would get: it
    // is masked before it is written, and this envelope says so (the worker finds it masked).
    for param in ["question", "extra_context", "focus", "task"] {
        if let Some(masked) = codex_run::redact_input(arguments[param].as_str(), param, &mut meta) {
            arguments[param] = json!(masked);
        }
    }
    // The worker has no roots to resolve against: it gets the workspace this call resolved.
    arguments["workspace_root"] = json!(workspace.path.display().to_string());
    // The key is not stored: the job's id is derived from it.
    let key = arguments.as_object_mut().and_then(|a| a.remove("idempotency_key"));
    let key = key.as_ref().and_then(Value::as_str);
    let spec = Spec {
        format: crate::adapters::jobs::SPEC_FORMAT,
        job_id: key.map_or_else(crate::adapters::jobs::new_job_id, crate::adapters::jobs::job_id_for_key),
        kind: call.tool.name.to_string(),
        tool: tool.name.to_string(),
        arguments,
        workspace: WorkspaceInfo {
            cwd: workspace.path.display().to_string(),
            workspace_source: workspace.source.as_str().to_string(),
            workspace_warning: workspace.warning.clone(),
        },
        started_epoch_ms: crate::foundation::clock::now_ms(),
        deadline_seconds,
    };
    let jobs = Jobs::for_workspace(call.config, &workspace.path);
    for _ in 0..START_ATTEMPTS {
        let error = match jobs.start(&spec) {
            Ok(()) => return Ok(Started { jobs, view: None, spec, meta }),
            Err(StartError::Exists) => match jobs.view(&spec.job_id) {
                Ok(view) if view.spec.kind == spec.kind && view.spec.arguments == spec.arguments => {
                    let spec = view.spec.clone();
                    return Ok(Started { jobs, view: Some(view), spec, meta });
                }
                Ok(_) => key_error("was used for a call with other arguments (or another tool) whose run is still kept"),
                // Deleted since: try again.
                Err(Unavailable::NotFound) => continue,
                Err(_) => key_error("names a run whose record cannot be read now"),
            },
            Err(StartError::StateWrite(message)) => ToolError::new(
                ErrorCode::StateWriteFailed,
                format!("the job was not started, nothing was spent and nothing was left: {message}"),
            ),
            Err(StartError::Launch(message)) => ToolError::new(ErrorCode::InternalError, message).repair(
                "Check that CODEX_IN_CLAUDE_STATE_DIR is writable (codex_status shows it), then retry; nothing was spent",
            ),
        };
        return Err(error_envelope(error, &meta));
    }
    let error = ToolError::new(
        ErrorCode::InternalError,
        "the run this idempotency_key names kept being deleted while starting; retry",
    )
    .offending("idempotency_key");
    Err(error_envelope(error, &meta))
}

fn key_error(what: &str) -> ToolError {
    ToolError::new(ErrorCode::InvalidArguments, format!("idempotency_key {what}; use another key for a new run"))
        .offending("idempotency_key")
}

/// The workspace's jobs, or the envelope explaining why the workspace is unusable.
fn jobs_of(call: &Call) -> Result<(Jobs, Workspace), Value> {
    let workspace = call.workspace().map_err(|error| call.fail(error, None))?;
    Ok((Jobs::for_workspace(call.config, &workspace.path), workspace))
}

fn job_id<'a>(call: &'a Call) -> &'a str {
    call.args.text("job_id").unwrap_or_default()
}

pub fn run_status(call: &Call) -> Value {
    report(call, Jobs::view)
}

pub fn run_cancel(call: &Call) -> Value {
    report(call, Jobs::cancel)
}

/// A job's status after `look` (a read, or a cancel), or why there is none to show.
fn report(call: &Call, look: fn(&Jobs, &str) -> Result<View, Unavailable>) -> Value {
    let (jobs, workspace) = match jobs_of(call) {
        Ok(found) => found,
        Err(envelope) => return envelope,
    };
    let error = match look(&jobs, job_id(call)) {
        Ok(view) => match unrecorded_error(&view) {
            Some(error) => error,
            None => return status_envelope(call, &jobs, &view, &workspace),
        },
        Err(unavailable) => unavailable_error(call, unavailable),
    };
    call.fail(error, Some(&workspace))
}

/// A read judged how the job ended but could not write it down: the caller is told both.
fn unrecorded_error(view: &View) -> Option<ToolError> {
    let cause = view.unrecorded.as_ref()?;
    let ended = view.detail.as_deref().unwrap_or(view.status.as_str());
    Some(ToolError::new(
        ErrorCode::StateWriteFailed,
        format!(
            "how job {} ended could not be recorded in the job state ({cause}); it ended as {}: {ended}",
            view.spec.job_id,
            view.status.as_str()
        ),
    ))
}

pub fn run_result(call: &Call) -> Value {
    deliver(call, Jobs::result)
}

pub fn run_consume(call: &Call) -> Value {
    deliver(call, Jobs::consume)
}

/// A finished job's stored envelope, stamped with its job id and today's fingerprint, with the
/// caller's `detail` applied; or the lifecycle error saying why there is none.
fn deliver(call: &Call, take: fn(&Jobs, &str) -> Result<Value, Unavailable>) -> Value {
    let (jobs, workspace) = match jobs_of(call) {
        Ok(found) => found,
        Err(envelope) => return envelope,
    };
    let error = match take(&jobs, job_id(call)) {
        Ok(envelope) => return stamp(envelope, job_id(call)),
        Err(unavailable) => unavailable_error(call, unavailable),
    };
    call.fail(error, Some(&workspace))
}

/// A stored envelope as handed out: stamped with its job id and today's fingerprint. The worker
/// stores the whole envelope; `call_tool` gives the caller's `detail` view of it.
fn stamp(mut envelope: Value, job_id: &str) -> Value {
    envelope["meta"]["job_id"] = json!(job_id);
    envelope["meta"]["fingerprint"] = json!(super::fingerprint());
    envelope
}

fn unavailable_error(call: &Call, unavailable: Unavailable) -> ToolError {
    match unavailable {
        Unavailable::NotFound => not_found(call),
        Unavailable::Damaged(problem) => ToolError::new(
            ErrorCode::JobUnreadable,
            format!("the job's record cannot be read ({problem}); it is kept until it expires"),
        ),
        Unavailable::ResultUnreadable(detail) => ToolError::new(ErrorCode::JobUnreadable, detail),
        Unavailable::Unclaimable(cause) => ToolError::new(
            ErrorCode::StateWriteFailed,
            format!("the result was not handed out: the job could not be claimed for deletion ({cause}); it is kept"),
        ),
        Unavailable::NotDone(view) => unrecorded_error(&view).unwrap_or_else(|| lifecycle_error(call, &view)),
    }
}

fn lifecycle_error(call: &Call, view: &View) -> ToolError {
    let detail = view.detail.clone().unwrap_or_default();
    match view.status {
        Status::Running => ToolError::new(ErrorCode::JobRunning, "the job is still running")
            .retry_after_ms(view.poll_after_ms())
            .repair_tool("codex_job_status", job_params(call, &view.spec.job_id)),
        Status::Cancelled => ToolError::new(ErrorCode::JobCancelled, detail),
        Status::Timeout => ToolError::new(ErrorCode::JobTimeout, detail),
        Status::Failed | Status::Done => ToolError::new(ErrorCode::JobFailed, detail),
    }
}

fn not_found(call: &Call) -> ToolError {
    let params = json!({"workspace_root": call.args.text("workspace_root")});
    ToolError::new(
        ErrorCode::JobNotFound,
        "no such job in this workspace (never started here, consumed, expired or evicted)",
    )
    .offending("job_id")
    .repair_tool("codex_job_list", params)
}

pub fn run_list(call: &Call) -> Value {
    let (jobs, workspace) = match jobs_of(call) {
        Ok(found) => found,
        Err(envelope) => return envelope,
    };
    let offset = call.args.integer("offset").and_then(|o| usize::try_from(o).ok()).unwrap_or(0);
    let limit = call.args.integer("limit").and_then(|l| usize::try_from(l).ok()).unwrap_or(LIST_LIMIT);
    let listing = jobs.list(offset, limit);
    let listed: Vec<Value> = listing
        .jobs
        .iter()
        .map(|view| {
            json!({
                "job_id": view.spec.job_id,
                "kind": view.spec.kind,
                "status": view.status.as_str(),
                "preview": preview(&view.spec),
                "started_at": crate::foundation::clock::rfc3339(view.spec.started_epoch_ms),
                "elapsed_ms": view.elapsed_ms(),
                "result_available": view.result_available(),
                "delivered_at": view.delivered_epoch_ms.map(crate::foundation::clock::rfc3339),
                "expires_at": view.expires_epoch_ms(jobs.ttl_seconds()).map(crate::foundation::clock::rfc3339),
                "detail": view.detail,
                "state_write_error": view.unrecorded,
            })
        })
        .collect();
    let unreadable: Vec<Value> = listing
        .damaged
        .iter()
        .map(|damaged| {
            json!({
                "job_id": damaged.job_id,
                "problem": damaged.problem,
                "expires_at": crate::foundation::clock::rfc3339(damaged.expires_epoch_ms(jobs.ttl_seconds())),
            })
        })
        .collect();
    json!(Listing {
        ok: true,
        total: listing.total,
        offset,
        next_offset: listing.next_offset,
        jobs: listed,
        unreadable,
        tool: call.tool.name,
        meta: Meta::new(call.tool.tier, Some(&workspace)),
    })
}

/// Jobs in one `codex_job_list` page unless `limit` says otherwise.
const LIST_LIMIT: usize = 20;
/// Characters of a job's question or task shown in the list.
const PREVIEW_CHARS: usize = 80;

/// The start of what the job was asked (its question, task or review focus; for a review
/// without a focus, what it covers) on one line, redacted, so a lost result can be recognised.
fn preview(spec: &Spec) -> String {
    let asked = ["question", "task", "focus"]
        .into_iter()
        .find_map(|param| spec.arguments[param].as_str().map(str::to_string))
        .unwrap_or_else(|| review_covers(&spec.arguments));
    // Redacted whole before it is cut, so no secret is cut past recognition.
    let redacted = crate::foundation::redact::text(&asked).text;
    crate::foundation::text::one_line(&redacted, PREVIEW_CHARS)
}

/// What a review covers, from its arguments: scope, base or commit, and paths.
fn review_covers(arguments: &Value) -> String {
    let text = |param: &str| arguments[param].as_str().unwrap_or("?").to_string();
    let mut covers = match arguments["scope"].as_str() {
        Some("branch") => format!("review of the branch against {}", text("base")),
        Some("commit") => format!("review of commit {}", text("commit")),
        _ => "review of the working tree".to_string(),
    };
    let paths: Vec<&str> = arguments["paths"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if !paths.is_empty() {
        covers.push_str(&format!(" in {}", paths.join(", ")));
    }
    covers
}

/// The `ok:true` envelope of `codex_job_list`; a test checks it against `list_schema`.
#[derive(Serialize)]
struct Listing<'a> {
    ok: bool,
    total: usize,
    offset: usize,
    next_offset: Option<usize>,
    jobs: Vec<Value>,
    unreadable: Vec<Value>,
    tool: &'a str,
    meta: Meta,
}

fn status_envelope(call: &Call, jobs: &Jobs, view: &View, workspace: &Workspace) -> Value {
    let activity = &view.activity;
    json!(JobStatus {
        ok: true,
        status: view.status.as_str(),
        result_available: view.result_available(),
        result_ok: view.result.as_ref().map(|r| r["ok"] == json!(true)),
        delivered_at: view.delivered_epoch_ms.map(crate::foundation::clock::rfc3339),
        detail: view.detail.clone(),
        job_id: view.spec.job_id.clone(),
        kind: view.spec.kind.clone(),
        started_at: crate::foundation::clock::rfc3339(view.spec.started_epoch_ms),
        elapsed_ms: view.elapsed_ms(),
        deadline_seconds: view.spec.deadline_seconds,
        poll_after_ms: view.poll_after_ms(),
        ttl_seconds: jobs.ttl_seconds(),
        expires_at: view.expires_epoch_ms(jobs.ttl_seconds()).map(crate::foundation::clock::rfc3339),
        cleanup_warnings: view.cleanup_warnings.clone(),
        activity: json!({
            "events_seen": activity.events_seen,
            "last_event_at": activity.last_event_at_ms.map(crate::foundation::clock::rfc3339),
            "last_event": activity.last_event,
            "stalled": activity.stalled,
            "stalled_since": activity.stalled_since_ms.map(crate::foundation::clock::rfc3339),
        }),
        workspace: json!(view.spec.workspace),
        tool: call.tool.name,
        meta: Meta::new(call.tool.tier, Some(workspace)),
    })
}

/// The `ok:true` envelope of `codex_job_status` and `codex_job_cancel`: how the job stands
/// first, then its timings and what codex is doing, then `meta`. A test checks it against
/// `status_schema`.
#[derive(Serialize)]
struct JobStatus<'a> {
    ok: bool,
    status: &'static str,
    result_available: bool,
    result_ok: Option<bool>,
    delivered_at: Option<String>,
    detail: Option<String>,
    job_id: String,
    kind: String,
    started_at: String,
    elapsed_ms: u64,
    deadline_seconds: u64,
    poll_after_ms: u64,
    ttl_seconds: u64,
    expires_at: Option<String>,
    cleanup_warnings: Vec<String>,
    activity: Value,
    workspace: Value,
    tool: &'a str,
    meta: Meta,
}

/// The members a started job and a job's status share, with `more` after them.
fn job_schema(more: &[&str]) -> Value {
    let names = [
        &["tool", "job_id", "kind", "started_at", "deadline_seconds", "poll_after_ms", "ttl_seconds", "expires_at"],
        more,
    ]
    .concat();
    schema::members(&names, &[("status", &Status::ALL.map(Status::as_str))])
}

pub fn started_schema() -> Value {
    job_schema(&[])
}

pub fn status_schema() -> Value {
    job_schema(&[
        "elapsed_ms",
        "result_available",
        "result_ok",
        "delivered_at",
        "detail",
        "cleanup_warnings",
        "activity",
        "workspace",
    ])
}

/// A stored consult, review or delegate envelope: its own tool's members, which that tool's
/// schema lists.
pub fn result_schema() -> Value {
    schema::members(&["tool"], &[])
}

pub fn list_schema() -> Value {
    schema::members(&["tool", "total", "offset", "next_offset", "jobs", "unreadable"], &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::policy::Tier;
    use crate::tools::check_against_schema;

    #[test]
    fn a_review_without_a_focus_is_previewed_by_what_it_covers() {
        assert_eq!(review_covers(&json!({})), "review of the working tree");
        let branch = json!({"scope": "branch", "base": "main", "paths": ["src/a.rs", "docs"]});
        assert_eq!(review_covers(&branch), "review of the branch against main in src/a.rs, docs");
        assert_eq!(review_covers(&json!({"scope": "commit", "commit": "abc123"})), "review of commit abc123");
    }

    #[test]
    fn the_job_envelopes_match_their_schemas() {
        let meta = || Meta::new(Tier::Consult, None);
        let launched = json!(Launched {
            ok: true,
            job_id: "j".into(),
            status: "running",
            kind: "codex_consult".into(),
            started_at: "t".into(),
            deadline_seconds: 1800,
            poll_after_ms: 1000,
            ttl_seconds: 86400,
            expires_at: None,
            tool: "codex_consult_async",
            meta: meta(),
        });
        check_against_schema(&launched, &started_schema());
        let status = json!(JobStatus {
            ok: true,
            status: "running",
            result_available: false,
            result_ok: None,
            delivered_at: None,
            detail: None,
            job_id: "j".into(),
            kind: "codex_consult".into(),
            started_at: "t".into(),
            elapsed_ms: 0,
            deadline_seconds: 1800,
            poll_after_ms: 1000,
            ttl_seconds: 86400,
            expires_at: None,
            cleanup_warnings: Vec::new(),
            activity: json!({"events_seen": 0, "last_event": null}),
            workspace: json!({"cwd": "/w"}),
            tool: "codex_job_status",
            meta: meta(),
        });
        check_against_schema(&status, &status_schema());
        let listing = json!(Listing {
            ok: true,
            total: 0,
            offset: 0,
            next_offset: None,
            jobs: Vec::new(),
            unreadable: Vec::new(),
            tool: "codex_job_list",
            meta: meta(),
        });
        check_against_schema(&listing, &list_schema());
    }
}
