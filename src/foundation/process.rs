//! The one process runner used for every child process (`git`, `codex`, the job launcher), plus
//! `spawn_detached` for the background worker, the one child meant to outlive us.
//!
//! Guarantees, each one a lesson of the original project (docs/lessons.md §5 items 5–6):
//! - the program is resolved up front, so a missing binary is a clean `RunError::NotFound`;
//! - the child runs in its own process group, so a timeout or cancel kills the whole group and a
//!   grandchild holding the pipes cannot stall us; stragglers are killed after a normal exit too;
//! - the child gets `PR_SET_PDEATHSIG`, so it dies with the server;
//! - stdin is `/dev/null`, or fed from a thread and then closed (codex waits forever on an open
//!   stdin pipe), or fed message by message from a channel and closed when its senders are gone
//!   (a conversation such as `codex app-server`, still bounded by the same timeout);
//! - stdout and stderr are drained on threads into capped buffers that keep a head and a tail
//!   window, so memory is bounded and the final events of a long stream survive;
//! - optionally, a child whose stdout stays silent too long is stopped like a timeout
//!   (`quiet_limit`): a hung child is told apart from a slow one that keeps talking.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt as _;

use crate::foundation::cancel::CancelToken;

/// How often a waiting runner checks its cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(25);
/// How long to wait for the drain threads after the group was killed. Only a process that left
/// our process group (setsid) could hold a pipe longer; we then return what was captured.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The environment a child sees.
#[derive(Debug, Clone)]
pub enum Env {
    /// The server's environment minus every `GIT_*` variable, which could point a child at
    /// another repository or config.
    InheritWithoutGit,
    /// Exactly these variables (PATH is added from the server's own when not given).
    Only(Vec<(String, String)>),
}

pub struct Cmd {
    program: String,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Env,
    stdin: Option<Vec<u8>>,
    stdin_feed: Option<mpsc::Receiver<Vec<u8>>>,
    timeout: Duration,
    cancel: Option<CancelToken>,
    stdout_cap: usize,
    stderr_cap: usize,
    stdout_window: Window,
    stdout_lines: Option<LineObserver>,
    quiet_limit: Option<Duration>,
}

/// Called with each complete stdout line (without the newline) as it arrives, on the drain
/// thread. Lines longer than `MAX_OBSERVED_LINE` are passed cut to that length.
pub type LineObserver = Box<dyn FnMut(&[u8]) + Send>;

/// Longest line handed to a `LineObserver`; the rest of the line is skipped.
const MAX_OBSERVED_LINE: usize = 256 * 1024;

/// Which part of an over-long output is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Half the cap from the start and half from the end: the last events of a codex stream
    /// (usage, errors) matter as much as the first.
    HeadAndTail,
    /// The whole cap from the start: a diff is read front to back and cut at the limit.
    Head,
}

impl Cmd {
    pub fn new(program: &str) -> Cmd {
        Cmd {
            program: program.to_string(),
            args: Vec::new(),
            cwd: None,
            env: Env::InheritWithoutGit,
            stdin: None,
            stdin_feed: None,
            timeout: Duration::from_secs(60),
            cancel: None,
            stdout_cap: 1024 * 1024,
            stderr_cap: 256 * 1024,
            stdout_window: Window::HeadAndTail,
            stdout_lines: None,
            quiet_limit: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Cmd {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Cmd {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    pub fn env(mut self, env: Env) -> Cmd {
        self.env = env;
        self
    }

    pub fn stdin(mut self, bytes: Vec<u8>) -> Cmd {
        self.stdin = Some(bytes);
        self
    }

    /// Writes each message received on `feed` to stdin as it comes, and closes stdin once every
    /// sender is dropped: how a caller holds a conversation with the child.
    pub fn stdin_feed(mut self, feed: mpsc::Receiver<Vec<u8>>) -> Cmd {
        self.stdin_feed = Some(feed);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    pub fn cancel(mut self, token: &CancelToken) -> Cmd {
        self.cancel = Some(token.clone());
        self
    }

    pub fn capture_caps(mut self, stdout: usize, stderr: usize) -> Cmd {
        self.stdout_cap = stdout;
        self.stderr_cap = stderr;
        self
    }

    /// Keeps the first `cap` bytes of stdout instead of a head and a tail window.
    pub fn stdout_head(mut self, cap: usize) -> Cmd {
        self.stdout_cap = cap;
        self.stdout_window = Window::Head;
        self
    }

    /// Streams stdout lines to `observer` while the child runs (progress reporting).
    pub fn on_stdout_line(mut self, observer: LineObserver) -> Cmd {
        self.stdout_lines = Some(observer);
        self
    }

    /// Stops the child (as `Output::stalled`) once its stdout has been silent for `limit`.
    pub fn quiet_limit(mut self, limit: Duration) -> Cmd {
        self.quiet_limit = Some(limit);
        self
    }

    /// Runs the command to completion, timeout, stall or cancellation.
    pub fn run(self) -> Result<Output, RunError> {
        let program = resolve_program(&self.program, &self.env)
            .ok_or_else(|| RunError::NotFound { program: self.program.clone() })?;
        #[allow(clippy::disallowed_methods)] // This is the one place children are created.
        let mut command = std::process::Command::new(&program);
        command
            .args(&self.args)
            .stdin(if self.stdin.is_some() || self.stdin_feed.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        match &self.env {
            Env::InheritWithoutGit => {
                for (key, _) in std::env::vars_os() {
                    if key.to_string_lossy().starts_with("GIT_") {
                        command.env_remove(key);
                    }
                }
            }
            Env::Only(vars) => {
                command.env_clear();
                if !vars.iter().any(|(k, _)| k == "PATH") {
                    command.env("PATH", server_path());
                }
                command.envs(vars.iter().map(|(k, v)| (k, v)));
            }
        }
        crate::foundation::sys::die_with_parent(&mut command);

        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => RunError::NotFound { program: self.program.clone() },
            _ => RunError::Spawn { program: self.program.clone(), source },
        })?;
        let pgid = child.id() as i32;
        crate::log_debug!("spawned {} (pgid {pgid}) {:?}", self.program, self.args);

        // From here on every path must kill the group and reap the child, so the guard owns it.
        let mut guard = GroupGuard { child: Some(&mut child), pgid };
        match (self.stdin, self.stdin_feed, guard.child().stdin.take()) {
            (Some(bytes), _, Some(mut pipe)) => {
                std::thread::spawn(move || {
                    // EPIPE just means the child did not want all of it.
                    let _ = pipe.write_all(&bytes);
                });
            }
            (None, Some(feed), Some(mut pipe)) => {
                std::thread::spawn(move || {
                    for message in feed {
                        if pipe.write_all(&message).and_then(|()| pipe.flush()).is_err() {
                            return;
                        }
                    }
                });
            }
            _ => {}
        }
        let (done_tx, done_rx) = mpsc::channel();
        let stdout_capture = Captured::new(self.stdout_cap, self.stdout_window);
        let heard = Arc::new(Mutex::new(Instant::now()));
        let stdout = drain(
            guard.child().stdout.take(),
            stdout_capture,
            self.stdout_lines,
            Some(Arc::clone(&heard)),
            done_tx.clone(),
        );
        let stderr_capture = Captured::new(self.stderr_cap, Window::HeadAndTail);
        let stderr = drain(guard.child().stderr.take(), stderr_capture, None, None, done_tx);
        let silent_for = || heard.lock().unwrap_or_else(|e| e.into_inner()).elapsed();

        let mut outcome = Outcome::Exited;
        let deadline = started + self.timeout;
        let status = loop {
            let now = Instant::now();
            if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
                outcome = Outcome::Cancelled;
                break guard.kill_and_reap();
            }
            if now >= deadline {
                outcome = Outcome::TimedOut;
                break guard.kill_and_reap();
            }
            if self.quiet_limit.is_some_and(|limit| silent_for() >= limit) {
                outcome = Outcome::Stalled;
                break guard.kill_and_reap();
            }
            match guard.child().wait_timeout(CANCEL_POLL.min(deadline - now)) {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(err) => {
                    crate::log_warn!("waiting for {} failed: {err}", self.program);
                    break guard.kill_and_reap();
                }
            }
        };
        guard.finish();
        let elapsed = started.elapsed();

        // Both drain threads signal when their pipe closes; after the group kill that is
        // immediate unless something escaped the group.
        let drain_deadline = Instant::now() + DRAIN_GRACE;
        for _ in 0..2 {
            let left = drain_deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                crate::log_warn!("{} left a process holding its output pipes; output may be incomplete", self.program);
                break;
            }
        }
        let take = |buf: &Arc<Mutex<Captured>>| std::mem::take(&mut *buf.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(Output {
            exit_code: status.and_then(|s| s.code()),
            stdout: take(&stdout),
            stderr: take(&stderr),
            timed_out: outcome == Outcome::TimedOut,
            cancelled: outcome == Outcome::Cancelled,
            stalled: outcome == Outcome::Stalled,
            elapsed,
        })
    }
}

#[derive(PartialEq)]
enum Outcome {
    Exited,
    TimedOut,
    Cancelled,
    Stalled,
}

/// Kills the child's process group and reaps the child on every exit path, panics included.
struct GroupGuard<'a> {
    child: Option<&'a mut Child>,
    pgid: i32,
}

impl GroupGuard<'_> {
    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("child present until finish")
    }

    fn kill_and_reap(&mut self) -> Option<std::process::ExitStatus> {
        crate::foundation::sys::kill_group(self.pgid);
        self.child().wait().ok()
    }

    /// After the leader exited: kill whatever it left behind in its group. The group id cannot
    /// have been reused while any member is alive, and a reaped leader's pid is not reallocated
    /// within microseconds, so this cannot hit an unrelated process.
    fn finish(&mut self) {
        crate::foundation::sys::kill_group(self.pgid);
        self.child = None;
    }
}

impl Drop for GroupGuard<'_> {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            crate::foundation::sys::kill_group(self.pgid);
            let _ = child.wait();
        }
    }
}

fn drain<R: Read + Send + 'static>(
    pipe: Option<R>,
    capture: Captured,
    mut observer: Option<LineObserver>,
    heard: Option<Arc<Mutex<Instant>>>,
    done: mpsc::Sender<()>,
) -> Arc<Mutex<Captured>> {
    let buffer = Arc::new(Mutex::new(capture));
    let shared = Arc::clone(&buffer);
    std::thread::spawn(move || {
        if let Some(mut pipe) = pipe {
            let mut chunk = [0u8; 16 * 1024];
            let mut lines = LineSplitter::default();
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                shared.lock().unwrap_or_else(|e| e.into_inner()).push(&chunk[..n]);
                if let Some(heard) = &heard {
                    *heard.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                }
                if let Some(observe) = observer.as_mut() {
                    lines.feed(&chunk[..n], observe);
                }
            }
            if let Some(observe) = observer.as_mut() {
                lines.finish(observe);
            }
        }
        let _ = done.send(());
    });
    buffer
}

/// Splits a byte stream into lines for a `LineObserver`, holding at most `MAX_OBSERVED_LINE`
/// bytes of an unfinished line.
#[derive(Default)]
struct LineSplitter {
    partial: Vec<u8>,
    overlong: bool,
}

impl LineSplitter {
    fn feed(&mut self, mut bytes: &[u8], observe: &mut LineObserver) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.append(&bytes[..end]);
            observe(&self.partial);
            self.partial.clear();
            self.overlong = false;
            bytes = &bytes[end + 1..];
        }
        self.append(bytes);
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = MAX_OBSERVED_LINE.saturating_sub(self.partial.len());
        self.overlong |= bytes.len() > room;
        self.partial.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    fn finish(&mut self, observe: &mut LineObserver) {
        if !self.partial.is_empty() {
            observe(&self.partial);
        }
    }
}

/// The result of a run that started.
#[derive(Debug)]
pub struct Output {
    /// `None` when the child was killed by a signal (timeout, cancel, crash).
    pub exit_code: Option<i32>,
    pub stdout: Captured,
    pub stderr: Captured,
    pub timed_out: bool,
    pub cancelled: bool,
    /// Stopped because its stdout was silent past the `quiet_limit`.
    pub stalled: bool,
    pub elapsed: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.cancelled && !self.stalled
    }
}

#[derive(Debug)]
pub enum RunError {
    /// The program is not on PATH (or the given path does not exist / is not executable).
    NotFound { program: String },
    /// It exists but could not be started.
    Spawn { program: String, source: std::io::Error },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotFound { program } => write!(f, "{program}: not found on PATH"),
            RunError::Spawn { program, source } => write!(f, "{program}: cannot start: {source}"),
        }
    }
}

/// Captured output bounded to `cap` bytes: with `Window::HeadAndTail` the first half and the last
/// half are kept, with `Window::Head` the first `cap` bytes; what is dropped is counted.
#[derive(Debug, Default)]
pub struct Captured {
    cap: usize,
    head_cap: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Captured {
    fn new(cap: usize, window: Window) -> Captured {
        let head_cap = match window {
            Window::HeadAndTail => cap / 2,
            Window::Head => cap,
        };
        Captured { cap, head_cap, ..Captured::default() }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_room = self.head_cap.saturating_sub(self.head.len());
        let into_head = head_room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        let tail_cap = self.cap - self.head_cap;
        if bytes.is_empty() || tail_cap == 0 {
            return;
        }
        if bytes.len() >= tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - tail_cap..]);
        } else {
            let overflow = (self.tail.len() + bytes.len()).saturating_sub(tail_cap);
            self.tail.drain(..overflow);
            self.tail.extend(bytes);
        }
    }

    /// Whether bytes were dropped between head and tail (or after the head).
    pub fn truncated(&self) -> bool {
        self.total > (self.head.len() + self.tail.len()) as u64
    }

    /// Head and tail joined with a newline, so a line-oriented reader resynchronises at the cut.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        if self.truncated() && !self.tail.is_empty() {
            out.push(b'\n');
        }
        out.extend(self.tail.iter());
        out
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

/// Whether `program` would be found by a child run with the server's environment.
pub fn on_path(program: &str) -> bool {
    locate(program).is_some()
}

/// The file a child run with the server's environment would execute for `program`.
pub fn locate(program: &str) -> Option<PathBuf> {
    resolve_program(program, &Env::InheritWithoutGit)
}

/// Starts `program` in a new session with stdin from `/dev/null` and stdout and stderr appended
/// to `log`, and does not wait for it. Only the background-job launcher uses this: the child is
/// meant to outlive its parent (no parent-death signal, no group kill).
pub fn spawn_detached(program: &Path, args: &[OsString], log: std::fs::File) -> Result<Child, RunError> {
    let stderr =
        log.try_clone().map_err(|source| RunError::Spawn { program: program.display().to_string(), source })?;
    #[allow(clippy::disallowed_methods)] // The one detached child; see the doc comment.
    let mut command = std::process::Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(log).stderr(stderr);
    crate::foundation::sys::new_session(&mut command);
    command.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => RunError::NotFound { program: program.display().to_string() },
        _ => RunError::Spawn { program: program.display().to_string(), source },
    })
}

fn server_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_string())
}

/// Resolves `program` the way `execvp` would, using the PATH the child will see.
fn resolve_program(program: &str, env: &Env) -> Option<PathBuf> {
    let is_executable = |path: &Path| {
        use std::os::unix::fs::PermissionsExt as _;
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    let path_var = match env {
        Env::Only(vars) => vars.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone()),
        Env::InheritWithoutGit => None,
    }
    .unwrap_or_else(server_path);
    std::env::split_paths(&path_var).map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Cmd {
        Cmd::new("sh").arg("-c").arg(script)
    }

    #[test]
    fn captures_exit_code_stdout_and_stderr() {
        let out = sh("echo out; echo err >&2; exit 3").run().unwrap();
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.stdout.text(), "out\n");
        assert_eq!(out.stderr.text(), "err\n");
        assert!(!out.success());
    }

    #[test]
    fn feeds_stdin_then_closes_it() {
        let out = sh("cat").stdin(b"prompt".to_vec()).run().unwrap();
        assert_eq!(out.stdout.text(), "prompt");
    }

    #[test]
    fn a_fed_stdin_carries_a_conversation_and_closes_with_its_senders() {
        // The child answers each line it reads; the observer replies to "ping" once, then hangs
        // up, and the child sees end of input.
        let (feed, from_us) = mpsc::channel::<Vec<u8>>();
        feed.send(b"ping\n".to_vec()).unwrap();
        let mut sender = Some(feed);
        let observer: LineObserver = Box::new(move |line| {
            if line == b"got ping" {
                let _ = sender.as_ref().map(|s| s.send(b"bye\n".to_vec()));
            } else if line == b"got bye" {
                sender = None;
            }
        });
        let script = "while read -r l; do echo \"got $l\"; done; echo eof";
        let out =
            sh(script).stdin_feed(from_us).on_stdout_line(observer).timeout(Duration::from_secs(10)).run().unwrap();
        assert!(out.success(), "{out:?}");
        assert_eq!(out.stdout.text(), "got ping\ngot bye\neof\n");
    }

    #[test]
    fn missing_program_is_not_found() {
        assert!(matches!(Cmd::new("no-such-program-xyz").run(), Err(RunError::NotFound { .. })));
        assert!(matches!(Cmd::new("/nonexistent/bin/x").run(), Err(RunError::NotFound { .. })));
    }

    #[test]
    fn timeout_kills_a_grandchild_holding_the_pipes() {
        let started = Instant::now();
        let out = sh("sleep 30 & echo started; sleep 30").timeout(Duration::from_millis(300)).run().unwrap();
        assert!(out.timed_out);
        assert_eq!(out.stdout.text(), "started\n");
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }

    #[test]
    fn a_silent_child_is_stopped_as_stalled_and_a_talking_one_is_not() {
        let silent =
            sh("echo started; sleep 30").quiet_limit(Duration::from_millis(300)).timeout(Duration::from_secs(20));
        let out = silent.run().unwrap();
        assert!(out.stalled && !out.timed_out && !out.success(), "{out:?}");
        assert!(out.elapsed < Duration::from_secs(5));
        let talking = sh("for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.1; done")
            .quiet_limit(Duration::from_millis(600))
            .run()
            .unwrap();
        assert!(!talking.stalled && talking.success(), "{talking:?}");
    }

    #[test]
    fn cancel_stops_the_run_promptly() {
        let token = CancelToken::new();
        let canceller = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            canceller.cancel();
        });
        let started = Instant::now();
        let out = sh("sleep 30").cancel(&token).run().unwrap();
        assert!(out.cancelled && !out.timed_out);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn stragglers_left_after_a_normal_exit_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 30 >/dev/null 2>&1 & echo $! > {}", pidfile.display());
        assert!(sh(&script).run().unwrap().success());
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The straggler was SIGKILLed; give the kernel a moment to tear it down.
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
        });
        assert!(gone, "straggler {pid} still alive");
    }

    #[test]
    fn huge_output_is_capped_keeping_head_and_tail() {
        let out = sh("echo FIRST; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo LAST")
            .capture_caps(1000, 1000)
            .run()
            .unwrap();
        assert!(out.stdout.truncated());
        let text = out.stdout.text();
        assert!(text.len() <= 1001);
        assert!(text.starts_with("FIRST\n") && text.ends_with("LAST\n"));
    }

    #[test]
    fn only_env_replaces_the_environment() {
        let out = sh("echo \"$FOO|$HOME\"").env(Env::Only(vec![("FOO".into(), "bar".into())])).run().unwrap();
        assert_eq!(out.stdout.text(), "bar|\n");
    }

    #[test]
    fn captured_keeps_exact_windows() {
        let mut c = Captured::new(6, Window::HeadAndTail);
        for chunk in [&b"abc"[..], b"defg", b"hij"] {
            c.push(chunk);
        }
        assert_eq!(c.bytes(), b"abc\nhij");
        assert_eq!(c.total, 10);
        let mut head = Captured::new(6, Window::Head);
        for chunk in [&b"abc"[..], b"defg", b"hij"] {
            head.push(chunk);
        }
        assert_eq!(head.bytes(), b"abcdef");
        assert!(head.truncated() && head.total == 10);
    }

    #[test]
    fn stdout_lines_are_observed_as_they_arrive() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let observer: LineObserver = Box::new(move |line| sink.lock().unwrap().push(line.to_vec()));
        let out = sh("printf 'one\\ntwo\\n'; printf three").on_stdout_line(observer).run().unwrap();
        assert!(out.success());
        assert_eq!(*seen.lock().unwrap(), vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
    }
}
