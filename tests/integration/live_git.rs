//! The live repository is untouched, mtimes included, by every tool that reads it, in the shapes
//! where git itself would touch it (issue 24 item 7): a split index (git sets its shared file's
//! mtime on every read), `core.splitIndex` in the user's config (a scratch index would put its
//! shared part in `.git`), untracked content already in a pack or loose object (hashing it
//! freshens that object), a merge stopped on conflicts, and git-lfs. And files that break
//! readers (issue 25 item 8): a huge sparse file, a FIFO, a socket, a nested repository and an
//! unreadable file among the untracked ones are left out and listed, and the rest is reviewed.
//!
//! Each call is one of the real server's (dry runs, reviews of every scope with the real codex,
//! a delegation) or the review gate's Stop hook, and the whole repository is compared around it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step};
use crate::repo::chown_all;
use crate::repo_shapes::{changes, git, state, touch_later, write};
use crate::review::review_answer;
use crate::support::{Server, binary, envelope};

const LIB_BEFORE: &str = "fn f(n: usize) {\n    for i in 0..n {}\n}\n";
const LIB_AFTER: &str = "fn f(n: usize) {\n    for i in 0..=n {}\n}\n";
const NEW_FILE: &str = "pub fn fresh() {}\n";

/// A repository under test and the HOME whose `.gitconfig` is the user's.
struct Live {
    scratch: TempDir,
    name: &'static str,
}

impl Live {
    /// Two commits (README, then `src/lib.rs`), `src/lib.rs` changed, `src/new.rs` untracked;
    /// `global` is the user's `.gitconfig`, `before_edit` runs between history and edit.
    fn new(name: &'static str, global: &str, before_edit: impl FnOnce(&Live)) -> Live {
        let live = Live { scratch: tempfile::tempdir().unwrap(), name };
        std::fs::create_dir_all(live.repo()).unwrap();
        write(&live.home(), ".gitconfig", global);
        live.git(&["init", "-q", "-b", "main"]);
        write(&live.repo(), "README.md", "# demo\n");
        live.git(&["add", "-A"]);
        live.git(&["commit", "-q", "-m", "initial"]);
        write(&live.repo(), "src/lib.rs", LIB_BEFORE);
        live.git(&["add", "-A"]);
        live.git(&["commit", "-q", "-m", "add lib"]);
        before_edit(&live);
        write(&live.repo(), "src/lib.rs", LIB_AFTER);
        write(&live.repo(), "src/new.rs", NEW_FILE);
        live
    }

    fn repo(&self) -> PathBuf {
        self.scratch.path().join("repo")
    }

    fn home(&self) -> PathBuf {
        self.scratch.path().join("home")
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.repo(), &self.home(), args)
    }

    /// Runs `act`, failing if anything under the repository (work tree and `.git`) changed,
    /// content or mtime.
    fn untouched<T>(&self, what: &str, act: impl FnOnce() -> T) -> T {
        let roots = [self.repo()];
        let before = state(&roots);
        let result = act();
        let changed = changes(&before, &state(&roots));
        assert!(changed.is_empty(), "{}: {what} wrote or touched the repository: {changed:?}", self.name);
        result
    }
}

/// The review gate's Stop hook for `repo`, switched on, with `env` (the codex home's and HOME):
/// its answer.
fn review_gate(env: &[(String, String)], repo: &Path) -> Value {
    let mut child = Command::new(binary())
        .arg("review-gate")
        .current_dir(repo)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("CLAUDE_PROJECT_DIR", repo)
        .env("CODEX_IN_CLAUDE_REVIEW_GATE", "on")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = json!({"session_id": "s-live", "transcript_path": "/nonexistent/t.jsonl", "cwd": repo,
        "permission_mode": "default", "hook_event_name": "Stop", "stop_hook_active": false});
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the hook exits 0: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Every reading tool, the delegate and the review gate over `live`, none of
/// which may write or touch the repository; each answer holds the standard work.
fn every_tool(live: &Live) {
    let reviews = [
        json!({"untracked": "include"}),
        json!({"scope": "branch", "base": "HEAD~1"}),
        json!({"scope": "commit", "commit": "HEAD"}),
    ];
    let mut steps: Vec<Step> = reviews.iter().map(|_| Step::message(review_answer("concerns", json!([])))).collect();
    steps.extend([Step::shell("echo more >> README.md"), Step::message("Done.")]);
    steps.push(Step::message(review_answer("pass", json!([]))));
    let mock = MockModel::start(steps);
    let codex_home = CodexHome::new(&mock);
    let mut env = codex_home.env();
    env.push(("HOME".into(), live.home().display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let name = live.name;
    let mut call = |tool: &str, extra: Value| -> Value {
        let mut arguments = json!({"workspace_root": live.repo()});
        arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let result = live.untouched(&format!("{tool} {extra}"), || envelope(&server.call(7, tool, arguments)));
        assert_eq!(result["ok"], json!(true), "{name}: {tool} {extra}: {result}");
        result
    };

    let untracked = live.git(&["ls-files", "--others", "--exclude-standard"]).lines().count();
    let included = call("codex_dry_run", json!({"untracked": "include"}));
    assert_eq!(included["coverage"]["untracked_files_included"], json!(untracked), "{name}: {included}");
    call("codex_dry_run", json!({"scope": "branch", "base": "HEAD~1"}));
    call("codex_dry_run", json!({"scope": "commit", "commit": "HEAD"}));
    call("codex_delegate_dry_run", json!({"task": "t"}));
    for (i, arguments) in reviews.iter().enumerate() {
        let review = call("codex_review_changes", arguments.clone());
        assert_eq!(review["review_status"], json!("completed"), "{name} {arguments}: {review}");
        let requests: Vec<_> = mock.requests().into_iter().filter(|r| r.scripted).collect();
        if i == 0 {
            assert!(requests[i].body.contains("fresh()"), "{name}: the untracked file was not sent");
        }
    }
    let delegated = call("codex_delegate", json!({"task": "append to the readme"}));
    assert!(delegated["diff"].as_str().unwrap().contains("+more"), "{name}: {delegated}");
    let answer = live.untouched("the review gate", || review_gate(&env, &live.repo()));
    let message = answer["systemMessage"].as_str().unwrap_or_default();
    assert!(message.contains("verdict pass"), "{name}: the gate did not review: {answer}");
}

#[test]
fn a_split_index_is_never_touched() {
    let live = Live::new("split index", "", |_| {});
    live.git(&["update-index", "--split-index"]);
    let shared = std::fs::read_dir(live.repo().join(".git")).unwrap().flatten();
    assert!(shared.into_iter().any(|e| e.file_name().to_string_lossy().starts_with("sharedindex.")));
    every_tool(&live);
}

/// The user's config splits every index git writes, the scratch index of untracked files too.
#[test]
fn core_split_index_in_the_users_config_writes_nothing_into_git() {
    let live = Live::new("core.splitIndex", "", |_| {});
    write(&live.home(), ".gitconfig", "[core]\n\tsplitIndex = true\n");
    every_tool(&live);
}

#[test]
fn untracked_content_already_in_a_pack_or_a_loose_object_freshens_neither() {
    let live = Live::new("stored untracked content", "", |live| {
        live.git(&["checkout", "-q", "-b", "side"]);
        write(&live.repo(), "src/new.rs", NEW_FILE);
        live.git(&["add", "-A"]);
        live.git(&["commit", "-q", "-m", "side"]);
        live.git(&["checkout", "-q", "main"]);
        live.git(&["gc", "-q"]);
    });
    write(&live.repo(), "loose.txt", "only a loose object\n");
    live.git(&["hash-object", "-w", "loose.txt"]);
    std::fs::remove_file(live.repo().join("loose.txt")).unwrap();
    write(&live.repo(), "src/loose.rs", "only a loose object\n");
    // The fixture's own objects were written a moment ago; a freshen must be told apart.
    std::thread::sleep(std::time::Duration::from_millis(20));
    every_tool(&live);
}

#[test]
fn a_merge_stopped_on_conflicts_is_never_touched() {
    let live = Live::new("merge conflict", "", |live| {
        live.git(&["checkout", "-q", "-b", "other"]);
        write(&live.repo(), "README.md", "# theirs\n");
        live.git(&["commit", "-q", "-am", "theirs"]);
        live.git(&["checkout", "-q", "main"]);
        write(&live.repo(), "README.md", "# ours\n");
        live.git(&["commit", "-q", "-am", "ours"]);
        let merge = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "merge", "-q", "other"])
            .current_dir(live.repo())
            .env("HOME", live.home())
            .output()
            .unwrap();
        assert!(!merge.status.success(), "the merge should stop on the conflict");
    });
    assert!(live.git(&["status", "--porcelain"]).contains("UU README.md"));
    // The delegate too: merge-ort stored the conflicted file (markers and all) as a blob, which
    // the copy's baseline holds, and writing it again from the copy would freshen the live one.
    every_tool(&live);
}

#[test]
fn git_lfs_files_are_read_without_touching_the_repository() {
    let live = Live::new("git-lfs", "", |live| {
        live.git(&["lfs", "install", "--skip-repo"]);
        live.git(&["lfs", "track", "*.bin"]);
        let payload: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(live.repo().join("asset.bin"), &payload).unwrap();
        live.git(&["add", "-A"]);
        live.git(&["commit", "-q", "-m", "asset"]);
    });
    assert!(live.git(&["show", "HEAD:asset.bin"]).starts_with("version https://git-lfs"));
    touch_later(&live.repo(), "asset.bin");
    std::fs::write(live.repo().join("new.bin"), b"\0new lfs content").unwrap();
    every_tool(&live);
}

/// Files that would block or break a reader among the untracked ones: a 1 GiB sparse file (left
/// out on its size, never hashed), a FIFO and a socket (git does not list them), a nested
/// repository. The rest is reviewed, delegated and gated as usual.
#[test]
fn odd_untracked_files_are_left_out_and_listed_and_the_rest_is_reviewed() {
    let live = Live::new("odd files", "", |_| {});
    let repo = live.repo();
    std::fs::File::create(repo.join("huge.bin")).unwrap().set_len(1 << 30).unwrap();
    let fifo = std::ffi::CString::new(repo.join("pipe").display().to_string()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let _socket = std::os::unix::net::UnixListener::bind(repo.join("sock")).unwrap();
    std::fs::create_dir_all(repo.join("nested")).unwrap();
    git(&repo.join("nested"), &live.home(), &["init", "-q"]);
    write(&repo, "nested/inner.txt", "inner\n");

    let mock = MockModel::start(vec![
        Step::message(review_answer("concerns", json!([]))),
        Step::shell("echo more >> README.md"),
        Step::message("Done."),
        Step::message(review_answer("concerns", json!([]))),
    ]);
    let codex_home = CodexHome::new(&mock);
    let mut env = codex_home.env();
    env.push(("HOME".into(), live.home().display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let mut call = |tool: &str, extra: Value| -> Value {
        let mut arguments = json!({"workspace_root": repo});
        arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let result = live.untouched(tool, || envelope(&server.call(7, tool, arguments)));
        assert_eq!(result["ok"], json!(true), "{tool} {extra}: {result}");
        result
    };
    let left_out = json!([
        {"path": "huge.bin", "reason": "too_large", "bytes": 1u64 << 30, "limit_bytes": 8u64 << 20},
        {"path": "nested/", "reason": "not_a_file"},
    ]);
    for tool in ["codex_dry_run", "codex_review_changes"] {
        let result = call(tool, json!({"untracked": "include"}));
        let coverage = &result["coverage"];
        assert_eq!(coverage["left_out_files"], left_out, "{tool}: {result}");
        assert_eq!(coverage["untracked_files_included"], json!(1), "{tool}: {result}");
        assert!(coverage["omission_reasons"].as_array().unwrap().contains(&json!("files_left_out")), "{result}");
    }
    let sent = &mock.requests().into_iter().find(|r| r.scripted).unwrap().body;
    assert!(sent.contains("fresh()") && !sent.contains("huge.bin"), "what was sent: {sent}");
    let delegated = call("codex_delegate", json!({"task": "append to the readme"}));
    assert!(delegated["diff"].as_str().unwrap().contains("+more"), "{delegated}");
    let answer = live.untouched("the review gate", || review_gate(&env, &repo));
    let message = answer["systemMessage"].as_str().unwrap_or_default();
    assert!(message.contains("verdict") && !message.contains("timed out"), "{answer}");
    assert_eq!(mock.requests().into_iter().filter(|r| r.scripted).count(), 4, "the gate reviewed");
}

/// Tests run as root, which reads a file whatever its mode, so the dry run runs as `nobody`,
/// for whom a mode-000 file of its own is unreadable.
#[test]
fn an_unreadable_untracked_file_is_left_out_and_listed() {
    let live = Live::new("unreadable", "", |_| {});
    let repo = live.repo();
    write(&repo, "secret.txt", "unreadable\n");
    std::fs::set_permissions(repo.join("secret.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    std::fs::create_dir_all(live.scratch.path().join("state")).unwrap();
    chown_all(live.scratch.path(), 65534);
    let out = live.untouched("a dry run as nobody", || {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(binary())
            .args(["dry-run", "--untracked", "include"])
            .current_dir(&repo)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", live.home())
            .env("CODEX_IN_CLAUDE_STATE_DIR", live.scratch.path().join("state"))
            .output()
            .unwrap()
    });
    let result: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {} {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(
        result["coverage"]["left_out_files"],
        json!([{"path": "secret.txt", "reason": "unreadable"}]),
        "{result}"
    );
    assert_eq!(result["coverage"]["untracked_files_included"], json!(1), "{result}");
}
