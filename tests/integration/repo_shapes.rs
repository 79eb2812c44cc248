//! Real repository shapes through every tool that reads a user's repository
//! (`codex_review_changes`, `codex_dry_run`, `codex_delegate_dry_run`): a plain repository, a
//! sparse checkout with a sparse index, files under a user-level filter driver (a script, and
//! git-lfs), a dirty submodule, a linked worktree, SHA-256, a shallow clone, a blobless partial
//! clone, a workspace in a subdirectory, and a repository owned by another user under the user's
//! `safe.directory`.
//!
//! Every call must give the right answer and leave the repository exactly as it was: every entry
//! under the work tree and `.git` (and a linked worktree's own directory) is compared before and
//! after, files by content, and every file and directory by its mtime, so an index stat refresh,
//! a lock file created and removed, or an object written and deleted would all show.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step};
use crate::repo::chown_all;
use crate::review::review_answer;
use crate::support::{Server, envelope};

/// What the comparison sees of one entry: its kind and content (or link target), and its mtime.
type Entry = (Vec<u8>, SystemTime);

/// Files larger than this are compared by size and mtime only.
const MAX_COMPARED_BYTES: u64 = 64 << 20;

/// Everything a tool could have written under `roots`.
pub(crate) fn state(roots: &[PathBuf]) -> BTreeMap<PathBuf, Entry> {
    fn walk(path: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        let content = if meta.is_symlink() {
            let mut bytes = b"link:".to_vec();
            bytes.extend(std::fs::read_link(path).unwrap().as_os_str().as_encoded_bytes());
            bytes
        } else if meta.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                walk(&entry.unwrap().path(), out);
            }
            b"dir".to_vec()
        } else if !meta.is_file() {
            // A FIFO or socket: opening it could block; its kind and mtime are what can change.
            b"special".to_vec()
        } else if meta.len() > MAX_COMPARED_BYTES {
            // A huge (sparse) fixture: its size and mtime, not gigabytes held twice in memory.
            format!("size {}", meta.len()).into_bytes()
        } else {
            std::fs::read(path).unwrap()
        };
        out.insert(path.to_path_buf(), (content, meta.modified().unwrap()));
    }
    let mut out = BTreeMap::new();
    for root in roots {
        walk(root, &mut out);
    }
    out
}

/// The entries that differ between two states, for the failure message.
pub(crate) fn changes(before: &BTreeMap<PathBuf, Entry>, after: &BTreeMap<PathBuf, Entry>) -> Vec<String> {
    let mut paths: Vec<&PathBuf> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| match (before.get(path), after.get(path)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) if a.0 == b.0 => Some(format!("{} (mtime only)", path.display())),
            (a, b) => Some(format!("{} ({} → {})", path.display(), a.is_some(), b.is_some())),
        })
        .collect()
}

/// Plain git for building fixtures, with `home` as HOME (its `.gitconfig` is the user's).
pub(crate) fn git(dir: &Path, home: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "protocol.file.allow=always"])
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim_end().to_string()
}

pub(crate) fn write(dir: &Path, relative: &str, content: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Gives `relative` a later mtime without changing its content: git must look at the file again
/// (through its filter) to know it did not change.
pub(crate) fn touch_later(dir: &Path, relative: &str) {
    let later = SystemTime::now() + Duration::from_secs(10);
    std::fs::File::options().write(true).open(dir.join(relative)).unwrap().set_modified(later).unwrap();
}

const LIB_BEFORE: &str = "fn f(n: usize) {\n    for i in 0..n {}\n}\n";
const LIB_AFTER: &str = "fn f(n: usize) {\n    for i in 0..=n {}\n}\n";

/// One repository shape under test.
struct Shape {
    name: &'static str,
    /// Everything made for the shape; removed on drop.
    scratch: TempDir,
    /// What must not change.
    roots: Vec<PathBuf>,
    workspace: PathBuf,
    /// The server's HOME: the user's global git config lives there.
    home: PathBuf,
}

impl Shape {
    fn new(name: &'static str) -> Shape {
        let scratch = tempfile::tempdir().unwrap();
        let home = scratch.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let repo = scratch.path().join("repo");
        Shape { name, roots: vec![repo.clone()], workspace: repo, home, scratch }
    }

    fn repo(&self) -> PathBuf {
        self.scratch.path().join("repo")
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        git(dir, &self.home, args)
    }

    /// `git init` of the repository directory with `extra` options.
    fn init(&self, extra: &[&str]) {
        let repo = self.repo();
        std::fs::create_dir_all(&repo).unwrap();
        let mut args = vec!["init", "-q", "-b", "main"];
        args.extend(extra);
        self.git(&repo, &args);
    }

    /// The standard history in `dir`: README, then `src/lib.rs`.
    fn history(&self, dir: &Path) {
        write(dir, "README.md", "# demo\n");
        self.git(dir, &["add", "-A"]);
        self.git(dir, &["commit", "-q", "-m", "initial"]);
        write(dir, "src/lib.rs", LIB_BEFORE);
        self.git(dir, &["add", "-A"]);
        self.git(dir, &["commit", "-q", "-m", "add lib"]);
    }

    /// The standard uncommitted work in `dir`: `src/lib.rs` changed, `src/new.rs` untracked.
    fn edit(&self, dir: &Path) {
        write(dir, "src/lib.rs", LIB_AFTER);
        write(dir, "src/new.rs", "pub fn fresh() {}\n");
    }

    /// A repository with the standard history and uncommitted work.
    fn standard(name: &'static str) -> Shape {
        let shape = Shape::new(name);
        shape.init(&[]);
        shape.history(&shape.repo());
        shape.edit(&shape.repo());
        shape
    }

    /// A clone (made with `options`) of an origin whose first commit adds `zero.txt`, which the
    /// standard history then deletes; the standard work is done in the clone, which is the
    /// shape's repository from then on.
    fn cloned(name: &'static str, options: &[&str]) -> Shape {
        let mut shape = Shape::new(name);
        shape.init(&[]);
        let origin = shape.repo();
        shape.git(&origin, &["config", "uploadpack.allowFilter", "true"]);
        write(&origin, "zero.txt", "only in the first commit\n");
        shape.git(&origin, &["add", "-A"]);
        shape.git(&origin, &["commit", "-q", "-m", "zero"]);
        std::fs::remove_file(origin.join("zero.txt")).unwrap();
        shape.history(&origin);
        let clone = shape.scratch.path().join("clone");
        let url = format!("file://{}", origin.display());
        let mut args = vec!["clone", "-q"];
        args.extend(options);
        args.extend([url.as_str(), "clone"]);
        shape.git(shape.scratch.path(), &args);
        shape.edit(&clone);
        shape.roots = vec![clone.clone()];
        shape.workspace = clone;
        shape
    }

    /// One call on a fresh server that must fail without writing the repository; returns the
    /// error.
    fn failing_call(&self, tool: &str, extra: Value) -> Value {
        let mut server = Server::start(&[("HOME".into(), self.home.display().to_string())]);
        server.initialize(json!({}));
        let mut arguments = json!({"workspace_root": self.workspace});
        arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let before = state(&self.roots);
        let result = envelope(&server.call(1, tool, arguments));
        let changed = changes(&before, &state(&self.roots));
        assert!(changed.is_empty(), "{}: {tool} {extra} wrote the repository: {changed:?}", self.name);
        assert_eq!(result["ok"], json!(false), "{}: {tool} {extra}: {result}", self.name);
        result["error"].clone()
    }
}

/// Runs every tool over `shape`, comparing the repository around each call, and checks each
/// answer against the standard work: `src/lib.rs` changed by one line, `src/new.rs` untracked.
/// `reviews` are the review calls made through the real codex (the rest are dry runs).
fn exercise(shape: &Shape, reviews: &[Value]) {
    let mock = MockModel::start(reviews.iter().map(|_| Step::message(review_answer("concerns", json!([])))).collect());
    let codex_home = CodexHome::new(&mock);
    let mut env = codex_home.env();
    env.push(("HOME".into(), shape.home.display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    let mut call = |tool: &str, extra: &Value| -> Value {
        let mut arguments = json!({"workspace_root": shape.workspace, "task": "t"});
        if tool != "codex_delegate_dry_run" {
            arguments.as_object_mut().unwrap().remove("task");
        }
        arguments.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let before = state(&shape.roots);
        let result = envelope(&server.call(7, tool, arguments));
        let changed = changes(&before, &state(&shape.roots));
        assert!(changed.is_empty(), "{}: {tool} {extra} wrote the repository: {changed:?}", shape.name);
        assert_eq!(result["ok"], json!(true), "{}: {tool} {extra}: {result}", shape.name);
        result
    };

    let counts = |result: &Value| {
        let summary = &result["context_summary"];
        let coverage = &result["coverage"];
        (
            summary["files_changed"].as_u64().unwrap(),
            summary["lines_added"].as_u64().unwrap(),
            summary["lines_removed"].as_u64().unwrap(),
            // A count of nothing is left out.
            coverage.get("untracked_files_detected").map_or(0, |n| n.as_u64().unwrap()),
            coverage.get("untracked_files_included").map_or(0, |n| n.as_u64().unwrap()),
        )
    };
    let name = shape.name;
    let included = call("codex_dry_run", &json!({"untracked": "include"}));
    assert_eq!(counts(&included), (2, 2, 1, 1, 1), "{name}: {included}");
    for mode in ["explicit_only", "exclude"] {
        let result = call("codex_dry_run", &json!({"untracked": mode}));
        assert_eq!(counts(&result), (1, 1, 1, 1, 0), "{name} {mode}: {result}");
    }
    let named = call("codex_dry_run", &json!({"paths": ["src/new.rs"]}));
    assert_eq!(counts(&named), (1, 1, 0, 1, 1), "{name}: {named}");
    let branch = call("codex_dry_run", &json!({"scope": "branch", "base": "HEAD~1"}));
    assert_eq!(counts(&branch), (1, 3, 0, 0, 0), "{name}: {branch}");
    let commit = call("codex_dry_run", &json!({"scope": "commit", "commit": "HEAD"}));
    assert_eq!(counts(&commit), (1, 3, 0, 0, 0), "{name}: {commit}");
    let plan = call("codex_delegate_dry_run", &json!({}));
    let plan = &plan["worktree_plan"];
    assert_eq!((plan["uncommitted_tracked_files"].clone(), plan["untracked_files"].clone()), (json!(1), json!(1)));

    for (i, arguments) in reviews.iter().enumerate() {
        let review = call("codex_review_changes", arguments);
        assert_eq!(review["review_status"], json!("completed"), "{name} {arguments}: {review}");
        let requests: Vec<_> = mock.requests().into_iter().filter(|r| r.scripted).collect();
        let sent = &requests[i].body;
        let scope = arguments["scope"].as_str().unwrap_or("working_tree");
        assert!(sent.contains("0..=n") || scope != "working_tree", "{name} {arguments}: the change was not sent");
        assert!(sent.contains("0..n") || scope == "working_tree", "{name} {arguments}: the commit was not sent");
        let untracked_sent = sent.contains("fresh()");
        assert_eq!(untracked_sent, arguments["untracked"] == json!("include"), "{name} {arguments}");
    }
}

/// The working-tree review every shape gets through the real codex.
fn review_including_untracked() -> Vec<Value> {
    vec![json!({"untracked": "include"})]
}

#[test]
fn a_plain_repository_is_never_written_by_any_tool() {
    let shape = Shape::standard("plain");
    let reviews = [
        json!({"untracked": "include"}),
        json!({"untracked": "explicit_only"}),
        json!({"untracked": "exclude"}),
        json!({"scope": "branch", "base": "HEAD~1"}),
        json!({"scope": "commit", "commit": "HEAD"}),
    ];
    // The index's stat data goes stale, as after any edit: plain `git diff` would refresh and
    // rewrite it.
    touch_later(&shape.repo(), "README.md");
    exercise(&shape, &reviews);
}

#[test]
fn a_sparse_checkout_with_a_sparse_index_shows_no_phantom_deletions() {
    let shape = Shape::new("sparse");
    shape.init(&[]);
    let repo = shape.repo();
    write(&repo, "out/far.txt", "outside the cone\n");
    write(&repo, "out/deep/er.txt", "deeper\n");
    shape.history(&repo);
    shape.git(&repo, &["sparse-checkout", "set", "--cone", "--sparse-index", "src"]);
    assert!(!repo.join("out").exists(), "the cone should leave out/ unchecked-out");
    shape.edit(&repo);
    exercise(&shape, &review_including_untracked());
}

/// A stand-in for git-lfs that needs nothing installed: the blob holds the upper-case "clean"
/// form, the work tree the lower-case "smudged" one.
#[test]
fn files_under_a_global_filter_driver_show_no_phantom_changes() {
    let shape = Shape::new("script filter");
    write(
        &shape.home,
        ".gitconfig",
        "[filter \"upper\"]\n\tclean = tr a-z A-Z\n\tsmudge = tr A-Z a-z\n\trequired = true\n",
    );
    shape.init(&[]);
    let repo = shape.repo();
    write(&repo, ".gitattributes", "*.up filter=upper\n");
    write(&repo, "notes.up", "hello filtered world\n");
    shape.history(&repo);
    assert_eq!(shape.git(&repo, &["show", "HEAD:notes.up"]), "HELLO FILTERED WORLD");
    shape.edit(&repo);
    touch_later(&repo, "notes.up");
    exercise(&shape, &review_including_untracked());
}

#[test]
fn files_under_git_lfs_show_no_phantom_changes_and_lfs_storage_is_untouched() {
    let lfs = Command::new("git-lfs").arg("version").output();
    assert!(
        lfs.is_ok_and(|out| out.status.success()),
        "git-lfs is not installed: apt-get install git-lfs (.ci/run installs it)"
    );
    let shape = Shape::new("git-lfs");
    shape.init(&[]);
    let repo = shape.repo();
    shape.git(&repo, &["lfs", "install", "--skip-repo"]);
    assert!(std::fs::read_to_string(shape.home.join(".gitconfig")).unwrap().contains("filter \"lfs\""));
    shape.git(&repo, &["lfs", "track", "*.bin"]);
    let payload: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(repo.join("asset.bin"), &payload).unwrap();
    shape.history(&repo);
    assert!(shape.git(&repo, &["show", "HEAD:asset.bin"]).starts_with("version https://git-lfs"));
    shape.edit(&repo);
    touch_later(&repo, "asset.bin");
    exercise(&shape, &review_including_untracked());
}

#[test]
fn a_repository_with_a_dirty_submodule_is_never_written() {
    let shape = Shape::new("submodule");
    let library = shape.scratch.path().join("library");
    std::fs::create_dir_all(&library).unwrap();
    shape.git(&library, &["init", "-q", "-b", "main"]);
    write(&library, "lib.txt", "library\n");
    shape.git(&library, &["add", "-A"]);
    shape.git(&library, &["commit", "-q", "-m", "library"]);
    shape.init(&[]);
    let repo = shape.repo();
    write(&repo, "README.md", "# demo\n");
    shape.git(&repo, &["add", "-A"]);
    shape.git(&repo, &["commit", "-q", "-m", "initial"]);
    shape.git(&repo, &["submodule", "add", "-q", library.to_str().unwrap(), "vendor/library"]);
    shape.git(&repo, &["commit", "-q", "-m", "vendor the library"]);
    write(&repo, "src/lib.rs", LIB_BEFORE);
    shape.git(&repo, &["add", "-A"]);
    shape.git(&repo, &["commit", "-q", "-m", "add lib"]);
    shape.edit(&repo);
    // Uncommitted work inside the submodule is the submodule's business, not this review's.
    write(&repo, "vendor/library/lib.txt", "library, edited\n");
    touch_later(&repo, "vendor/library/lib.txt");
    exercise(&shape, &review_including_untracked());
}

#[test]
fn a_linked_worktree_is_reviewed_from_itself_and_nothing_is_written() {
    let mut shape = Shape::standard("linked worktree");
    let (repo, linked) = (shape.repo(), shape.scratch.path().join("linked"));
    // The main work tree is clean; the work under review is in the linked one.
    shape.git(&repo, &["checkout", "-q", "--", "."]);
    std::fs::remove_file(repo.join("src/new.rs")).unwrap();
    shape.git(&repo, &["worktree", "add", "-q", "-b", "feature", linked.to_str().unwrap()]);
    shape.edit(&linked);
    shape.roots.push(linked.clone());
    shape.workspace = linked;
    exercise(&shape, &review_including_untracked());
}

#[test]
fn a_sha256_repository_is_reviewed_and_never_written() {
    let shape = Shape::new("sha256");
    shape.init(&["--object-format=sha256"]);
    shape.history(&shape.repo());
    assert_eq!(shape.git(&shape.repo(), &["rev-parse", "HEAD"]).len(), 64);
    shape.edit(&shape.repo());
    exercise(&shape, &review_including_untracked());
}

#[test]
fn a_shallow_clone_is_reviewed_and_its_boundary_commit_refused() {
    let shape = Shape::cloned("shallow", &["--depth", "2"]);
    assert_eq!(shape.git(&shape.workspace, &["rev-parse", "--is-shallow-repository"]), "true");
    exercise(&shape, &review_including_untracked());
    let error = shape.failing_call("codex_dry_run", json!({"scope": "commit", "commit": "HEAD~1"}));
    assert_eq!(error["code"], json!("invalid_commit"), "{error}");
    assert!(error["message"].as_str().unwrap().contains("shallow clone"), "{error}");
}

/// A blobless clone: what is checked out is local, older blobs are not. The server never fetches
/// them (that would write objects): a diff that needs one fails with a repair that says so.
#[test]
fn a_partial_clone_is_reviewed_and_never_fetches() {
    let shape = Shape::cloned("partial clone", &["--filter=blob:none"]);
    exercise(&shape, &review_including_untracked());
    // The first commit's blob was never checked out, so it is not here.
    let error = shape.failing_call("codex_dry_run", json!({"scope": "commit", "commit": "HEAD~2"}));
    assert_eq!(error["code"], json!("git_failed"), "{error}");
    assert!(error["repair"].as_str().unwrap().contains("partial clone"), "{error}");
}

#[test]
fn a_workspace_in_a_subdirectory_reviews_the_whole_repository() {
    let mut shape = Shape::standard("subdirectory");
    shape.workspace = shape.repo().join("src");
    exercise(&shape, &review_including_untracked());
}

/// Tests run as root: the repository belongs to `nobody`, and the user's global config lists
/// it in `safe.directory`, as git asks. Without that entry, the code says so and the repair
/// is the command that fixes it.
#[test]
fn a_repository_owned_by_another_user_works_under_the_users_safe_directory() {
    let shape = Shape::standard("another owner");
    chown_all(&shape.repo(), 65534);
    let canonical = shape.repo().canonicalize().unwrap();

    for (tool, extra) in [
        ("codex_dry_run", json!({})),
        ("codex_review_changes", json!({})),
        ("codex_delegate_dry_run", json!({"task": "t"})),
    ] {
        let error = shape.failing_call(tool, extra);
        assert_eq!(error["code"], json!("unsafe_repository"), "{tool}: {error}");
        assert!(error.get("retryable").is_none(), "not retryable: {error}");
        let repair = error["repair"].as_str().unwrap();
        assert!(
            repair.contains(&format!("git config --global --add safe.directory {}", canonical.display())),
            "{repair}"
        );
    }

    write(&shape.home, ".gitconfig", &format!("[safe]\n\tdirectory = {}\n", canonical.display()));
    exercise(&shape, &review_including_untracked());
}

#[test]
fn an_orphan_branch_says_no_commits_not_git_unavailable() {
    let shape = Shape::standard("orphan");
    shape.git(&shape.repo(), &["checkout", "-q", "--orphan", "fresh"]);
    for tool in ["codex_dry_run", "codex_review_changes", "codex_review_changes_async"] {
        let error = shape.failing_call(tool, json!({"scope": "branch", "base": "main"}));
        assert_eq!(error["code"], json!("no_commits"), "{tool}: {error}");
        assert!(error.get("retryable").is_none(), "not retryable: {error}");
        assert!(error["repair"].as_str().unwrap().contains("scope=working_tree"));
    }
}

/// A repository whose own config points every program git could run (fsmonitor, hooks, a
/// filter driver, textconv, an external diff) at a script that leaves a marker, under a user
/// whose global config does the same for hooks and the pager: no reading tool runs any of them,
/// and the answers are still right.
#[test]
fn a_hostile_repository_runs_nothing_through_any_reading_tool() {
    use std::os::unix::fs::PermissionsExt as _;
    let shape = Shape::standard("hostile");
    let (repo, markers) = (shape.repo(), shape.scratch.path().join("markers"));
    std::fs::create_dir_all(&markers).unwrap();
    let script = |name: &str| {
        let bin = shape.scratch.path().join("bin");
        let path = bin.join(name);
        write(&bin, name, &format!("#!/bin/sh\ntouch '{}/{name}'\nexec cat\n", markers.display()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    for hook in ["pre-commit", "post-checkout", "reference-transaction", "post-index-change"] {
        script(&format!("hooks/{hook}"));
    }
    let hooks = shape.scratch.path().join("bin/hooks").display().to_string();
    for (key, value) in [
        ("core.fsmonitor", script("fsmonitor")),
        ("core.hooksPath", hooks.clone()),
        ("filter.evil.clean", script("clean")),
        ("filter.evil.process", script("process")),
        ("filter.evil.required", "true".to_string()),
        ("diff.evil.textconv", script("textconv")),
        ("diff.external", script("external")),
    ] {
        shape.git(&repo, &["config", key, &value]);
    }
    write(&shape.home, ".gitconfig", &format!("[core]\n\thooksPath = {hooks}\n\tpager = {}\n", script("pager")));
    write(&repo, ".gitattributes", "*.rs filter=evil diff=evil\n");
    // The attributes file is one more untracked file the answers expect to see.
    shape.git(&repo, &["add", "--", ".gitattributes"]);
    // README.md, unchanged but touched below, falls under the filter too: any git that looks at
    // its content (a status after the touch) would run it.
    write(&repo, ".gitattributes", "*.rs filter=evil diff=evil\n*.md filter=evil\n");
    std::fs::remove_dir_all(&markers).unwrap();
    std::fs::create_dir_all(&markers).unwrap();
    touch_later(&repo, "README.md");

    let mut server = Server::start(&[("HOME".into(), shape.home.display().to_string())]);
    server.initialize(json!({}));
    for (tool, arguments) in [
        ("codex_dry_run", json!({"untracked": "include"})),
        ("codex_dry_run", json!({"scope": "branch", "base": "HEAD~1"})),
        ("codex_dry_run", json!({"scope": "commit", "commit": "HEAD"})),
        ("codex_delegate_dry_run", json!({"task": "t"})),
    ] {
        let mut arguments = arguments;
        arguments["workspace_root"] = json!(repo);
        let before = state(&shape.roots);
        let result = envelope(&server.call(1, tool, arguments.clone()));
        assert_eq!(result["ok"], json!(true), "{tool} {arguments}: {result}");
        assert!(changes(&before, &state(&shape.roots)).is_empty(), "{tool} {arguments} wrote the repository");
        let ran: Vec<_> = std::fs::read_dir(&markers).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(ran.is_empty(), "{tool} {arguments} ran {ran:?}");
        if arguments["untracked"] == json!("include") {
            // src/lib.rs and the staged .gitattributes, and the untracked src/new.rs.
            assert_eq!(result["context_summary"]["files_changed"], json!(3), "{result}");
            let warnings = result["meta"]["security_warnings"].to_string();
            assert!(warnings.contains("filter driver(s) evil"), "{warnings}");
        }
    }
    // codex itself runs git in the workspace (`git status` and more, for its turn metadata),
    // outside any sandbox: under our pins it must neither run the repository's programs nor
    // write the repository.
    let mock = MockModel::start(vec![
        Step::message(review_answer("concerns", json!([]))),
        Step::message(crate::mock_model::consult_answer("fine")),
    ]);
    let codex_home = CodexHome::new(&mock);
    let mut env = codex_home.env();
    env.push(("HOME".into(), shape.home.display().to_string()));
    let mut server = Server::start(&env);
    server.initialize(json!({}));
    for (tool, arguments) in [
        ("codex_review_changes", json!({"untracked": "include", "workspace_root": repo})),
        ("codex_consult", json!({"question": "Is src/lib.rs fine?", "workspace_root": repo})),
    ] {
        let before = state(&shape.roots);
        let result = envelope(&server.call(2, tool, arguments));
        assert_eq!(result["ok"], json!(true), "{tool}: {result}");
        assert!(changes(&before, &state(&shape.roots)).is_empty(), "{tool} (codex's own git) wrote the repository");
        let ran: Vec<_> = std::fs::read_dir(&markers).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(ran.is_empty(), "{tool}: codex's own git ran {ran:?}");
    }
    // The fixture is live: plain git in the repository does run the repository's programs
    // (whether or not the filter's protocol then fails).
    Command::new("git").args(["diff", "HEAD"]).current_dir(&repo).env("HOME", &shape.home).output().unwrap();
    assert!(std::fs::read_dir(&markers).unwrap().next().is_some(), "the hostile fixture ran nothing under plain git");
}
