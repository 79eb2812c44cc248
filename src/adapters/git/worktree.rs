//! The throwaway copy a delegated task runs in (docs/lessons.md §2; the product still calls it
//! the worktree), and everything done to it: creation from HEAD with the user's uncommitted
//! tracked state as a baseline commit, capture of exactly Codex's edits as a diff against that
//! baseline, the check that the diff applies to the live tree, the replay of an earlier run's
//! edits for a follow-up (and whether the user already applied them), and removal on every path
//! (success, error, timeout, cancel, panic: `Drop` does it; a killed process's copy is reaped).
//!
//! The user's repository is only ever read — working tree, index and everything under `.git`.
//! That is why the copy is not a `git worktree` (whose admin entry and objects land in the live
//! `.git`) but a repository of its own in `<base>/cic-worktree-XXXX/tree`:
//! - `git init` with no template and the live object format; its `.git/config` is ours, so no
//!   filter, hook or fsmonitor the live repository configures exists there, for our git or for
//!   Codex's, and its `info/attributes` switches every filter off (user-level ones too);
//! - `objects/info/alternates` names the live object directory, so history is read in place
//!   and every object the copy writes stays in the copy. Writing an object the live store
//!   already holds would make git touch that store's file instead ("freshening"), so the copy
//!   writes only objects of content that is new: see `Worktree::stage` and `edits` (a
//!   conflicted file as merge-ort stored it, or a file restored to an older version, is hashed
//!   but not written). `shallow` is copied;
//! - the index is HEAD plus the live index's staged entries; the working files are the live
//!   tracked files' bytes (real content of filtered files, the user's unstaged edits, symlinks as
//!   symlinks, never followed; skip-worktree and assume-unchanged files as they are on disk,
//!   from their blobs where the sparse checkout left them out), gitlinks as empty
//!   directories. Untracked files are never copied.
//!
//! Next to `tree/` sits `tmp/`, the only other place Codex may write (its `TMPDIR`).
//! All git goes through the hardened `Git`.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::adapters::git::capture::{self, Capture, IgnoredFiles};
use crate::adapters::git::{DIFF_FLAGS, Git, GitError, Numstat};
use crate::foundation::cancel::CancelToken;
use crate::foundation::scratch;

/// Prefix of a copy kept after a failed capture (`Worktree::keep`): never reaped.
pub const KEPT_PREFIX: &str = "cic-kept-";
/// Identity of the baseline commit (the hardened git has no user config to take one from).
const BASELINE_IDENTITY: [&str; 4] = ["-c", "user.name=codex-in-claude", "-c", "user.email=codex-in-claude@localhost"];
/// The copy's own config, read by Codex's git calls too: no hook (not even a global one), no
/// fsmonitor, no background maintenance.
const COPY_CONFIG: [(&str, &str); 4] =
    [("core.hooksPath", "/dev/null"), ("core.fsmonitor", "false"), ("gc.auto", "0"), ("maintenance.auto", "false")];
/// `.git/info/attributes` of the copy (see `Worktree::init`).
const RAW_ATTRIBUTES: &str = "* -filter -text -ident !working-tree-encoding\n";
/// Mode of a symlink entry.
const SYMLINK_MODE: &str = "120000";
/// Mode of a gitlink (submodule) entry.
const GITLINK_MODE: &str = "160000";
/// Mode of a sparse index's directory entry (`ls-files --sparse`).
const SPARSE_DIR_MODE: &str = "040000";

#[derive(Debug)]
pub enum WorktreeError {
    NotAGitRepo,
    /// HEAD does not name a commit.
    NoCommits,
    Cancelled,
    /// git is missing, timed out, or refuses the repository: `GitError::to_tool_error` says
    /// which and how to fix it.
    Git(GitError),
    /// git failed, or a file could not be copied; the message is sanitised and bounded.
    Failed(String),
}

impl WorktreeError {
    pub(super) fn from_git(context: &str, error: GitError) -> WorktreeError {
        match error {
            GitError::NotARepo => WorktreeError::NotAGitRepo,
            GitError::Cancelled => WorktreeError::Cancelled,
            GitError::Missing | GitError::TimedOut | GitError::Unsafe { .. } => WorktreeError::Git(error),
            GitError::Failed { .. } => WorktreeError::Failed(format!("{context}: {error}")),
        }
    }
}

/// `map_err` adapter: a git failure while doing `context`.
fn git_failed(context: &'static str) -> impl Fn(GitError) -> WorktreeError + Copy {
    move |error| WorktreeError::from_git(context, error)
}

/// A live throwaway copy; removed when dropped.
pub struct Worktree {
    /// `<base>/cic-worktree-XXXX` (owner-only, its `owner.lock` held while this value lives),
    /// deleted with everything in it.
    area: Option<scratch::Area>,
    tree: PathBuf,
    tmp: PathBuf,
    /// The user's repository, only ever read (the apply check included).
    live: Git,
    git_timeout: Duration,
    /// The commit Codex's edits are diffed against (HEAD plus the replayed state).
    baseline: String,
}

/// Where the live repository keeps what the copy borrows.
struct Source {
    objects: PathBuf,
    shallow: PathBuf,
    object_format: String,
}

impl Worktree {
    /// Makes a copy of `repo`'s tracked state under `base`.
    pub fn create(
        repo: &Path,
        base: &Path,
        git_timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<Worktree, WorktreeError> {
        let (live, head) = open_with_head(repo, git_timeout, &CancelToken::new())?;
        // Codex's sandbox is told its writable roots as text: a path that is not UTF-8 would name
        // another directory, and every edit would fail.
        if base.to_str().is_none() {
            return Err(WorktreeError::Failed(format!(
                "the worktree base {} is not valid UTF-8; set CODEX_IN_CLAUDE_WORKTREE_BASE to a UTF-8 path",
                base.display()
            )));
        }
        let area = scratch::Area::new_in(base, scratch::Kind::Worktree).map_err(|e| {
            WorktreeError::Failed(format!("cannot create a worktree directory under {}: {e}", base.display()))
        })?;
        let (tree, tmp) = (area.path().join("tree"), area.path().join("tmp"));
        std::fs::create_dir(&tmp)
            .map_err(|e| WorktreeError::Failed(format!("cannot create the private temporary directory: {e}")))?;
        let mut worktree = Worktree { area: Some(area), tree, tmp, live, git_timeout, baseline: head };
        // From here on, dropping `worktree` on an error removes what was made.
        let copy = worktree.init(cancel)?;
        worktree.fill(&copy, cancel)?;
        worktree.commit_baseline(&copy)?;
        Ok(worktree)
    }

    /// The copy's top level.
    pub fn path(&self) -> &Path {
        &self.tree
    }

    /// The run's private temporary directory (Codex's `TMPDIR`).
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// The live repository's top level.
    pub fn live_repo(&self) -> &Path {
        self.live.repo()
    }

    /// Where in the copy the user's `workspace` (the repo top or a directory below it) is.
    pub fn dir_for(&self, workspace: &Path) -> PathBuf {
        let inside =
            workspace.canonicalize().ok().and_then(|w| w.strip_prefix(self.live.repo()).ok().map(Path::to_path_buf));
        inside.map_or_else(|| self.tree.clone(), |relative| self.tree.join(relative))
    }

    /// A hardened `Git` in the copy. Codex could write the copy, so before git is trusted there
    /// (unsandboxed, after the run) the copy must still be its own repository: `.git` a real
    /// directory of ours, not a link or a `gitdir:` pointer (at the live `.git`, say), no
    /// `commondir`, and git's top level the copy itself (no `core.worktree` pointing elsewhere).
    fn git(&self, cancel: &CancelToken) -> Result<Git, WorktreeError> {
        let dot_git = self.tree.join(".git");
        let own = std::fs::symlink_metadata(&dot_git).is_ok_and(|m| m.is_dir())
            && std::fs::symlink_metadata(dot_git.join("commondir")).is_err();
        let tampered = || {
            WorktreeError::Failed(
                "the throwaway copy's .git was replaced during the run; its edits cannot be read safely".into(),
            )
        };
        if !own {
            return Err(tampered());
        }
        let git = Git::open(&self.tree, self.git_timeout, cancel).map_err(git_failed("git in the worktree"))?;
        match self.tree.canonicalize() {
            Ok(tree) if tree == git.repo() => Ok(git),
            _ => Err(tampered()),
        }
    }

    /// An empty repository borrowing the live objects, HEAD detached at the live HEAD commit,
    /// its index HEAD's tree.
    fn init(&self, cancel: &CancelToken) -> Result<Git, WorktreeError> {
        let source = Source::read(&self.live)?;
        let area = self.tree.parent().unwrap_or(&self.tree);
        let format = format!("--object-format={}", source.object_format);
        let init = self.live.cmd_elsewhere([
            OsStr::new("init"),
            "-q".as_ref(),
            "--template=".as_ref(),
            format.as_ref(),
            self.tree.as_os_str(),
        ]);
        self.live.run_cmd(init.cwd(area)).map_err(git_failed("git init"))?;
        let git_dir = self.tree.join(".git");
        let mut alternates = source.objects.into_os_string().into_vec();
        if alternates.contains(&b'\n') {
            return Err(WorktreeError::Failed("the repository's object directory has a newline in its path".into()));
        }
        alternates.push(b'\n');
        let io =
            |what: &str, e: std::io::Error| WorktreeError::Failed(format!("cannot write the worktree's {what}: {e}"));
        std::fs::write(git_dir.join("objects/info/alternates"), alternates).map_err(|e| io("alternates", e))?;
        if source.shallow.is_file() {
            std::fs::copy(&source.shallow, git_dir.join("shallow")).map_err(|e| io("shallow file", e))?;
        }
        // The copy holds working-tree bytes (real content of git-lfs files included) and its
        // baseline, objects and diffs must be of those bytes: no filter driver (not even a
        // user-level one), no end-of-line conversion (attributes or any core.autocrlf), no
        // keyword expansion or re-encoding happens here, for our git or for Codex's.
        // `info/attributes` outranks every `.gitattributes`.
        std::fs::create_dir_all(git_dir.join("info"))
            .and_then(|()| std::fs::write(git_dir.join("info/attributes"), RAW_ATTRIBUTES))
            .map_err(|e| io("attributes", e))?;
        let copy = self.git(cancel)?;
        for (key, value) in COPY_CONFIG {
            copy.run(["config", key, value]).map_err(git_failed("git config in the worktree"))?;
        }
        copy.run(["update-ref", "--no-deref", "HEAD", self.baseline.as_str()]).map_err(git_failed("git update-ref"))?;
        copy.run(["read-tree", "HEAD"]).map_err(git_failed("git read-tree"))?;
        Ok(copy)
    }

    /// The live index's staged entries into the copy's index, then the working files.
    fn fill(&mut self, copy: &Git, cancel: &CancelToken) -> Result<(), WorktreeError> {
        let mut staged_args = vec!["diff-index", "--cached", "--raw", "-z", "--no-renames"];
        staged_args.extend(DIFF_FLAGS);
        staged_args.push("HEAD");
        let staged = self.live.run(staged_args).map_err(git_failed("git diff-index"))?;
        let index_info = staged_index_info(&staged.stdout.bytes());
        if !index_info.is_empty() {
            let update = copy.cmd(["update-index", "-z", "--index-info"]).stdin(index_info);
            copy.run_cmd(update).map_err(git_failed("git update-index in the worktree"))?;
        }
        // `--sparse`: a sparse index stays collapsed (expanding it would make git rewrite
        // objects' mtimes in the live store); its directory entries are expanded in the copy.
        let listing =
            self.live.run(["ls-files", "-z", "--sparse", "--stage", "-t"]).map_err(git_failed("git ls-files"))?;
        let mut from_blobs = Vec::new();
        let mut sparse_dirs: HashSet<PathBuf> = HashSet::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut safe_dirs: HashSet<PathBuf> = HashSet::new();
        for entry in listing.stdout.bytes().split(|&b| b == 0).filter(|e| !e.is_empty()) {
            if cancel.is_cancelled() {
                return Err(WorktreeError::Cancelled);
            }
            // `<tag> <mode> <object> <stage>\t<path>`
            let Some(tab) = entry.iter().position(|&b| b == b'\t') else { continue };
            let (meta, path) = (String::from_utf8_lossy(&entry[..tab]), &entry[tab + 1..]);
            if !seen.insert(path.to_vec()) {
                continue; // the other stages of a conflicted path
            }
            let mut fields = meta.split(' ');
            let (tag, mode) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
            let relative = Path::new(OsStr::from_bytes(path));
            if mode == SPARSE_DIR_MODE {
                sparse_dirs.insert(relative.components().collect());
            } else if mode == GITLINK_MODE {
                std::fs::create_dir_all(self.tree.join(relative)).map_err(|e| copy_failed(relative, e))?;
            } else if tag == "S" {
                // Skip-worktree: either a local tweak kept out of git's sight (`update-index
                // --skip-worktree`), which is what the user has and Codex must edit, or a file
                // outside the sparse-checkout cone, which the live tree does not have.
                copy_tracked(self.live.repo(), &self.tree, relative, &mut safe_dirs)
                    .map_err(|e| copy_failed(relative, e))?;
                if std::fs::symlink_metadata(self.tree.join(relative)).is_err() {
                    from_blobs.extend_from_slice(path);
                    from_blobs.push(0);
                }
            } else {
                copy_tracked(self.live.repo(), &self.tree, relative, &mut safe_dirs)
                    .map_err(|e| copy_failed(relative, e))?;
            }
        }
        if !sparse_dirs.is_empty() {
            let all = copy.run(["ls-files", "-z"]).map_err(git_failed("git ls-files in the worktree"))?.stdout.bytes();
            for path in all.split(|&b| b == 0).filter(|p| !p.is_empty()) {
                if Path::new(OsStr::from_bytes(path)).ancestors().skip(1).any(|dir| sparse_dirs.contains(dir)) {
                    from_blobs.extend_from_slice(path);
                    from_blobs.push(0);
                }
            }
        }
        if !from_blobs.is_empty() {
            let checkout = copy.cmd(["checkout-index", "-z", "--stdin"]).stdin(from_blobs);
            copy.run_cmd(checkout).map_err(git_failed("git checkout-index in the worktree"))?;
        }
        Ok(())
    }

    /// Commits the copied state when it differs from HEAD, so the diff after Codex's run holds
    /// only Codex's edits.
    ///
    /// Only the paths that differ from the index are hashed and written: `git add -A` would
    /// re-add every file git cannot prove clean from its stat data (all of them, right after the
    /// copy), and writing an object the live store already holds makes git touch that store's
    /// file ("freshening") instead of writing its own.
    fn commit_baseline(&mut self, copy: &Git) -> Result<(), WorktreeError> {
        copy.run(["update-index", "-q", "--refresh"]).map_err(git_failed("git update-index --refresh"))?;
        let mut changed_args = vec!["diff-files", "--name-only", "-z"];
        changed_args.extend(DIFF_FLAGS);
        let changed = copy.run(changed_args).map_err(git_failed("git diff-files"))?.stdout.bytes();
        self.stage(copy, changed)?;
        let tree = copy.run(["write-tree"]).map_err(git_failed("git write-tree"))?.stdout.text().trim().to_string();
        let head_tree = copy.run(["rev-parse", "HEAD^{tree}"]).map_err(git_failed("git rev-parse"))?;
        if tree == head_tree.stdout.text().trim() {
            return Ok(());
        }
        let mut commit: Vec<&str> = BASELINE_IDENTITY.to_vec();
        commit.extend(["commit-tree", tree.as_str(), "-p", "HEAD", "-m", "baseline: live uncommitted state"]);
        let baseline = copy.run(commit).map_err(git_failed("baseline commit"))?.stdout.text().trim().to_string();
        copy.run(["update-ref", "--no-deref", "HEAD", baseline.as_str()]).map_err(git_failed("git update-ref"))?;
        self.baseline = baseline;
        Ok(())
    }

    /// Enters `paths` (NUL-terminated) of the copy's working tree in its index, writing only the
    /// objects no store holds. `update-index` without `--info-only` writes every file's object,
    /// and writing one the live store already holds (a conflicted file as merge-ort stored it, a
    /// file restored to an older version) makes git refresh that object file's mtime in the live
    /// store. So the index gets the hashes first, and only the missing objects are written.
    fn stage(&self, copy: &Git, paths: Vec<u8>) -> Result<(), WorktreeError> {
        if paths.is_empty() {
            return Ok(());
        }
        let staged: HashSet<&[u8]> = paths.split(|&b| b == 0).filter(|p| !p.is_empty()).collect();
        let update =
            copy.cmd(["update-index", "-z", "--add", "--remove", "--info-only", "--stdin"]).stdin(paths.clone());
        copy.run_cmd(update).map_err(git_failed("git update-index in the worktree"))?;
        let mut raw_args = vec!["diff-index", "--cached", "--raw", "-z", "--no-renames"];
        raw_args.extend(DIFF_FLAGS);
        raw_args.push("HEAD");
        let raw = copy.run(raw_args).map_err(git_failed("git diff-index in the worktree"))?.stdout.bytes();
        let entries: Vec<(String, String, &[u8])> =
            index_entries(&raw).into_iter().filter(|(_, _, path)| staged.contains(path)).collect();
        if entries.is_empty() {
            return Ok(());
        }
        let query: Vec<u8> = entries.iter().flat_map(|(_, object, _)| format!("{object}\n").into_bytes()).collect();
        let check = copy.cmd(["cat-file", "--batch-check=%(objectname) %(objecttype)"]).stdin(query);
        let known = copy.run_cmd(check).map_err(git_failed("git cat-file in the worktree"))?.stdout.text();
        let missing: HashSet<&str> = known.lines().filter_map(|line| line.strip_suffix(" missing")).collect();
        for (mode, object, path) in entries.iter().filter(|(_, object, _)| missing.contains(object.as_str())) {
            let relative = Path::new(OsStr::from_bytes(path));
            let file = self.tree.join(relative);
            let content = if mode == SYMLINK_MODE {
                std::fs::read_link(&file).map(|target| target.into_os_string().into_vec())
            } else {
                std::fs::read(&file)
            }
            .map_err(|e| copy_failed(relative, e))?;
            let write = copy.cmd(["hash-object", "-w", "--no-filters", "-t", "blob", "--stdin"]).stdin(content);
            let written = copy.run_cmd(write).map_err(git_failed("git hash-object in the worktree"))?.stdout.text();
            if written.trim() != object {
                return Err(WorktreeError::Failed(format!(
                    "{} changed while the worktree was being made; try again",
                    relative.display()
                )));
            }
        }
        Ok(())
    }

    /// The copy's state now against the baseline (`capture`): Codex's edits, whatever state the
    /// run ended in; the patch text is kept up to `cap` bytes, cut only between files.
    pub fn edits(&self, cap: usize, ignored: IgnoredFiles) -> Result<Capture, WorktreeError> {
        // Capture runs after codex, also when the call was cancelled meanwhile: use a fresh token.
        let inside = self.git(&CancelToken::new())?;
        capture::capture(&inside, &self.tree, &self.baseline, cap, ignored)
    }

    /// Whether `diff` applies to the live tree as it is now, the way the user's own `git apply`
    /// from the top level would; `Err` carries the reason. Checks only: nothing is written.
    ///
    /// The user's `git apply` passes each file through its gitattributes filter (git-lfs, say)
    /// before patching, and the diff is of the working-tree content Codex saw, so a diff touching
    /// a filtered path (`paths`, NUL-terminated) is not promised to apply. The hardened git runs
    /// no filter, so its `git apply --check` answers for everything else.
    pub fn applies_to_live_tree(&self, diff: &str, paths: &[u8]) -> Result<(), String> {
        let reason = |e: GitError| crate::foundation::text::one_line(&e.to_string(), 300);
        if !paths.is_empty() {
            let attrs = self.live.cmd(["check-attr", "-z", "--stdin", "filter"]).stdin(paths.to_vec());
            let listing = self.live.run_cmd(attrs).map_err(reason)?.stdout.bytes();
            if let Some((path, driver)) = filtered_paths(&listing).into_iter().next() {
                return Err(format!(
                    "{path} goes through the '{driver}' filter (gitattributes), which git apply runs on the file \
                     before patching; the diff is of its checked-out content, so apply that file's change by hand"
                ));
            }
        }
        let args = ["apply", "--check"].iter().chain(capture::APPLY_FLAGS).chain(&["-"]);
        let check = self.live.cmd(args.copied()).stdin(diff.as_bytes().to_vec());
        self.live.run_cmd(check).map(|_| ()).map_err(reason)
    }
}

impl Worktree {
    /// Whether `diff` (an earlier run's, as returned) is already in the live tree: its reverse
    /// applies there. Checks only: nothing is written.
    pub fn in_live_tree(&self, diff: &str) -> bool {
        let check = self.live.cmd(["apply", "--check", "--reverse", "-"]).stdin(diff.as_bytes().to_vec());
        self.live.run_cmd(check).is_ok()
    }

    /// Puts an earlier run's edits (`diff`, as captured) back in the copy's working files, on top
    /// of the baseline, so a follow-up continues from them and its diff holds them too. Like
    /// Codex's own edits, they write no object.
    pub fn replay(&self, diff: &str) -> Result<(), WorktreeError> {
        let inside = self.git(&CancelToken::new())?;
        let apply = inside.cmd(["apply", "-"]).stdin(diff.as_bytes().to_vec());
        inside.run_cmd(apply).map(drop).map_err(git_failed("replaying the earlier run's edits"))
    }

    /// For an earlier diff the user has applied: the files it created are untracked in the live
    /// tree, so the copy lacks them. They are copied in and made part of the baseline, so the
    /// copy is the user's tree and the follow-up's diff holds only the new edits.
    pub fn adopt_created_files(&mut self, diff: &str) -> Result<(), WorktreeError> {
        let copy = self.git(&CancelToken::new())?;
        let numstat = copy.cmd(["apply", "--numstat", "-z", "-"]).stdin(diff.as_bytes().to_vec());
        let listing = copy.run_cmd(numstat).map_err(git_failed("git apply --numstat"))?.stdout.bytes();
        let mut adopted = Vec::new();
        let mut safe_dirs = HashSet::new();
        // `added\tremoved\tpath\0`; a rename's empty path is followed by both names.
        for record in listing.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let path = record.rsplit(|&b| b == b'\t').next().unwrap_or(record);
            let relative = Path::new(OsStr::from_bytes(path));
            if std::fs::symlink_metadata(self.tree.join(relative)).is_ok() {
                continue;
            }
            copy_tracked(self.live.repo(), &self.tree, relative, &mut safe_dirs)
                .map_err(|e| copy_failed(relative, e))?;
            if std::fs::symlink_metadata(self.tree.join(relative)).is_ok() {
                adopted.extend_from_slice(path);
                adopted.push(0);
            }
        }
        if !adopted.is_empty() {
            self.stage(&copy, adopted)?;
            self.commit_baseline(&copy)?;
        }
        Ok(())
    }
}

impl Worktree {
    /// Moves the copy out of the run area (removed as usual when this value drops) into a
    /// private directory of its own under the same base, `cic-kept-XXXX/tree`, which nothing
    /// reaps: for a run whose edits could not be captured, so the paid work is not deleted
    /// with the area. Returns where it is now.
    pub fn keep(&mut self) -> std::io::Result<PathBuf> {
        let base = self.tree.parent().and_then(Path::parent).unwrap_or(&self.tree);
        // Private: it holds the user's code.
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        let kept = tempfile::Builder::new().prefix(KEPT_PREFIX).permissions(private).tempdir_in(base)?.keep();
        let target = kept.join("tree");
        std::fs::rename(&self.tree, &target)?;
        self.tree.clone_from(&target);
        Ok(target)
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        if let Some(area) = self.area.take()
            && let Err(err) = area.close()
        {
            crate::log_warn!("could not delete a worktree directory: {err}");
        }
    }
}

impl Source {
    fn read(live: &Git) -> Result<Source, WorktreeError> {
        let args = [
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            "objects",
            "--git-path",
            "shallow",
            "--show-object-format",
        ];
        let output = live.run(args).map_err(git_failed("git rev-parse"))?.stdout.bytes();
        let mut lines = output.split(|&b| b == b'\n');
        let mut next = || PathBuf::from(OsString::from_vec(lines.next().unwrap_or_default().to_vec()));
        let (objects, shallow, format) = (next(), next(), next());
        let object_format = format.to_string_lossy().into_owned();
        if !objects.is_absolute()
            || !object_format.bytes().all(|b| b.is_ascii_alphanumeric())
            || object_format.is_empty()
        {
            return Err(WorktreeError::Failed("git rev-parse gave an unexpected answer about the object store".into()));
        }
        Ok(Source { objects, shallow, object_format })
    }
}

/// `update-index -z --index-info` input for the live index's staged changes against HEAD
/// (`diff-index --cached --raw -z` records): the new entry, or removal for a staged deletion.
/// Unmerged paths keep HEAD's entry; their working file is copied like any other.
fn staged_index_info(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut fields = raw.split(|&b| b == 0);
    while let (Some(record), Some(path)) = (fields.next(), fields.next()) {
        // `:<old mode> <new mode> <old object> <new object> <status>`
        let record = String::from_utf8_lossy(record);
        let parts: Vec<&str> = record.trim_start_matches(':').split(' ').collect();
        let [_, new_mode, old_object, new_object, status] = parts[..] else { continue };
        let line = match status {
            "D" => format!("0 {}\t", "0".repeat(old_object.len())),
            "U" => continue,
            _ => format!("{new_mode} {new_object}\t"),
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(path);
        out.push(0);
    }
    out
}

/// (new mode, new object, path) of each `diff-index --raw -z` record that is not a deletion.
fn index_entries(raw: &[u8]) -> Vec<(String, String, &[u8])> {
    let mut out = Vec::new();
    let mut fields = raw.split(|&b| b == 0);
    while let (Some(record), Some(path)) = (fields.next(), fields.next()) {
        let record = String::from_utf8_lossy(record);
        let parts: Vec<&str> = record.trim_start_matches(':').split(' ').collect();
        if let [_, new_mode, _, new_object, status] = parts[..]
            && status != "D"
            && new_mode != GITLINK_MODE
        {
            out.push((new_mode.to_string(), new_object.to_string(), path));
        }
    }
    out
}

/// Copies one tracked file from the live tree: a regular file's bytes and mode, a symlink as a
/// symlink. A file that is missing — or lies behind a symlinked directory, which git counts as
/// missing too, and which would lead outside the repository — stays missing in the copy.
fn copy_tracked(live: &Path, tree: &Path, relative: &Path, safe_dirs: &mut HashSet<PathBuf>) -> std::io::Result<()> {
    let mut parents: Vec<&Path> = relative.ancestors().skip(1).filter(|p| !p.as_os_str().is_empty()).collect();
    parents.reverse();
    for dir in parents {
        if safe_dirs.contains(dir) {
            continue;
        }
        match std::fs::symlink_metadata(live.join(dir)) {
            Ok(meta) if meta.is_dir() => {
                safe_dirs.insert(dir.to_path_buf());
            }
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    let source = live.join(relative);
    let meta = match std::fs::symlink_metadata(&source) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let target = tree.join(relative);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)
    } else if meta.is_file() {
        copy_sparse(&source, &target)
    } else {
        Ok(()) // a directory where a file is tracked: git counts the file as deleted
    }
}

/// Copies a regular file's bytes and permissions, its holes left holes: only the runs of data
/// are read and written, and the length is set last. `std::fs::copy` writes a sparse file out
/// whole (a 1 GiB disk image of a few blocks would take 1 GiB in the copy). `O_NOFOLLOW`: a
/// file replaced by a symlink meanwhile is refused, not followed.
fn copy_sparse(source: &Path, target: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
    let from = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(source)?;
    let meta = from.metadata()?;
    let to = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(target)?;
    let len = meta.len();
    let mut buffer = vec![0; 1 << 17];
    let mut offset = 0;
    while let Some((start, end)) = crate::foundation::sys::next_data(&from, offset, len)? {
        let mut at = start;
        while at < end {
            let want = usize::try_from(end - at).unwrap_or(usize::MAX).min(buffer.len());
            let read = from.read_at(&mut buffer[..want], at)?;
            if read == 0 {
                break; // the file shrank meanwhile
            }
            to.write_all_at(&buffer[..read], at)?;
            at += read as u64;
        }
        offset = end;
    }
    to.set_len(len)?;
    to.set_permissions(meta.permissions())
}

/// (path, driver) of every `check-attr -z filter` record (`path\0filter\0value\0`) that names
/// a filter driver.
fn filtered_paths(listing: &[u8]) -> Vec<(String, String)> {
    let fields: Vec<&[u8]> = listing.split(|&b| b == 0).collect();
    fields
        .chunks_exact(3)
        .filter(|record| !matches!(record[2], b"unspecified" | b"unset" | b"set"))
        .map(|record| {
            (String::from_utf8_lossy(record[0]).into_owned(), String::from_utf8_lossy(record[2]).into_owned())
        })
        .collect()
}

fn copy_failed(relative: &Path, error: std::io::Error) -> WorktreeError {
    WorktreeError::Failed(format!("cannot copy {} into the worktree: {error}", relative.display()))
}

/// Removes the run areas under `base` whose owner died without cleaning up (their lock is
/// free). Returns what could not be removed.
pub fn reap_orphans(base: &Path) -> Vec<String> {
    scratch::reap(&[base.to_path_buf()], &[scratch::Kind::Worktree])
}

/// What a delegation would start from, without creating anything.
pub struct Plan {
    pub head_commit: String,
    pub head_subject: String,
    pub tracked_files: u64,
    pub tracked_bytes: u64,
    pub uncommitted_tracked_files: u64,
    pub untracked_files: u64,
    pub untracked_bytes: u64,
}

/// The repository containing `repo`, and its HEAD commit: what every delegation needs first.
pub fn open_with_head(
    repo: &Path,
    git_timeout: Duration,
    cancel: &CancelToken,
) -> Result<(Git, String), WorktreeError> {
    let git = Git::open(repo, git_timeout, cancel).map_err(git_failed("git"))?;
    let head = git.resolve_commit("HEAD").map_err(git_failed("git"))?;
    Ok((git, head.ok_or(WorktreeError::NoCommits)?))
}

pub fn plan(repo: &Path, git_timeout: Duration, cancel: &CancelToken) -> Result<Plan, WorktreeError> {
    let (git, head_commit) = open_with_head(repo, git_timeout, cancel)?;
    let failed = git_failed("git");
    let subject = git.run(["log", "-1", "--format=%s", "HEAD"]).map_err(failed)?;
    let tree = git.run(["ls-tree", "-r", "-z", "--long", "HEAD"]).map_err(failed)?;
    let (mut tracked_files, mut tracked_bytes) = (0, 0);
    for entry in tree.stdout.bytes().split(|&b| b == 0).filter(|e| !e.is_empty()) {
        tracked_files += 1;
        // `<mode> <type> <object> <size>\t<path>`; a gitlink's size is `-`.
        let meta = entry.split(|&b| b == b'\t').next().unwrap_or_default();
        let size = String::from_utf8_lossy(meta).split_whitespace().nth(3).and_then(|s| s.parse::<u64>().ok());
        tracked_bytes += size.unwrap_or(0);
    }
    let mut numstat_args: Vec<&str> = vec!["diff", "--numstat", "-z"];
    numstat_args.extend(DIFF_FLAGS);
    numstat_args.push("HEAD");
    let uncommitted = git.run(numstat_args).map_err(failed)?;
    let mut numstat = Numstat::default();
    numstat.add(&uncommitted.stdout.bytes());
    // Untracked files are counted as git would list them: not at all when it is told not to.
    let untracked = if git.untracked_listing_off().map_err(failed)? {
        Vec::new()
    } else {
        git.run(["ls-files", "--others", "--exclude-standard", "-z"]).map_err(failed)?.stdout.bytes()
    };
    let (mut untracked_files, mut untracked_bytes) = (0, 0);
    for path in untracked.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        untracked_files += 1;
        let path = git.repo().join(OsStr::from_bytes(path));
        untracked_bytes += std::fs::symlink_metadata(path).map(|m| m.len()).unwrap_or(0);
    }
    Ok(Plan {
        head_commit,
        head_subject: crate::foundation::text::one_line(&subject.stdout.text(), 200),
        tracked_files,
        tracked_bytes,
        uncommitted_tracked_files: numstat.files,
        untracked_files,
        untracked_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_changes_become_index_info_and_conflicts_keep_heads_entry() {
        let raw = b":100644 100644 aaaa bbbb M\0src/a.rs\0:100644 000000 cccc 0000 D\0gone.txt\0\
                    :000000 100755 0000 dddd A\0new.sh\0:100644 100644 eeee 0000 U\0both.txt\0";
        assert_eq!(
            staged_index_info(raw),
            b"100644 bbbb\tsrc/a.rs\x000 0000\tgone.txt\x00100755 dddd\tnew.sh\x00".to_vec()
        );
        assert!(staged_index_info(b"").is_empty());
    }

    #[test]
    fn only_paths_naming_a_filter_driver_count_as_filtered() {
        let listing = b"a.bin\0filter\0lfs\0b.txt\0filter\0unspecified\0c\0filter\0unset\0d\0filter\0set\0";
        assert_eq!(filtered_paths(listing), vec![("a.bin".to_string(), "lfs".to_string())]);
    }
}
