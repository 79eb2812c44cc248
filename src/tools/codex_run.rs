//! What every tool that runs codex shares: the run settings resolved from arguments and
//! configuration, the meta a call starts with, the input-size check, running codex with progress
//! reporting, the envelope parts built from a run, and the session a follow-up continues.

use std::time::Duration;

use serde_json::{Value, json};

use super::Call;
use super::meta::{Meta, error_envelope};
use crate::adapters::codex::exec::{self, Invocation, Run};
use crate::adapters::codex::failure::CodexFailure;
use crate::adapters::git::{ForeignGitEnv, Git, GitError};
use crate::adapters::sessions::{Record, Sessions};
use crate::adapters::workspace::Workspace;
use crate::foundation::envelope::{ErrorCode, ToolError};
use crate::foundation::policy::Isolation;

/// Longest raw final message returned under `detail: "full"` (characters).
const RAW_TEXT_CHARS: usize = 100_000;

/// How much of codex's own answer a result carries (the `detail` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The parsed answer only (the default).
    Summary,
    /// Also codex's raw final message.
    Full,
}

impl Detail {
    pub const NAMES: &'static [&'static str] = &["summary", "full"];

    pub fn as_str(self) -> &'static str {
        Detail::NAMES[self as usize]
    }

    /// The call's choice; `Summary` when it made none.
    pub fn of(call: &Call) -> Detail {
        if call.args.text("detail") == Some(Detail::Full.as_str()) { Detail::Full } else { Detail::Summary }
    }
}

/// How codex will be run for this call: arguments first, then the server's configuration.
pub struct Settings {
    pub isolation: Isolation,
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    pub timeout_seconds: u64,
}

impl Settings {
    pub fn resolve(call: &Call) -> Settings {
        let args = &call.args;
        Settings {
            isolation: args.text("isolation").and_then(Isolation::parse).unwrap_or(call.config.isolation),
            model: args.text("model").map(str::to_string).or_else(|| call.config.model.clone()),
            reasoning_effort: args
                .text("reasoning_effort")
                .map(str::to_string)
                .or_else(|| call.config.reasoning_effort.clone()),
            // The schema bounds an explicit value to the same range the config is clamped to.
            timeout_seconds: args.integer("timeout_seconds").map_or(call.config.timeout_seconds, |t| t as u64),
        }
    }

    /// The call's meta before anything ran: workspace, tier, and these settings.
    pub fn meta(&self, call: &Call, workspace: &Workspace) -> Meta {
        let mut meta = Meta::new(call.tool.tier, Some(workspace));
        meta.isolation = Some(self.isolation.as_str());
        meta.model = self.model.clone();
        meta.reasoning_effort = self.reasoning_effort.clone();
        meta.timeout_seconds = Some(self.timeout_seconds);
        meta
    }

    /// How codex runs for this call: in `dir`, answering `prompt` (in the shape of `schema`,
    /// when there is one).
    pub fn invocation(&self, call: &Call, dir: &std::path::Path, prompt: String, schema: Option<Value>) -> Invocation {
        Invocation {
            tier: call.tool.tier,
            dir: dir.to_path_buf(),
            prompt,
            output_schema: schema,
            skip_git_repo_check: false,
            isolation: self.isolation,
            model: self.model.clone(),
            reasoning_effort: self.reasoning_effort.clone(),
            timeout: call.time_left(Duration::from_secs(self.timeout_seconds)),
            max_output_bytes: usize::try_from(call.config.max_output_bytes).unwrap_or(usize::MAX),
            write_scope: None,
            env: Vec::new(),
            ephemeral: call.config.ephemeral,
            resume: call.args.text("session_id").map(str::to_string),
            probe_kept_in: Some(call.config.state_dir.clone()),
        }
    }
}

/// The opening every tool that runs codex shares: the workspace it resolved, the run settings
/// and the meta they give.
pub struct Opening {
    pub workspace: Workspace,
    pub settings: Settings,
    pub meta: Meta,
}

impl Opening {
    /// Resolves the workspace and settings, then checks the size of the caller's text parameters
    /// the model would get (`inputs`). `Err` is the envelope to return.
    pub fn new(call: &Call, inputs: &[&str]) -> Result<Opening, Value> {
        let workspace = call.preflight()?;
        let settings = Settings::resolve(call);
        let meta = settings.meta(call, &workspace);
        let parts: Vec<(&str, Option<&str>)> = inputs.iter().map(|name| (*name, call.args.text(name))).collect();
        check_input_size(call, &parts).map_err(|error| error_envelope(error, &meta))?;
        Ok(Opening { workspace, settings, meta })
    }
}

/// `input_too_large` when the caller's text exceeds `CODEX_IN_CLAUDE_MAX_INPUT_BYTES`.
/// `parts` are (parameter, text); the largest one is named as the offender.
pub fn check_input_size(call: &Call, parts: &[(&str, Option<&str>)]) -> Result<(), ToolError> {
    let limit = call.config.max_input_bytes;
    let total: u64 = parts.iter().map(|(_, text)| text.map_or(0, |t| t.len() as u64)).sum();
    if total <= limit {
        return Ok(());
    }
    let largest = parts.iter().max_by_key(|(_, text)| text.map_or(0, str::len)).map_or("input", |(name, _)| *name);
    let names: Vec<&str> = parts.iter().map(|(name, _)| *name).collect();
    let message = format!("{} is {total} bytes; the limit is {limit} bytes", names.join(" + "));
    Err(ToolError::new(ErrorCode::InputTooLarge, message).offending(largest))
}

/// The caller's own text on its way to OpenAI: a pasted log or config may hold a secret, so it
/// is masked like everything else that leaves, and `meta.security_warnings` says so.
pub fn redact_input(text: Option<&str>, param: &str, meta: &mut Meta) -> Option<String> {
    let redacted = crate::foundation::redact::text(text?);
    if redacted.masks > 0 {
        meta.security_warnings
            .push(format!("{} secret-looking value(s) in {param} were masked before sending", redacted.masks));
    }
    Some(redacted.text)
}

/// Runs codex for the call, forwarding its progress. On failure the error envelope is returned,
/// with the run's time, exit code, session and usage already in `meta` (and a final message
/// cut at the output cap noted there).
pub fn run_codex(call: &Call, invocation: &Invocation, meta: &mut Meta) -> Result<Run, Value> {
    let run = run_codex_keep_failure(call, invocation, meta)?;
    match &run.failure {
        Some(error) => Err(error_envelope(error.clone().into(), meta)),
        None => Ok(run),
    }
}

/// `run_codex`, but a run that ended in failure is returned too (`run.failure` says why): a
/// delegation stopped mid-edit still has edits to hand over. `Err` only when codex never ran.
pub fn run_codex_keep_failure(call: &Call, invocation: &Invocation, meta: &mut Meta) -> Result<Run, Value> {
    let watch = exec::Watch {
        on_event: &|events_seen, activity| call.progress.report(events_seen, activity),
        on_stall: &|events_seen, message| call.progress.stalled(events_seen, message),
        stall_warn: Duration::from_secs(call.config.stall_warn_seconds),
        stall_kill: Duration::from_secs(call.config.stall_kill_seconds),
    };
    super::models::check_effort(invocation.model.as_deref(), invocation.reasoning_effort.as_deref(), &call.cancel)
        .map_err(|error| error_envelope(error, meta))?;
    let budget = super::budget::of(call);
    super::budget::check(call, &budget).map_err(|error| error_envelope(error.into(), meta))?;
    // codex runs git itself in its working directory, outside any sandbox (and passes its
    // environment on to the commands it runs): the same policy as ours keeps that git from
    // running the repository's programs or writing to it. Nothing to pin where git finds no
    // repository, is missing, or refuses the repository itself (another owner); any other
    // failure stops the run rather than start codex with its git unpinned.
    let git_timeout = Duration::from_secs(call.config.git_timeout_seconds);
    let git_env = match Git::open(&invocation.dir, git_timeout, &call.cancel) {
        Ok(git) => git.foreign_env(),
        Err(GitError::NotARepo | GitError::Missing | GitError::Unsafe { .. }) => ForeignGitEnv::default(),
        Err(error) => return Err(error_envelope(error.into(), meta)),
    };
    let invocation = Invocation { env: git_env.vars.clone(), ..invocation.clone() };
    let mut run = exec::run(&invocation, &call.cancel, &watch).map_err(|error| error_envelope(error.into(), meta))?;
    drop(git_env);
    super::budget::record(call, &budget, &run);
    meta.record_run(&run);
    if run.last_message_truncated {
        meta.note_truncation(&format!(
            "codex's final message was cut at {} bytes (CODEX_IN_CLAUDE_MAX_OUTPUT_BYTES)",
            invocation.max_output_bytes
        ));
    }
    // The job worker stops codex at the call's deadline, which may leave it a little less than
    // the timeout the call was given (the worker started after the call did); the failure says
    // the timeout as configured, which is the one that ran out.
    if let (Some(CodexFailure::TimedOut { after }), Some(configured)) = (&mut run.failure, meta.timeout_seconds) {
        *after = (*after).max(Duration::from_secs(configured));
    }
    Ok(run)
}

/// `run_codex` for a tool whose stopped run a follow-up can continue (a consult: what codex
/// read and thought so far is in its session): a run stopped mid-way (timeout, stall) whose
/// session codex kept is remembered and answered with `stopped_error`, `lead` and `ask` saying
/// what it had not done and what the follow-up is given.
pub fn run_codex_resumable(
    call: &Call,
    workspace: &Workspace,
    invocation: &Invocation,
    meta: &mut Meta,
    (lead, ask): (&str, &str),
) -> Result<Run, Value> {
    let run = run_codex_keep_failure(call, invocation, meta)?;
    let error = match &run.failure {
        None => return Ok(run),
        Some(failure) if failure.stopped_mid_run() => {
            remember(call, workspace, &run, meta, |_| {});
            stopped_error(call, failure, run.stream.session_id.as_deref(), lead, ask)
        }
        Some(failure) => failure.clone().into(),
    };
    Err(error_envelope(error, meta))
}

/// The error of a run stopped before it had anything to hand over
/// (`errors::stopped_with_session`): its follow-up when codex kept its session, else the plain
/// failure.
pub fn stopped_error(
    call: &Call,
    failure: &CodexFailure,
    session_id: Option<&str>,
    lead: &str,
    ask: &str,
) -> ToolError {
    let Some(session_id) = session_id.filter(|_| !call.config.ephemeral) else { return failure.clone().into() };
    let mut params = json!({"session_id": session_id});
    if let Some(root) = call.args.text("workspace_root") {
        params["workspace_root"] = json!(root);
    }
    super::errors::stopped_with_session(failure.clone(), call.tool.name, params, lead, ask)
}

/// `raw_response`: codex's final message when `detail` is `full` (sanitised, redacted, bounded;
/// a cut is noted in `meta`), the session id, and the model that was requested.
pub fn raw_response(call: &Call, run: &Run, meta: &mut Meta) -> Value {
    let full = Detail::of(call) == Detail::Full;
    let text = run.last_message.as_deref().filter(|_| full).map(|message| {
        let (text, cut) = crate::adapters::codex::answer::clean_measured(message, RAW_TEXT_CHARS);
        if cut {
            meta.note_truncation(&format!("raw_response.text cut to {RAW_TEXT_CHARS} characters"));
        }
        text
    });
    json!({"text": text, "session_id": run.stream.session_id, "model": run.model_sent})
}

/// The record of the session a follow-up (`session_id`) continues, checked before anything is
/// spent: runs must keep sessions, and the session must be one this server started in this
/// workspace. `Ok(None)` for a fresh call.
pub fn follow_up(call: &Call, workspace: &Workspace) -> Result<Option<Record>, ToolError> {
    let Some(session_id) = call.args.text("session_id") else { return Ok(None) };
    let refuse = |message: &str| Err(ToolError::new(ErrorCode::InvalidArguments, message).offending("session_id"));
    if call.config.ephemeral {
        return refuse(
            "CODEX_IN_CLAUDE_EPHEMERAL=true: codex keeps no sessions, so none can be continued; make a fresh call without session_id",
        );
    }
    match Sessions::new(&call.config.state_dir).load(session_id) {
        Ok(Some(record)) if record.workspace == workspace.path.display().to_string() => Ok(Some(record)),
        Ok(Some(_)) => refuse("this session_id belongs to another workspace; continue it from there, or start fresh"),
        Ok(None) => refuse(
            "no session with this session_id was started by this server (or it expired 30 days after its last run); make a fresh call without session_id",
        ),
        Err(message) => refuse(&message),
    }
}

/// A successful run's `session_id` and `resume_command` (for a person to continue the thread
/// in codex's own interface); the command is null when runs keep no session.
pub fn session_fields(call: &Call, run: &Run) -> (Option<String>, Option<String>) {
    let session = run.stream.session_id.clone();
    let resume = session.as_ref().filter(|_| !call.config.ephemeral).map(|id| format!("codex resume {id}"));
    (session, resume)
}

/// Keeps what a follow-up of this run's session needs (`fill` adds the tool's part to the
/// session's record); a record that cannot be written is said in `meta`.
pub fn remember(call: &Call, workspace: &Workspace, run: &Run, meta: &mut Meta, fill: impl FnOnce(&mut Record)) {
    let Some(session_id) = run.stream.session_id.as_deref().filter(|_| !call.config.ephemeral) else { return };
    let sessions = Sessions::new(&call.config.state_dir);
    let mut record = sessions.load(session_id).ok().flatten().unwrap_or_default();
    record.session_id = session_id.to_string();
    record.workspace = workspace.path.display().to_string();
    fill(&mut record);
    if let Err(message) = sessions.save(&record) {
        meta.answer_warnings.push(format!("a follow-up by session_id may not work: {message}"));
    }
}
