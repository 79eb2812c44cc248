//! `codex_delegate` and `codex_delegate_dry_run` end to end: real repositories, the real pinned
//! codex (workspace-write sandbox) against the mock model issuing `apply_patch` and shell edits.
//! Tests check that the user's repository (working tree and `.git`, byte for byte) is unchanged
//! afterwards and that no worktree directory is left, including after a timeout, a cancellation
//! and a killed server.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::isolation::{RepoState, repo_state};
use crate::mock_model::{MockModel, Step};
use crate::repo::TestRepo;
use crate::support::{Server, envelope, live_pids_with_env, process_gone};

/// The user's repository, `.git` included, byte for byte with modes and mtimes.
fn snapshot(repo: &TestRepo) -> RepoState {
    repo_state(repo.path())
}

/// A server wired to the mock, with its own worktree base so leftovers are visible.
pub(crate) struct Delegation {
    pub(crate) server: Server,
    pub(crate) base: tempfile::TempDir,
    home: CodexHome,
}

impl Delegation {
    pub(crate) fn new(mock: &MockModel, extra_env: &[(&str, &str)]) -> Delegation {
        Delegation::new_with_home(CodexHome::new(mock), extra_env)
    }

    /// A server wired to `home`'s codex configuration.
    pub(crate) fn new_with_home(home: CodexHome, extra_env: &[(&str, &str)]) -> Delegation {
        let base = tempfile::tempdir().unwrap();
        let mut env = home.env();
        env.push(("CODEX_IN_CLAUDE_WORKTREE_BASE".into(), base.path().display().to_string()));
        env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut server = Server::start(&env);
        server.initialize(json!({}));
        Delegation { server, base, home }
    }

    pub(crate) fn call(&mut self, tool: &str, repo: &TestRepo, extra: Value) -> Value {
        self.call_at(tool, repo.path(), extra)
    }

    /// A call with `workspace` as the workspace root (a subdirectory, a linked worktree).
    pub(crate) fn call_at(&mut self, tool: &str, workspace: &Path, extra: Value) -> Value {
        let mut arguments = json!({"task": "do the thing", "workspace_root": workspace});
        arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        envelope(&self.server.call(31, tool, arguments))
    }

    /// No `cic-worktree-*` directory is left in the worktree base.
    pub(crate) fn assert_no_worktree_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.base.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "worktree directories left behind: {left:?}");
    }
}

pub(crate) fn project() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("src/lib.rs", "pub fn answer() -> u32 {\n    41\n}\n");
    repo.write("notes.txt", "keep me\n");
    repo.write("old_name.txt", "renamed content\n");
    repo.write("doomed.txt", "delete me\n");
    repo.write("run.sh", "echo hi\n");
    repo.commit("project");
    repo
}

pub(crate) const FIX_ANSWER: &str = "*** Begin Patch\n\
*** Update File: src/lib.rs\n\
@@\n\
-    41\n\
+    42\n\
*** Add File: src/extra.rs\n\
+pub const EXTRA: u8 = 1;\n\
*** End Patch";

/// The user's own `git apply --check` of `diff`, run in `dir`.
pub(crate) fn apply_check(dir: &Path, diff: &str) -> std::process::Output {
    let mut child = std::process::Command::new("git")
        .args(["apply", "--check", "-"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(diff.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_diff_holds_exactly_codexs_edits_and_applies_to_the_live_tree() {
    let mock = MockModel::start(vec![Step::apply_patch(FIX_ANSWER), Step::message("Changed 41 to 42 in src/lib.rs.")]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    // An uncommitted change Codex must see (replayed) but that must not show up in the diff.
    repo.write("notes.txt", "keep me\nlocal edit\n");
    let before = snapshot(&repo);

    // The whole envelope: meta's tier and sandbox are what this test is about.
    let result = delegation.call("codex_delegate", &repo, json!({"detail": "full"}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("-    41\n+    42\n"), "{diff}");
    assert!(diff.contains("+++ b/src/extra.rs"), "{diff}");
    assert!(!diff.contains("local edit"), "the replayed baseline leaked into the diff:\n{diff}");
    assert!(diff.ends_with('\n'), "a diff must keep its trailing newline");
    assert!(!diff.contains(delegation.base.path().to_str().unwrap()), "worktree paths must not leak: {diff}");
    let meta = &result["meta"];
    assert_eq!(result["applies_cleanly"], json!(true), "{result}");
    // What to do with the diff comes first, the diff itself after every short member, meta last.
    let keys: Vec<&str> = result.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[..3], ["ok", "summary", "applies_cleanly"], "{keys:?}");
    let position = |key: &str| keys.iter().position(|k| *k == key).unwrap();
    assert!(position("apply_command") < position("diff") && keys.last() == Some(&"meta"), "{keys:?}");
    assert_eq!(meta["sandbox"], json!("workspace-write"));
    assert_eq!(meta["tier"], json!("propose"));
    assert_eq!(meta["context_summary"]["files_changed"], json!(2));
    assert_eq!(result["summary"], json!("Changed 41 to 42 in src/lib.rs."));
    assert!(apply_check(repo.path(), diff).status.success(), "git apply --check failed on the returned diff");

    assert_eq!(snapshot(&repo), before, "the live tree changed");
    delegation.assert_no_worktree_left();
    // The prompt asked for the task, framed, and network stayed pinned off.
    let log = mock.request_log_text();
    assert!(log.contains("do the thing") && log.contains("repository-relative"));
}

#[test]
fn shell_edits_rename_delete_binary_and_mode_changes() {
    let mock = MockModel::start(vec![
        Step::shell(
            "mv old_name.txt new_name.txt && rm doomed.txt && printf '\\000\\001\\002' > blob.bin && chmod +x run.sh",
        ),
        Step::message("Shuffled files."),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let before = snapshot(&repo);
    let result = delegation.call("codex_delegate", &repo, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("rename from old_name.txt") && diff.contains("rename to new_name.txt"), "{diff}");
    assert!(diff.contains("deleted file mode"), "{diff}");
    assert!(diff.contains("old mode 100644") && diff.contains("new mode 100755"), "{diff}");
    assert!(diff.contains("GIT binary patch"), "{diff}");
    assert_eq!(result["meta"]["binary_files"], json!(["blob.bin"]));
    // The binary file is inlined as a git binary patch, so the whole diff applies.
    assert_eq!(result["applies_cleanly"], json!(true), "{}", result["applies_cleanly_reason"]);
    assert_eq!(snapshot(&repo), before);
    delegation.assert_no_worktree_left();
    // Applied with plain git apply, it makes what Codex's commands made.
    let patch = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(patch.path(), diff).unwrap();
    repo.git(&["apply", &patch.path().display().to_string()]);
    assert_eq!(std::fs::read(repo.path().join("blob.bin")).unwrap(), b"\0\x01\x02");
    assert_eq!(std::fs::read(repo.path().join("new_name.txt")).unwrap(), b"renamed content\n");
    assert!(!repo.path().join("doomed.txt").exists() && !repo.path().join("old_name.txt").exists());
    use std::os::unix::fs::PermissionsExt as _;
    assert_ne!(std::fs::metadata(repo.path().join("run.sh")).unwrap().permissions().mode() & 0o111, 0);
}

#[test]
fn repository_hooks_never_run() {
    let mock = MockModel::start(vec![Step::apply_patch(FIX_ANSWER), Step::message("done")]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let marker = repo.path().join("hook-ran");
    // A failing pre-commit hook, and hooks that `--no-verify` would not skip: post-checkout runs
    // on `git worktree add`, post-commit after the baseline commit.
    for (name, exit) in [("pre-commit", 1), ("post-checkout", 0), ("post-commit", 0)] {
        let hook = repo.path().join(".git/hooks").join(name);
        std::fs::write(&hook, format!("#!/bin/sh\necho {name} >> {}\nexit {exit}\n", marker.display())).unwrap();
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    // An uncommitted change makes the worktree commit a baseline, which would run the hook.
    repo.write("notes.txt", "changed\n");
    let result = delegation.call("codex_delegate", &repo, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(result["meta"].get("security_warnings").is_none(), "{result}");
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(ran.is_empty(), "repository hooks ran: {ran}");
    delegation.assert_no_worktree_left();
}

#[test]
fn a_huge_diff_is_truncated_and_stays_bounded() {
    let mock = MockModel::start(vec![
        Step::shell("echo small > a.txt && seq 1 200000 > big.txt"),
        Step::message("Wrote big.txt."),
    ]);
    let mut delegation = Delegation::new(&mock, &[("CODEX_IN_CLAUDE_MAX_DELEGATE_DIFF_BYTES", "4000")]);
    let repo = project();
    let result = delegation.call("codex_delegate", &repo, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.len() <= 4000, "diff is {} bytes", diff.len());
    assert!(diff.ends_with('\n'));
    // Cut between files, never inside one: big.txt is left out whole and listed, a.txt applies.
    assert!(diff.contains("b/a.txt") && !diff.contains("big.txt"), "{diff}");
    assert_eq!(result["left_out_files"][0]["path"], json!("big.txt"), "{result}");
    assert_eq!(result["left_out_files"][0]["reason"], json!("over_bound"));
    assert_eq!(result["meta"]["truncated"], json!(true));
    assert!(result["meta"]["truncation_hint"].as_str().unwrap().contains("MAX_DELEGATE_DIFF_BYTES"));
    assert_eq!(result["applies_cleanly"], json!(true), "{}", result["applies_cleanly_reason"]);
    assert_eq!(result["meta"]["context_summary"]["lines_added"], json!(200_001));
    delegation.assert_no_worktree_left();
}

#[test]
fn edits_made_meanwhile_are_reported_as_a_conflict() {
    let mock = MockModel::start(vec![
        Step::apply_patch(FIX_ANSWER),
        Step::message("done").delayed(Duration::from_millis(1500)),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let params = json!({"name": "codex_delegate", "arguments": {"task": "t", "workspace_root": repo.path()}});
    delegation.server.send(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params}));
    assert!(mock.wait_for_requests(2, Duration::from_secs(20)), "codex never came back for the summary");
    // The user edits the same line while Codex is finishing.
    repo.write("src/lib.rs", "pub fn answer() -> u32 {\n    40\n}\n");
    let response = delegation.server.response(json!(5));
    let result = envelope(&response["result"]);
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(result["applies_cleanly"], json!(false), "{}", result["meta"]);
    assert!(result["applies_cleanly_reason"].as_str().unwrap().contains("src/lib.rs"), "{}", result["meta"]);
    delegation.assert_no_worktree_left();
}

#[test]
fn a_timeout_leaves_no_worktree_and_no_process() {
    let mock = MockModel::start(vec![Step::Hang]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let before = snapshot(&repo);
    let result = delegation.call("codex_delegate", &repo, json!({"timeout_seconds": 10}));
    assert_eq!(result["error"]["code"], json!("timeout"), "{result}");
    assert_eq!(snapshot(&repo), before);
    delegation.assert_no_worktree_left();
    let left = live_pids_with_env("CODEX_HOME", delegation.home.path(), delegation.server.pid());
    assert!(left.is_empty(), "codex left running: {left:?}");
}

#[test]
fn a_cancelled_delegation_cleans_up_its_worktree() {
    let mock = MockModel::start(vec![Step::Hang]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let before = snapshot(&repo);
    let params = json!({"name": "codex_delegate", "arguments": {"task": "t", "workspace_root": repo.path()}});
    delegation.server.send(json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": params}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(20)));
    assert_eq!(std::fs::read_dir(delegation.base.path()).unwrap().count(), 1, "the worktree exists while codex runs");
    delegation.server.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 6}}));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(delegation.base.path()).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "the worktree was not removed after cancel");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(snapshot(&repo), before);
    assert!(live_pids_with_env("CODEX_HOME", delegation.home.path(), delegation.server.pid()).is_empty());
    delegation.server.expect_silence(Duration::from_millis(300));
}

#[test]
fn dry_run_describes_the_start_without_making_a_worktree() {
    let mock = MockModel::start(vec![]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    repo.write("notes.txt", "edited\n");
    repo.write("scratch/untracked.txt", "12345");
    let result = delegation.call("codex_delegate_dry_run", &repo, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let plan = &result["worktree_plan"];
    assert_eq!(plan["head_commit"], json!(repo.git(&["rev-parse", "HEAD"]).trim()));
    assert_eq!(plan["head_subject"], json!("project"));
    assert_eq!(plan["tracked_files"], json!(6));
    assert_eq!(plan["uncommitted_tracked_files"], json!(1));
    assert_eq!(plan["untracked_files"], json!(1));
    assert_eq!(plan["untracked_bytes"], json!(5));
    assert!(result["prompt_bytes"].as_u64().unwrap() > 100);
    assert_eq!(mock.requests().len(), 0);
    delegation.assert_no_worktree_left();
}

#[test]
fn repositories_without_commits_or_git_are_refused_before_any_spend() {
    let mock = MockModel::start(vec![]);
    let mut delegation = Delegation::new(&mock, &[]);
    let plain = TestRepo::not_a_repo();
    assert_eq!(delegation.call("codex_delegate", &plain, json!({}))["error"]["code"], json!("not_a_git_repo"));
    plain.git(&["init", "-q"]);
    let result = delegation.call("codex_delegate", &plain, json!({}));
    assert_eq!(result["error"]["code"], json!("worktree_error"), "{result}");
    assert_eq!(mock.requests().len(), 0);
    delegation.assert_no_worktree_left();
}

#[test]
fn delegate_diff_only_from_the_shell_pipes_into_git_apply() {
    let mock = MockModel::start(vec![Step::apply_patch(FIX_ANSWER), Step::message("done")]);
    let home = CodexHome::new(&mock);
    let repo = project();
    let out = std::process::Command::new(crate::support::binary())
        .args(["delegate", "bump the answer", "--diff-only"])
        .current_dir(repo.path())
        .env_clear()
        .envs(home.env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.starts_with("diff --git "), "{diff}");
    assert!(apply_check(repo.path(), &diff).status.success());
}

#[test]
fn progress_names_files_relative_to_the_repository() {
    let mock = MockModel::start(vec![
        Step::apply_patch(FIX_ANSWER).delayed(Duration::from_millis(1100)),
        Step::message("done").delayed(Duration::from_millis(2500)),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let params = json!({
        "name": "codex_delegate",
        "arguments": {"task": "t", "workspace_root": repo.path()},
        "_meta": {"progressToken": 77}
    });
    delegation.server.send(json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": params}));
    let result = envelope(&delegation.server.response(json!(8))["result"]);
    assert_eq!(result["ok"], json!(true), "{result}");
    let messages: Vec<String> = delegation
        .server
        .drain_notifications("notifications/progress")
        .iter()
        .map(|n| n["params"]["message"].as_str().unwrap().to_string())
        .collect();
    assert!(messages.iter().any(|m| m == "editing src/lib.rs" || m == "editing src/extra.rs"), "{messages:?}");
    let base = delegation.base.path().display().to_string();
    assert!(messages.iter().all(|m| !m.contains(&base)), "a worktree path leaked into progress: {messages:?}");
}

#[test]
fn a_killed_delegate_worker_has_its_worktree_cleaned_by_the_next_start() {
    let mock = MockModel::start(vec![Step::Hang]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let before = snapshot(&repo);
    let params = json!({"name": "codex_delegate", "arguments": {"task": "t", "workspace_root": repo.path()}});
    delegation.server.send(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(20)));
    delegation.server.kill();
    assert_eq!(std::fs::read_dir(delegation.base.path()).unwrap().count(), 1, "the run's worktree is in use");
    // The copy is a repository of its own: the live one holds no trace of it, even now.
    assert_eq!(snapshot(&repo), before, "the killed delegation left a trace in the live repository");

    let mut env = delegation.home.env();
    env.push(("CODEX_IN_CLAUDE_WORKTREE_BASE".into(), delegation.base.path().display().to_string()));
    // A paid run outlives its server: the next server leaves its worktree alone while it runs.
    let mut next = Server::start(&env);
    next.initialize(json!({}));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(std::fs::read_dir(delegation.base.path()).unwrap().count(), 1, "a live run's worktree was reaped");
    // Its worker killed outright (no chance to clean up), the worktree is an orphan.
    let run = live_pids_with_env("CODEX_HOME", delegation.home.path(), next.pid());
    assert!(!run.is_empty(), "the run did not outlive its server");
    for pid in &run {
        let _ = std::process::Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
    }
    // A killed process lets go of its lock only once it has exited, which a loaded machine may
    // take a moment to do; the next server looks for orphans once, as it starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !run.iter().all(|&pid| process_gone(pid)) {
        assert!(Instant::now() < deadline, "the killed run did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(next);
    let mut last = Server::start(&env);
    last.initialize(json!({}));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(delegation.base.path()).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "the next server did not remove the orphaned worktree");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(snapshot(&repo), before);
    assert!(live_pids_with_env("CODEX_HOME", delegation.home.path(), last.pid()).is_empty());
}

/// A skip-worktree or assume-unchanged file holds the user's kept local tweak, which git hides
/// from `status`: Codex edits that version, and the diff, relative to it, applies to the live
/// tree with plain `git apply`.
#[test]
fn skip_worktree_and_assume_unchanged_files_start_as_they_are_on_disk() {
    let mock = MockModel::start(vec![
        Step::shell("echo codex >> notes.txt && echo codex >> run.sh"),
        Step::message("Appended a line to both files."),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    repo.write("notes.txt", "keep me\nlocal tweak\n");
    repo.git(&["update-index", "--skip-worktree", "notes.txt"]);
    repo.write("run.sh", "echo local\n");
    repo.git(&["update-index", "--assume-unchanged", "run.sh"]);
    let before = snapshot(&repo);
    let result = delegation.call("codex_delegate", &repo, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains(" local tweak\n+codex\n") && diff.contains(" echo local\n+codex\n"), "{diff}");
    assert_eq!(result["applies_cleanly"], json!(true), "{result}");
    assert_eq!(snapshot(&repo), before, "the live tree changed");
    delegation.assert_no_worktree_left();
    let patch = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(patch.path(), diff).unwrap();
    repo.git(&["apply", &patch.path().display().to_string()]);
    assert_eq!(std::fs::read_to_string(repo.path().join("notes.txt")).unwrap(), "keep me\nlocal tweak\ncodex\n");
    assert_eq!(std::fs::read_to_string(repo.path().join("run.sh")).unwrap(), "echo local\ncodex\n");
}

/// A sparse tracked file (a 64 MiB disk image holding a few bytes) is copied sparse: it takes a
/// few blocks in the copy, as in the live tree, not 64 MiB. (At 1 GiB the copy is as sparse,
/// but hashing the whole file in the baseline and the capture outlasts the harness's wait.)
#[test]
fn a_sparse_tracked_file_stays_sparse_in_the_copy() {
    let mock = MockModel::start(vec![
        Step::shell("stat -c 'blocks=%b.' disk.img && tail -c 6 disk.img"),
        Step::message("Looked at the image."),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let image = std::fs::File::create(repo.path().join("disk.img")).unwrap();
    use std::os::unix::fs::FileExt as _;
    image.write_all_at(b"head\n", 0).unwrap();
    image.write_all_at(b"tail!\n", (64 << 20) - 6).unwrap();
    drop(image);
    repo.git(&["add", "disk.img"]);
    repo.commit("a disk image");
    let blocks = |log: &str| -> u64 {
        // The command itself is in the log too: the count is the `blocks=<digits>.` one.
        let counts = log.split("blocks=").skip(1).filter_map(|rest| rest.split('.').next()?.parse().ok());
        counts.last().expect("the copy's block count was reported")
    };
    use std::os::unix::fs::MetadataExt as _;
    let live_blocks = std::fs::metadata(repo.path().join("disk.img")).unwrap().blocks();
    assert!(live_blocks < 1024, "the fixture is sparse: {live_blocks} blocks");
    let result = delegation.call("codex_delegate", &repo, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let log = mock.request_log_text();
    assert!(log.contains("tail!"), "the copy holds the file's data: {log}");
    let copied = blocks(&log);
    assert!(copied <= live_blocks + 64, "the copy took {copied} blocks of 512 bytes, the live file {live_blocks}");
    delegation.assert_no_worktree_left();
}

/// Changes `git apply` makes quietly that could hurt are warned about: symlinks leading out of
/// the repository, and an executable bit on a file that is neither a script nor under `bin/`;
/// a script, a `bin/` file and a symlink inside the repository are not.
#[test]
fn symlinks_out_of_the_repository_and_odd_executables_are_warned_about() {
    let mock = MockModel::start(vec![
        Step::shell(
            "ln -s /etc/passwd abs_link && mkdir -p docs && ln -s ../../outside docs/up_link && ln -s ../src/lib.rs \
             docs/in_link && printf 'plain data\\n' > data.txt && chmod +x data.txt notes.txt && mkdir -p bin && \
             printf 'tool\\n' > bin/tool && chmod +x bin/tool && printf '#!/bin/sh\\necho go\\n' > go && chmod +x go",
        ),
        Step::message("Made links and executables."),
    ]);
    let mut delegation = Delegation::new(&mock, &[]);
    let repo = project();
    let result = delegation.call("codex_delegate", &repo, json!({"detail": "full"}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let warnings: Vec<String> = result["meta"]["security_warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    let warned = |path: &str| warnings.iter().any(|w| w.starts_with(&format!("{path}: ")));
    for path in ["abs_link", "docs/up_link", "data.txt", "notes.txt"] {
        assert!(warned(path), "{path} is not warned about: {warnings:?}");
    }
    for path in ["docs/in_link", "bin/tool", "go"] {
        assert!(!warned(path), "{path} is warned about: {warnings:?}");
    }
    assert!(result["diff"].as_str().unwrap().contains("+++ b/abs_link"), "{result}");
    delegation.assert_no_worktree_left();
}
