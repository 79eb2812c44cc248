//! The plugin launcher's release path: with no bundled binary and none on PATH it fetches the
//! pinned release binary for this platform from a loopback HTTP server, verifies it against
//! `bin/SHA256SUMS`, installs it in `CLAUDE_PLUGIN_DATA` and runs it; later starts use that copy
//! without the network, a new pinned version fetches anew, and every failure (checksum
//! mismatch, no network, no downloader, unsupported platform) is one stderr line, a non-zero
//! exit, nothing on stdout and nothing installed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::plugin::{
    Run, assert_serves, bundled_name, handshake_with, join_path, launcher_tools, plugin_copy, run_in, run_with,
    tool_dir,
};
use crate::support::{TIMEOUT, binary};

const NAME: &str = "codex-in-claude";

/// What the server answers for one path.
#[derive(Clone)]
enum Body {
    Bytes(Vec<u8>),
    /// Zeros with no length, for as long as the client reads.
    Endless,
    /// 8 KiB every 50 ms of a body that announces 100 MB: a download that is always in progress
    /// (and whose bytes get past a downloader's output buffer).
    Trickle,
}

/// A loopback HTTP/1.0 file server: GET of a known path answers its body, anything else 404.
/// Counts requests, so a test can prove a start touched no network, and the connections whose
/// client hung up before the body ended, so a test can prove a downloader was stopped.
pub struct FileServer {
    pub base: String,
    files: Arc<Mutex<BTreeMap<String, Body>>>,
    requests: Arc<Mutex<Vec<String>>>,
    hung_up: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl FileServer {
    pub fn start() -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<BTreeMap<String, Body>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let hung_up: Arc<AtomicUsize> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (f, r, h, s) = (files.clone(), requests.clone(), hung_up.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (f, r, h, s) = (f.clone(), r.clone(), h.clone(), s.clone());
                std::thread::spawn(move || serve_one(stream, &f, &r, &h, &s));
            }
        });
        FileServer { base: format!("http://127.0.0.1:{port}/releases/v1"), files, requests, hung_up, stop, port }
    }

    /// Serves `bytes` as the asset `name` under [`FileServer::base`].
    pub fn put(&self, name: &str, bytes: &[u8]) {
        self.serve(name, Body::Bytes(bytes.to_vec()));
    }

    fn serve(&self, name: &str, body: Body) {
        self.files.lock().unwrap().insert(format!("/releases/v1/{name}"), body);
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Connections whose client went away while the body was still being sent.
    fn hung_up(&self) -> usize {
        self.hung_up.load(Ordering::SeqCst)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_one(
    stream: TcpStream,
    files: &Mutex<BTreeMap<String, Body>>,
    requests: &Mutex<Vec<String>>,
    hung_up: &AtomicUsize,
    stop: &AtomicBool,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // The headers, up to the blank line; nothing in them matters here.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim() != "" {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
    requests.lock().unwrap().push(path.clone());
    let body = files.lock().unwrap().get(&path).cloned();
    let mut stream = stream;
    // Sends `chunk` every `pause` until the client hangs up (counted) or the server stops.
    let stream_until_hung_up = |stream: &mut TcpStream, chunk: &[u8], pause: Duration| {
        while !stop.load(Ordering::SeqCst) {
            if stream.write_all(chunk).is_err() {
                hung_up.fetch_add(1, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(pause);
        }
    };
    let _ = match body {
        Some(Body::Bytes(body)) => stream
            .write_all(format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes())
            .and_then(|()| stream.write_all(&body)),
        Some(Body::Endless) => stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n").map(|()| {
            stream_until_hung_up(&mut stream, &[0; 64 * 1024], Duration::ZERO);
        }),
        Some(Body::Trickle) => stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 100000000\r\n\r\n").map(|()| {
            stream_until_hung_up(&mut stream, &[b'x'; 8 * 1024], Duration::from_millis(50));
        }),
        None => stream.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    };
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A stand-in release binary: prints which version it is and its arguments.
fn fake_release(version: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho \"release {version} $*\"\n").into_bytes()
}

/// The fetch setup: a plugin copy with no bundled binary, its `SHA256SUMS` pinning `version`
/// with `sha` for this platform, a data directory, and a PATH with the launcher's tools plus
/// `downloader` (none when empty).
struct Fetch {
    plugin: tempfile::TempDir,
    data: tempfile::TempDir,
    tools: tempfile::TempDir,
    downloader: tempfile::TempDir,
}

impl Fetch {
    fn new(downloader: &[&str]) -> Fetch {
        Fetch {
            plugin: plugin_copy(),
            data: tempfile::tempdir().unwrap(),
            tools: launcher_tools(),
            downloader: tool_dir(downloader),
        }
    }

    /// A server offering `release` for this platform, and a plugin pinning it as `version`.
    fn serving(downloader: &str, version: &str, release: &[u8]) -> (FileServer, Fetch) {
        let server = FileServer::start();
        server.put(&bundled_name(), release);
        let fetch = Fetch::new(&[downloader]);
        fetch.pin(version, &sha256_hex(release));
        (server, fetch)
    }

    fn bin(&self) -> PathBuf {
        self.plugin.path().join("plugin/bin")
    }

    fn launcher(&self) -> PathBuf {
        self.bin().join(NAME)
    }

    fn pin(&self, version: &str, sha: &str) {
        std::fs::write(self.bin().join("SHA256SUMS"), format!("# version: {version}\n{sha}  {}\n", bundled_name()))
            .unwrap();
    }

    fn path(&self) -> String {
        join_path(&[&self.bin(), self.tools.path(), self.downloader.path()])
    }

    fn run(&self, base: &str, args: &[&str]) -> Run {
        let base = PathBuf::from(base);
        let env = [("CLAUDE_PLUGIN_DATA", self.data.path()), ("CODEX_IN_CLAUDE_RELEASE_URL", base.as_path())];
        run_with(&self.launcher(), args, &self.path(), &env, "")
    }

    /// Every file under the data directory (hidden partial downloads included).
    fn installed(&self) -> Vec<String> {
        let dir = self.data.path().join("bin");
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }
}

fn installed_name(version: &str) -> String {
    format!("{NAME}-{version}-{}", bundled_name().trim_start_matches(&format!("{NAME}-")))
}

/// One line on stderr, naming the program, nothing on stdout, a non-zero exit.
fn assert_one_line_failure(out: &Run, mentions: &[&str]) {
    assert!(!out.status.success(), "{:?}; stdout {:?}", out.status, out.stdout);
    assert_eq!(out.stdout, "", "stdout is the MCP channel: nothing but protocol messages");
    assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
    assert!(out.stderr.starts_with("codex-in-claude: ") && out.stderr.ends_with('\n'), "{:?}", out.stderr);
    for mention in mentions {
        assert!(out.stderr.contains(mention), "stderr does not mention {mention:?}: {:?}", out.stderr);
    }
}

#[test]
fn launcher_fetches_verifies_installs_and_serves_the_release_binary() {
    let server = FileServer::start();
    let binary = std::fs::read(binary()).unwrap();
    server.put(&bundled_name(), &binary);
    let fetch = Fetch::new(&["curl"]);
    fetch.pin(env!("CARGO_PKG_VERSION"), &sha256_hex(&binary));
    let base = PathBuf::from(&server.base);
    let env = [("CLAUDE_PLUGIN_DATA", fetch.data.path()), ("CODEX_IN_CLAUDE_RELEASE_URL", base.as_path())];
    let (init, names) = handshake_with(&fetch.launcher(), &fetch.path(), &env);
    assert_serves(&init, &names);
    assert_eq!(server.requests(), vec![format!("/releases/v1/{}", bundled_name())]);
    let installed = fetch.data.path().join("bin").join(installed_name(env!("CARGO_PKG_VERSION")));
    assert_eq!(std::fs::read(&installed).unwrap(), binary, "the installed copy is the verified download");
    assert_eq!(std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777, 0o755);
    assert_eq!(fetch.installed(), vec![installed_name(env!("CARGO_PKG_VERSION"))], "no partial download left");

    // Later starts use the installed copy: the server is gone and nothing is asked of it.
    drop(server);
    let (init, names) = handshake_with(&fetch.launcher(), &fetch.path(), &env);
    assert_serves(&init, &names);
}

#[test]
fn launcher_fetches_with_wget_too_and_passes_arguments_through() {
    let (server, fetch) = Fetch::serving("wget", "1.2.3", &fake_release("1.2.3"));
    let out = fetch.run(&server.base, &["status", "--json"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, "release 1.2.3 status --json\n");
    assert_eq!(out.stderr, "");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn launcher_uses_the_cached_copy_offline_and_fetches_a_new_pinned_version() {
    let new = fake_release("1.1.0");
    let (server, fetch) = Fetch::serving("curl", "1.0.0", &fake_release("1.0.0"));
    assert_eq!(fetch.run(&server.base, &["--version"]).stdout, "release 1.0.0 --version\n");
    // Cached: a second start asks nothing of the server (and needs no server at all).
    assert_eq!(fetch.run("http://127.0.0.1:9/nowhere", &["again"]).stdout, "release 1.0.0 again\n");
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());

    // A plugin update pins a new version: it is fetched, and the old copy goes.
    server.put(&bundled_name(), &new);
    fetch.pin("1.1.0", &sha256_hex(&new));
    let out = fetch.run(&server.base, &["--version"]);
    assert_eq!(out.stdout, "release 1.1.0 --version\n", "{}", out.stderr);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(fetch.installed(), vec![installed_name("1.1.0")]);

    // A cached copy that no longer matches its pinned sum (corrupted on disk) is fetched again.
    std::fs::write(fetch.data.path().join("bin").join(installed_name("1.1.0")), fake_release("evil")).unwrap();
    let out = fetch.run(&server.base, &["x"]);
    assert_eq!(out.stdout, "release 1.1.0 x\n", "{}", out.stderr);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn launcher_without_plugin_data_uses_the_copy_in_claude_codes_plugin_data() {
    // Run from the Bash tool's PATH, CLAUDE_PLUGIN_DATA may be unset: the copy the server's
    // launcher installed in Claude Code's plugin data directory is found and checked, not fetched.
    let (server, fetch) = Fetch::serving("curl", "4.0.0", &fake_release("4.0.0"));
    let config = tempfile::tempdir().unwrap();
    let data = config.path().join("plugins/data/codex-in-claude-some-market");
    let base = PathBuf::from(&server.base);
    let run = |env: &[(&str, &Path)]| run_with(&fetch.launcher(), &["setup"], &fetch.path(), env, "");
    let out = run(&[("CLAUDE_PLUGIN_DATA", &data), ("CODEX_IN_CLAUDE_RELEASE_URL", &base)]);
    assert_eq!(out.stdout, "release 4.0.0 setup\n", "{}", out.stderr);
    let out = run(&[("CLAUDE_CONFIG_DIR", config.path()), ("CODEX_IN_CLAUDE_RELEASE_URL", &base)]);
    assert_eq!(out.stdout, "release 4.0.0 setup\n", "{}", out.stderr);
    assert_eq!(server.requests().len(), 1, "the second start used the installed copy: {:?}", server.requests());

    // With no Claude Code data directory at all, it installs under XDG_DATA_HOME.
    let xdg = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let env =
        [("CLAUDE_CONFIG_DIR", empty.path()), ("XDG_DATA_HOME", xdg.path()), ("CODEX_IN_CLAUDE_RELEASE_URL", &base)];
    assert_eq!(run(&env).stdout, "release 4.0.0 setup\n");
    assert!(xdg.path().join("codex-in-claude/bin").join(installed_name("4.0.0")).is_file());
}

#[test]
fn launcher_refuses_a_binary_whose_checksum_does_not_match() {
    let server = FileServer::start();
    let genuine = fake_release("2.0.0");
    let mut tampered = genuine.clone();
    tampered.extend_from_slice(b"echo pwned >&2\n");
    server.put(&bundled_name(), &tampered);
    let fetch = Fetch::new(&["curl"]);
    fetch.pin("2.0.0", &sha256_hex(&genuine));
    let out = fetch.run(&server.base, &["serve"]);
    assert_one_line_failure(
        &out,
        &["refusing", &sha256_hex(&genuine), &sha256_hex(&tampered), "nothing was installed"],
    );
    assert!(!out.stderr.contains("pwned"));
    assert_eq!(fetch.installed(), Vec::<String>::new(), "no half-written or unverified binary left");
}

#[test]
fn launcher_without_network_or_release_asset_fails_with_one_line() {
    let fetch = Fetch::new(&["curl"]);
    fetch.pin("3.0.0", &sha256_hex(b"anything"));
    // Nothing listens on port 9 (discard) on loopback: the connection is refused.
    let out = fetch.run("http://127.0.0.1:9/releases", &["serve"]);
    assert_one_line_failure(&out, &["cannot download http://127.0.0.1:9/releases/", "network"]);
    assert_eq!(fetch.installed(), Vec::<String>::new());

    // A server without the asset (404) is the same kind of failure.
    let server = FileServer::start();
    let out = fetch.run(&server.base, &["serve"]);
    assert_one_line_failure(&out, &["cannot download", "404"]);
    assert_eq!(fetch.installed(), Vec::<String>::new());
}

#[test]
fn launcher_without_a_downloader_fails_with_one_line() {
    let fetch = Fetch::new(&[]);
    fetch.pin("3.0.0", &sha256_hex(b"anything"));
    let out = fetch.run("http://127.0.0.1:9/releases", &["serve"]);
    assert_one_line_failure(&out, &["neither curl nor wget"]);
    assert_eq!(fetch.installed(), Vec::<String>::new());
}

#[test]
fn launcher_on_an_unsupported_platform_fails_with_one_line() {
    let fetch = Fetch::new(&["curl"]);
    fetch.pin("3.0.0", &sha256_hex(b"anything"));
    // A machine the release does not cover: a uname that says so, ahead of the real one.
    let fake = tempfile::tempdir().unwrap();
    let uname = fake.path().join("uname");
    std::fs::write(&uname, "#!/bin/sh\ncase \"$1\" in -s) echo Linux ;; -m) echo riscv64 ;; esac\n").unwrap();
    std::fs::set_permissions(&uname, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", fake.path().display(), fetch.path());
    let server = FileServer::start();
    let env = [("CLAUDE_PLUGIN_DATA", fetch.data.path()), ("CODEX_IN_CLAUDE_RELEASE_URL", Path::new(&server.base))];
    let out = run_with(&fetch.launcher(), &["serve"], &path, &env, "");
    assert_one_line_failure(&out, &["riscv64", "riscv64-unknown-linux-musl", "cargo install"]);
    assert_eq!(server.requests(), Vec::<String>::new(), "nothing fetched for a platform with no pinned sum");
    assert_eq!(fetch.installed(), Vec::<String>::new());
}

#[test]
fn launcher_defaults_to_the_repositorys_release_download_url() {
    // A curl that only says which URL it was given (nothing leaves this machine).
    let fetch = Fetch::new(&[]);
    fetch.pin("1.0.0", &sha256_hex(b"anything"));
    let fake = tempfile::tempdir().unwrap();
    let curl = fake.path().join("curl");
    std::fs::write(&curl, "#!/bin/sh\nfor a; do url=$a; done\necho \"curl: (6) offline test: $url\" >&2\nexit 6\n")
        .unwrap();
    std::fs::set_permissions(&curl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", fetch.path(), fake.path().display());
    let out = run_with(&fetch.launcher(), &["serve"], &path, &[("CLAUDE_PLUGIN_DATA", fetch.data.path())], "");
    let repository = env!("CARGO_PKG_REPOSITORY");
    let url = format!("{repository}/releases/download/v1.0.0/{}", bundled_name());
    assert_one_line_failure(&out, &[&format!("cannot download {url} (curl: (6) offline test: {url})")]);
    assert_eq!(fetch.installed(), Vec::<String>::new());
}

#[test]
fn launcher_never_runs_a_codex_in_claude_found_through_an_empty_or_relative_path_entry() {
    // The project directory (the launcher's cwd under Claude Code) holds a planted
    // ./codex-in-claude and bin/codex-in-claude; an empty, `.` or relative PATH entry names it.
    let plugin = plugin_copy();
    let launcher = plugin.path().join("plugin/bin").join(NAME);
    let tools = launcher_tools();
    let project = tempfile::tempdir().unwrap();
    for dir in [project.path().to_path_buf(), project.path().join("bin")] {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(NAME), "#!/bin/sh\necho planted\n").unwrap();
        std::fs::set_permissions(dir.join(NAME), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let tools = tools.path().display();
    for path in [
        format!(":{tools}"),
        format!("{tools}:"),
        format!("{tools}::/nonexistent"),
        format!(".:{tools}"),
        format!("bin:{tools}"),
        format!("./bin:{tools}"),
    ] {
        let out = run_in(Some(project.path()), &launcher, &["serve"], &path, &[], "");
        assert_one_line_failure(&out, &["no server binary found"]);
        assert_eq!(out.status.code(), Some(127), "PATH {path:?}: {}", out.stderr);
    }
    // The same binary through an absolute entry is found and run.
    let path = format!("{tools}:{}", project.path().join("bin").display());
    assert_eq!(run_in(Some(project.path()), &launcher, &["serve"], &path, &[], "").stdout, "planted\n");
}

#[test]
fn launcher_stops_an_endless_download_at_its_size_cap() {
    let server = FileServer::start();
    server.serve(&bundled_name(), Body::Endless);
    let fetch = Fetch::new(&["curl"]);
    fetch.pin("5.0.0", &sha256_hex(b"anything"));
    let out = fetch.run(&server.base, &["serve"]);
    assert_one_line_failure(&out, &["refusing", "larger than the 134217728-byte limit", "nothing was installed"]);
    assert_eq!(fetch.installed(), Vec::<String>::new(), "nothing of the body is kept");
    wait_for(|| server.hung_up() == 1, "the downloader still reads the endless body");
}

#[test]
fn sigterm_and_sigint_stop_a_download_at_once_and_leave_nothing() {
    for (downloader, signal, name, code) in
        [("curl", libc::SIGTERM, "SIGTERM", 143), ("wget", libc::SIGINT, "SIGINT", 130)]
    {
        let server = FileServer::start();
        server.serve(&bundled_name(), Body::Trickle);
        let fetch = Fetch::new(&[downloader]);
        fetch.pin("6.0.0", &sha256_hex(b"anything"));
        let launcher = Download::start(&fetch, &server);
        let out = launcher.signal(signal);
        assert_one_line_failure(&out, &[&format!("stopped by {name} while downloading"), "nothing was installed"]);
        assert_eq!(out.status.code(), Some(code), "{downloader}: {}", out.stderr);
        assert_eq!(fetch.installed(), Vec::<String>::new(), "{downloader}: a partial download was left");
        wait_for(|| server.hung_up() == 1, "the downloader outlived the launcher");
    }
}

#[test]
fn a_launcher_killed_by_sigkill_leaves_no_downloader_and_no_partial_file() {
    let server = FileServer::start();
    server.serve(&bundled_name(), Body::Trickle);
    let fetch = Fetch::new(&["curl"]);
    fetch.pin("7.0.0", &sha256_hex(b"anything"));
    let launcher = Download::start(&fetch, &server);
    let out = launcher.signal(libc::SIGKILL);
    assert_eq!(out.status.code(), None, "{:?} {}", out.status, out.stderr);
    wait_for(|| server.hung_up() == 1, "the downloader outlived a launcher killed by SIGKILL");
    wait_for(|| fetch.installed().is_empty(), "the partial download outlived a launcher killed by SIGKILL");
}

#[test]
fn a_download_cut_short_by_sigkill_is_removed_by_the_next_start() {
    let server = FileServer::start();
    server.serve(&bundled_name(), Body::Trickle);
    let release = fake_release("7.0.0");
    let fetch = Fetch::new(&["curl"]);
    fetch.pin("7.0.0", &sha256_hex(&release));
    let launcher = Download::start(&fetch, &server);
    // The whole group, watchdog and downloader with the launcher: nothing is left to clean up.
    let out = launcher.signal_group(libc::SIGKILL);
    assert_eq!(out.status.code(), None, "{:?} {}", out.status, out.stderr);
    assert!(fetch.installed().iter().any(|n| n.starts_with('.')), "no trap sees SIGKILL: {:?}", fetch.installed());

    server.put(&bundled_name(), &release);
    let out = fetch.run(&server.base, &["serve"]);
    assert_eq!(out.stdout, "release 7.0.0 serve\n", "{}", out.stderr);
    assert_eq!(fetch.installed(), vec![installed_name("7.0.0")], "the killed start's partial download is gone");
}

#[test]
fn a_stale_download_of_an_older_launcher_is_removed_and_a_recent_one_kept() {
    let release = fake_release("7.1.0");
    let (server, fetch) = Fetch::serving("curl", "7.1.0", &release);
    let dest = fetch.data.path().join("bin");
    std::fs::create_dir_all(&dest).unwrap();
    // How launchers before the pid naming named a download in progress.
    let (stale, recent) = (format!(".{}.Ab12Cd", bundled_name()), format!(".{}.Ef34Gh", bundled_name()));
    for name in [&stale, &recent] {
        std::fs::write(dest.join(name), b"partial").unwrap();
    }
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(dest.join(&stale)).unwrap().set_modified(an_hour_ago).unwrap();
    let out = fetch.run(&server.base, &["serve"]);
    assert_eq!(out.stdout, "release 7.1.0 serve\n", "{}", out.stderr);
    assert_eq!(
        fetch.installed(),
        vec![recent.clone(), installed_name("7.1.0")],
        "an hour-old partial download is stale; a recent one may be a running older launcher's"
    );
}

/// A launcher started in the background whose download is under way: the server has its
/// request and bytes of the body have reached a hidden partial file in the data directory.
struct Download {
    child: std::process::Child,
}

impl Download {
    fn start(fetch: &Fetch, server: &FileServer) -> Download {
        let child = Command::new(fetch.launcher())
            .arg("serve")
            .process_group(0)
            .env_clear()
            .env("HOME", fetch.data.path())
            .env("PATH", fetch.path())
            .env("CLAUDE_PLUGIN_DATA", fetch.data.path())
            .env("CODEX_IN_CLAUDE_RELEASE_URL", &server.base)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let download = Download { child };
        let partial_has_bytes = || {
            let Ok(entries) = std::fs::read_dir(fetch.data.path().join("bin")) else { return false };
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with('.')
                    && !name.ends_with(".err")
                    && !name.ends_with(".pipe")
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            })
        };
        wait_for(|| !server.requests().is_empty() && partial_has_bytes(), "the download did not start");
        download
    }

    /// Sends `signal` to the launcher (only to it, not to its downloader) and collects what it
    /// printed once it has exited; fails the test if it has not exited within the timeout.
    fn signal(self, signal: i32) -> Run {
        let pid = i32::try_from(self.child.id()).unwrap();
        self.signalled(pid, signal)
    }

    /// Sends `signal` to the launcher's whole process group (its downloader and watchdog too).
    fn signal_group(self, signal: i32) -> Run {
        let pid = i32::try_from(self.child.id()).unwrap();
        self.signalled(-pid, signal)
    }

    fn signalled(self, target: i32, signal: i32) -> Run {
        let pid = i32::try_from(self.child.id()).unwrap();
        assert_eq!(unsafe { libc::kill(target, signal) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let child = self.child;
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let Ok(output) = rx.recv_timeout(TIMEOUT) else {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!(
                "the launcher (or a process still holding its output) did not end within {TIMEOUT:?} of signal {signal}"
            );
        };
        let output = output.unwrap();
        Run {
            status: output.status,
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

fn wait_for(done: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
