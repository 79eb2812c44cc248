//! A raw JSON-RPC client for the server under test: spawns the built binary with a sanitised
//! environment, writes lines to its stdin and reads its stdout line by line, failing the test on
//! anything on stdout that is not a JSON object (stdout must carry protocol messages only).
//! `make bench` drives its servers through the same client (benches/bench.rs includes this file),
//! the original Python server among them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_codex-in-claude"))
}

/// The fake codex (fault injection only): a directory to put first on PATH.
/// The fake codex is steered by `FAKE_CODEX_*` variables, which the server hands to codex only
/// when told to (`CODEX_IN_CLAUDE_ENV_PASSTHROUGH`); set before a test's own variables, so a
/// test that sets the passthrough itself wins.
const FAKE_CODEX_CONTROLS: (&str, &str) = ("CODEX_IN_CLAUDE_ENV_PASSTHROUGH", "FAKE_CODEX_*");

/// The passthrough a server started with `env` needs: the fake codex's controls when `env`
/// steers the fake, nothing otherwise (a real-codex server runs with the product's defaults).
pub fn fake_codex_controls(env: &[(String, String)]) -> Option<(&'static str, &'static str)> {
    env.iter().any(|(key, _)| key.starts_with("FAKE_CODEX_")).then_some(FAKE_CODEX_CONTROLS)
}

pub fn fake_codex_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake-codex")
}

/// A PATH with `dir` first and the system directories after it (for git, sh, sleep).
pub fn path_with(dir: &Path) -> String {
    format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display())
}

/// A PATH on which no codex can be found.
pub fn path_without_codex() -> String {
    "/usr/local/bin:/usr/bin:/bin".to_string()
}

pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Messages read while waiting for something else, in arrival order.
    backlog: Vec<Value>,
    /// The server's HOME, removed when the server is dropped.
    _home: tempfile::TempDir,
    /// How long [`Server::wait_for`] waits; [`TIMEOUT`] unless [`Server::with_timeout`] says.
    timeout: Duration,
    /// Whether requests the server makes of the client are answered as they arrive.
    answer_requests: bool,
    /// The last id [`Server::fresh_id`] handed out.
    issued: u64,
}

impl Server {
    /// Starts the server with only `env` (plus HOME, a temp dir, and a default PATH).
    pub fn start(env: &[(String, String)]) -> Server {
        Server::start_in(env, None)
    }

    pub fn start_in(env: &[(String, String)], cwd: Option<&Path>) -> Server {
        Server::launch(&binary(), env, cwd)
    }

    fn launch(program: &Path, env: &[(String, String)], cwd: Option<&Path>) -> Server {
        let home = tempfile::tempdir().unwrap();
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", path_without_codex())
            .envs(fake_codex_controls(env))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Server {
            stdin: child.stdin.take(),
            child,
            lines,
            backlog: Vec::new(),
            _home: home,
            timeout: TIMEOUT,
            answer_requests: false,
            issued: 0,
        }
    }

    pub fn send(&mut self, message: Value) {
        self.send_raw(format!("{message}\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// The next message from the server, or `None` after `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<Value> {
        if !self.backlog.is_empty() {
            return Some(self.backlog.remove(0));
        }
        self.read_line(timeout)
    }

    fn read_line(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let line = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()?;
            let value: Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("stdout line is not JSON: {line:?}"));
            assert!(value.is_object(), "stdout line is not a JSON object: {line}");
            assert_eq!(value["jsonrpc"], json!("2.0"), "{line}");
            match (self.answer_requests, value.get("method"), value.get("id")) {
                (true, Some(method), Some(id)) => {
                    let reply = if method == "roots/list" {
                        json!({"jsonrpc": "2.0", "id": id, "result": {"roots": []}})
                    } else {
                        json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "not supported"}})
                    };
                    self.send(reply);
                }
                _ => return Some(value),
            }
        }
    }

    /// Waits for the message matching `want`, keeping others in the backlog.
    pub fn wait_for(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.backlog.iter().position(&want) {
            return self.backlog.remove(pos);
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self.read_line(left).unwrap_or_else(|| panic!("timed out waiting for {what}"));
            if want(&message) {
                return message;
            }
            self.backlog.push(message);
        }
    }

    /// Waits for the response to request `id`.
    pub fn response(&mut self, id: Value) -> Value {
        let what = format!("the response to id {id}");
        self.wait_for(&what, |m| m.get("id") == Some(&id) && m.get("method").is_none())
    }

    pub fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(id)
    }

    /// The legacy handshake, declaring `capabilities`; returns the initialize result.
    pub fn initialize(&mut self, capabilities: Value) -> Value {
        let params = json!({
            "protocolVersion": "2025-11-25",
            "capabilities": capabilities,
            "clientInfo": {"name": "raw-test", "version": "0"}
        });
        let response = self.request(json!("init"), "initialize", params);
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        response["result"].clone()
    }

    /// A legacy `tools/call`; returns the whole `CallToolResult`.
    pub fn call(&mut self, id: impl Into<Value>, tool: &str, arguments: Value) -> Value {
        let params = json!({"name": tool, "arguments": arguments});
        let response = self.request(id.into(), "tools/call", params);
        response.get("result").cloned().unwrap_or_else(|| panic!("no result: {response}"))
    }

    /// The server's process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The server's peak resident set so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmHWM")
    }

    /// Every message with `method` that has arrived so far (backlog first), without waiting.
    pub fn drain_notifications(&mut self, method: &str) -> Vec<Value> {
        while let Some(message) = self.read_line(Duration::from_millis(50)) {
            self.backlog.push(message);
        }
        let (matching, rest): (Vec<Value>, Vec<Value>) =
            std::mem::take(&mut self.backlog).into_iter().partition(|m| m["method"] == json!(method));
        self.backlog = rest;
        matching
    }

    /// Asserts that nothing arrives for `quiet`.
    pub fn expect_silence(&mut self, quiet: Duration) {
        assert!(self.backlog.is_empty(), "unexpected backlog: {:?}", self.backlog);
        if let Some(message) = self.read_line(quiet) {
            panic!("expected no message, got {message}");
        }
    }

    /// SIGKILLs the server (no chance to clean up) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Closes stdin and waits for the process to exit.
    pub fn close(&mut self) -> ExitStatus {
        self.stdin = None;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit after stdin closed");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

// What only `make bench` needs: the integration tests start our binary alone, declare the
// capabilities a test is about, and pick their ids; compiled into both, so unused in one.
#[allow(dead_code)]
impl Server {
    /// Starts another MCP server over stdio the same way (the bench's original Python server).
    pub fn start_program(program: &Path, env: &[(String, String)]) -> Server {
        Server::launch(program, env, None)
    }

    /// Waits up to `timeout` for each awaited message instead of [`TIMEOUT`] (the bench's long
    /// runs on a shared machine).
    pub fn with_timeout(mut self, timeout: Duration) -> Server {
        self.timeout = timeout;
        self
    }

    /// Answers the server's own requests as they arrive, as a client without roots would:
    /// `roots/list` with no roots, anything else "method not found". For a server that blocks on
    /// them (the original Python server asks `roots/list` on every call); they never reach the
    /// caller.
    pub fn answering_requests(mut self) -> Server {
        self.answer_requests = true;
        self
    }

    /// A request id no test picks by hand, never the same twice on this connection: for callers
    /// that make many requests and do not care which id each has (the bench).
    pub fn fresh_id(&mut self) -> Value {
        self.issued += 1;
        json!(format!("auto-{}", self.issued))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks an envelope's shape: `isError` mirrors `ok`, and the text block holds the same JSON.
pub fn envelope(result: &Value) -> Value {
    let structured = result["structuredContent"].clone();
    assert_eq!(result["isError"], json!(structured["ok"] != json!(true)), "{result}");
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, structured);
    structured
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// `/proc/<pid>` gone or a zombie.
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Live (non-zombie) processes other than `except` whose environment has `key=value`: a unique
/// `CODEX_HOME` finds every codex process a test started, wherever it was reparented.
pub fn live_pids_with_env(key: &str, value: &Path, except: i32) -> Vec<i32> {
    let needle = format!("{key}={}", value.display()).into_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != except && !process_gone(pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|environ| environ.split(|&b| b == 0).any(|var| var == needle.as_slice()))
        })
        .collect()
}
