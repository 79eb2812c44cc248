//! The background-job tools: the three `_async` starters (check everything that can be checked
//! up front, then hand the synchronous tool's arguments to a detached worker) and the five
//! `codex_job_*` lifecycle tools over `crate::adapters::jobs`.

use serde_json::{Value, json};

use super::codex_run::{self, Detail, Opening};
use super::meta::{Meta, error_envelope};
use super::{Call, Tool};
use crate::adapters::jobs::{Jobs, Spec, StartError, Status, Unavailable, View, WorkspaceInfo};
use crate::adapters::workspace::Workspace;
use crate::foundation::envelope::{ErrorCode, ToolError};

pub fn run_consult_async(call: &Call) -> Value {
    start(call, &super::CONSULT, |call, _, _| {
        let parts = [("question", call.args.text("question")), ("extra_context", call.args.text("extra_context"))];
        codex_run::check_input_size(call, &parts)
    })
}

pub fn run_review_async(call: &Call) -> Value {
    start(call, &super::REVIEW, super::review::check_review)
}

pub fn run_delegate_async(call: &Call) -> Value {
    start(call, &super::DELEGATE, |call, workspace, _| {
        codex_run::check_input_size(call, &[("task", call.args.text("task"))])?;
        let git_timeout = std::time::Duration::from_secs(call.config.git_timeout_seconds);
        crate::adapters::git::worktree::open_with_head(&workspace.path, git_timeout, &call.cancel)
            .map(|_| ())
            .map_err(super::delegate::worktree_error)
    })
}

type Check = fn(&Call, &Workspace, &mut Meta) -> Result<(), ToolError>;

/// Checks, writes the job and launches its worker, which runs the synchronous tool `sync` with
/// these arguments.
fn start(call: &Call, sync: &Tool, check: Check) -> Value {
    // The tool's own check (size included) runs below, once the job's timeout is in meta.
    let Opening { workspace, mut meta, .. } = match Opening::new(call, &[]) {
        Ok(opening) => opening,
        Err(envelope) => return envelope,
    };
    meta.timeout_seconds = Some(call.config.job_max_seconds);
    if let Err(error) =
        check(call, &workspace, &mut meta).and_then(|()| codex_run::follow_up(call, &workspace).map(drop))
    {
        return error_envelope(error, &meta);
    }
    // A job that could only fail at once is not started.
    if !crate::foundation::process::on_path(crate::adapters::codex::PROGRAM) {
        return error_envelope(
            ToolError::new(ErrorCode::CodexNotFound, "codex was not found on the server's PATH"),
            &meta,
        );
    }
    // Nor one the day's budget (or a used-up plan) would refuse; the worker checks again.
    if let Err(error) = super::budget::of(call).check() {
        return error_envelope(error, &meta);
    }
    let mut arguments = call.args.to_value();
    // The job record on disk holds no more of the caller's text than the model would get: it
    // is masked before it is written, and this envelope says so (the worker finds it masked).
    for param in ["question", "extra_context", "task"] {
        if let Some(masked) = codex_run::redact_input(arguments[param].as_str(), param, &mut meta) {
            arguments[param] = json!(masked);
        }
    }
    // The worker has no roots to resolve against: it gets the workspace this call resolved.
    arguments["workspace_root"] = json!(workspace.path.display().to_string());
    let spec = Spec {
        format: crate::adapters::jobs::SPEC_FORMAT,
        job_id: crate::adapters::jobs::new_job_id(),
        kind: call.tool.name.to_string(),
        tool: sync.name.to_string(),
        arguments,
        workspace: WorkspaceInfo {
            cwd: workspace.path.display().to_string(),
            workspace_source: workspace.source.as_str().to_string(),
            workspace_warning: workspace.warning.clone(),
        },
        started_epoch_ms: crate::foundation::clock::now_ms(),
        deadline_seconds: call.config.job_max_seconds,
    };
    let jobs = Jobs::for_workspace(call.config, &workspace.path);
    if let Err(error) = jobs.start(&spec) {
        let error = match error {
            StartError::StateWrite(message) => ToolError::new(
                ErrorCode::StateWriteFailed,
                format!("the job was not started, nothing was spent and nothing was left: {message}"),
            ),
            StartError::Launch(message) => ToolError::new(ErrorCode::InternalError, message).repair(
                "Check that CODEX_IN_CLAUDE_STATE_DIR is writable (codex_status shows it), then retry; nothing was spent",
            ),
        };
        return error_envelope(error, &meta);
    }
    meta.job_id = Some(spec.job_id.clone());
    json!({
        "ok": true,
        "tool": call.tool.name,
        "job_id": spec.job_id,
        "kind": spec.kind,
        "status": Status::Running.as_str(),
        "started_at": crate::foundation::clock::rfc3339(spec.started_epoch_ms),
        "deadline_seconds": spec.deadline_seconds,
        "poll_after_ms": 1000,
        "ttl_seconds": jobs.ttl_seconds(),
        "expires_at": null,
        "next": "poll codex_job_status with this job_id (honour poll_after_ms), then codex_job_result or codex_job_consume_result",
        "meta": meta,
    })
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
        Ok(mut envelope) => {
            envelope["meta"]["job_id"] = json!(job_id(call));
            envelope["meta"]["fingerprint"] = json!(super::fingerprint());
            if Detail::of(call) != Detail::Full && envelope["raw_response"].is_object() {
                envelope["raw_response"]["text"] = Value::Null;
            }
            return envelope;
        }
        Err(unavailable) => unavailable_error(call, unavailable),
    };
    call.fail(error, Some(&workspace))
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
        Status::Running => {
            let mut params = json!({"job_id": view.spec.job_id});
            if let Some(root) = call.args.text("workspace_root") {
                params["workspace_root"] = json!(root);
            }
            ToolError::new(ErrorCode::JobRunning, "the job is still running")
                .retry_after_ms(view.poll_after_ms())
                .repair_tool("codex_job_status", params)
        }
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
    let listing = jobs.list();
    let listed: Vec<Value> = listing
        .jobs
        .iter()
        .map(|view| {
            json!({
                "job_id": view.spec.job_id,
                "kind": view.spec.kind,
                "status": view.status.as_str(),
                "started_at": crate::foundation::clock::rfc3339(view.spec.started_epoch_ms),
                "elapsed_ms": view.elapsed_ms(),
                "result_available": view.result_available(),
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
    json!({
        "ok": true,
        "tool": call.tool.name,
        "jobs": listed,
        "unreadable": unreadable,
        "meta": Meta::new(call.tool.tier, Some(&workspace)),
    })
}

fn status_envelope(call: &Call, jobs: &Jobs, view: &View, workspace: &Workspace) -> Value {
    let activity = &view.activity;
    json!({
        "ok": true,
        "tool": call.tool.name,
        "job_id": view.spec.job_id,
        "kind": view.spec.kind,
        "status": view.status.as_str(),
        "started_at": crate::foundation::clock::rfc3339(view.spec.started_epoch_ms),
        "elapsed_ms": view.elapsed_ms(),
        "deadline_seconds": view.spec.deadline_seconds,
        "poll_after_ms": view.poll_after_ms(),
        "ttl_seconds": jobs.ttl_seconds(),
        "expires_at": view.expires_epoch_ms(jobs.ttl_seconds()).map(crate::foundation::clock::rfc3339),
        "result_available": view.result_available(),
        "result_ok": view.result.as_ref().map(|r| r["ok"] == json!(true)),
        "detail": view.detail,
        "cleanup_warnings": view.cleanup_warnings,
        "activity": {
            "events_seen": activity.events_seen,
            "last_event_at": activity.last_event_at_ms.map(crate::foundation::clock::rfc3339),
            "last_event": activity.last_event,
            "stalled": activity.stalled,
            "stalled_since": activity.stalled_since_ms.map(crate::foundation::clock::rfc3339),
        },
        "workspace": view.spec.workspace,
        "meta": Meta::new(call.tool.tier, Some(workspace)),
    })
}

pub fn started_schema() -> Value {
    json!({
        "type": "object",
        "required": ["ok", "job_id", "status", "poll_after_ms", "deadline_seconds", "meta"],
        "properties": {"ok": {"const": true}, "job_id": {"type": "string"}, "status": {"const": Status::Running.as_str()}}
    })
}

pub fn status_schema() -> Value {
    json!({
        "type": "object",
        "required": ["ok", "job_id", "status", "elapsed_ms", "poll_after_ms", "result_available", "activity"],
        "properties": {
            "ok": {"const": true},
            "status": {"enum": Status::ALL.map(Status::as_str)},
            "activity": {"type": "object"}
        }
    })
}

/// A stored consult, review or delegate envelope: its own tool's shape.
pub fn result_schema() -> Value {
    json!({"type": "object", "required": ["ok", "tool", "meta"], "properties": {"ok": {"const": true}, "tool": {"type": "string"}}})
}

pub fn list_schema() -> Value {
    json!({
        "type": "object",
        "required": ["ok", "jobs", "unreadable"],
        "properties": {
            "ok": {"const": true},
            "jobs": {"type": "array", "items": {"type": "object"}},
            "unreadable": {"type": "array", "items": {"type": "object"}}
        }
    })
}
