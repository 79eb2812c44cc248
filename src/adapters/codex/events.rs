//! Reading the `codex exec --json` event stream (docs/codex-cli.md §5) as it arrives: the
//! session id, token usage, the failure message, a one-line account of what codex is doing now
//! (for progress notifications and job activity), and how many of codex's commands the sandbox
//! refused (a review whose commands were mostly refused was blind).
//!
//! Parsing is tolerant: lines that are not JSON objects are counted as garbage and skipped, and
//! unknown event or item types are ignored, so a newer codex degrades to less detail, not to a
//! failed call. Everything taken from an event is foreign text: it is sanitised and redacted
//! before it is kept.

use serde::Serialize;
use serde_json::Value;

/// Longest activity line kept (characters).
const ACTIVITY_CHARS: usize = 120;
/// Longest failure message kept (characters).
const ERROR_CHARS: usize = 600;

/// Token usage of the run, from `turn.completed` (the last one wins).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    /// Input plus output (cached input is part of input).
    pub total_tokens: u64,
}

/// What the stream has told us so far.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub session_id: Option<String>,
    pub usage: Option<Usage>,
    /// The last failure message (`turn.failed`, else a top-level `error`), sanitised and redacted.
    pub error_message: Option<String>,
    pub turn_completed: bool,
    pub turn_failed: bool,
    /// JSON events seen (progress counter).
    pub events_seen: u64,
    /// Lines that were not JSON objects.
    pub garbage_lines: u64,
    /// What codex is doing now, e.g. `running: cargo test`; `None` before the first event.
    pub activity: Option<String>,
    /// codex's working root: file paths under it are shown relative to it (a delegate's
    /// worktree path means nothing to the user).
    pub root: Option<std::path::PathBuf>,
    /// Commands codex ran that the stream reported finished (`command_execution` items).
    pub commands_finished: u64,
    /// Of those, the ones declined, or whose output shows the sandbox refusing them or failing
    /// to start.
    pub commands_denied: u64,
}

impl Stream {
    /// Takes one stdout line. Returns true when it was an event (the counter moved).
    pub fn observe(&mut self, line: &[u8]) -> bool {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return false;
        }
        let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(trimmed) else {
            // The process runner cuts a line over its bound, so a very long failure event (a
            // model error quoting a whole request) arrives as JSON that does not parse; its
            // message is what the failure is about, so the start of it is kept.
            if let Some(message) = cut_failure_message(trimmed) {
                self.events_seen += 1;
                self.turn_failed |= trimmed.starts_with(br#"{"type":"turn.failed""#);
                self.error_message = Some(clean_error(&message));
                self.set_activity("failed");
                return true;
            }
            self.garbage_lines += 1;
            return false;
        };
        self.events_seen += 1;
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "thread.started" => {
                if let Some(id) = event.get("thread_id").and_then(Value::as_str) {
                    self.session_id = Some(crate::foundation::text::one_line(id, 128));
                }
                self.set_activity("starting");
            }
            "turn.started" => self.set_activity("thinking"),
            "turn.completed" => {
                self.turn_completed = true;
                if let Some(usage) = event.get("usage") {
                    self.usage = Some(usage_of(usage));
                }
                self.set_activity("finished");
            }
            "turn.failed" => {
                self.turn_failed = true;
                let message = event.get("error").and_then(|e| e.get("message")).and_then(Value::as_str);
                self.error_message = message.map(clean_error).or(self.error_message.take());
                self.set_activity("failed");
            }
            "error" => {
                if let Some(message) = event.get("message").and_then(Value::as_str) {
                    let message = clean_error(message);
                    self.set_activity(&format!("retrying: {message}"));
                    self.error_message = Some(message);
                }
            }
            "item.started" | "item.updated" | "item.completed" => {
                if kind == "item.completed" {
                    self.count_command(event.get("item"));
                }
                if let Some(activity) =
                    event.get("item").and_then(|item| item_activity(item, kind, self.root.as_deref()))
                {
                    self.set_activity(&activity);
                }
            }
            _ => {}
        }
        true
    }

    /// Why codex was mostly blind, when it was: more than half of the commands it ran were
    /// refused by the sandbox. codex 0.169 reports no item at all for a refused command that
    /// also exited non-zero (the model still sees the refusal), so only the refusals the stream
    /// shows are counted: this can miss blindness, never invent it from nothing.
    pub fn sandbox_blindness(&self) -> Option<String> {
        let (denied, finished) = (self.commands_denied, self.commands_finished);
        (denied > 0 && denied * 2 > finished).then(|| {
            format!(
                "the sandbox refused {denied} of the {finished} commands codex ran (or could not start), \
                 so codex could barely inspect the repository"
            )
        })
    }

    fn count_command(&mut self, item: Option<&Value>) {
        let Some(item) = item.filter(|item| item.get("type").and_then(Value::as_str) == Some("command_execution"))
        else {
            return;
        };
        self.commands_finished += 1;
        let declined = item.get("status").and_then(Value::as_str) == Some("declined");
        let output = item.get("aggregated_output").and_then(Value::as_str).unwrap_or_default();
        if declined || shows_denial(output) {
            self.commands_denied += 1;
        }
    }

    fn set_activity(&mut self, text: &str) {
        let redacted = crate::foundation::redact::text(&crate::foundation::text::strip_controls(text, false)).text;
        self.activity = Some(crate::foundation::text::one_line(&redacted, ACTIVITY_CHARS));
    }
}

fn usage_of(usage: &Value) -> Usage {
    let field = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (field("input_tokens"), field("output_tokens"));
    Usage {
        input_tokens: input,
        cached_input_tokens: field("cached_input_tokens"),
        output_tokens: output,
        reasoning_output_tokens: field("reasoning_output_tokens"),
        total_tokens: input.saturating_add(output),
    }
}

/// Error text is shown to the agent and matched by the failure classifier: controls stripped,
/// redacted, bounded. A message that is itself a JSON error body is unwrapped one level.
/// The message of a failure event (`turn.failed`, `error`) whose line was cut before its end:
/// the JSON string after its first `"message":"`, decoded up to its end or the cut (then
/// marked cut). `None` for any other line.
fn cut_failure_message(line: &[u8]) -> Option<String> {
    const STARTS: [&[u8]; 2] = [br#"{"type":"turn.failed""#, br#"{"type":"error""#];
    const KEY: &[u8] = br#""message":""#;
    if !STARTS.iter().any(|start| line.starts_with(start)) {
        return None;
    }
    let from = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let text = String::from_utf8_lossy(&line[from..]);
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return (!out.trim().is_empty()).then_some(out),
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    (!out.trim().is_empty()).then(|| format!("{out}{}", crate::foundation::text::TRUNCATION_MARKER))
}

fn clean_error(message: &str) -> String {
    let inner = serde_json::from_str::<Value>(message.trim())
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.get("message")).and_then(Value::as_str).map(str::to_string));
    let text = crate::foundation::text::strip_controls(inner.as_deref().unwrap_or(message), false);
    crate::foundation::text::bounded(crate::foundation::redact::text(text.trim()).text.as_str(), ERROR_CHARS)
}

/// How the errors of a refused write, socket or file access end, as libc words them.
const DENIAL_ERRORS: &[&str] = &["Read-only file system", "Operation not permitted", "Permission denied"];

/// Whether a command's output shows the sandbox refusing it: the sandbox failing to start (a
/// `bwrap: ` line), or an error line that ends in one of `DENIAL_ERRORS` (with or without a Rust
/// ` (os error N)` suffix). Only line endings count, so a grep hit on those words inside source
/// code (`Err("Permission denied")`) is not a refusal.
fn shows_denial(output: &str) -> bool {
    output.lines().any(|line| {
        let line = line.trim_end();
        let line = match line.rsplit_once(" (os error ") {
            Some((before, code)) if code.strip_suffix(')').is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) => {
                before
            }
            _ => line,
        };
        line.starts_with("bwrap: ") || DENIAL_ERRORS.iter().any(|error| line.ends_with(error))
    })
}

/// The activity line for an item event, for the item types that say what codex is doing.
fn item_activity(item: &Value, kind: &str, root: Option<&std::path::Path>) -> Option<String> {
    let text = |key: &str| item.get(key).and_then(Value::as_str);
    match text("type")? {
        "command_execution" if kind != "item.completed" => Some(format!("running: {}", shell_body(text("command")?))),
        "file_change" => {
            let path = std::path::Path::new(item.get("changes")?.as_array()?.first()?.get("path")?.as_str()?);
            let shown = root.and_then(|r| path.strip_prefix(r).ok()).unwrap_or(path);
            Some(format!("editing {}", shown.display()))
        }
        "reasoning" => Some("thinking".into()),
        "agent_message" => Some("writing the answer".into()),
        "web_search" => Some("searching the web".into()),
        "mcp_tool_call" => Some(format!("calling {}.{}", text("server")?, text("tool")?)),
        "todo_list" => Some("planning".into()),
        _ => None,
    }
}

/// `/bin/bash -lc 'cargo test'` → `cargo test`: the wrapper says nothing about the work.
fn shell_body(command: &str) -> &str {
    for flag in [" -lc ", " -c "] {
        if let Some((shell, body)) = command.split_once(flag)
            && !shell.contains(' ')
            && shell.ends_with("sh")
        {
            let body = body.trim();
            return body
                .strip_prefix('\'')
                .and_then(|b| b.strip_suffix('\''))
                .or_else(|| body.strip_prefix('"').and_then(|b| b.strip_suffix('"')))
                .unwrap_or(body);
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(lines: &[&str]) -> Stream {
        let mut stream = Stream { root: Some("/r".into()), ..Stream::default() };
        for line in lines {
            stream.observe(line.as_bytes());
        }
        stream
    }

    #[test]
    fn reads_session_usage_and_completion() {
        let s = stream(&[
            r#"{"type":"thread.started","thread_id":"0199a"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"hi"}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":120,"cached_input_tokens":20,"output_tokens":7,"reasoning_output_tokens":3}}"#,
        ]);
        assert_eq!(s.session_id.as_deref(), Some("0199a"));
        assert!(s.turn_completed && !s.turn_failed);
        let usage = s.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.cached_input_tokens, usage.output_tokens), (120, 20, 7));
        assert_eq!(usage.total_tokens, 127);
        assert_eq!(s.events_seen, 4);
    }

    #[test]
    fn a_failure_event_cut_by_the_line_bound_keeps_the_start_of_its_message() {
        let secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
        let cut = format!(r#"{{"type":"turn.failed","error":{{"message":"bad \"input\" {secret} {}"#, "x".repeat(5000));
        let s = stream(&[&cut]);
        assert!(s.turn_failed && s.garbage_lines == 0, "{s:?}");
        let message = s.error_message.unwrap();
        assert!(message.starts_with("bad \"input\" ") && message.ends_with("…[truncated]"), "{message}");
        assert!(!message.contains(secret) && message.chars().count() <= ERROR_CHARS, "{message}");
        let other = stream(&[r#"{"type":"item.completed","item":{"message":"cut"#]);
        assert!(other.error_message.is_none() && other.garbage_lines == 1);
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let s = stream(&["not json", "[1,2]", "{broken", r#"{"type":"turn.started"}"#, ""]);
        assert_eq!((s.garbage_lines, s.events_seen), (3, 1));
        assert_eq!(s.activity.as_deref(), Some("thinking"));
    }

    #[test]
    fn failure_message_prefers_turn_failed_and_unwraps_json_bodies() {
        let s = stream(&[
            r#"{"type":"error","message":"Reconnecting... 1/5"}"#,
            r#"{"type":"turn.failed","error":{"message":"{\"error\":{\"message\":\"bad request\"}}"}}"#,
        ]);
        assert!(s.turn_failed);
        assert_eq!(s.error_message.as_deref(), Some("bad request"));
    }

    #[test]
    fn error_text_is_sanitised_and_redacted() {
        let s = stream(&[
            r#"{"type":"turn.failed","error":{"message":"\u001b[31mbad key sk-proj-abcdefghijklmnopqrstuvwxyz012345\u001b[0m"}}"#,
        ]);
        let message = s.error_message.unwrap();
        assert!(!message.contains("sk-proj-abc") && !message.contains('\u{1b}'), "{message}");
    }

    #[test]
    fn activity_says_what_codex_is_doing() {
        let cases = [
            (
                r#"{"type":"item.started","item":{"type":"command_execution","command":"/bin/bash -lc 'cargo test'","status":"in_progress"}}"#,
                "running: cargo test",
            ),
            (
                r#"{"type":"item.completed","item":{"type":"file_change","changes":[{"path":"/r/src/lib.rs","kind":"update"}]}}"#,
                "editing src/lib.rs",
            ),
            (r#"{"type":"item.completed","item":{"type":"reasoning","text":"..."}}"#, "thinking"),
            (r#"{"type":"item.completed","item":{"type":"agent_message","text":"..."}}"#, "writing the answer"),
        ];
        for (line, want) in cases {
            assert_eq!(stream(&[line]).activity.as_deref(), Some(want), "{line}");
        }
    }

    fn command(output: &str, status: &str) -> String {
        let item = serde_json::json!({"type": "command_execution", "command": "/bin/bash -c x", "aggregated_output": output, "exit_code": 0, "status": status});
        serde_json::json!({"type": "item.completed", "item": item}).to_string()
    }

    #[test]
    fn sandbox_refusals_are_told_from_ordinary_output() {
        let refused = [
            "next\n/bin/bash: line 1: probe.txt: Read-only file system\n",
            "/bin/bash: socket: Operation not permitted\nnext\n",
            "bwrap: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)\n",
            "Error: Permission denied (os error 13)\n",
            "PermissionError: [Errno 1] Operation not permitted\n",
        ];
        for output in refused {
            assert!(shows_denial(output), "{output}");
        }
        let ordinary = [
            "hello\n",
            "src/a.rs:3:    return Err(\"Permission denied\".into());\n",
            "ls: cannot access 'x': No such file or directory\n",
            "warning: Operation not permitted here is fine, says the docs.\n",
            "",
        ];
        for output in ordinary {
            assert!(!shows_denial(output), "{output}");
        }
    }

    #[test]
    fn mostly_refused_commands_make_a_blind_run() {
        let ok = command("hello\n", "completed");
        let write = command("next\n/bin/bash: line 1: f: Read-only file system\n", "completed");
        let declined = command("", "declined");
        let started =
            r#"{"type":"item.started","item":{"type":"command_execution","command":"x","status":"in_progress"}}"#;
        let blind = stream(&[started, &ok, &write, &declined]);
        assert_eq!((blind.commands_finished, blind.commands_denied), (3, 2));
        let reason = blind.sandbox_blindness().unwrap();
        assert!(reason.contains("refused 2 of the 3 commands"), "{reason}");
        let half = stream(&[&ok, &write]);
        assert_eq!(half.sandbox_blindness(), None, "half is not most");
        assert_eq!(stream(&[]).sandbox_blindness(), None, "no commands, nothing refused");
        assert_eq!(stream(&[&ok, &ok]).sandbox_blindness(), None);
    }
}
