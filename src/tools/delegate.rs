//! `codex_delegate` and `codex_delegate_dry_run`: Codex implements a task in a throwaway copy
//! of the repository (workspace-write sandbox reaching only that copy and a private temporary
//! directory, no network) and the user gets back a reviewable diff — repo-root-relative,
//! redacted, bounded, with whether it applies to their tree right now and the command that
//! applies it from their workspace. Their repository is never written; the copy is gone before
//! the envelope is returned, whatever happened.
//!
//! The diff is also kept whole in a private patch file of the job store (`patch_file`), so a
//! diff too large for the result (`tools::inline`) is still handed over; `diffstat` sums it up.
//!
//! A follow-up (`session_id` of an earlier delegation) resumes Codex's session in a fresh copy
//! with the earlier run's edits in place, and returns a diff against the user's tree as it is
//! now: if the earlier diff is already applied there (its reverse applies), the copy starts with
//! it and the diff holds only the new edits; otherwise the earlier edits are replayed into the
//! copy and the diff holds both. `follow_up` in the result says which.
//!
//! A run that ended before it finished (stopped by a timeout, stall or cancel, or failed after
//! it edited: the model API down, a rate limit) keeps its work: the edits so far are the
//! result, marked `partial`, and its session is kept for a follow-up to finish them.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::Call;
use super::codex_run::{self, Opening};
use super::meta::{ContextSummary, Meta, error_envelope};
use super::schema;
use crate::adapters::codex::answer;
use crate::adapters::codex::exec::WriteScope;
use crate::adapters::codex::failure::CodexFailure;
use crate::adapters::codex::probe::{self, SandboxCheck};
use crate::adapters::git::capture::{APPLY_FLAGS, Capture, IgnoredFiles, LeftOutReason};
use crate::adapters::git::worktree::{self, Worktree, WorktreeError};
use crate::adapters::sessions::DelegateEdits;
use crate::foundation::envelope::{ErrorCode, ToolError};
use crate::foundation::redact;

const NEXT_STEP: &str = "Review the diff; it was never applied for you. Apply it yourself only if it is correct, \
     from the repository's top level (apply_command does that from anywhere).";
/// Why a file is in `withheld_files`.
const WITHHELD_REASON: &str = "secret-looking file name: its change was left out of the diff and never sent";
const NESTED_REPO_REASON: &str =
    "a git repository Codex created inside the worktree: its files cannot be part of the diff";
const PARTIAL_FOLLOW_UP_STEP: &str = "Codex did not finish (partial_reason says why): to finish, call codex_delegate again with \
     this session_id (its task saying what is left); it continues from these edits rather than starting over.";
const PARTIAL_NO_SESSION_STEP: &str = "Codex did not finish and its session was not kept \
     (CODEX_IN_CLAUDE_EPHEMERAL), so it cannot be continued: finish the edits yourself, or start a fresh delegate.";
const PLAN_NOTE: &str = "Codex works in a throwaway copy holding your tracked files as they are now (uncommitted \
changes included; files outside a sparse checkout from HEAD). Untracked files are never copied, and submodules are \
empty directories there.";

pub fn run_delegate(call: &Call) -> Value {
    let Opening { workspace, settings, mut meta } = match Opening::new(call, &["task"]) {
        Ok(opening) => opening,
        Err(envelope) => return envelope,
    };
    let task = call.args.text("task").unwrap_or_default();
    let earlier = match codex_run::follow_up(call, &workspace) {
        Ok(record) => record.map(|record| record.edits.unwrap_or_default()),
        Err(error) => return error_envelope(error, &meta),
    };
    let task = codex_run::redact_input(Some(task), "task", &mut meta).unwrap_or_default();
    let git_timeout = Duration::from_secs(call.config.git_timeout_seconds);
    let mut worktree = match Worktree::create(&workspace.path, &call.config.worktree_base, git_timeout, &call.cancel) {
        Ok(worktree) => worktree,
        Err(error) => return error_envelope(error.into(), &meta),
    };
    let follow_up = match earlier.as_ref().map(|edits| continue_from(&mut worktree, edits)) {
        None => None,
        Some(Ok(follow_up)) => Some(follow_up),
        Some(Err(error)) => return error_envelope(error, &meta),
    };
    let dir = worktree.dir_for(&workspace.path);
    // A workspace directory holding no tracked file has no counterpart in the copy yet; codex
    // must not start in a directory that does not exist.
    if let Err(err) = std::fs::create_dir_all(&dir) {
        let message = format!("cannot make the workspace directory in the throwaway copy: {err}");
        return error_envelope(WorktreeError::Failed(message).into(), &meta);
    }
    let scope = WriteScope {
        roots: vec![worktree.path().to_path_buf(), worktree.tmp().to_path_buf()],
        tmpdir: worktree.tmp().to_path_buf(),
    };
    match probe::sandbox(&dir, &scope, &call.cancel) {
        SandboxCheck::Works | SandboxCheck::CodexMissing => {}
        SandboxCheck::Fails(_) if call.cancel.is_cancelled() => {
            return error_envelope(WorktreeError::Cancelled.into(), &meta);
        }
        SandboxCheck::Fails(reason) => {
            let message =
                format!("codex's workspace-write sandbox cannot run here, so Codex was not started: {reason}");
            return error_envelope(
                ToolError::new(ErrorCode::SandboxUnavailable, crate::foundation::redact::text(&message).text),
                &meta,
            );
        }
    }
    let mut invocation = settings.invocation(call, &dir, crate::adapters::codex::prompts::delegate(&task), None);
    invocation.write_scope = Some(scope);
    let run = match codex_run::run_codex_keep_failure(call, &invocation, &mut meta) {
        Ok(run) => run,
        Err(envelope) => return envelope,
    };
    // A run that ended before it finished keeps the edits it made: stopped mid-way (timeout,
    // stall, cancel), or failed after editing (the model API down, a rate limit): they are paid
    // for, and a follow-up of its session can finish the work from them.
    let stopped = run.failure.clone();
    let limit = usize::try_from(call.config.max_delegate_diff_bytes).unwrap_or(usize::MAX);
    let ignored = call.args.text("ignored_files").and_then(IgnoredFiles::parse).unwrap_or(IgnoredFiles::List);
    // Headroom over the limit: redaction can shrink a diff (withheld files) before it is bounded.
    let edits = match worktree.edits(limit.saturating_mul(4).max(1024 * 1024), ignored) {
        Ok(edits) => edits,
        // A run that failed on its own says why first; the capture is only its leftovers.
        Err(error) => match stopped {
            Some(failure) if !failure.stopped_mid_run() => return error_envelope(failure.into(), &meta),
            _ => return error_envelope(capture_failed(error, worktree.keep()), &meta),
        },
    };
    meta.context_summary = Some(ContextSummary {
        files_changed: edits.numstat.files,
        lines_added: edits.numstat.added,
        lines_removed: edits.numstat.removed,
    });
    meta.binary_files = edits.numstat.binary_files.clone();

    let relative = |text: &str| relativize(text, worktree.path());
    let bounded = bound_files(&edits, limit);
    let truncated = !bounded.cut_files.is_empty();
    meta.redacted_paths = bounded.redacted_paths.clone();
    let withheld_files: Vec<Value> = (bounded.withheld_paths.iter().map(|path| (path, WITHHELD_REASON)))
        .chain(edits.nested_repos.iter().map(|path| (path, NESTED_REPO_REASON)))
        .map(|(path, reason)| json!({"path": path, "reason": reason}))
        .collect();
    let mut left_out_files: Vec<Value> = edits
        .left_out
        .iter()
        .map(|file| json!({"path": file.path, "reason": file.reason.as_str(), "note": file.reason.describe()}))
        .collect();
    if edits.left_out_unlisted > 0 {
        meta.note_truncation(&format!(
            "{} more new files left out of the diff are not listed in left_out_files",
            edits.left_out_unlisted
        ));
    }
    left_out_files.extend(bounded.cut_files.iter().map(|path| json!({"path": path, "reason": LeftOutReason::OverBound.as_str(), "note": LeftOutReason::OverBound.describe()})));
    if truncated {
        meta.note_truncation(&format!(
            "the diff exceeded {limit} bytes: {} files were left out of it (and of patch_file) whole, listed in \
             left_out_files with reason over_bound; the rest applies without them. Narrow the task or raise \
             CODEX_IN_CLAUDE_MAX_DELEGATE_DIFF_BYTES",
            bounded.cut_files.len()
        ));
    }
    for path in names_copy(&edits, worktree.path()) {
        meta.security_warnings.push(format!(
            "{path}: its content or link target names the throwaway copy's directory, which is deleted after the run; \
             it is returned as Codex wrote it"
        ));
    }
    meta.security_warnings.extend(risky_changes(&edits, worktree.path()));
    let diff = (!bounded.text.is_empty()).then(|| bounded.text.clone());
    // The very text of `diff` (redacted, withheld files left out, bounded the same way), so the
    // file never holds what the inline diff would not.
    let (patch_file, patch_file_error) = match diff.as_deref().map(|diff| keep_patch(call, diff)) {
        None => (None, None),
        Some(Ok(path)) => (Some(path), None),
        Some(Err(error)) => (None, Some(error)),
    };
    let (mut applies_cleanly, mut applies_cleanly_reason) = (None, None);
    if let Some(diff) = &diff {
        let check = worktree.applies_to_live_tree(diff, &edits.paths);
        applies_cleanly = Some(check.is_ok());
        applies_cleanly_reason = check.err().map(|reason| crate::foundation::redact::text(&relative(&reason)).text);
        if bounded.inline_masks > 0 {
            meta.security_warnings.push(
                "the diff contains redaction markers in place of secret-looking values; applying it as is would write them"
                    .into(),
            );
        }
    }
    let remember = |meta: &mut Meta| {
        codex_run::remember(call, &workspace, &run, meta, |record| {
            // Unredacted and whole, for a follow-up to replay; none when the capture was cut.
            let full = if edits.cut_files.is_empty() {
                edits.files.iter().map(|file| file.text.as_str()).collect()
            } else {
                String::new()
            };
            record.edits = Some(DelegateEdits { returned: diff.clone().unwrap_or_default(), full });
        });
    };
    let (session_id, resume_command) = codex_run::session_fields(call, &run);
    if let Some(failure) = &stopped
        && diff.is_none()
        && withheld_files.is_empty()
        && left_out_files.is_empty()
    {
        if !failure.stopped_mid_run() {
            return error_envelope(failure.clone().into(), &meta);
        }
        remember(&mut meta);
        drop(worktree);
        let error = codex_run::stopped_error(
            call,
            failure,
            session_id.as_deref(),
            "Codex made no edit before it was stopped",
            "a task saying what is left",
        );
        return error_envelope(error, &meta);
    }
    // Edits without a message are still the result; only neither is no result at all.
    let mut adjustments = answer::Adjustments::default();
    let message = run.last_message.as_deref().and_then(|m| answer::prose_summary(&relative(m), &mut adjustments));
    meta.record_answer(&adjustments);
    let partial_reason = stopped.as_ref().map(ToString::to_string);
    let nothing_else = withheld_files.is_empty() && left_out_files.is_empty();
    let summary = match (message, &diff, nothing_else) {
        _ if stopped.is_some() => format!(
            "Codex {} before it finished, so the diff holds only its edits so far: {}.",
            if stopped.as_ref().is_some_and(CodexFailure::stopped_mid_run) { "was stopped" } else { "failed" },
            partial_reason.as_deref().unwrap_or_default()
        ),
        (Some(message), Some(_), _) => message,
        (Some(message), None, true) => format!("Codex made no changes. {message}"),
        (Some(message), None, false) => {
            format!("Codex changed only files left out of the diff (see withheld_files and left_out_files). {message}")
        }
        (None, None, true) => return error_envelope(answer::AnswerError::NoFinalMessage.into(), &meta),
        (None, _, _) => {
            meta.answer_warnings
                .push("codex completed its turn without a final message; its edits are its whole result".into());
            "Codex sent no summary of its edits; review the diff and withheld_files themselves.".to_string()
        }
    };
    let apply_command = diff.as_ref().map(|_| {
        let flags = APPLY_FLAGS.join(" ");
        format!("git -C {} apply {flags}", shell_quote(worktree.live_repo()))
    });
    remember(&mut meta);
    let mut raw = codex_run::raw_response(call, &run, &mut meta);
    if let Some(text) = raw["text"].as_str() {
        raw["text"] = json!(relative(text));
    }
    drop(worktree);
    let next_steps = match (&stopped, &session_id) {
        (None, _) => vec![NEXT_STEP],
        (Some(_), Some(_)) if !call.config.ephemeral => vec![PARTIAL_FOLLOW_UP_STEP, NEXT_STEP],
        (Some(_), _) => vec![PARTIAL_NO_SESSION_STEP, NEXT_STEP],
    };
    // The diff, the bulky payload, comes after every short member, so a client that shows only
    // the start of a large result still shows the summary and what to do with it.
    json!(Success {
        ok: true,
        summary,
        applies_cleanly,
        applies_cleanly_reason,
        partial: stopped.is_some(),
        partial_reason,
        diffstat: diff.as_deref().map(diffstat),
        patch_file,
        patch_file_error,
        withheld_files,
        left_out_files,
        follow_up,
        apply_command,
        findings: Vec::new(),
        questions: Vec::new(),
        assumptions: Vec::new(),
        next_steps,
        session_id,
        resume_command,
        tool: call.tool.name,
        diff,
        raw_response: raw,
        meta,
    })
}

/// The `ok:true` envelope of `codex_delegate`. `success_schema` publishes these fields; a test
/// checks the two against each other.
#[derive(Serialize)]
struct Success<'a> {
    ok: bool,
    summary: String,
    /// Whether the returned diff applies to the live tree right now (`git apply --check`), and
    /// why not; null when there is no diff. Beside the summary, so it shows first.
    applies_cleanly: Option<bool>,
    applies_cleanly_reason: Option<String>,
    /// Codex did not finish (stopped by a timeout, stall or cancel, or failed after editing): the
    /// diff holds its edits so far, and `partial_reason` says what ended it.
    partial: bool,
    partial_reason: Option<String>,
    /// Files, added and removed lines of the diff; beside the patch file that holds it whole
    /// (or why there is none), so both show even when the inline diff is left out.
    diffstat: Option<Value>,
    patch_file: Option<String>,
    patch_file_error: Option<String>,
    withheld_files: Vec<Value>,
    /// New files ignore rules or artefact patterns kept out, and files cut by the bound.
    left_out_files: Vec<Value>,
    follow_up: Option<Value>,
    apply_command: Option<String>,
    /// A delegation's answer is its diff: these stay empty, and `next_steps` says what to do.
    findings: Vec<Value>,
    questions: Vec<String>,
    assumptions: Vec<String>,
    next_steps: Vec<&'a str>,
    session_id: Option<String>,
    resume_command: Option<String>,
    tool: &'a str,
    diff: Option<String>,
    raw_response: Value,
    meta: Meta,
}

/// The `ok:true` envelope of `codex_delegate_dry_run`; a test checks it against
/// `dry_run_success_schema`.
#[derive(Serialize)]
struct DryRun<'a> {
    ok: bool,
    would_call_model: bool,
    prompt_bytes: usize,
    worktree_plan: Value,
    tool: &'a str,
    meta: Meta,
}

pub fn run_dry_run(call: &Call) -> Value {
    let Opening { workspace, meta, .. } = match Opening::new(call, &["task"]) {
        Ok(opening) => opening,
        Err(envelope) => return envelope,
    };
    let task = call.args.text("task").unwrap_or_default();
    let git_timeout = Duration::from_secs(call.config.git_timeout_seconds);
    let plan = match worktree::plan(&workspace.path, git_timeout, &call.cancel) {
        Ok(plan) => plan,
        Err(error) => return error_envelope(error.into(), &meta),
    };
    let prompt = crate::adapters::codex::prompts::delegate(&crate::foundation::redact::text(task).text);
    json!(DryRun {
        ok: true,
        would_call_model: true,
        prompt_bytes: prompt.len(),
        worktree_plan: json!({
            "head_commit": plan.head_commit,
            "head_subject": plan.head_subject,
            "tracked_files": plan.tracked_files,
            "tracked_bytes": plan.tracked_bytes,
            "uncommitted_tracked_files": plan.uncommitted_tracked_files,
            "untracked_files": plan.untracked_files,
            "untracked_bytes": plan.untracked_bytes,
            "note": PLAN_NOTE,
        }),
        tool: call.tool.name,
        meta,
    })
}

/// Puts the earlier run's edits in the fresh copy unless the user's tree already has them;
/// returns the result's `follow_up` report.
fn continue_from(worktree: &mut Worktree, earlier: &DelegateEdits) -> Result<Value, ToolError> {
    let (earlier_diff, holds, note) = if earlier.returned.trim().is_empty() && earlier.full.trim().is_empty() {
        ("none", "new_edits_only", "the earlier run returned no diff")
    } else if earlier.full.trim().is_empty() {
        let error = ToolError::new(
            ErrorCode::WorktreeError,
            "the earlier run's diff exceeded the capture bound, so it was not kept whole and this session cannot continue from it",
        );
        return Err(error
            .offending("session_id")
            .repair("Apply or discard the earlier diff, then start a fresh delegate"));
    } else if !earlier.returned.trim().is_empty() && worktree.in_live_tree(&earlier.returned) {
        worktree.adopt_created_files(&earlier.returned).map_err(ToolError::from)?;
        ("applied", "new_edits_only", "the earlier diff is already in your tree, so this diff holds only the new edits")
    } else {
        worktree.replay(&earlier.full).map_err(|error| {
            let mut error = ToolError::from(error);
            error.message = format!(
                "the earlier run's edits neither are in your tree nor apply to it any more, so this session cannot continue \
                 from them: {}",
                error.message
            );
            error.offending("session_id").repair("Apply or discard the earlier diff fully, or start a fresh delegate")
        })?;
        (
            "not_applied",
            "earlier_and_new_edits",
            "the earlier diff is not in your tree, so this diff holds the earlier edits and the new ones together",
        )
    };
    Ok(json!({"earlier_diff": earlier_diff, "diff_holds": holds, "note": note}))
}

/// The patch as it may leave the server: each file redacted, then whole files up to `limit`
/// bytes (a file is never cut inside, so what is sent always applies), and what was left out.
struct BoundedFiles {
    text: String,
    cut_files: Vec<String>,
    withheld_paths: Vec<String>,
    redacted_paths: Vec<String>,
    inline_masks: usize,
}

fn bound_files(edits: &Capture, limit: usize) -> BoundedFiles {
    let mut bounded = BoundedFiles {
        text: String::new(),
        cut_files: Vec::new(),
        withheld_paths: Vec::new(),
        redacted_paths: Vec::new(),
        inline_masks: 0,
    };
    for file in &edits.files {
        let redaction = redact::patch(&file.text);
        bounded.withheld_paths.extend(redaction.withheld_paths.iter().cloned());
        if !bounded.cut_files.is_empty() || bounded.text.len() + redaction.text.len() > limit {
            if !redaction.text.is_empty() && bounded.cut_files.last() != Some(&file.path) {
                bounded.cut_files.push(file.path.clone());
            }
            continue;
        }
        bounded.redacted_paths.extend(redaction.redacted_paths());
        bounded.inline_masks += redaction.inline_masks;
        bounded.text.push_str(&redaction.text);
    }
    bounded.cut_files.extend(edits.cut_files.iter().cloned());
    bounded.withheld_paths.dedup();
    bounded.redacted_paths.extend(bounded.withheld_paths.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    bounded.redacted_paths.retain(|path| seen.insert(path.clone()));
    bounded
}

/// Files whose returned content (or link target) names the copy's directory: reported, never
/// edited.
fn names_copy(edits: &Capture, tree: &Path) -> Vec<String> {
    let mut spellings = vec![tree.display().to_string()];
    if let Ok(canonical) = tree.canonicalize() {
        spellings.push(canonical.display().to_string());
    }
    let mut paths: Vec<String> = edits
        .files
        .iter()
        .filter(|file| spellings.iter().any(|spelling| file.text.contains(spelling.as_str())))
        .map(|file| file.path.clone())
        .collect();
    paths.dedup();
    paths
}

/// Directories whose files are meant to be run: an executable bit set there is expected.
const EXECUTABLE_DIRS: [&str; 5] = ["bin", "sbin", "script", "scripts", ".githooks"];

/// Changes a plain `git apply` makes quietly that could hurt: a symlink leading out of the
/// repository (applying it makes later reads or writes through it reach elsewhere), an
/// executable bit newly set on a file that is neither a script (`#!`) nor under a directory of
/// executables (`EXECUTABLE_DIRS`), where a hook, a `PATH` entry or a build step could run it
/// unnoticed; scripts and `bin/` files are routinely made executable and warning on them would
/// drown the rest; and a submodule pointer moved (the next `git submodule update` checks out a
/// commit Codex chose). Read from each file's diff header and, for the file itself, the copy.
fn risky_changes(edits: &Capture, tree: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    for file in &edits.files {
        let header: Vec<&str> = file
            .text
            .lines()
            .take_while(|line| !line.starts_with("@@") && !line.starts_with("GIT binary patch"))
            .collect();
        let new_mode = header
            .iter()
            .find_map(|line| line.strip_prefix("new file mode ").or_else(|| line.strip_prefix("new mode ")));
        let index_mode = header.iter().find_map(|line| line.strip_prefix("index ")).and_then(|l| l.split(' ').nth(1));
        let path = file.path.as_str();
        match new_mode.or(index_mode) {
            Some("120000") => {
                if let Ok(target) = std::fs::read_link(tree.join(path))
                    && leaves_repository(Path::new(path), &target)
                {
                    warnings.push(format!(
                        "{path}: a symlink to {}, outside the repository; applying the diff makes reads and writes                          through it reach that place",
                        target.display()
                    ));
                }
            }
            Some("100755") if new_mode.is_some() => {
                let usual = Path::new(path)
                    .parent()
                    .is_some_and(|dir| dir.components().any(|c| EXECUTABLE_DIRS.iter().any(|d| c.as_os_str() == *d)));
                let mut start = [0; 2];
                let script = std::fs::File::open(tree.join(path))
                    .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut start))
                    .is_ok_and(|()| &start == b"#!");
                if !usual && !script {
                    warnings.push(format!(
                        "{path}: made executable, though it is not a script (no #!) and not under a directory of                          executables; check why before applying"
                    ));
                }
            }
            Some("160000") => warnings.push(format!(
                "{path}: the submodule pointer changes; after applying, `git submodule update` checks out the                  commit the diff names"
            )),
            _ => {}
        }
    }
    warnings
}

/// Whether `target`, a symlink at `link` (repository-relative), points outside the repository:
/// absolute, or climbing above the top level with `..`.
fn leaves_repository(link: &Path, target: &Path) -> bool {
    use std::path::Component;
    if target.is_absolute() {
        return true;
    }
    let mut depth =
        link.parent().map_or(0, |dir| dir.components().filter(|c| matches!(c, Component::Normal(_))).count());
    for component in target.components() {
        match component {
            Component::ParentDir if depth == 0 => return true,
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    false
}

/// A capture that failed after Codex ran: the paid work must not read as a setup problem, and
/// its copy, moved out of the run area (`kept`), is where the edits still are.
fn capture_failed(error: WorktreeError, kept: std::io::Result<std::path::PathBuf>) -> ToolError {
    let mut error = ToolError::from(error);
    let cause = std::mem::take(&mut error.message);
    match kept {
        Ok(path) => {
            let path = path.display().to_string();
            error.message = format!(
                "Codex ran, but its edits could not be captured from the throwaway copy ({cause}); the copy is kept \
                 at {path}"
            );
            error.repair(format!(
                "Codex's edits are in {path}: see them with `git -C {quoted} status` and `git -C {quoted} diff`, copy \
                 what you want into your repository, then delete that directory",
                quoted = shell_quote(Path::new(&path))
            ))
        }
        Err(io) => {
            error.message = format!(
                "Codex ran, but its edits could not be captured from the throwaway copy ({cause}), and the copy could \
                 not be kept either ({io})"
            );
            error.repair("Retry the task; if the capture fails the same way, report this message")
        }
    }
}

/// Writes the whole diff to the job's patch file (`adapters::jobs::write_patch`), so a result
/// too large to carry the diff inline still hands it over whole; `Err` says why there is none.
fn keep_patch(call: &Call, diff: &str) -> Result<String, String> {
    let job_dir = call.job_dir.ok_or("this run is not a job, so its patch has no place to be kept")?;
    crate::adapters::jobs::write_patch(job_dir, diff)
        .map(|path| path.display().to_string())
        .map_err(|err| format!("the patch file could not be written, so the diff exists only in this result: {err}"))
}

/// `files`, `added` and `removed` of a unified diff, counted from its text, so they describe the
/// patch itself (withheld files left out, a cut diff as cut). Hunk lines are counted by the
/// hunk header's line counts, so an added line that begins `++` is never taken for a header.
fn diffstat(diff: &str) -> Value {
    let (mut files, mut added, mut removed) = (0u64, 0u64, 0u64);
    let (mut old_left, mut new_left) = (0u64, 0u64);
    for line in diff.lines() {
        if old_left > 0 || new_left > 0 {
            match line.as_bytes().first() {
                Some(b'+') => (added, new_left) = (added + 1, new_left.saturating_sub(1)),
                Some(b'-') => (removed, old_left) = (removed + 1, old_left.saturating_sub(1)),
                Some(b'\\') => {}
                _ => (old_left, new_left) = (old_left.saturating_sub(1), new_left.saturating_sub(1)),
            }
        } else if line.starts_with("diff --git ") {
            files += 1;
        } else if let Some(ranges) = line.strip_prefix("@@ -") {
            let count = |range: &str| range.split_once(',').map_or(Some(1), |(_, n)| n.parse().ok()).unwrap_or(0);
            let (old, rest) = ranges.split_once(" +").unwrap_or((ranges, ""));
            old_left = count(old);
            new_left = count(rest.split(' ').next().unwrap_or(""));
        }
    }
    json!({"files": files, "added": added, "removed": removed})
}

/// `path` as one POSIX shell word.
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Rewrites absolute worktree paths (as given, and as the filesystem resolves them) to
/// repo-relative ones, so nothing Codex says points at a directory that no longer exists.
fn relativize(text: &str, tree: &Path) -> String {
    let mut spellings = vec![tree.display().to_string()];
    if let Ok(canonical) = tree.canonicalize() {
        spellings.push(canonical.display().to_string());
    }
    spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for spelling in spellings {
        out = out.replace(&format!("{spelling}/"), "").replace(&spelling, ".");
    }
    out
}

/// The success members of a delegation: consult's, plus the diff, how to apply it, and what was
/// left out of it.
pub fn success_schema() -> Value {
    let delegate: &[&str] = &[
        "partial",
        "partial_reason",
        "applies_cleanly",
        "applies_cleanly_reason",
        "diff",
        "diff_omitted",
        "diffstat",
        "patch_file",
        "patch_file_error",
        "apply_command",
        "withheld_files",
        "left_out_files",
        "follow_up",
    ];
    schema::members(&[super::consult::MEMBERS, delegate].concat(), &[])
}

pub fn dry_run_success_schema() -> Value {
    schema::members(&["tool", "would_call_model", "prompt_bytes", "worktree_plan"], &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::policy::Tier;

    #[test]
    fn the_delegate_and_dry_run_envelopes_match_their_schemas() {
        let delegate = json!(Success {
            ok: true,
            summary: "Codex made no changes.".into(),
            applies_cleanly: None,
            applies_cleanly_reason: None,
            partial: false,
            partial_reason: None,
            diffstat: None,
            patch_file: None,
            patch_file_error: None,
            withheld_files: Vec::new(),
            left_out_files: Vec::new(),
            follow_up: None,
            apply_command: None,
            findings: Vec::new(),
            questions: Vec::new(),
            assumptions: Vec::new(),
            next_steps: vec![NEXT_STEP],
            session_id: None,
            resume_command: None,
            tool: "codex_delegate",
            diff: None,
            raw_response: json!({"text": null}),
            meta: Meta::new(Tier::Propose, None),
        });
        crate::tools::check_against_schema(&delegate, &success_schema());
        let dry_run = json!(DryRun {
            ok: true,
            would_call_model: true,
            prompt_bytes: 1,
            worktree_plan: json!({"head_commit": "c", "tracked_files": 0, "untracked_files": 0}),
            tool: "codex_delegate_dry_run",
            meta: Meta::new(Tier::Propose, None),
        });
        crate::tools::check_against_schema(&dry_run, &dry_run_success_schema());
    }

    #[test]
    fn a_symlink_leaves_the_repository_when_absolute_or_climbing_above_the_top() {
        assert!(leaves_repository(Path::new("link"), Path::new("/etc/passwd")));
        assert!(leaves_repository(Path::new("a/link"), Path::new("../../outside")));
        assert!(leaves_repository(Path::new("link"), Path::new("a/../../x")));
        assert!(!leaves_repository(Path::new("a/b/link"), Path::new("../../README.md")));
        assert!(!leaves_repository(Path::new("link"), Path::new("./src/lib.rs")));
    }

    #[test]
    fn worktree_paths_become_repo_relative() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        let text =
            format!("edited {}/src/lib.rs and file://{}/a.txt in {}", tree.display(), tree.display(), tree.display());
        assert_eq!(relativize(&text, &tree), "edited src/lib.rs and file://a.txt in .");
    }

    #[test]
    fn a_diffstat_counts_what_the_patch_does() {
        let diff = "diff --git a/a.rs b/a.rs\nindex 1..2 100644\n--- a/a.rs\n+++ b/a.rs\n@@ -1,3 +1,3 @@\n ctx\n-old\n\
                    +++ b/looks like a header\n ctx\n\\ No newline at end of file\n\
                    diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+one\n\
                    diff --git a/blob.bin b/blob.bin\nBinary files a/blob.bin and b/blob.bin differ\n";
        assert_eq!(diffstat(diff), json!({"files": 3, "added": 2, "removed": 1}));
        assert_eq!(diffstat(""), json!({"files": 0, "added": 0, "removed": 0}));
    }

    #[test]
    fn apply_command_quotes_the_repository_path() {
        assert_eq!(shell_quote(Path::new("/r/it's here")), r"'/r/it'\''s here'");
    }
}
