//! Issue 12's isolation promises for `codex_delegate`, end to end with real git and the real
//! codex against the mock model: the live repository (working tree and all of `.git`, with
//! modes and mtimes) is unchanged by a delegation; Codex's sandbox writes only the throwaway copy
//! and its private temporary directory, even when the repository lives under /tmp; repository-
//! configured filters never run; sparse, filtered, sha256, shallow, linked-worktree, submodule
//! and subdirectory workspaces work; a withheld file is left out and listed, the rest applies.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::delegate::{Delegation, apply_check, project};
use crate::mock_model::{MockModel, Step};
use crate::support::{Server, binary, envelope, fake_codex_dir, path_with};

/// Every entry under a directory, by relative path: kind, content hash or link target, mode and
/// mtime (nanoseconds). Equal states mean nothing was written, touched or created there.
#[derive(Debug, PartialEq)]
pub struct RepoState(BTreeMap<String, String>);

pub fn repo_state(dir: &Path) -> RepoState {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                walk(root, &path, out);
                "dir".to_string()
            } else {
                format!("file {}", codex_in_claude::foundation::hash::sha256_hex(&std::fs::read(&path).unwrap()))
            };
            let stamp = format!("{:o} {}.{:09}", meta.mode(), meta.mtime(), meta.mtime_nsec());
            out.insert(path.strip_prefix(root).unwrap().display().to_string(), format!("{what} {stamp}"));
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    RepoState(out)
}

/// Panics naming every entry that differs.
fn assert_unchanged(dir: &Path, before: &RepoState) {
    let after = repo_state(dir);
    let mut changes = Vec::new();
    for (path, was) in &before.0 {
        match after.0.get(path) {
            None => changes.push(format!("removed {path}")),
            Some(now) if now != was => changes.push(format!("changed {path}: {was} -> {now}")),
            Some(_) => {}
        }
    }
    changes.extend(after.0.keys().filter(|p| !before.0.contains_key(*p)).map(|p| format!("added {p}")));
    assert!(changes.is_empty(), "the live repository at {} was written:\n{}", dir.display(), changes.join("\n"));
}

/// Plain git in `dir` with a fixed identity; returns stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "protocol.file.allow=always"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(dir: &Path, relative: &str, content: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A committed repository in `dir` with `notes.txt`, made with `init_args`.
fn repo_at(dir: &Path, init_args: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &[&["init", "-q", "-b", "main"], init_args].concat());
    write(dir, "notes.txt", "keep me\n");
    write(dir, "src/lib.rs", "pub fn answer() -> u32 {\n    41\n}\n");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "first"]);
}

const EDIT_NOTES: &str = "echo 'from codex' >> notes.txt";

/// A delegation in `workspace` whose Codex runs the shell `script`: it succeeds, no byte of
/// `watched` changes, no worktree is left. Returns the result.
fn delegate_shell(workspace: &Path, script: &str, watched: &[&Path]) -> Value {
    delegate_shell_with(&[], workspace, script, watched)
}

/// `delegate_shell` with extra server environment.
fn delegate_shell_with(env: &[(&str, &str)], workspace: &Path, script: &str, watched: &[&Path]) -> Value {
    let mock = MockModel::start(vec![Step::shell(script), Step::message("Done.")]);
    let mut delegation = Delegation::new(&mock, env);
    let before: Vec<RepoState> = watched.iter().map(|dir| repo_state(dir)).collect();
    let result = delegation.call_at("codex_delegate", workspace, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(result["diff"].is_string(), "no diff: {result}");
    for (dir, state) in watched.iter().zip(&before) {
        assert_unchanged(dir, state);
    }
    delegation.assert_no_worktree_left();
    result
}

/// `delegate_shell` appending to `notes.txt`: the diff holds that edit and applies, by our check
/// and by git's own from `live_root`.
fn delegate_appends_to_notes(workspace: &Path, live_root: &Path, watched: &[&Path]) -> Value {
    let result = delegate_shell(workspace, EDIT_NOTES, watched);
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("+++ b/notes.txt\n") && diff.contains("+from codex\n"), "{diff}");
    assert_eq!(result["meta"]["context_summary"]["files_changed"], json!(1), "{diff}");
    assert_eq!(result["applies_cleanly"], json!(true), "{result}");
    assert!(apply_check(live_root, diff).status.success());
    result
}

#[test]
fn a_delegation_writes_no_byte_and_touches_no_mtime_of_the_live_repository() {
    let repo = project();
    repo.write("empty.txt", "");
    repo.commit("empty");
    repo.git(&["gc", "-q"]);
    repo.write("staged.txt", "staged content\n");
    repo.git(&["add", "staged.txt"]);
    repo.write("src/lib.rs", "pub fn answer() -> u32 {\n    40\n}\n");
    std::fs::remove_file(repo.path().join("doomed.txt")).unwrap();
    // Codex renames a file and adds an empty one: both are objects the live (packed) store
    // already holds, which git would otherwise "freshen" there.
    let script = "mv old_name.txt moved.txt && : > also_empty.txt && echo more >> notes.txt";
    let result = delegate_shell(repo.path(), script, &[repo.path()]);
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("rename from old_name.txt\nrename to moved.txt"), "{diff}");
    assert!(diff.contains("diff --git a/also_empty.txt b/also_empty.txt\nnew file mode 100644"), "{diff}");
    assert!(diff.contains("+more\n"), "{diff}");
    // The staged file, the unstaged edit and the deletion are the baseline, not Codex's edits.
    for baseline in ["staged", "src/lib.rs", "doomed"] {
        assert!(!diff.contains(baseline), "{baseline} leaked into the diff:\n{diff}");
    }
    assert_eq!(result["applies_cleanly"], json!(true), "{result}");
}

#[test]
fn an_async_delegation_done_or_cancelled_leaves_the_live_repository_untouched() {
    for cancel in [false, true] {
        let steps = if cancel { vec![Step::Hang] } else { vec![Step::shell(EDIT_NOTES), Step::message("Appended.")] };
        let mock = MockModel::start(steps);
        let state = tempfile::tempdir().unwrap();
        let mut delegation = Delegation::new(&mock, &[("CODEX_IN_CLAUDE_STATE_DIR", state.path().to_str().unwrap())]);
        let repo = project();
        repo.write("src/lib.rs", "uncommitted\n");
        let before = repo_state(repo.path());
        let started = delegation.call("codex_delegate_async", &repo, json!({}));
        assert_eq!(started["ok"], json!(true), "{started}");
        let job = json!({"job_id": started["job_id"], "workspace_root": repo.path()});
        if cancel {
            assert!(mock.wait_for_requests(1, Duration::from_secs(30)), "the worker never reached the model");
            let cancelled = envelope(&delegation.server.call(2, "codex_job_cancel", job.clone()));
            assert_eq!(cancelled["status"], json!("cancelled"), "{cancelled}");
        } else {
            let deadline = Instant::now() + Duration::from_secs(60);
            while envelope(&delegation.server.call(2, "codex_job_status", job.clone()))["status"] == json!("running") {
                assert!(Instant::now() < deadline, "the job did not finish");
                std::thread::sleep(Duration::from_millis(100));
            }
            let result = envelope(&delegation.server.call(3, "codex_job_result", job));
            assert_eq!(result["ok"], json!(true), "{result}");
            assert!(result["diff"].as_str().unwrap().contains("+from codex\n"), "{result}");
        }
        assert_unchanged(repo.path(), &before);
        delegation.assert_no_worktree_left();
    }
}

#[test]
fn codexs_sandbox_writes_only_the_copy_and_its_private_tmp_even_for_a_repository_under_tmp() {
    let live_parent = tempfile::tempdir_in("/tmp").unwrap();
    let live = live_parent.path().join("repo");
    repo_at(&live, &[]);
    // The server's own TMPDIR and HOME, outside /tmp and outside the repository.
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (tmpdir, home) = (outside.path().join("tmpdir"), outside.path().join("home"));
    std::fs::create_dir_all(&tmpdir).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let stray = format!("/tmp/cic-escape-{}", std::process::id());
    let targets = [
        live.join("escaped.txt"),
        live.join(".git/hooks/pre-commit"),
        live.join(".git/config"),
        PathBuf::from(&stray),
        tmpdir.join("escaped.txt"),
        home.join("escaped.txt"),
    ];
    let attempts: Vec<String> = targets
        .iter()
        .map(|t| format!("(echo planted >> '{0}') 2>/dev/null && echo 'WROTE {0}' >> report.txt;", t.display()))
        .collect();
    let script = format!(
        "{} echo ok > \"$TMPDIR/scratch\" && echo \"private tmp writable: $TMPDIR\" >> report.txt; echo done",
        attempts.join(" ")
    );
    // apply_patch goes through the same sandbox: an absolute path into the live repository.
    let patch =
        format!("*** Begin Patch\n*** Add File: {}\n+planted\n*** End Patch", live.join("patched.txt").display());
    let mock = MockModel::start(vec![Step::shell(script), Step::apply_patch(patch), Step::message("Tried.")]);
    let env = [("TMPDIR", tmpdir.to_str().unwrap()), ("HOME", home.to_str().unwrap())];
    let mut delegation = Delegation::new(&mock, &env);
    let before = repo_state(&live);

    let result = delegation.call_at("codex_delegate", &live, json!({}));
    assert_eq!(result["ok"], json!(true), "{result}");
    let diff = result["diff"].as_str().unwrap_or_else(|| panic!("no diff: {result}"));
    assert!(!diff.contains("WROTE"), "a write escaped the sandbox:\n{diff}");
    let base = delegation.base.path().canonicalize().unwrap();
    let private = diff.lines().find_map(|l| l.strip_prefix("+private tmp writable: ")).expect(diff);
    assert!(Path::new(private).starts_with(&base), "codex's TMPDIR {private} is not inside the run area");
    assert_unchanged(&live, &before);
    for target in &targets[3..] {
        assert!(!target.exists(), "{} was written", target.display());
    }
    delegation.assert_no_worktree_left();
}

#[test]
fn a_host_where_the_sandbox_cannot_run_refuses_before_codex_starts() {
    let base = tempfile::tempdir().unwrap();
    let argv = base.path().join("argv");
    let repo = project();
    let vars: Vec<(String, String)> = [
        ("PATH", path_with(&fake_codex_dir())),
        ("FAKE_CODEX_SANDBOX", "nouserns".to_string()),
        ("FAKE_CODEX_ARGV_FILE", argv.display().to_string()),
        ("CODEX_IN_CLAUDE_WORKTREE_BASE", base.path().join("w").display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut server = Server::start(&vars);
    server.initialize(json!({}));
    let result = envelope(&server.call(1, "codex_delegate", json!({"task": "t", "workspace_root": repo.path()})));
    assert_eq!(result["error"]["code"], json!("sandbox_unavailable"), "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("Creating new namespace failed"), "{result}");
    assert!(!argv.exists(), "codex exec ran without a working sandbox");
    assert_eq!(std::fs::read_dir(base.path().join("w")).unwrap().count(), 0, "worktree left behind");
}

#[test]
fn a_sparse_checkout_gets_edits_outside_its_cone_back() {
    // With a full index (skip-worktree entries) and with a sparse index (collapsed directories).
    for index_kind in ["--no-sparse-index", "--sparse-index"] {
        let repo = project();
        repo.write("far/away.txt", "outside the cone\n");
        repo.commit("far");
        repo.git(&["sparse-checkout", "set", index_kind, "src"]);
        assert!(!repo.path().join("far/away.txt").exists());
        let result =
            delegate_shell(repo.path(), "echo edited >> far/away.txt && echo '// near' >> src/lib.rs", &[repo.path()]);
        let diff = result["diff"].as_str().unwrap();
        let far = "--- a/far/away.txt\n+++ b/far/away.txt\n@@ -1 +1,2 @@\n outside the cone\n+edited\n";
        assert!(diff.contains(far), "{index_kind}: {diff}");
        assert!(diff.contains("+// near\n"), "{index_kind}: {diff}");
        // The file is not checked out here, so neither git apply nor our check can apply it.
        assert_eq!(result["applies_cleanly"], json!(false), "{index_kind}: {result}");
        assert!(!apply_check(repo.path(), diff).status.success());
    }
}

#[test]
fn repository_configured_commands_never_run_and_filtered_files_show_no_phantom_change() {
    let repo = project();
    let markers = tempfile::tempdir().unwrap();
    let marker = |name: &str| markers.path().join(name).display().to_string();
    // Stored form `ptr:`, checked-out form `real:`; every run of either command leaves a marker.
    let clean = format!("touch '{}'; sed 's/^real:/ptr:/'", marker("clean"));
    let smudge = format!("touch '{}'; sed 's/^ptr:/real:/'", marker("smudge"));
    repo.git(&["config", "filter.evil.clean", &clean]);
    repo.git(&["config", "filter.evil.smudge", &smudge]);
    repo.write(".gitattributes", "*.dat filter=evil diff=evil\n*.glb filter=global\n");
    repo.write("a.dat", "real: alpha\n");
    repo.write("b.dat", "real: beta\n");
    repo.write("c.glb", "gamma\n");
    repo.commit("filtered");
    // A user-level filter (like git-lfs) in the HOME Codex's git reads: the copy holds
    // checked-out bytes, so no filter converts them there either.
    let home = tempfile::tempdir().unwrap();
    let global =
        format!("[filter \"global\"]\n\tclean = touch '{0}'; cat\n\tsmudge = touch '{0}'; cat\n", marker("global"));
    std::fs::write(home.path().join(".gitconfig"), global).unwrap();
    assert_eq!(repo.git(&["cat-file", "blob", "HEAD:a.dat"]), "ptr: alpha\n");
    // Then every other command a repository can configure, each leaving its own marker.
    let scripts = markers.path().join("bin");
    std::fs::create_dir_all(scripts.join("hooks")).unwrap();
    let script = |name: &str, tail: &str| {
        let path = scripts.join(name);
        std::fs::write(&path, format!("#!/bin/sh\ntouch '{}'\n{tail}\n", marker(name))).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    repo.git(&["config", "core.fsmonitor", &script("fsmonitor", "exit 1")]);
    repo.git(&["config", "diff.external", &script("external", "exit 0")]);
    repo.git(&["config", "diff.evil.textconv", &script("textconv", "cat \"$1\"")]);
    for hook in ["pre-commit", "post-commit", "post-checkout", "post-index-change", "reference-transaction"] {
        script(&format!("hooks/{hook}"), "exit 0");
    }
    repo.git(&["config", "core.hooksPath", scripts.join("hooks").to_str().unwrap()]);
    for entry in std::fs::read_dir(markers.path()).unwrap().flatten().filter(|e| e.path().is_file()) {
        std::fs::remove_file(entry.path()).unwrap();
    }
    // Codex's own git in the copy: its output is kept in a file, so the diff proves it ran.
    let script = "cp a.dat seen.txt; echo 'real: more' >> a.dat; echo more >> c.glb; \
                  (git status --short; git diff; git log -p -1; git commit -qam x) > codex-git.txt 2>&1; echo done";
    let env = [("HOME", home.path().to_str().unwrap())];
    let result = delegate_shell_with(&env, repo.path(), script, &[repo.path()]);
    let diff = result["diff"].as_str().unwrap();
    assert!(
        diff.contains("+++ b/seen.txt\n@@ -0,0 +1 @@\n+real: alpha\n"),
        "Codex did not see the real content: {diff}"
    );
    assert!(diff.contains(" real: alpha\n+real: more\n"), "{diff}");
    assert!(diff.contains("\n+ M a.dat\n") && diff.contains("\n++real: more\n"), "Codex's git did not run: {diff}");
    assert!(!diff.lines().any(|line| line.starts_with("diff --git a/b.dat")), "phantom change: {diff}");
    let ran: Vec<_> = std::fs::read_dir(markers.path())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name())
        .collect();
    assert!(ran.is_empty(), "repository-configured commands ran: {ran:?}");
    // The user's git apply would pass a.dat through the filter first: not promised to apply.
    assert_eq!(result["applies_cleanly"], json!(false), "{result}");
    assert!(result["applies_cleanly_reason"].as_str().unwrap().contains("'evil' filter"), "{result}");
}

#[test]
fn a_sha256_repository_works() {
    let dir = tempfile::tempdir().unwrap();
    repo_at(dir.path(), &["--object-format=sha256"]);
    delegate_appends_to_notes(dir.path(), dir.path(), &[dir.path()]);
}

#[test]
fn a_shallow_clone_works() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    repo_at(&origin, &[]);
    write(&origin, "notes.txt", "keep me\nsecond\n");
    git(&origin, &["commit", "-q", "-am", "second"]);
    let url = format!("file://{}", origin.display());
    git(dir.path(), &["clone", "-q", "--depth", "1", &url, "clone"]);
    let clone = dir.path().join("clone");
    assert!(clone.join(".git/shallow").is_file());
    delegate_appends_to_notes(&clone, &clone, &[&clone]);
}

#[test]
fn a_linked_worktree_works_and_neither_it_nor_its_repository_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main");
    repo_at(&main, &[]);
    git(&main, &["worktree", "add", "-q", "-b", "side", "../linked"]);
    let linked = dir.path().join("linked");
    write(&linked, "src/lib.rs", "uncommitted in the linked worktree\n");
    let result = delegate_appends_to_notes(&linked, &linked, &[&main, &linked]);
    assert!(!result["diff"].as_str().unwrap().contains("uncommitted"));
}

#[test]
fn a_repository_with_a_submodule_works() {
    let dir = tempfile::tempdir().unwrap();
    let (sub, main) = (dir.path().join("sub"), dir.path().join("main"));
    repo_at(&sub, &[]);
    repo_at(&main, &[]);
    git(&main, &["submodule", "add", "-q", sub.to_str().unwrap(), "vendor/sub"]);
    git(&main, &["commit", "-q", "-m", "submodule"]);
    delegate_appends_to_notes(&main, &main, &[&main, &sub]);
}

#[test]
fn a_subdirectory_workspace_gets_a_repo_root_diff_and_a_command_that_applies_all_of_it() {
    let repo = project();
    let sub = repo.path().join("src");
    let result = delegate_shell(&sub, "echo 'from codex' >> ../notes.txt && echo '// here' >> lib.rs", &[repo.path()]);
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("+++ b/notes.txt\n") && diff.contains("+++ b/src/lib.rs\n"), "{diff}");
    let command = result["apply_command"].as_str().unwrap();
    assert_eq!(command, format!("git -C '{}' apply --whitespace=nowarn", repo.canonical().display()));

    // The suggested command, run from the subdirectory, applies every file.
    let mut child =
        Command::new("sh").args(["-c", command]).current_dir(&sub).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), diff.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(std::fs::read_to_string(repo.path().join("notes.txt")).unwrap().ends_with("from codex\n"));
    assert!(std::fs::read_to_string(sub.join("lib.rs")).unwrap().ends_with("// here\n"));
}

#[test]
fn the_readme_diff_only_pipeline_applies_every_edit_from_a_subdirectory() {
    let mock = MockModel::start(vec![
        Step::shell("echo 'from codex' >> ../notes.txt && echo '// here' >> lib.rs && echo X=1 > ../.env.local"),
        Step::message("Edited both."),
    ]);
    let home = crate::codex_home::CodexHome::new(&mock);
    let repo = project();
    let readme = include_str!("../../README.md");
    let pipeline = readme
        .lines()
        .find(|line| line.contains("--diff-only |"))
        .and_then(|line| line.split_once(" #"))
        .map(|(command, _)| command.trim())
        .expect("the README shows a --diff-only pipeline");
    let pipeline = pipeline.replace("codex-in-claude", binary().to_str().unwrap());
    let out = Command::new("sh")
        .args(["-c", &pipeline])
        .current_dir(repo.path().join("src"))
        .env_clear()
        .envs(home.env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(std::fs::read_to_string(repo.path().join("notes.txt")).unwrap().ends_with("from codex\n"));
    assert!(std::fs::read_to_string(repo.path().join("src/lib.rs")).unwrap().ends_with("// here\n"));
    // The withheld file is named on stderr, never written.
    assert!(stderr.contains("not in the diff: .env.local"), "{stderr}");
    assert!(!repo.path().join(".env.local").exists());
}

#[test]
fn a_withheld_file_is_left_out_and_listed_and_the_rest_applies() {
    let repo = project();
    let script = "printf 'API_KEY=changeme\\n' > .env.example && echo 'from codex' >> notes.txt && \
                  mkdir inner && git -C inner init -q && echo x > inner/f";
    let result = delegate_shell(repo.path(), script, &[repo.path()]);
    let diff = result["diff"].as_str().unwrap();
    assert!(!diff.contains(".env.example") && !diff.contains("redacted"), "{diff}");
    assert!(diff.contains("+from codex\n"), "{diff}");
    assert_eq!(result["withheld_files"][0]["path"], json!(".env.example"), "{result}");
    assert!(result["withheld_files"][0]["reason"].as_str().unwrap().contains("secret-looking"));
    // A repository Codex made inside the copy cannot be diffed as files: listed, not dropped silently.
    assert_eq!(result["withheld_files"][1]["path"], json!("inner/"), "{result}");
    assert!(result["withheld_files"][1]["reason"].as_str().unwrap().contains("git repository"));
    assert_eq!(result["withheld_files"].as_array().unwrap().len(), 2);
    assert_eq!(result["applies_cleanly"], json!(true), "{result}");
    assert!(apply_check(repo.path(), diff).status.success());
}
