//! `codex-in-claude review-gate`: the plugin's opt-in Stop hook. When Claude Code is about to end
//! a turn, it runs a `codex_review_changes` review (scope `working_tree`, untracked files
//! included) of the project's uncommitted changes, through the tool layer like any other front
//! end, and answers per Claude Code's hook contract: `{"decision":"block","reason":…}` on stdout
//! when the review found problems, so Claude fixes them, else `{"systemMessage":…}` saying why the
//! stop went through. It always exits 0: the gate never fails a turn.
//!
//! It never loops and never blocks on its own failure: a stop Claude Code marks
//! `stop_hook_active` (it follows a block in the same turn) is let through, each session may be
//! blocked at most `CODEX_IN_CLAUDE_REVIEW_GATE_MAX_ROUNDS` times, an unchanged working tree
//! since the session's last gated review is not reviewed again, and a timeout, an error, codex
//! not ready or nothing to review let the stop through with a message saying so.
//!
//! Off by default, and then silent: it prints nothing and reads only the hook input and one
//! small switch file. `CODEX_IN_CLAUDE_REVIEW_GATE=on|off` decides for every project; otherwise
//! the project's switch, set by `review-gate --enable` / `--disable` (the `/codex:review-gate`
//! slash command), does. Its state — the switches, and per Claude Code session the rounds
//! blocked and the fingerprint of the last reviewed changes — lives under the state directory
//! in `review-gate/`, written atomically (files 0600), never in the user's repository; session
//! records untouched for `SESSION_RETENTION` are removed when another is written.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::adapters::codex::answer::Verdict;
use crate::adapters::git::gather::{self, Scope, Untracked};
use crate::adapters::jobs::workspace_key;
use crate::foundation::cancel::CancelToken;
use crate::foundation::clock;
use crate::foundation::config::Config;
use crate::foundation::envelope::ToolError;
use crate::foundation::hash::sha256_hex;
use crate::foundation::policy::Severity;
use crate::foundation::statefile::{self, ReadError};
use crate::foundation::text::one_line;
use crate::tools::{self, ReviewStatus};

/// The slash command that turns the gate on and off, as the user types it.
const SLASH_COMMAND: &str = "/codex-in-claude:codex:review-gate";
/// The most hook input read; Claude Code's Stop input is a few hundred bytes.
const MAX_INPUT_BYTES: u64 = 1 << 20;
/// How long a session's record is kept after its last gated stop.
const SESSION_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Diff bytes the change fingerprint reads; beyond them only the line counts are compared.
const FINGERPRINT_CAPTURE_BYTES: usize = 16 << 20;
/// What the block reason lists: at most this many findings, each body cut to this many
/// characters, the whole reason to this many (the rest is counted, never silently dropped).
const MAX_LISTED_FINDINGS: usize = 10;
const FINDING_BODY_CHARS: usize = 300;
const MAX_REASON_CHARS: usize = 6000;
/// Time a cancelled review gets to stop its run before the gate answers anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// What the hook answers.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Claude continues with this reason as its instruction.
    Block(String),
    /// The stop goes through; the message tells the user why.
    Allow(String),
}

/// The hook: reads Claude Code's Stop input from `stdin`, returns what to print on stdout
/// (nothing when the gate is off).
pub fn hook(config: &Config, stdin: &mut dyn Read) -> String {
    let input = read_input(stdin);
    let hook_cwd = input.as_ref().ok().and_then(|v| v.get("cwd")).and_then(Value::as_str);
    let project = project_dir(hook_cwd);
    let outcome = match Switch::read(config, project.as_deref()) {
        // Forced off: silent, whatever the state directory holds.
        Switch::Env { enabled: false, .. } => return String::new(),
        // A switch read from a directory another user could have written proves nothing.
        Switch::Untrusted(why) => Outcome::Allow(format!("off: {why}")),
        // A switch that cannot be read keeps the gate off, but not silently.
        Switch::Unreadable(why) => Outcome::Allow(format!("off: {why}")),
        switch if !switch.enabled() => return String::new(),
        _ => gate(config, input, project),
    };
    let answer = match outcome {
        Outcome::Block(reason) => json!({"decision": "block", "reason": reason}),
        Outcome::Allow(message) => json!({"systemMessage": format!("Codex review gate: {message}")}),
    };
    format!("{answer}\n")
}

/// `review-gate --enable` / `--disable`: records the project's switch. The text to print, and
/// whether it was recorded.
pub fn set_switch(config: &Config, enabled: bool) -> (String, bool) {
    if let Err(why) = trusted_state(config) {
        return (format!("review gate: the switch was not recorded: {why}\n"), false);
    }
    let Some(project) = project_dir(None) else {
        return (
            "review gate: cannot tell the project directory (the current directory is unreadable)\n".into(),
            false,
        );
    };
    let switch =
        ProjectSwitch { project: project.display().to_string(), enabled, changed_at: clock::rfc3339(clock::now_ms()) };
    let store = Store::new(&config.state_dir);
    match store.write(&store.project_path(&project), &switch) {
        Ok(()) => (status_text(config, Some(&project)), true),
        Err(err) => (format!("review gate: could not record the switch in {}: {err}\n", store.dir.display()), false),
    }
}

/// `review-gate --status`: whether the gate is on for this project, why, and its settings.
pub fn status(config: &Config) -> String {
    status_text(config, project_dir(None).as_deref())
}

fn status_text(config: &Config, project: Option<&Path>) -> String {
    let switch = Switch::read(config, project);
    let place = project.map_or_else(|| "this directory".to_string(), |p| p.display().to_string());
    let state = if switch.enabled() { "on" } else { "off" };
    let why = match &switch {
        Switch::Env { enabled, project } => {
            let mut why = format!(
                "CODEX_IN_CLAUDE_REVIEW_GATE={} decides for every project",
                if *enabled { "on" } else { "off" }
            );
            if let Some(recorded) = project {
                why.push_str(&format!(
                    "; this project's own switch ({}, set {}) applies once it is unset",
                    if recorded.enabled { "on" } else { "off" },
                    recorded.changed_at
                ));
            }
            why
        }
        Switch::Project(recorded) => format!("switched {state} for this project at {}", recorded.changed_at),
        Switch::Unset => format!("off by default; turn it on with `{SLASH_COMMAND} on`"),
        Switch::Unreadable(why) | Switch::Untrusted(why) => why.clone(),
    };
    format!(
        "review gate: {state} for {place} ({why})\n\
         blocks a stop when: verdict fail, or a finding of severity {severity} or worse (CODEX_IN_CLAUDE_REVIEW_GATE_SEVERITY)\n\
         rounds: at most {rounds} blocked stop(s) per Claude Code session (CODEX_IN_CLAUDE_REVIEW_GATE_MAX_ROUNDS)\n\
         timeout: {timeout} s, then the stop goes through (CODEX_IN_CLAUDE_REVIEW_GATE_TIMEOUT_SECONDS)\n\
         state: {dir}\n",
        severity = config.review_gate_severity,
        rounds = config.review_gate_max_rounds,
        timeout = config.review_gate_timeout_seconds,
        dir = Store::new(&config.state_dir).dir.display(),
    )
}

/// The hook input: a JSON object, or why it is not one.
fn read_input(stdin: &mut dyn Read) -> Result<Value, String> {
    let mut bytes = Vec::new();
    stdin.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read the hook input: {e}"))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(format!("the hook input is over {MAX_INPUT_BYTES} bytes"));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err("the hook input is not a JSON object".into()),
    }
}

/// The project: `CLAUDE_PROJECT_DIR`, else the hook's `cwd`, else the current directory. Without
/// `CLAUDE_PROJECT_DIR` it is taken up to the top of its git work tree (found by its `.git`
/// entry, no git run), so a switch set from a subdirectory is the same switch; that walk never
/// reaches the user's home or above it (a dotfiles repository there is not the project), and
/// `CLAUDE_PROJECT_DIR`, being the project, is never walked above.
fn project_dir(hook_cwd: Option<&str>) -> Option<PathBuf> {
    let from_env = std::env::var("CLAUDE_PROJECT_DIR").ok().filter(|d| d.starts_with('/'));
    if let Some(project) = from_env {
        return PathBuf::from(project).canonicalize().ok();
    }
    let dir = hook_cwd
        .filter(|d| d.starts_with('/'))
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())?
        .canonicalize()
        .ok()?;
    let home = home_dir();
    let top = dir
        .ancestors()
        .take_while(|a| home.as_deref().is_none_or(|home| !home.starts_with(a)))
        .find(|a| std::fs::symlink_metadata(a.join(".git")).is_ok())
        .unwrap_or(&dir);
    Some(top.to_path_buf())
}

/// `$HOME`, resolved.
fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).and_then(|h| PathBuf::from(h).canonicalize().ok())
}

/// Why `project` is not reviewed although git finds a repository there: git's top level (which
/// git finds by walking up, past the project) is the user's home, or lies above the project. A
/// review would then send that repository's untracked files, a home's `.bash_history` among them.
fn foreign_repository(config: &Config, project: &Path, cancel: &CancelToken) -> Option<String> {
    let timeout = Duration::from_secs(config.git_timeout_seconds);
    let git = crate::adapters::git::Git::open(project, timeout, cancel).ok()?;
    let top = git.repo();
    let whose = if home_dir().as_deref() == Some(top) {
        "your home directory"
    } else if top != project {
        "a directory above the project"
    } else {
        return None;
    };
    Some(format!(
        "the review was not run: {} is not a git repository of its own; the repository git finds there is {} ({whose}), which the gate never reviews",
        project.display(),
        top.display()
    ))
}

/// Whether the gate is on, and what decided it.
enum Switch {
    /// `CODEX_IN_CLAUDE_REVIEW_GATE`, with the project's own switch it overrides, if any.
    Env {
        enabled: bool,
        project: Option<ProjectSwitch>,
    },
    Project(ProjectSwitch),
    Unset,
    /// The switch file exists but cannot be read: off (a gate that cannot tell stays out of the way).
    Unreadable(String),
    /// The state directory is not safe to trust (`adapters::state_dir`): off, and nothing in it read.
    Untrusted(String),
}

impl Switch {
    fn read(config: &Config, project: Option<&Path>) -> Switch {
        if let Err(why) = trusted_state(config) {
            return match config.review_gate {
                Some(false) => Switch::Env { enabled: false, project: None },
                _ => Switch::Untrusted(why),
            };
        }
        let store = Store::new(&config.state_dir);
        let recorded = project.map(|p| statefile::read_json::<ProjectSwitch>(&store.project_path(p)));
        match (config.review_gate, recorded) {
            (Some(enabled), recorded) => Switch::Env { enabled, project: recorded.and_then(Result::ok) },
            (None, None | Some(Err(ReadError::Missing))) => Switch::Unset,
            (None, Some(Ok(recorded))) => Switch::Project(recorded),
            (None, Some(Err(err))) => Switch::Unreadable(format!(
                "this project's switch in {} could not be read ({err}); set it again with `{SLASH_COMMAND} on` or `off`",
                store.dir.join("projects").display()
            )),
        }
    }

    fn enabled(&self) -> bool {
        match self {
            Switch::Env { enabled, .. } => *enabled,
            Switch::Project(recorded) => recorded.enabled,
            Switch::Unset | Switch::Unreadable(_) | Switch::Untrusted(_) => false,
        }
    }
}

/// Whether the state directory may be read and written, or why not and how to fix it.
fn trusted_state(config: &Config) -> Result<(), String> {
    crate::adapters::state_dir::verify(&config.state_dir).map_err(|unsafe_dir| {
        let error = ToolError::from(unsafe_dir);
        format!("{}; {}", error.message, error.repair)
    })
}

/// A project's switch, as `--enable` / `--disable` recorded it.
#[derive(Debug, Serialize, Deserialize)]
struct ProjectSwitch {
    project: String,
    enabled: bool,
    changed_at: String,
}

/// What the gate remembers of one Claude Code session.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SessionState {
    session_id: String,
    project: String,
    /// Stops blocked so far.
    #[serde(default)]
    rounds: u64,
    /// The changes the last gated review saw, and how it ended.
    #[serde(default)]
    last_fingerprint: Option<String>,
    #[serde(default)]
    last_outcome: Option<String>,
}

/// `<state dir>/review-gate/`: `projects/<key>.json` and `sessions/<digest>.json`.
struct Store {
    dir: PathBuf,
}

impl Store {
    fn new(state_dir: &Path) -> Store {
        Store { dir: state_dir.join("review-gate") }
    }

    fn project_path(&self, project: &Path) -> PathBuf {
        self.dir.join("projects").join(format!("{}.json", workspace_key(project)))
    }

    /// A session id is Claude Code's and could be anything: the file is named by its digest.
    fn session_path(&self, session_id: &str) -> PathBuf {
        self.dir.join("sessions").join(format!("{}.json", &sha256_hex(session_id.as_bytes())[..32]))
    }

    fn write<T: Serialize>(&self, path: &Path, value: &T) -> std::io::Result<()> {
        let parent = path.parent().expect("state paths have a parent");
        statefile::private_dir(&self.dir)?;
        statefile::private_dir(parent)?;
        statefile::write_json(path, value)
    }

    /// Writes a session's record, then removes the records of sessions gone quiet.
    fn save_session(&self, state: &SessionState) -> std::io::Result<()> {
        let path = self.session_path(&state.session_id);
        self.write(&path, state)?;
        let Ok(entries) = std::fs::read_dir(path.parent().expect("state paths have a parent")) else { return Ok(()) };
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| SystemTime::now().duration_since(at).is_ok_and(|age| age > SESSION_RETENTION));
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

/// The gate itself, once it is on.
fn gate(config: &Config, input: Result<Value, String>, project: Option<PathBuf>) -> Outcome {
    let allow = |why: String| Outcome::Allow(format!("{why}; the stop goes through."));
    let input = match input {
        Ok(input) => input,
        Err(why) => return allow(why),
    };
    // Absent members read as none: a missing event name is taken as Stop.
    if let Some(event) = input.get("hook_event_name").and_then(Value::as_str)
        && event != "Stop"
    {
        return allow(format!("it runs on Stop only, not on {}", one_line(event, 40)));
    }
    if input.get("stop_hook_active").and_then(Value::as_bool) == Some(true) {
        return allow("not reviewing again: Claude is already continuing after a Stop hook blocked this turn".into());
    }
    let Some(session_id) = input.get("session_id").and_then(Value::as_str).filter(|s| !s.trim().is_empty()) else {
        return allow("the hook input has no session_id, so rounds cannot be counted; not reviewing".into());
    };
    let Some(project) = project else {
        return allow(
            "no project directory (neither CLAUDE_PROJECT_DIR nor the hook's cwd is usable); not reviewing".into(),
        );
    };
    let store = Store::new(&config.state_dir);
    let mut state = match statefile::read_json::<SessionState>(&store.session_path(session_id)) {
        Ok(state) => state,
        Err(ReadError::Missing) => SessionState {
            session_id: session_id.to_string(),
            project: project.display().to_string(),
            ..SessionState::default()
        },
        Err(err) => return allow(format!("its record of this session could not be read ({err}); not reviewing")),
    };
    if state.rounds >= config.review_gate_max_rounds {
        return allow(format!(
            "not reviewing: it already blocked {} stop(s) in this session, its limit (CODEX_IN_CLAUDE_REVIEW_GATE_MAX_ROUNDS); run /codex-in-claude:codex:review to review by hand",
            state.rounds
        ));
    }
    // One time limit for reading the changes and reviewing them.
    let deadline = Instant::now() + Duration::from_secs(config.review_gate_timeout_seconds);
    let (check_config, check_project) = (config.clone(), project.clone());
    match within(deadline, move |cancel| foreign_repository(&check_config, &check_project, &cancel)) {
        Some(None) => {}
        Some(Some(why)) => return allow(why),
        None => return allow(timed_out(config, "finding the repository")),
    }
    let (gather_config, gather_project) = (config.clone(), project.clone());
    let fingerprint = match within(deadline, move |cancel| fingerprint(&gather_config, &gather_project, &cancel)) {
        Some(Ok(Some(fingerprint))) => fingerprint,
        Some(Ok(None)) => return allow("the review was not run: no uncommitted changes".into()),
        Some(Err(why)) => return allow(format!("the review was not run: the changes could not be read ({why})")),
        None => return allow(timed_out(config, "reading the changes")),
    };
    if state.last_fingerprint.as_deref() == Some(fingerprint.as_str()) {
        let last = state.last_outcome.as_deref().unwrap_or("reviewed");
        return allow(format!("not reviewing: nothing changed since its last review in this session ({last})"));
    }
    let envelope = match review(config, &project, deadline) {
        Ok(envelope) => envelope,
        Err(why) => return allow(why),
    };
    if envelope.get("ok").and_then(Value::as_bool) != Some(true) {
        return allow(review_failure(&envelope));
    }
    let verdict = judge(config, &envelope, state.rounds + 1);
    state.last_fingerprint = Some(fingerprint);
    state.last_outcome = Some(format!("verdict {}", text(&envelope, "verdict").unwrap_or("unknown")));
    if matches!(verdict, Outcome::Block(_)) {
        state.rounds += 1;
    }
    if let Err(err) = store.save_session(&state) {
        // Without the round recorded the cap could not hold: the gate does not block blind.
        return allow(format!(
            "the review ended ({}), but the gate could not record it in {}: {err}; not blocking",
            state.last_outcome.as_deref().unwrap_or("verdict unknown"),
            store.dir.display()
        ));
    }
    verdict
}

/// A digest of the working-tree changes a review would see (untracked files included), or
/// `None` when there are none. Read with the review's own gathering, which writes nothing to
/// the repository.
fn fingerprint(config: &Config, project: &Path, cancel: &CancelToken) -> Result<Option<String>, String> {
    let request = gather::Request {
        scope: Scope::WorkingTree,
        paths: Vec::new(),
        untracked: Untracked::Include,
        capture_bytes: FINGERPRINT_CAPTURE_BYTES,
    };
    let timeout = Duration::from_secs(config.git_timeout_seconds);
    let gathered = gather::gather(project, &request, timeout, cancel).map_err(|e| e.to_string())?;
    if gathered.files_changed == 0 && gathered.diff.trim().is_empty() {
        return Ok(None);
    }
    let counts = format!(
        "{:?} {} {} {} {} {}\n",
        gathered.head_oid,
        gathered.files_changed,
        gathered.lines_added,
        gathered.lines_removed,
        gathered.untracked_detected,
        gathered.capture_truncated
    );
    Ok(Some(sha256_hex((counts + &gathered.diff).as_bytes())))
}

/// Nobody watches a hook's progress.
struct Silent;

impl tools::Progress for Silent {
    fn report(&self, _events_seen: u64, _activity: &str) {}
}

/// `codex_review_changes` of the working tree, untracked files included, by `deadline`: its
/// envelope, or why there is none.
fn review(config: &Config, project: &Path, deadline: Instant) -> Result<Value, String> {
    // codex is stopped a little before the gate gives up, so its own timeout usually answers.
    let left = deadline.saturating_duration_since(Instant::now()).as_secs();
    let arguments = json!({
        "scope": "working_tree",
        "untracked": "include",
        "workspace_root": project.display().to_string(),
        "timeout_seconds": left.saturating_sub(10).max(10),
    });
    let call_config = config.clone();
    within(deadline, move |cancel| {
        let tool = tools::find("codex_review_changes").expect("the review tool is registered");
        let context = tools::Context::new(&call_config, &tools::NoRoots, &Silent, cancel);
        tools::call_tool(tool, Some(&arguments), &context)
    })
    .ok_or_else(|| timed_out(config, "the review"))
}

fn timed_out(config: &Config, what: &str) -> String {
    format!(
        "{what} did not finish within {} s (CODEX_IN_CLAUDE_REVIEW_GATE_TIMEOUT_SECONDS) and was stopped",
        config.review_gate_timeout_seconds
    )
}

/// `run` on its own thread, until `deadline`: its result, or `None` once the deadline passed.
/// Then its cancel token is cancelled (a review stops its run and deletes its record, git is
/// stopped) and it gets `CANCEL_GRACE` to do so before the gate answers anyway.
fn within<T: Send + 'static>(deadline: Instant, run: impl FnOnce(CancelToken) -> T + Send + 'static) -> Option<T> {
    let cancel = CancelToken::new();
    let (sender, receiver) = mpsc::channel();
    let token = cancel.clone();
    std::thread::spawn(move || {
        let _ = sender.send(run(token));
    });
    match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(value) => Some(value),
        Err(_) => {
            cancel.cancel();
            let _ = receiver.recv_timeout(CANCEL_GRACE);
            None
        }
    }
}

/// Why a review that failed let the stop through, with the fix where there is one.
fn review_failure(envelope: &Value) -> String {
    let error = envelope.get("error");
    let field = |key: &str| error.and_then(|e| e.get(key)).and_then(Value::as_str);
    let code = field("code").unwrap_or("internal_error");
    let message = one_line(field("message").unwrap_or("no message"), 300);
    match code {
        "codex_not_found" | "codex_auth_required" | "cli_contract_changed" | "user_config_rejected" => {
            format!("codex is not ready ({code}: {message}); run /codex-in-claude:codex:setup")
        }
        "timeout" => format!("the review timed out ({message})"),
        _ => format!("the review failed ({code}: {message})"),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A finding's severity; an unknown one counts as `medium`, as the review does.
fn severity(finding: &Value) -> Severity {
    text(finding, "severity").and_then(Severity::parse).unwrap_or(Severity::Medium)
}

/// Block or let through a completed review. It blocks on verdict `fail`, and on `concerns` (or
/// `unknown`) with a finding at or above the configured severity.
fn judge(config: &Config, envelope: &Value, round: u64) -> Outcome {
    if text(envelope, "review_status") == Some(ReviewStatus::NotRun.as_str()) {
        let summary = one_line(text(envelope, "summary").unwrap_or("nothing to review"), 300);
        return Outcome::Allow(format!("the review was not run ({summary}); the stop goes through."));
    }
    let verdict = text(envelope, "verdict").and_then(Verdict::parse).unwrap_or(Verdict::Unknown);
    let mut findings: Vec<&Value> = envelope.get("findings").and_then(Value::as_array).into_iter().flatten().collect();
    findings.sort_by_key(|f| severity(f));
    let serious = findings.iter().filter(|f| severity(f).at_or_above(config.review_gate_severity)).count();
    let blocks = verdict == Verdict::Fail || (matches!(verdict, Verdict::Concerns | Verdict::Unknown) && serious > 0);
    if !blocks {
        let detail = match (verdict, findings.len()) {
            (Verdict::Pass, _) => "no problems found".to_string(),
            (_, 0) => one_line(text(envelope, "summary").unwrap_or(""), 300),
            (_, n) => format!("{n} finding(s), none {} or worse", config.review_gate_severity),
        };
        return Outcome::Allow(format!(
            "verdict {verdict} ({detail}); the stop goes through. Run /codex-in-claude:codex:review for the full review."
        ));
    }
    Outcome::Block(block_reason(config, envelope, verdict, &findings, round))
}

/// The findings as Claude reads them: who says so, each finding on its own lines (most severe
/// first, bounded), what to do, and how to turn the gate off.
fn block_reason(config: &Config, envelope: &Value, verdict: Verdict, findings: &[&Value], round: u64) -> String {
    let confidence = text(envelope, "confidence").unwrap_or("unknown");
    let mut reason = format!(
        "An automated Codex review (the codex-in-claude review gate, which the user enabled) of the uncommitted changes \
         returned verdict {verdict} (confidence {confidence}): {}\n",
        one_line(text(envelope, "summary").unwrap_or(""), FINDING_BODY_CHARS)
    );
    let mut listed = 0;
    for finding in findings.iter().take(MAX_LISTED_FINDINGS) {
        let place = match (text(finding, "file"), finding.get("line").and_then(Value::as_u64)) {
            (Some(file), Some(line)) => format!("{}:{line}", one_line(file, 200)),
            (Some(file), None) => one_line(file, 200),
            (None, _) => "(no file)".to_string(),
        };
        let body: Vec<String> = ["risk", "evidence", "recommendation"]
            .iter()
            .filter_map(|key| text(finding, key).filter(|t| !t.trim().is_empty()))
            .map(|t| one_line(t, FINDING_BODY_CHARS))
            .collect();
        let entry = format!(
            "- [{}] {place}: {}\n  {}\n",
            text(finding, "severity").unwrap_or("medium"),
            one_line(text(finding, "title").unwrap_or("(untitled)"), 200),
            one_line(&body.join(" | "), FINDING_BODY_CHARS)
        );
        if reason.len() + entry.len() > MAX_REASON_CHARS {
            break;
        }
        reason.push_str(&entry);
        listed += 1;
    }
    if listed < findings.len() {
        reason.push_str(&format!(
            "- ({} more finding(s) not shown here; run /codex-in-claude:codex:review for all of them)\n",
            findings.len() - listed
        ));
    }
    reason.push_str(&format!(
        "Treat each finding as a claim: check it against the code, fix what holds, and say which you dismissed and why. \
         This is block {round} of at most {} in this session; the next stop of this turn is not reviewed again. \
         To turn the gate off: {SLASH_COMMAND} off, or CODEX_IN_CLAUDE_REVIEW_GATE=off.",
        config.review_gate_max_rounds
    ));
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_map(&Default::default())
    }

    fn finding(severity: &str, title: &str) -> Value {
        json!({"severity": severity, "title": title, "file": "src/lib.rs", "line": 2,
            "risk": "reads past the end", "recommendation": "use i < n"})
    }

    fn completed(verdict: &str, findings: Value) -> Value {
        json!({"ok": true, "review_status": "completed", "verdict": verdict, "confidence": "high",
            "summary": "s", "findings": findings})
    }

    #[test]
    fn fail_blocks_and_concerns_block_only_at_or_above_the_severity() {
        let config = config();
        assert!(matches!(judge(&config, &completed("fail", json!([])), 1), Outcome::Block(_)));
        assert!(matches!(judge(&config, &completed("concerns", json!([finding("high", "x")])), 1), Outcome::Block(_)));
        let minor = completed("concerns", json!([finding("medium", "x"), finding("nit", "y")]));
        let Outcome::Allow(message) = judge(&config, &minor, 1) else { panic!("medium is below high") };
        assert!(message.contains("2 finding(s), none high or worse"), "{message}");
        assert!(matches!(judge(&config, &completed("pass", json!([])), 1), Outcome::Allow(_)));
        let not_run = json!({"ok": true, "review_status": "not_run", "verdict": "unknown", "summary": "No changes"});
        assert!(matches!(judge(&config, &not_run, 1), Outcome::Allow(_)));
        let strict = Config { review_gate_severity: Severity::Nit, ..config };
        assert!(matches!(judge(&strict, &minor, 1), Outcome::Block(_)));
    }

    #[test]
    fn the_reason_lists_findings_most_severe_first_bounded_and_says_how_to_turn_it_off() {
        let config = config();
        let many: Vec<Value> =
            (0..30).map(|i| finding(if i == 29 { "critical" } else { "low" }, &format!("t{i}"))).collect();
        let Outcome::Block(reason) = judge(&config, &completed("fail", json!(many)), 1) else { panic!("fail blocks") };
        let first = reason.lines().nth(1).unwrap();
        assert_eq!(first, "- [critical] src/lib.rs:2: t29", "{reason}");
        assert!(reason.contains("reads past the end | use i < n"), "{reason}");
        assert!(reason.contains("(20 more finding(s) not shown here"), "{reason}");
        assert!(reason.contains("automated Codex review") && reason.contains("review-gate off"), "{reason}");
        assert!(reason.contains("block 1 of at most 2"), "{reason}");
        assert!(reason.chars().count() <= MAX_REASON_CHARS + 400, "{}", reason.len());
        let long = finding("high", &"x".repeat(10_000));
        let Outcome::Block(reason) = judge(&config, &completed("fail", Value::Array(vec![long; 30])), 1) else {
            panic!()
        };
        assert!(reason.len() < MAX_REASON_CHARS + 400, "{}", reason.len());
        assert!(reason.contains("more finding(s) not shown here"), "{reason}");
    }

    #[test]
    fn loop_guards_let_the_stop_through_before_any_review() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { state_dir: dir.path().to_path_buf(), ..config() };
        let project = Some(dir.path().to_path_buf());
        let active = json!({"session_id": "s", "hook_event_name": "Stop", "stop_hook_active": true});
        let Outcome::Allow(message) = gate(&config, Ok(active), project.clone()) else { panic!() };
        assert!(message.contains("already continuing"), "{message}");
        let Outcome::Allow(message) = gate(&config, Err("the hook input is not a JSON object".into()), project.clone())
        else {
            panic!()
        };
        assert!(message.contains("not a JSON object"), "{message}");
        let store = Store::new(&config.state_dir);
        let capped = SessionState { session_id: "s".into(), rounds: 2, ..SessionState::default() };
        store.save_session(&capped).unwrap();
        let Outcome::Allow(message) = gate(&config, Ok(json!({"session_id": "s"})), project) else { panic!() };
        assert!(message.contains("already blocked 2 stop(s)"), "{message}");
    }

    #[test]
    fn a_review_past_the_limit_is_cancelled_and_the_gate_answers() {
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = stopped.clone();
        let started = Instant::now();
        let answer = within(started + Duration::from_millis(100), move |cancel| {
            while !cancel.is_cancelled() {
                std::thread::sleep(Duration::from_millis(5));
            }
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            json!({"ok": false})
        });
        assert_eq!(answer, None, "past the limit there is no envelope");
        assert!(stopped.load(std::sync::atomic::Ordering::SeqCst), "the run was told to stop");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(within(Instant::now() + Duration::from_secs(5), |_| 7), Some(7));
    }

    /// Claude Code must not give up on the hook before the gate answers: its timeout is above
    /// the longest gate timeout plus the grace a cancelled review gets.
    #[test]
    fn the_plugin_hook_waits_longer_than_the_gate() {
        let hooks: Value = serde_json::from_str(include_str!("../../plugin/hooks/hooks.json")).unwrap();
        let hook = &hooks["hooks"]["Stop"][0]["hooks"][0];
        assert_eq!(hook["args"], json!(["review-gate"]));
        let timeout = hook["timeout"].as_u64().unwrap();
        let longest = crate::foundation::config::REVIEW_GATE_TIMEOUT_BOUNDS.1 + CANCEL_GRACE.as_secs();
        assert!(timeout > longest + 10, "hook timeout {timeout} s, gate up to {longest} s");
    }

    #[test]
    fn the_switch_is_per_project_and_the_environment_overrides_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { state_dir: dir.path().to_path_buf(), ..config() };
        let (a, b) = (Path::new("/work/a"), Path::new("/work/b"));
        assert!(!Switch::read(&config, Some(a)).enabled(), "off by default");
        let store = Store::new(&config.state_dir);
        let on = ProjectSwitch { project: "/work/a".into(), enabled: true, changed_at: "t".into() };
        store.write(&store.project_path(a), &on).unwrap();
        assert!(Switch::read(&config, Some(a)).enabled());
        assert!(!Switch::read(&config, Some(b)).enabled());
        let forced_off = Config { review_gate: Some(false), ..config.clone() };
        assert!(!Switch::read(&forced_off, Some(a)).enabled());
        let forced_on = Config { review_gate: Some(true), ..config.clone() };
        assert!(Switch::read(&forced_on, Some(b)).enabled());
        std::fs::write(store.project_path(b), "{\"half\":").unwrap();
        let Switch::Unreadable(why) = Switch::read(&config, Some(b)) else { panic!("a damaged switch is told apart") };
        assert!(why.contains("could not be read") && why.contains("review-gate on"), "{why}");
    }
}
