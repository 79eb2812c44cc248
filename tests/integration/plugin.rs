//! The Claude Code plugin: its launcher really starts the server (bundled binary first, else
//! `PATH`, never itself, else one stderr line on how to install it), its manifests agree with
//! `Cargo.toml` and with each other, every slash command pre-approves exactly the real tools its
//! body calls, the skill covers every error code, and the pinned `claude plugin validate` passes.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, TIMEOUT, binary};

const PLUGIN_NAME: &str = "codex-in-claude";
const COMMANDS: &[&str] = &[
    "status",
    "setup",
    "consult",
    "plan-review",
    "review",
    "adversarial-review",
    "delegate",
    "delegate-async",
    "dry-run",
    "jobs",
    "review-gate",
];
/// The shell commands slash commands may pre-approve, each in the one command that runs it:
/// setup's free checklist, and the review gate's switch.
const COMMAND_BASH: &[(&str, &[&str])] = &[
    ("setup", &["codex-in-claude setup"]),
    (
        "review-gate",
        &[
            "codex-in-claude review-gate --enable",
            "codex-in-claude review-gate --disable",
            "codex-in-claude review-gate --status",
        ],
    ),
];
/// The one validate warning we accept: a naming heuristic of Claude Code 2.1.330 that fires on
/// any plugin name with "claude" as an inner word. The name is the project's; it installs and
/// loads normally (checked by hand with `claude plugin marketplace add` + `plugin install`).
const ACCEPTED_WARNING: &str = "reads as one of Anthropic's own";

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The target triple the launcher looks for in `bin/`, spelled the way it computes it.
pub(crate) fn bundled_name() -> String {
    let os = match std::env::consts::OS {
        "linux" => "unknown-linux-musl",
        "macos" => "apple-darwin",
        other => panic!("no plugin target for {other}"),
    };
    format!("{PLUGIN_NAME}-{}-{os}", std::env::consts::ARCH)
}

/// A copy of `plugin/` (modes kept) without any binary `make plugin` may have bundled locally
/// and without the release checksums `make release` may have written (a launcher test that
/// fetches writes its own, pointing at a loopback server: tests never reach the network).
pub(crate) fn plugin_copy() -> tempfile::TempDir {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            let bundled = name.to_string_lossy().starts_with(&format!("{PLUGIN_NAME}-")) || name == "SHA256SUMS";
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &to.join(&name));
            } else if !bundled {
                std::fs::copy(entry.path(), to.join(&name)).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("plugin"), &dir.path().join("plugin"));
    dir
}

/// A directory holding only the programs the launcher uses, so a test's PATH finds no
/// `codex-in-claude` installed on this machine by accident, and no downloader: a test that
/// fetches adds one with [`tool_dir`].
pub(crate) fn launcher_tools() -> tempfile::TempDir {
    tool_dir(LAUNCHER_TOOLS)
}

/// The programs the launcher runs.
pub(crate) const LAUNCHER_TOOLS: &[&str] = &[
    "uname",
    "dirname",
    "head",
    "grep",
    "sed",
    "awk",
    "tr",
    "sha256sum",
    "mkdir",
    "mktemp",
    "mkfifo",
    "find",
    "sleep",
    "wc",
    "chmod",
    "mv",
    "rm",
];

/// A directory of links to these programs of this machine.
pub(crate) fn tool_dir(tools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for &tool in tools {
        let found = ["/usr/bin", "/bin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.exists());
        let found = found.unwrap_or_else(|| panic!("{tool} not found in /usr/bin or /bin"));
        symlink(found, dir.path().join(tool)).unwrap();
    }
    dir
}

pub(crate) fn join_path(dirs: &[&Path]) -> String {
    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(":")
}

pub(crate) struct Run {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `program` with only HOME and PATH set, writes `input` to its stdin and closes it, and
/// collects everything it prints; fails the test if it has not exited within the timeout (a
/// launcher that exec'd itself would never stop).
fn run(program: &Path, args: &[&str], path: &str, input: &str) -> Run {
    run_with(program, args, path, &[], input)
}

/// [`run`] with these environment variables set as well.
pub(crate) fn run_with(program: &Path, args: &[&str], path: &str, env: &[(&str, &Path)], input: &str) -> Run {
    run_in(None, program, args, path, env, input)
}

/// [`run_with`] in the directory `cwd` (the test's own when `None`).
pub(crate) fn run_in(
    cwd: Option<&Path>,
    program: &Path,
    args: &[&str],
    path: &str,
    env: &[(&str, &Path)],
    input: &str,
) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(program);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let mut child = command
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", path)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        // The process may exit before reading; a broken pipe is then expected.
        let _ = stdin.write_all(input.as_bytes());
    });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not exit within {TIMEOUT:?}", program.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    writer.join().unwrap();
    Run { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// The legacy handshake and `tools/list` through `launcher`, then EOF: returns the
/// initialize result and the tool names, after checking stdout carried JSON-RPC only.
fn handshake(launcher: &Path, path: &str) -> (Value, Vec<String>) {
    handshake_with(launcher, path, &[])
}

/// [`handshake`] with these environment variables set as well.
pub(crate) fn handshake_with(launcher: &Path, path: &str, env: &[(&str, &Path)]) -> (Value, Vec<String>) {
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "plugin-test", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}),
    ];
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    let out = run_with(launcher, &["serve"], path, env, &input);
    assert!(out.status.success(), "server exited {:?}; stderr: {}", out.status, out.stderr);
    let messages: Vec<Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("stdout line is not JSON: {line:?}")))
        .collect();
    let response = |id: i64| {
        messages.iter().find(|m| m["id"] == json!(id)).unwrap_or_else(|| panic!("no response {id}: {}", out.stdout))
    };
    let init = response(1)["result"].clone();
    let names = response(2)["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list: {}", out.stdout))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    (init, names)
}

pub(crate) fn assert_serves(init: &Value, names: &[String]) {
    assert_eq!(init["serverInfo"]["name"], json!(PLUGIN_NAME), "{init}");
    assert_eq!(init["serverInfo"]["version"], json!(env!("CARGO_PKG_VERSION")), "{init}");
    assert_eq!(names.len(), 16, "{names:?}");
    assert!(names.iter().any(|n| n == "codex_status"), "{names:?}");
}

#[test]
fn launcher_runs_the_binary_on_path_without_finding_itself() {
    let plugin = plugin_copy();
    let bin = plugin.path().join("plugin/bin");
    let tools = launcher_tools();
    let installed = tempfile::tempdir().unwrap();
    symlink(binary(), installed.path().join(PLUGIN_NAME)).unwrap();
    // Claude Code puts the plugin's bin/ on PATH: the launcher must skip itself there.
    let path = join_path(&[&bin, tools.path(), installed.path()]);
    let (init, names) = handshake(&bin.join(PLUGIN_NAME), &path);
    assert_serves(&init, &names);

    // Called by name from PATH, as the Bash tool would, it runs the CLI too.
    let out = run(Path::new("/bin/sh"), &["-c", "codex-in-claude --version"], &path, "");
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("{PLUGIN_NAME} {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn launcher_prefers_the_bundled_binary_over_path() {
    let plugin = plugin_copy();
    let bin = plugin.path().join("plugin/bin");
    std::fs::copy(binary(), bin.join(bundled_name())).unwrap();
    let tools = launcher_tools();
    // A decoy on PATH that would fail the handshake if it ran.
    let decoy = tempfile::tempdir().unwrap();
    let decoy_bin = decoy.path().join(PLUGIN_NAME);
    std::fs::write(&decoy_bin, "#!/bin/sh\necho 'decoy ran' >&2\nexit 42\n").unwrap();
    std::fs::set_permissions(&decoy_bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = join_path(&[tools.path(), decoy.path()]);
    let (init, names) = handshake(&bin.join(PLUGIN_NAME), &path);
    assert_serves(&init, &names);
}

#[test]
fn launcher_without_a_binary_exits_nonzero_with_one_line() {
    let plugin = plugin_copy();
    let bin = plugin.path().join("plugin/bin");
    // Another copy of the launcher (an older plugin version, say) must be skipped as well.
    let other = plugin_copy();
    let tools = launcher_tools();
    let path = join_path(&[&bin, &other.path().join("plugin/bin"), tools.path()]);
    let out = run(&bin.join(PLUGIN_NAME), &["serve"], &path, "");
    assert!(!out.status.success(), "{:?}", out.status);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(out.stdout, "", "stdout is the MCP channel: nothing but protocol messages");
    assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
    assert!(out.stderr.starts_with("codex-in-claude: ") && out.stderr.ends_with('\n'), "{:?}", out.stderr);
    assert!(out.stderr.contains("make install") && out.stderr.contains(&bundled_name()), "{:?}", out.stderr);
}

#[test]
fn manifests_agree_with_cargo_toml_and_each_other() {
    let version = env!("CARGO_PKG_VERSION");
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    assert!(cargo.lines().any(|l| l == format!("version = \"{version}\"")), "Cargo.toml version");

    let manifest = read_json(&repo().join("plugin/.claude-plugin/plugin.json"));
    assert_eq!(manifest["name"], json!(PLUGIN_NAME));
    assert_eq!(manifest["version"], json!(version), "plugin.json version must follow Cargo.toml");
    assert_eq!(manifest["license"], json!("MIT"));
    assert!(manifest["description"].as_str().is_some_and(|d| !d.trim().is_empty()));
    assert!(manifest["keywords"].as_array().is_some_and(|k| !k.is_empty() && k.iter().all(Value::is_string)));
    assert!(manifest["metadata"]["interface"]["shortDescription"].is_string(), "interface text");

    let market = read_json(&repo().join(".claude-plugin/marketplace.json"));
    assert!(market["name"].is_string() && market["owner"]["name"].is_string(), "{market}");
    let entries = market["plugins"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{market}");
    assert_eq!(entries[0]["name"], json!(PLUGIN_NAME));
    assert_eq!(entries[0]["source"], json!("./plugin"));
    assert_eq!(entries[0]["version"], json!(version), "marketplace entry version must follow Cargo.toml");

    let mcp = read_json(&repo().join("plugin/.mcp.json"));
    let servers = mcp["mcpServers"].as_object().unwrap();
    assert_eq!(servers.len(), 1, "{mcp}");
    assert_eq!(servers[PLUGIN_NAME]["command"], json!("${CLAUDE_PLUGIN_ROOT}/bin/codex-in-claude"));
    let launcher = repo().join("plugin/bin/codex-in-claude");
    let mode = std::fs::metadata(&launcher).unwrap().permissions().mode();
    assert!(mode & 0o111 == 0o111, "launcher not executable: {mode:o}");
    // The launcher fetches releases from the repository Cargo.toml names.
    let repository = env!("CARGO_PKG_REPOSITORY").strip_prefix("https://github.com/").expect("a GitHub repository");
    let script = std::fs::read_to_string(&launcher).unwrap();
    assert!(script.lines().any(|l| l == format!("repository={repository}")), "launcher's repository= line");
}

/// `---`-delimited frontmatter as key → raw value (one line each), and the body after it.
fn frontmatter(path: &Path) -> (Vec<(String, String)>, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let rest = text.strip_prefix("---\n").unwrap_or_else(|| panic!("{}: no frontmatter", path.display()));
    let (head, body) = rest.split_once("\n---\n").unwrap_or_else(|| panic!("{}: unclosed frontmatter", path.display()));
    let fields = head
        .lines()
        .map(|line| {
            let (key, value) = line.split_once(':').unwrap_or_else(|| panic!("{}: bad line {line:?}", path.display()));
            (key.trim().to_string(), value.trim().trim_matches('"').to_string())
        })
        .collect();
    (fields, body.to_string())
}

fn field<'a>(fields: &'a [(String, String)], key: &str, path: &Path) -> &'a str {
    let value = fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let value = value.unwrap_or_else(|| panic!("{}: no {key}", path.display()));
    assert!(!value.trim().is_empty(), "{}: empty {key}", path.display());
    value
}

/// `codex_…` words in `text` (a tool name preceded by a non-word character).
fn tools_named_in(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("codex_") {
        if i > 0 && word(bytes[i - 1]) {
            continue;
        }
        let end = text[i..].find(|c: char| !(c.is_ascii_lowercase() || c == '_')).map_or(text.len(), |n| i + n);
        found.insert(text[i..end].trim_end_matches('_').to_string());
    }
    found
}

/// The tools/list entries and the capabilities report of the built server.
fn live_surface() -> (Vec<Value>, Value) {
    let mut server = Server::start(&[]);
    server.initialize(json!({}));
    let list = server.request(json!("list"), "tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().unwrap().clone();
    let capabilities = crate::support::envelope(&server.call(3, "codex_capabilities", json!({})));
    (tools, capabilities)
}

#[test]
fn commands_preapprove_exactly_the_real_tools_they_call() {
    let (tools, capabilities) = live_surface();
    let codes: BTreeSet<String> =
        capabilities["error_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    let takes_workspace: BTreeSet<String> = tools
        .iter()
        .filter(|t| t["inputSchema"]["properties"].get("workspace_root").is_some())
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    let names: BTreeSet<String> = tools.iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
    // Claude Code's name for a plugin server's tool: mcp__plugin_<plugin>_<server>__<tool>.
    let server = read_json(&repo().join("plugin/.mcp.json"))["mcpServers"].as_object().unwrap().keys().next().cloned();
    let prefix = format!("mcp__plugin_{PLUGIN_NAME}_{}__", server.unwrap());

    let dir = repo().join("plugin/commands/codex");
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".md").to_string())
        .collect();
    present.sort();
    let mut expected: Vec<String> = COMMANDS.iter().map(|c| c.to_string()).collect();
    expected.sort();
    assert_eq!(present, expected, "the slash commands in {}", dir.display());

    for command in COMMANDS {
        let path = dir.join(format!("{command}.md"));
        let (fields, body) = frontmatter(&path);
        field(&fields, "description", &path);
        field(&fields, "argument-hint", &path);
        let allowed_field = field(&fields, "allowed-tools", &path);
        // `/codex:setup` and `/codex:review-gate` run the CLI through the Bash tool, exactly the
        // commands their bodies name; no other command may run anything but our MCP tools.
        let mut allowed_field = allowed_field.to_string();
        for (_, shell_commands) in COMMAND_BASH.iter().filter(|(c, _)| c == command) {
            for shell in *shell_commands {
                let pattern = format!("Bash({shell})");
                assert!(allowed_field.contains(&pattern), "{command}: allowed-tools lacks {pattern}");
                assert!(body.contains(&format!("`{shell}`")), "{command}: its body does not run {shell}");
                allowed_field = allowed_field.replace(&pattern, "");
            }
        }
        assert!(!allowed_field.contains("Bash"), "{command}: pre-approves a shell command: {allowed_field}");
        let allowed: BTreeSet<String> = allowed_field
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| {
                let tool = s.strip_prefix(&prefix).unwrap_or_else(|| panic!("{command}: {s} is not {prefix}<tool>"));
                assert!(names.contains(tool), "{command}: allowed-tools names {tool}, which tools/list lacks");
                tool.to_string()
            })
            .collect();
        // Every codex_… word in the body is a tool it calls, or an error code it explains.
        let (called, other): (BTreeSet<String>, BTreeSet<String>) =
            tools_named_in(&body).into_iter().partition(|w| names.contains(w));
        assert!(other.iter().all(|w| codes.contains(w)), "{command}: names unknown tools {other:?}");
        assert_eq!(called, allowed, "{command}: the tools its body names vs its allowed-tools");
        assert!(body.contains("$ARGUMENTS"), "{command}: body does not use $ARGUMENTS");
        if allowed.iter().any(|t| takes_workspace.contains(t)) {
            assert!(body.contains("workspace_root") && body.contains("absolute"), "{command}: absolute workspace_root");
        }
        if allowed.iter().any(|t| t != "codex_status" && t != "codex_capabilities" && !t.contains("dry_run")) {
            assert!(body.contains("claim"), "{command}: Codex's output is a claim to verify");
        }
        if allowed.iter().any(|t| t.starts_with("codex_delegate") && !t.contains("dry_run")) {
            assert!(body.contains("`applies_cleanly`") && body.contains("review"), "{command}: review the diff");
        }
    }
}

#[test]
fn skill_has_its_frontmatter_and_covers_every_error_code_and_tool() {
    let path = repo().join("plugin/skills/collaborating-with-codex/SKILL.md");
    let (fields, body) = frontmatter(&path);
    assert_eq!(field(&fields, "name", &path), "collaborating-with-codex");
    let description = field(&fields, "description", &path);
    for trigger in ["second opinion", "review", "delegate", "background"] {
        assert!(description.contains(trigger), "skill description lacks the trigger {trigger:?}");
    }
    let (tools, capabilities) = live_surface();
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        assert!(tools_named_in(&body).contains(name), "the skill never mentions {name}");
    }
    let codes = capabilities["error_codes"].as_array().unwrap_or_else(|| panic!("{capabilities}"));
    assert!(!codes.is_empty());
    for code in codes {
        let code = code.as_str().unwrap();
        assert!(body.contains(&format!("`{code}`")), "the skill says nothing about error code {code}");
    }
    for key in ["retryable", "retry_after_ms", "repair", "verdict", "coverage", "review_status", "applies_cleanly"] {
        assert!(body.contains(key), "the skill does not explain {key}");
    }
}

/// The pinned Claude Code CLI `scripts/install-claude.sh` puts in `.tools/` (`make test-deps`).
pub(crate) fn claude() -> PathBuf {
    let claude = repo().join(".tools/claude/claude");
    assert!(
        claude.exists(),
        "{} is missing: run `make test-deps` (scripts/install-claude.sh) to install the pinned Claude Code CLI",
        claude.display()
    );
    claude
}

pub(crate) fn validate(target: &Path) -> Value {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(claude())
        .args(["plugin", "validate"])
        .arg(target)
        .arg("--json")
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("DISABLE_TELEMETRY", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!("claude plugin validate {}: {stdout}{}", target.display(), String::from_utf8_lossy(&out.stderr))
    });
    assert!(out.status.success() && report["success"] == json!(true), "validate {}: {report:#}", target.display());
    report
}

/// Every error and warning in a validate report (manifest and per-file), as text.
fn problems(report: &Value) -> (Vec<String>, Vec<String>) {
    let mut sections = vec![&report["manifest"]];
    sections.extend(report["contents"].as_array().into_iter().flatten());
    let collect = |key: &str| {
        sections
            .iter()
            .flat_map(|s| s[key].as_array().cloned().unwrap_or_default())
            .map(|p| format!("{}: {}", p["path"].as_str().unwrap_or(""), p["message"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
    };
    (collect("errors"), collect("warnings"))
}

#[test]
fn claude_plugin_validate_passes_for_the_plugin_and_the_marketplace() {
    let plugin = validate(&repo().join("plugin"));
    let (errors, warnings) = problems(&plugin);
    assert!(errors.is_empty(), "{errors:#?}");
    let unexpected: Vec<&String> = warnings.iter().filter(|w| !w.contains(ACCEPTED_WARNING)).collect();
    assert!(unexpected.is_empty(), "validate plugin warned: {unexpected:#?}");
    // Everything we ship is seen: the server, the commands, the skill.
    let provides = &plugin["provides"];
    assert_eq!(provides["mcpServers"][0]["name"], json!(PLUGIN_NAME), "{provides}");
    assert_eq!(provides["commands"].as_array().map(Vec::len), Some(COMMANDS.len()), "{provides}");
    assert_eq!(provides["skills"].as_array().map(Vec::len), Some(1), "{provides}");
    // The review gate's Stop hook runs the binary through the launcher.
    assert_eq!(
        provides["hooks"],
        json!([{"event": "Stop", "type": "command", "command": "${CLAUDE_PLUGIN_ROOT}/bin/codex-in-claude",
            "args": ["review-gate"]}]),
        "{provides}"
    );

    let market = validate(&repo());
    let (errors, warnings) = problems(&market);
    assert!(errors.is_empty(), "{errors:#?}");
    let unexpected: Vec<&String> = warnings.iter().filter(|w| !w.contains(ACCEPTED_WARNING)).collect();
    assert!(unexpected.is_empty(), "validate . warned: {unexpected:#?}");
}
