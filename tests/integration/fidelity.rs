//! Issue 24's fidelity matrix end to end: the real codex (workspace-write sandbox) against the
//! mock model makes the edits with shell commands, and the returned diff, applied with a plain
//! `git apply` in a fresh clone of the start state, must make exactly what the same commands make
//! run directly there (bytes, mode, type, link target), with `applies_cleanly` true; the user's
//! repository (files, `.git`, mtimes) is unchanged. The settings the copy once mishandled are
//! here: `* text=auto` (every added file failed), a global `core.autocrlf=input`, real
//! `.gitattributes`/`.gitignore` files (fixtures/fidelity). The full matrix of change kinds ×
//! settings runs at the capture level (src/adapters/git/capture/fidelity.rs).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::delegate::Delegation;
use crate::isolation::repo_state;
use crate::mock_model::{MockModel, Step};
use crate::repo::TestRepo;

/// Every change kind a shell can make, in one command (run by Codex in the copy, and by the
/// test directly in a clone).
const EDITS: &str = "printf 'added\\nlines\\n' > new-lf.txt && printf 'added\\r\\nlines\\r\\n' > new-crlf.txt \
    && printf 'one\\n2\\nthree\\n' > edit.txt && rm gone.txt && mv old-name.txt new-name.txt && chmod +x run.sh \
    && ln -sf notes.txt link && rm config && mkdir config && printf 'x = 1\\n' > config/__init__.py \
    && rm -r dir && printf 'now a file\\n' > dir && printf '\\000\\001\\002\\r\\n' > new.bin && : > empty \
    && printf 'caf\\351\\n' > latin.txt && printf '\\377\\376h\\000i\\000' > utf16.txt";

fn start(repo: &TestRepo, attributes: Option<&str>) {
    if let Some(attributes) = attributes {
        repo.write(".gitattributes", attributes);
    }
    repo.write("edit.txt", "one\ntwo\nthree\n");
    repo.write("notes.txt", "notes\n");
    repo.write("gone.txt", "bye\n");
    repo.write("old-name.txt", "a file that is renamed\nwith a few lines\nso git finds it\n");
    repo.write("run.sh", "echo hi\n");
    repo.write("config", "key=value\n");
    repo.write("dir/a", "a\n");
    repo.write("dir/b", "b\n");
    std::os::unix::fs::symlink("edit.txt", repo.path().join("link")).unwrap();
    repo.commit("start");
}

/// Plain git as the user runs it: `global` their global config (or none), no system config.
fn user_git(dir: &Path, global: &Path, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", global)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.unwrap_or_default()).unwrap();
    child.wait_with_output().unwrap()
}

/// Everything under `root` but `.git`: kind, bytes or link target, executable bit.
fn tree_state(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if rel == ".git" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let value = if meta.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".into()
            } else {
                format!("file {:o} {:?}", meta.permissions().mode() & 0o111, std::fs::read(&path).unwrap())
            };
            out.insert(rel, value);
        }
    }
    out
}

/// Delegates `commands` in `repo` (global config `global`), checks the repository is untouched,
/// then applies the diff in a fresh clone and compares it with the commands run directly.
fn delegate_and_compare(repo: &TestRepo, global: &Path, commands: &str, extra: Value) -> Value {
    let mock = MockModel::start(vec![Step::shell(commands), Step::message("Done.")]);
    let global_env = global.display().to_string();
    let mut delegation = Delegation::new(&mock, &[("GIT_CONFIG_GLOBAL", global_env.as_str())]);
    let before = repo_state(repo.path());
    let result = delegation.call("codex_delegate", repo, extra);
    assert_eq!(result["ok"], json!(true), "{result}");
    assert_eq!(repo_state(repo.path()), before, "the user's repository changed");
    delegation.assert_no_worktree_left();

    let scratch = tempfile::tempdir().unwrap();
    let source = repo.path().display().to_string();
    let clone = |name: &str| {
        let dir = scratch.path().join(name);
        let out = user_git(scratch.path(), global, &["clone", "-q", &source, name], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        dir
    };
    let (direct, fresh) = (clone("direct"), clone("fresh"));
    let ran = Command::new("sh").args(["-c", commands]).current_dir(&direct).status().unwrap();
    assert!(ran.success());
    let diff = result["diff"].as_str().expect("a diff");
    let applied = user_git(&fresh, global, &["apply", "-"], Some(diff.as_bytes()));
    assert!(applied.status.success(), "git apply: {}\n{diff}", String::from_utf8_lossy(&applied.stderr));
    assert_eq!(result["applies_cleanly"], json!(true), "{}", result["applies_cleanly_reason"]);
    assert_eq!(tree_state(&fresh), tree_state(&direct), "{diff}");
    result
}

fn no_global() -> tempfile::NamedTempFile {
    tempfile::NamedTempFile::new().unwrap()
}

#[test]
fn every_change_kind_comes_back_exactly_under_text_auto() {
    let repo = TestRepo::new();
    start(&repo, Some("* text=auto\n"));
    let global = no_global();
    let result = delegate_and_compare(&repo, global.path(), EDITS, json!({}));
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("GIT binary patch"), "{diff}");
    // Empty members are left out of a result.
    assert!(result.get("left_out_files").is_none(), "{result}");
}

#[test]
fn added_files_come_back_under_a_global_core_autocrlf_input() {
    let repo = TestRepo::new();
    start(&repo, None);
    let global = no_global();
    std::fs::write(global.path(), "[core]\n\tautocrlf = input\n").unwrap();
    delegate_and_compare(&repo, global.path(), EDITS, json!({}));
}

#[test]
fn real_gitattributes_and_gitignore_files_list_ignored_files_and_include_them_on_request() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fidelity");
    let repo = TestRepo::new();
    repo.write(".gitignore", &std::fs::read_to_string(fixtures.join("Python.gitignore")).unwrap());
    start(&repo, Some(&std::fs::read_to_string(fixtures.join("Common.gitattributes")).unwrap()));
    let global = no_global();
    let commands = "mkdir -p pkg/__pycache__ .venv && printf 'x = 1\\r\\n' > pkg/mod.py \
        && printf 'compiled' > pkg/__pycache__/mod.cpython-312.pyc && printf 'home = /usr\\n' > .venv/pyvenv.cfg \
        && printf 'one\\r\\n2\\r\\nthree\\r\\n' > edit.txt";
    let mock = MockModel::start(vec![Step::shell(commands), Step::message("Done.")]);
    let global_env = global.path().display().to_string();
    let mut delegation = Delegation::new(&mock, &[("GIT_CONFIG_GLOBAL", global_env.as_str())]);
    let listed = delegation.call("codex_delegate", &repo, json!({}));
    assert_eq!(listed["ok"], json!(true), "{listed}");
    let diff = listed["diff"].as_str().unwrap();
    assert!(diff.contains("b/pkg/mod.py") && diff.contains("b/edit.txt"), "{diff}");
    assert!(!diff.contains("pyvenv") && !diff.contains("__pycache__"), "{diff}");
    let left_out: Vec<(&str, &str)> = listed["left_out_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| (file["path"].as_str().unwrap(), file["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(left_out, [(".venv/", "ignored"), ("pkg/__pycache__/", "ignored")], "{listed}");
    drop(delegation);
    // Asked for, they are in the diff, and all of it applies exactly.
    let result = delegate_and_compare(&repo, global.path(), commands, json!({"ignored_files": "include"}));
    let diff = result["diff"].as_str().unwrap();
    assert!(diff.contains("b/.venv/pyvenv.cfg") && diff.contains("__pycache__/mod.cpython-312.pyc"), "{diff}");
}
