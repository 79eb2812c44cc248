//! What every tool that runs codex shares: the run settings resolved from arguments and
//! configuration, the meta a call starts with, the input-size check, running codex with progress
//! reporting, and the envelope parts built from a run.

use std::time::Duration;

use serde_json::{Value, json};

use super::Call;
use super::meta::{Meta, error_envelope};
use crate::adapters::codex::exec::{self, Invocation, Run};
use crate::adapters::git::Git;
use crate::adapters::workspace::Workspace;
use crate::foundation::envelope::{ErrorCode, ToolError};
use crate::foundation::policy::Isolation;

/// Longest raw final message returned under `detail: "full"` (characters).
const RAW_TEXT_CHARS: usize = 100_000;

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
            timeout: Duration::from_secs(self.timeout_seconds),
            max_output_bytes: usize::try_from(call.config.max_output_bytes).unwrap_or(usize::MAX),
            write_scope: None,
            env: Vec::new(),
        }
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
    let watch = exec::Watch {
        on_event: &|events_seen, activity| call.progress.report(events_seen, activity),
        on_stall: &|events_seen, message| call.progress.stalled(events_seen, message),
        stall_warn: Duration::from_secs(call.config.stall_warn_seconds),
        stall_kill: Duration::from_secs(call.config.stall_kill_seconds),
    };
    // codex runs git itself in its working directory, outside any sandbox (and passes its
    // environment on to the commands it runs): the same policy as ours keeps that git from
    // running the repository's programs or writing to it. Not a repository: nothing to pin.
    let git_timeout = Duration::from_secs(call.config.git_timeout_seconds);
    let git_env =
        Git::open(&invocation.dir, git_timeout, &call.cancel).map(|git| git.foreign_env()).unwrap_or_default();
    let invocation = Invocation { env: git_env.vars.clone(), ..invocation.clone() };
    super::models::check_effort(invocation.model.as_deref(), invocation.reasoning_effort.as_deref(), &call.cancel)
        .map_err(|error| error_envelope(error, meta))?;
    let budget = super::budget::of(call);
    budget.check().map_err(|error| error_envelope(error, meta))?;
    let run = exec::run(&invocation, &call.cancel, &watch).map_err(|error| error_envelope(error, meta))?;
    drop(git_env);
    super::budget::record(&budget, &run);
    meta.record_run(&run);
    if run.last_message_truncated {
        meta.note_truncation(&format!(
            "codex's final message was cut at {} bytes (CODEX_IN_CLAUDE_MAX_OUTPUT_BYTES)",
            invocation.max_output_bytes
        ));
    }
    match &run.failure {
        Some(error) => Err(error_envelope(error.clone(), meta)),
        None => Ok(run),
    }
}

/// `raw_response`: codex's final message when `detail` is `full` (sanitised, redacted, bounded;
/// a cut is noted in `meta`), the session id, and the model that was requested.
pub fn raw_response(call: &Call, run: &Run, meta: &mut Meta) -> Value {
    let full = call.args.text("detail") == Some("full");
    let text = run.last_message.as_deref().filter(|_| full).map(|message| {
        let (text, cut) = crate::adapters::codex::answer::clean_measured(message, RAW_TEXT_CHARS);
        if cut {
            meta.note_truncation(&format!("raw_response.text cut to {RAW_TEXT_CHARS} characters"));
        }
        text
    });
    json!({"text": text, "session_id": run.stream.session_id, "model": run.model_sent})
}
