//! `make release`'s artifacts, built once per test run by `scripts/release.sh` into the test
//! target directory (the aarch64 build is the slow part, so every test here shares it): static
//! binaries for both Linux targets with matching `SHA256SUMS`, the aarch64 one answering
//! `--version` and serving `tools/list` under qemu-user, and a source-independent plugin archive
//! that the real Claude Code installs from a local marketplace, offline: its launcher fetches the
//! binary from a loopback server, verifies it, and Claude Code's `-p` session calls
//! `codex_status` through it against a loopback mock of the model API; a tampered binary on the
//! server is refused.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::launcher::{FileServer, sha256_hex};
use crate::plugin::{LAUNCHER_TOOLS, assert_serves, claude, handshake_with, repo, tool_dir, validate};

const NAME: &str = "codex-in-claude";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const TARGETS: &[&str] = &["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"];
/// The plugin's MCP server as Claude Code names it, and its status tool as the model calls it.
const SERVER: &str = "plugin:codex-in-claude:codex-in-claude";
const STATUS_TOOL: &str = "mcp__plugin_codex-in-claude_codex-in-claude__codex_status";
/// The setup slash command as the user types it.
const SETUP_COMMAND: &str = "/codex-in-claude:codex:setup";

/// `scripts/release.sh VERSION` into the test target directory, once per run; the source tree's
/// `plugin/bin/SHA256SUMS` is left alone (`RELEASE_PLUGIN_SUMS=0`) and nothing is downloaded
/// (`RELEASE_OFFLINE=1`).
fn release() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let dist = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("release-dist");
        let _ = std::fs::remove_dir_all(&dist);
        let out = Command::new(repo().join("scripts/release.sh"))
            .arg(VERSION)
            .env("DIST", &dist)
            .env("RELEASE_PLUGIN_SUMS", "0")
            .env("RELEASE_OFFLINE", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/release.sh failed (make test-deps installs the targets and qemu-user): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dist
    })
}

/// `<hex>  <name>` lines as a map from name to hex (comment lines skipped).
fn sums(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (hex, name) = l.split_once("  ").unwrap_or_else(|| panic!("not a sum line: {l:?}"));
            (name.to_string(), hex.to_string())
        })
        .collect()
}

/// The plugin archive unpacked into a fresh directory: the marketplace root.
fn unpacked_archive() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let archive = release().join(format!("{NAME}-plugin-{VERSION}.tar.gz"));
    let status = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(dir.path()).status().unwrap();
    assert!(status.success(), "tar -xzf {}", archive.display());
    let root = dir.path().join(NAME);
    (dir, root)
}

#[test]
fn release_has_static_binaries_their_sums_and_a_plugin_archive_pinning_them() {
    let dist = release();
    let listed = sums(&std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap());
    let archive = format!("{NAME}-plugin-{VERSION}.tar.gz");
    let mut expected: Vec<String> = TARGETS.iter().map(|t| format!("{NAME}-{t}")).collect();
    expected.push(archive.clone());
    expected.sort();
    assert_eq!(listed.keys().cloned().collect::<Vec<_>>(), expected);
    for (name, hex) in &listed {
        assert_eq!(&sha256_hex(&std::fs::read(dist.join(name)).unwrap()), hex, "{name}");
    }

    let (_dir, root) = unpacked_archive();
    let pins = std::fs::read_to_string(root.join("plugin/bin/SHA256SUMS")).unwrap();
    assert_eq!(pins.lines().next(), Some(format!("# version: {VERSION}").as_str()), "{pins}");
    let pinned = sums(&pins);
    assert_eq!(pinned.len(), TARGETS.len(), "{pins}");
    for (name, hex) in &pinned {
        assert_eq!(listed.get(name), Some(hex), "{name} pinned with another sum than the release's");
    }
    // Source-independent: the marketplace and the plugin only, no bundled binary.
    let mut top: Vec<String> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    top.sort();
    assert_eq!(top, [".claude-plugin", "plugin"]);
    let bundled: Vec<_> = std::fs::read_dir(root.join("plugin/bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{NAME}-")))
        .collect();
    assert!(bundled.is_empty(), "{bundled:?}");
    validate(&root);
    validate(&root.join("plugin"));
}

#[test]
fn aarch64_release_binary_answers_and_serves_under_qemu() {
    let qemu = ["/usr/bin/qemu-aarch64-static", "/usr/bin/qemu-aarch64"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("qemu-user is missing: run `make test-deps` (scripts/install-qemu-user.sh)");
    let bin = release().join(format!("{NAME}-aarch64-unknown-linux-musl"));
    let out = Command::new(&qemu).arg(&bin).arg("--version").env_clear().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{NAME} {VERSION}"));

    // The MCP handshake and tools/list, through a wrapper that runs it under qemu.
    let wrapper_dir = tempfile::tempdir().unwrap();
    let wrapper = wrapper_dir.path().join(NAME);
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec '{}' '{}' \"$@\"\n", qemu.display(), bin.display())).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tools = tool_dir(&[]);
    let (init, names) = handshake_with(&wrapper, &tools.path().display().to_string(), &[]);
    assert_serves(&init, &names);
}

/// A loopback mock of the model API (Messages, streamed or not): each turn is answered with the
/// content block a `turn` function picks for the request.
pub(crate) struct MockModel {
    pub(crate) base: String,
}

impl MockModel {
    pub(crate) fn start() -> MockModel {
        MockModel::answering(release_turn)
    }

    pub(crate) fn answering(turn: fn(&Value) -> Value) -> MockModel {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || answer_model(stream, turn));
            }
        });
        MockModel { base }
    }
}

/// The real Claude Code, offline: a throwaway `home` (its config there too), the model API at
/// `messages` (a `MockModel`'s base URL), MCP tools offered up front (no tool search), no
/// telemetry, updates or other traffic, stdin closed. Callers add the arguments, the working
/// directory, `PATH` and what else the session needs.
pub(crate) fn claude_offline(home: &Path, messages: &str) -> Command {
    let mut command = Command::new(claude());
    command
        .env_clear()
        .env("HOME", home)
        .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
        .env("ANTHROPIC_BASE_URL", messages)
        .env("ANTHROPIC_API_KEY", "sk-ant-mock")
        .env("ENABLE_TOOL_SEARCH", "false")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(Stdio::null());
    command
}

/// The release checks' conversations: the first turn of the setup slash command runs
/// `codex-in-claude setup` with the Bash tool, the first turn of any other conversation that
/// offers the codex_status tool asks for it, the turn after a tool result ends with a text; any
/// other request (titles, summaries) gets a short text.
fn release_turn(request: &Value) -> Value {
    let text = request.to_string();
    if text.contains("\"tool_result\"") {
        json!({"type": "text", "text": "codex_status answered through the plugin."})
    } else if text.contains(SETUP_COMMAND) {
        json!({"type": "tool_use", "id": "toolu_setup_1", "name": "Bash",
            "input": {"command": "codex-in-claude setup", "description": "First-run check"}})
    } else if request["tools"].as_array().is_some_and(|t| t.iter().any(|t| t["name"] == json!(STATUS_TOOL))) {
        json!({"type": "tool_use", "id": "toolu_status_1", "name": STATUS_TOOL, "input": {}})
    } else {
        json!({"type": "text", "text": "ok"})
    }
}

fn answer_model(stream: TcpStream, turn: fn(&Value) -> Value) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((key, value)) = header.split_once(':')
            && key.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let block = turn(&request);
    let stop_reason = if block["type"] == json!("tool_use") { "tool_use" } else { "end_turn" };
    let usage = json!({"input_tokens": 10, "output_tokens": 5});
    let mut stream = stream;
    if request["stream"] != json!(true) {
        let message = json!({"id": "msg_mock", "type": "message", "role": "assistant", "model": "mock",
            "content": [block], "stop_reason": stop_reason, "stop_sequence": null, "usage": usage});
        let body = message.to_string();
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    let (start, delta) = if block["type"] == json!("tool_use") {
        let mut start = block.clone();
        start["input"] = json!({});
        (start, json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}))
    } else {
        (json!({"type": "text", "text": ""}), json!({"type": "text_delta", "text": block["text"]}))
    };
    let events = [
        json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant",
            "model": "mock", "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage}}),
        json!({"type": "content_block_start", "index": 0, "content_block": start}),
        json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": 5}}),
        json!({"type": "message_stop"}),
    ];
    let mut sse = String::new();
    for event in events {
        sse.push_str(&format!("event: {}\ndata: {event}\n\n", event["type"].as_str().unwrap()));
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n{sse}"
    );
}

/// A throwaway Claude Code home: HOME and CLAUDE_CONFIG_DIR in a temp directory, so nothing
/// touches this machine's config; PATH with only basic tools and curl (no codex-in-claude, no
/// codex); the release URL pointing at `release_url`; every other network use off.
struct ClaudeHome {
    home: tempfile::TempDir,
    tools: tempfile::TempDir,
    release_url: String,
}

impl ClaudeHome {
    fn new(release_url: &str) -> ClaudeHome {
        let tools = tool_dir(&[LAUNCHER_TOOLS, &["curl", "sh", "bash", "env", "git"]].concat());
        // Claude Code itself, for `codex-in-claude setup`'s registration check.
        std::os::unix::fs::symlink(claude(), tools.path().join("claude")).unwrap();
        ClaudeHome { home: tempfile::tempdir().unwrap(), tools, release_url: release_url.to_string() }
    }

    fn config_dir(&self) -> PathBuf {
        self.home.path().join(".claude")
    }

    fn claude(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        self.command(&claude(), args, extra_env)
    }

    /// `program` with this home's environment, in its project directory.
    fn command(&self, program: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let project = self.home.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        Command::new(program)
            .args(args)
            .current_dir(&project)
            .env_clear()
            .env("HOME", self.home.path())
            .env("CLAUDE_CONFIG_DIR", self.config_dir())
            .env("PATH", self.tools.path())
            .env("CODEX_IN_CLAUDE_RELEASE_URL", &self.release_url)
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn claude_ok(&self, args: &[&str], extra_env: &[(&str, &str)]) -> String {
        let out = self.claude(args, extra_env);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "claude {args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        stdout
    }

    /// `claude plugin marketplace add <root>` and `claude plugin install`, as the README says.
    fn install(&self, market: &Path) {
        self.claude_ok(&["plugin", "marketplace", "add", market.to_str().unwrap()], &[]);
        self.claude_ok(&["plugin", "install", "codex-in-claude@codex-in-claude"], &[]);
    }

    /// The plugin's data directory, where the launcher installs the fetched binary.
    fn data_dir(&self) -> PathBuf {
        self.config_dir().join("plugins/data/codex-in-claude-codex-in-claude")
    }

    fn installed(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.data_dir().join("bin")) else { return Vec::new() };
        entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }
}

/// A `claude -p` session against `model`, its stream-json events.
fn session(claude: &ClaudeHome, model: &MockModel, args: &[&str]) -> (Vec<Value>, String) {
    let mut all = vec!["-p"];
    all.extend_from_slice(args);
    all.extend(["--output-format", "stream-json", "--verbose"]);
    let stream = claude.claude_ok(
        &all,
        &[("ANTHROPIC_BASE_URL", &model.base), ("ANTHROPIC_API_KEY", "sk-ant-mock"), ("ENABLE_TOOL_SEARCH", "false")],
    );
    (stream.lines().filter_map(|l| serde_json::from_str(l).ok()).collect(), stream)
}

/// The result Claude Code handed back to the model for the tool use `id`.
pub(crate) fn result_of(events: &[Value], id: &str, stream: &str) -> Value {
    events
        .iter()
        .filter(|e| e["type"] == json!("user"))
        .flat_map(|e| e["message"]["content"].as_array().cloned().unwrap_or_default())
        .find(|c| c["type"] == json!("tool_result") && c["tool_use_id"] == json!(id))
        .unwrap_or_else(|| panic!("no result for {id} in the session: {stream}"))
}

/// The line `claude mcp list` prints for the plugin's server.
fn server_line(listing: &str) -> String {
    listing
        .lines()
        .find(|l| l.starts_with(SERVER))
        .unwrap_or_else(|| panic!("claude mcp list does not show {SERVER}: {listing}"))
        .to_string()
}

#[test]
fn claude_code_installs_the_release_plugin_which_fetches_verifies_and_serves() {
    let server = FileServer::start();
    let asset = format!("{NAME}-x86_64-unknown-linux-musl");
    let binary = std::fs::read(release().join(&asset)).unwrap();
    server.put(&asset, &binary);
    let (_dir, market) = unpacked_archive();
    let claude = ClaudeHome::new(&server.base);
    claude.install(&market);

    let listing = claude.claude_ok(&["mcp", "list"], &[]);
    assert!(server_line(&listing).contains("Connected"), "{listing}");
    assert_eq!(server.requests(), vec![format!("/releases/v1/{asset}")]);
    assert_eq!(claude.installed(), vec![format!("{NAME}-{VERSION}-x86_64-unknown-linux-musl")]);

    // A -p session: the mocked model asks for codex_status, Claude Code calls it through the
    // installed plugin's server (the cached binary: no second download), the model ends.
    let model = MockModel::start();
    let (events, stream) = session(&claude, &model, &["Is codex ready?", "--allowedTools", STATUS_TOOL]);
    let init = events.iter().find(|e| e["subtype"] == json!("init")).unwrap_or_else(|| panic!("no init: {stream}"));
    assert!(
        init["mcp_servers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == json!(SERVER) && s["status"] == json!("connected")),
        "{init}"
    );
    let tool_result = result_of(&events, "toolu_status_1", &stream);
    assert_ne!(tool_result["is_error"], json!(true), "{tool_result}");
    let text = tool_result["content"].to_string();
    // No codex on this PATH: the status report says so, which proves it came from our server.
    assert!(text.contains("ready") && text.contains("codex was not found on PATH"), "{tool_result}");
    let result = events.iter().find(|e| e["type"] == json!("result")).unwrap_or_else(|| panic!("{stream}"));
    assert_eq!(result["result"], json!("codex_status answered through the plugin."), "{result}");
    assert_eq!(server.requests().len(), 1, "later starts use the installed copy: {:?}", server.requests());

    // The /codex:setup slash command: the mocked model runs `codex-in-claude setup` with the
    // Bash tool, as the command's body asks; the plugin's bin/ is on that PATH, its launcher
    // runs the installed copy, which finds the plugin registered and codex missing.
    let (events, stream) = session(&claude, &model, &[SETUP_COMMAND]);
    let tool_result = result_of(&events, "toolu_setup_1", &stream);
    let printed = tool_result["content"].to_string();
    assert!(
        printed.contains(&format!(
            "ok       Claude Code registration: plugin codex-in-claude@codex-in-claude {VERSION} is installed and enabled"
        )),
        "{tool_result}"
    );
    assert!(printed.contains("MISSING  codex installed"), "{tool_result}");
    assert_eq!(server.requests().len(), 1, "setup ran the installed copy: {:?}", server.requests());
}

#[test]
fn claude_code_plugin_refuses_a_tampered_release_binary() {
    let server = FileServer::start();
    let asset = format!("{NAME}-x86_64-unknown-linux-musl");
    let mut tampered = std::fs::read(release().join(&asset)).unwrap();
    tampered.extend_from_slice(b"tampered");
    server.put(&asset, &tampered);
    let (_dir, market) = unpacked_archive();
    let claude = ClaudeHome::new(&server.base);
    claude.install(&market);

    let listing = claude.claude_ok(&["mcp", "list"], &[]);
    let line = server_line(&listing);
    assert!(!line.contains("Connected") && line.contains("Failed"), "{listing}");
    assert!(!server.requests().is_empty(), "the launcher did try the download");
    assert_eq!(claude.installed(), Vec::<String>::new(), "the tampered binary was not installed");
}
