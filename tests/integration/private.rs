//! Issue 23, what another local user can reach: nothing the server, its workers or the programs
//! they start create is readable by a second local user, polling while every tool runs with the
//! real codex against the mock model; a state directory that user made is refused whole (no
//! forged result served, no planted pid signalled, nothing deleted through a planted link); and
//! a FIFO planted in a trusted store never blocks a job tool.
//!
//! The second user is real: as root (CI) the test creates it with `useradd`; without root it
//! cannot, and the test fails saying so rather than pass without one.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::jobs::{Setup, call, start, wait_finished};
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::repo::TestRepo;
use crate::review::review_answer;
use crate::support::{Server, binary, process_gone};

/// The second local user.
const STRANGER: &str = "cic-stranger";

/// The stranger's uid and gid, creating the user when this test runs as root.
fn stranger() -> (String, String) {
    static CREATE: Mutex<()> = Mutex::new(());
    let _one_at_a_time = CREATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let id = |flag: &str| {
        let output = Command::new("id").args([flag, STRANGER]).output().unwrap();
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
        return (uid, gid);
    }
    let me = Command::new("id").arg("-u").output().unwrap();
    assert!(
        String::from_utf8_lossy(&me.stdout).trim() == "0",
        "this test needs a second local user, {STRANGER}, and only root can create one: run it as root (CI does) or create that user first"
    );
    let made = Command::new("useradd")
        .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", STRANGER])
        .output()
        .unwrap();
    // 9: it exists (made meanwhile by another run).
    assert!(
        made.status.success() || made.status.code() == Some(9),
        "useradd {STRANGER} failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    (id("-u").unwrap(), id("-g").unwrap())
}

/// `program` run as the stranger, with no supplementary groups.
fn as_stranger(program: &str) -> Command {
    let (uid, gid) = stranger();
    let mut command = Command::new("setpriv");
    command.args(["--reuid", &uid, "--regid", &gid, "--clear-groups", "--", program]);
    command
}

/// The stranger walking `roots` over and over, printing every directory it can list and every
/// file it can open below them, until stopped.
struct Poller {
    child: Child,
    seen: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(roots: &[&Path]) -> Poller {
        let script = r#"while :; do
            for root in "$@"; do
                find "$root" -mindepth 1 \( -type d -readable -o -type f -readable \) -print 2>/dev/null
            done
            sleep 0.05
        done"#;
        let mut child = as_stranger("sh")
            .args(["-c", script, "poller"])
            .args(roots)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stdout, sink) = (child.stdout.take().unwrap(), Arc::clone(&seen));
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut seen = sink.lock().unwrap();
                if !seen.contains(&line) {
                    seen.push(line);
                }
            }
        });
        Poller { child, seen, reader: Some(reader) }
    }

    /// Everything the stranger could read, once it is stopped.
    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            // The pipe closes once `find` (a grandchild) is gone too, within its own walk.
            let _ = reader.join();
        }
        self.seen.lock().unwrap().clone()
    }
}

/// A directory the stranger may enter and list (0755), for the server to create things in.
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

const EXECUTABLE_SCRIPT: &str =
    "printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod +x run.sh && mkdir -p out && echo made > out/made.txt";

#[test]
fn another_local_user_can_read_nothing_the_server_creates_during_any_tool() {
    let mock = MockModel::start(vec![
        Step::message(consult_answer("consulted")),
        Step::message(review_answer("pass", json!([]))),
        Step::shell(EXECUTABLE_SCRIPT),
        Step::message("Wrote run.sh and out/made.txt."),
        Step::message(consult_answer("consulted in the background")),
    ]);
    let home = CodexHome::new(&mock);
    // Where the server's temporary areas, state and copies go: inside directories the stranger
    // can list, so only the server's own modes stand between it and what is there.
    let (tmp, state_parent, copies_parent) = (open_dir(), open_dir(), open_dir());
    let mut env = home.env();
    env.extend([
        ("TMPDIR".to_string(), tmp.path().display().to_string()),
        ("CODEX_IN_CLAUDE_STATE_DIR".to_string(), state_parent.path().join("state").display().to_string()),
        ("CODEX_IN_CLAUDE_WORKTREE_BASE".to_string(), copies_parent.path().join("copies").display().to_string()),
    ]);
    let repo = TestRepo::new();
    repo.write("src/lib.rs", "pub fn f() -> u8 {\n    41\n}\n");
    repo.commit("base");
    repo.write("src/lib.rs", "pub fn f() -> u8 {\n    42\n}\n");
    repo.write("untracked-notes.txt", "an untracked file the review includes\n");
    let ws = repo.path();

    let poller = Poller::start(&[tmp.path(), state_parent.path(), copies_parent.path(), home.path()]);
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let consulted = call(&mut server, "codex_consult", json!({"question": "why?", "workspace_root": ws}));
    assert_eq!(consulted["ok"], json!(true), "{consulted}");
    let dry = call(&mut server, "codex_dry_run", json!({"untracked": "include", "workspace_root": ws}));
    assert_eq!(dry["ok"], json!(true), "{dry}");
    let reviewed = call(&mut server, "codex_review_changes", json!({"untracked": "include", "workspace_root": ws}));
    assert_eq!(reviewed["ok"], json!(true), "{reviewed}");
    let planned = call(&mut server, "codex_delegate_dry_run", json!({"task": "t", "workspace_root": ws}));
    assert_eq!(planned["ok"], json!(true), "{planned}");
    let delegated = call(&mut server, "codex_delegate", json!({"task": "write a script", "workspace_root": ws}));
    assert_eq!(delegated["ok"], json!(true), "{delegated}");
    // The mask leaves the executable bit, the only mode git records, as codex's command set it.
    let diff = delegated["diff"].as_str().unwrap();
    assert!(diff.contains("diff --git a/run.sh b/run.sh\nnew file mode 100755"), "{diff}");
    assert!(diff.contains("diff --git a/out/made.txt b/out/made.txt\nnew file mode 100644"), "{diff}");
    let job = start(&mut server, "codex_consult_async", ws, json!({"question": "later?"}));
    let status = wait_finished(&mut server, ws, &job, Duration::from_secs(120));
    assert_eq!(status["status"], json!("done"), "{status}");
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": ws}));
    assert_eq!(listed["ok"], json!(true), "{listed}");
    let result = call(&mut server, "codex_job_result", json!({"job_id": job, "workspace_root": ws}));
    assert_eq!(result["ok"], json!(true), "{result}");
    server.close();

    // Two files are not the server's to make private: the test's own `config.toml`, and the
    // `installation_id` codex gives mode 0644 itself, past the mask (a random id of the codex
    // install, nothing of the user's). Everything else codex writes in its home, session
    // rollouts with the user's code included, is under the mask.
    let not_ours = [home.config_path(), home.path().join("installation_id")];
    let readable: Vec<String> =
        poller.stop().into_iter().filter(|path| !not_ours.iter().any(|own| Path::new(path) == own)).collect();
    let modes: Vec<String> = readable
        .iter()
        .map(|path| match std::fs::symlink_metadata(path) {
            Ok(meta) => format!("{path} ({:o})", meta.permissions().mode() & 0o7777),
            Err(_) => format!("{path} (gone)"),
        })
        .collect();
    assert!(modes.is_empty(), "another local user could read what the server created: {modes:#?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "temporary areas were left behind: {left:?}");
}

/// A job directory of the stranger's making, files owned by it.
fn plant(dir: &Path, files: &[(&str, Value)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, value) in files {
        std::fs::write(dir.join(name), value.to_string()).unwrap();
    }
}

fn spec(job_id: &str, ws: &Path) -> Value {
    json!({
        "format": 1, "job_id": job_id, "kind": "codex_consult_async", "tool": "codex_consult",
        "arguments": {"question": "q", "workspace_root": ws},
        "workspace": {"cwd": ws, "workspace_source": "argument", "workspace_warning": null},
        "started_epoch_ms": now_ms(), "deadline_seconds": 600
    })
}

fn now_ms() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// Every path under `root` with its bytes (directories and links as markers).
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let (path, kind) = (entry.path(), entry.file_type().unwrap());
            if kind.is_dir() {
                stack.push(path.clone());
                out.push((path, b"dir".to_vec()));
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            } else {
                out.push((
                    path.clone(),
                    std::fs::read_link(&path).map(|t| t.into_os_string().into_encoded_bytes()).unwrap_or_default(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// A process of the test's, killed (and reaped) however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until someone holds a flock on `lock` (a non-blocking try of our own fails).
fn wait_until_held(lock: &Path, holder: &mut Child) {
    for _ in 0..200 {
        if let Some(status) = holder.try_wait().unwrap() {
            let mut why = String::new();
            let _ = std::io::Read::read_to_string(&mut holder.stderr.take().unwrap(), &mut why);
            panic!("the stranger could not take {}: {status} {why}", lock.display());
        }
        let free = Command::new("flock").args(["-n"]).arg(lock).arg("true").status().unwrap().success();
        if !free {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the stranger never took {}", lock.display());
}

#[test]
fn a_state_directory_another_user_made_first_is_refused_whole() {
    let (uid, gid) = stranger();
    // /tmp, sticky and world-writable, where the stranger made the state directory first.
    let attacker = tempfile::Builder::new().prefix("cic-test-hostile-").tempdir_in("/tmp").unwrap();
    let state = attacker.path().join("state");
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("base");
    let ws = repo.path().canonicalize().unwrap();
    let store = state.join(codex_in_claude::adapters::jobs::workspace_key(&ws));

    // A finished job whose forged result carries a malicious diff.
    let forged = codex_in_claude::adapters::jobs::new_job_id();
    let envelope = json!({"ok": true, "tool": "codex_consult", "summary": "FORGED", "diff": "+rm -rf ~\n", "meta": {}});
    plant(
        &store.join(&forged),
        &[
            ("spec.json", spec(&forged, &ws)),
            ("result.json", json!({"completed_epoch_ms": now_ms(), "envelope": envelope})),
        ],
    );
    // A "running" job whose pid is the victim's process group and whose lock the stranger holds.
    let victim = KillOnDrop(Command::new("setsid").args(["sleep", "600"]).spawn().unwrap());
    let victim_pid = i32::try_from(victim.0.id()).unwrap();
    let running = codex_in_claude::adapters::jobs::new_job_id();
    plant(&store.join(&running), &[("spec.json", spec(&running, &ws)), ("worker.pid", json!({"pid": victim_pid}))]);
    // Patches that lead to the victim's files, old enough for a sweep to delete.
    let precious = tempfile::tempdir().unwrap();
    std::fs::write(precious.path().join("precious.txt"), "keep\n").unwrap();
    assert!(
        Command::new("touch")
            .args(["-d", "3 days ago"])
            .arg(precious.path().join("precious.txt"))
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink(precious.path(), store.join("patches")).unwrap();
    let owner = format!("{uid}:{gid}");
    assert!(Command::new("chown").args(["-R", "-h", &owner]).arg(attacker.path()).status().unwrap().success());
    let lock = store.join(&running).join("worker.lock");
    std::fs::write(&lock, "").unwrap();
    assert!(Command::new("chown").arg(&owner).arg(&lock).status().unwrap().success());
    let mut holder = KillOnDrop(
        // Waiting for the lock, not `-n`: the probe below holds it for an instant while it looks.
        as_stranger("flock")
            .args(["--no-fork", "-w", "30"])
            .arg(&lock)
            .args(["sleep", "600"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_until_held(&lock, &mut holder.0);
    let before = tree(attacker.path());

    let setup = Setup::fake(&[("CODEX_IN_CLAUDE_STATE_DIR", state.to_str().unwrap())]);
    let mut server = setup.server();
    let refused = |answer: &Value| {
        assert_eq!(answer["ok"], json!(false), "{answer}");
        assert_eq!(answer["error"]["code"], json!("unsafe_state_dir"), "{answer}");
        let repair = answer["error"]["repair"].as_str().unwrap();
        assert!(repair.contains("CODEX_IN_CLAUDE_STATE_DIR"), "the repair names the fix: {repair}");
        assert!(!answer.to_string().contains("FORGED"), "{answer}");
    };
    let job = |id: &str| json!({"job_id": id, "workspace_root": ws});
    refused(&call(&mut server, "codex_job_list", json!({"workspace_root": ws})));
    refused(&call(&mut server, "codex_job_status", job(&forged)));
    refused(&call(&mut server, "codex_job_result", job(&forged)));
    refused(&call(&mut server, "codex_job_consume_result", job(&forged)));
    refused(&call(&mut server, "codex_job_cancel", job(&running)));
    refused(&call(&mut server, "codex_consult", json!({"question": "q", "workspace_root": ws})));
    refused(&call(&mut server, "codex_status", json!({})));
    server.close();
    // The review gate's switch is not read from it either, and it says why.
    let gate = Command::new(binary())
        .args(["review-gate", "--status"])
        .env("CODEX_IN_CLAUDE_STATE_DIR", &state)
        .current_dir(&ws)
        .output()
        .unwrap();
    let gate = String::from_utf8_lossy(&gate.stdout);
    assert!(gate.contains("review gate: off") && gate.contains("not safe"), "{gate}");

    std::thread::sleep(Duration::from_millis(300));
    assert!(!process_gone(victim_pid), "the victim's process group was signalled");
    assert!(precious.path().join("precious.txt").exists(), "a file was deleted through the planted patches link");
    assert_eq!(tree(attacker.path()), before, "the planted state directory was changed");
}

#[test]
fn fifos_planted_in_a_trusted_store_never_block_a_job_tool() {
    let setup = Setup::fake(&[]);
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("base");
    let ws = repo.path().canonicalize().unwrap();
    let store = setup.state.path().join(codex_in_claude::adapters::jobs::workspace_key(&ws));
    let mkfifo = |path: &Path| assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
    // A finished-looking job whose result is a FIFO, one whose spec is, one whose lock and log are.
    let [result_fifo, spec_fifo, lock_fifo] = [(); 3].map(|()| codex_in_claude::adapters::jobs::new_job_id());
    plant(&store.join(&result_fifo), &[("spec.json", spec(&result_fifo, &ws))]);
    mkfifo(&store.join(&result_fifo).join("result.json"));
    std::fs::create_dir_all(store.join(&spec_fifo)).unwrap();
    mkfifo(&store.join(&spec_fifo).join("spec.json"));
    plant(&store.join(&lock_fifo), &[("spec.json", spec(&lock_fifo, &ws))]);
    mkfifo(&store.join(&lock_fifo).join("worker.lock"));
    mkfifo(&store.join(&lock_fifo).join("worker.log"));

    let mut server = setup.server();
    // Each answers (the harness fails a call that does not within its timeout).
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": ws}));
    assert_eq!(listed["ok"], json!(true), "{listed}");
    for id in [&result_fifo, &spec_fifo, &lock_fifo] {
        let ask = json!({"job_id": id, "workspace_root": ws});
        let status = call(&mut server, "codex_job_status", ask.clone());
        assert!(status["ok"] == json!(true) || status["error"]["code"].is_string(), "{status}");
        let result = call(&mut server, "codex_job_result", ask);
        assert_eq!(result["ok"], json!(false), "a FIFO is never a result: {result}");
    }
    server.close();
}
