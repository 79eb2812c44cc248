//! The throwaway git worktree a delegated task runs in (original-spec §4.6), and everything done
//! to it: creation from HEAD with the user's uncommitted tracked changes replayed as a baseline
//! commit, capture of exactly Codex's edits as a diff against that baseline, the check that the
//! diff applies to the live tree, and removal on every path (success, error, timeout, cancel,
//! panic: `Drop` does it).
//!
//! The user's tree is only ever read: the worktree is added with `git worktree add` (which writes
//! its bookkeeping under `.git/worktrees/`, pruned again on removal), the replayed changes are
//! read with `git diff`, and the applies-cleanly check is `git apply --check`. Untracked files are
//! never copied. All git goes through the hardened `Git`: no hooks, filters or signing run.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::git::{DIFF_FLAGS, Git, GitError, Numstat};

/// Prefix of every worktree parent directory; cleanup refuses anything else.
pub const DIR_PREFIX: &str = "cic-worktree-";
/// Locked by the process that made the worktree, for as long as it lives: a worktree whose
/// lock is free was left by a process that died (SIGKILL, crash) and may be removed.
const OWNER_LOCK: &str = "owner.lock";
/// A worktree directory without its lock file is only an orphan once it is this old (it may be
/// a few microseconds from getting one).
const ORPHAN_MIN_AGE: Duration = Duration::from_secs(60);
/// The largest uncommitted change replayed into the worktree; beyond it the worktree is HEAD only
/// (with a warning), because a cut patch cannot be applied.
const MAX_REPLAY_BYTES: usize = 64 * 1024 * 1024;
/// Build and cache artefacts never reported as Codex's edits.
const ARTEFACT_EXCLUDES: &[&str] = &[
    ":(exclude,glob)**/__pycache__/**",
    ":(exclude,glob)**/*.py[co]",
    ":(exclude,glob)**/.pytest_cache/**",
    ":(exclude,glob)**/.ruff_cache/**",
    ":(exclude,glob)**/.mypy_cache/**",
    ":(exclude,glob)**/.DS_Store",
    ":(exclude,glob)**/node_modules/**",
    ":(exclude,glob)**/*.egg-info/**",
];
/// Identity of the baseline commit (the hardened git has no user config to take one from).
const BASELINE_IDENTITY: [&str; 4] = ["-c", "user.name=codex-in-claude", "-c", "user.email=codex-in-claude@localhost"];

#[derive(Debug)]
pub enum WorktreeError {
    NotAGitRepo,
    /// HEAD does not name a commit.
    NoCommits,
    Cancelled,
    /// git is missing, timed out, or refuses the repository: `GitError::to_tool_error` says
    /// which and how to fix it.
    Git(GitError),
    /// git failed; the message is sanitised and bounded.
    Failed(String),
}

impl WorktreeError {
    fn from_git(context: &str, error: GitError) -> WorktreeError {
        match error {
            GitError::NotARepo => WorktreeError::NotAGitRepo,
            GitError::Cancelled => WorktreeError::Cancelled,
            GitError::Missing | GitError::TimedOut | GitError::Unsafe { .. } => WorktreeError::Git(error),
            GitError::Failed { .. } => WorktreeError::Failed(format!("{context}: {error}")),
        }
    }
}

/// A live worktree; removed when dropped.
pub struct Worktree {
    /// `<base>/cic-worktree-XXXX`, deleted with everything in it.
    parent: Option<tempfile::TempDir>,
    /// `owner.lock`, held while this value lives.
    _owner: std::fs::File,
    tree: PathBuf,
    /// The user's repository, for removal and the apply check; never cancelled, so cleanup runs
    /// even after the call was.
    live: Git,
    git_timeout: Duration,
    /// The commit Codex's edits are diffed against (HEAD plus the replayed changes).
    baseline: String,
    /// Why the worktree may differ from the user's tree (replay failures).
    pub security_warnings: Vec<String>,
}

/// Codex's edits as a diff.
pub struct Edits {
    /// Unified diff, binary files reported but not inlined; cut at the capture bound.
    pub diff: String,
    pub truncated: bool,
    /// Counts over the whole diff, before any cut.
    pub numstat: Numstat,
}

impl Worktree {
    /// Adds a detached worktree of HEAD under `base` and replays the uncommitted tracked
    /// changes of `repo` into it as a baseline commit.
    pub fn create(
        repo: &Path,
        base: &Path,
        git_timeout: Duration,
        cancel: &CancelToken,
    ) -> Result<Worktree, WorktreeError> {
        let (live, _head) = open_with_head(repo, git_timeout, &CancelToken::new())?;
        std::fs::create_dir_all(base)
            .map_err(|e| WorktreeError::Failed(format!("cannot create the worktree base {}: {e}", base.display())))?;
        let parent = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir_in(base)
            .map_err(|e| WorktreeError::Failed(format!("cannot create a worktree directory: {e}")))?;
        let owner = std::fs::File::create(parent.path().join(OWNER_LOCK))
            .and_then(|file| file.try_lock().map(|()| file).map_err(std::io::Error::other))
            .map_err(|e| WorktreeError::Failed(format!("cannot lock the worktree directory: {e}")))?;
        let tree = parent.path().join("tree");
        let mut worktree = Worktree {
            parent: Some(parent),
            _owner: owner,
            tree: tree.clone(),
            live,
            git_timeout,
            baseline: String::new(),
            security_warnings: Vec::new(),
        };
        // From here on, dropping `worktree` on an error removes what was made.
        worktree
            .live
            .run([
                OsString::from("worktree"),
                "add".into(),
                "--detach".into(),
                "--quiet".into(),
                tree.into(),
                "HEAD".into(),
            ])
            .map_err(|e| WorktreeError::from_git("git worktree add failed", e))?;
        if cancel.is_cancelled() {
            return Err(WorktreeError::Cancelled);
        }
        worktree.replay_uncommitted(cancel)?;
        Ok(worktree)
    }

    pub fn path(&self) -> &Path {
        &self.tree
    }

    /// Where in the worktree the user's `workspace` (the repo top or a directory below it) is.
    pub fn dir_for(&self, workspace: &Path) -> PathBuf {
        let inside =
            workspace.canonicalize().ok().and_then(|w| w.strip_prefix(self.live.repo()).ok().map(Path::to_path_buf));
        inside.map_or_else(|| self.tree.clone(), |relative| self.tree.join(relative))
    }

    /// A hardened `Git` in the worktree.
    fn git(&self, cancel: &CancelToken) -> Result<Git, WorktreeError> {
        Git::open(&self.tree, self.git_timeout, cancel).map_err(|e| WorktreeError::from_git("git in the worktree", e))
    }

    /// Applies the live tree's staged and unstaged changes to tracked files and commits them, so
    /// the diff after Codex's run holds only Codex's edits. Changes that cannot be replayed
    /// leave the worktree at HEAD, with a warning.
    fn replay_uncommitted(&mut self, cancel: &CancelToken) -> Result<(), WorktreeError> {
        let inside = self.git(cancel)?;
        let mut diff_args: Vec<&str> = vec!["diff", "--binary"];
        diff_args.extend(DIFF_FLAGS);
        diff_args.extend(["HEAD", "--"]);
        let patch = match self.live.run_head(diff_args, MAX_REPLAY_BYTES) {
            Ok(out) if out.stdout.truncated() => {
                self.security_warnings.push(format!(
                    "uncommitted changes exceed {MAX_REPLAY_BYTES} bytes and were not replayed; Codex worked from HEAD"
                ));
                None
            }
            Ok(out) => Some(out.stdout.bytes()),
            Err(err) => {
                self.security_warnings
                    .push(format!("could not read the uncommitted changes ({err}); Codex worked from HEAD"));
                None
            }
        };
        if let Some(patch) = patch.filter(|p| !p.is_empty()) {
            let apply = inside.cmd(["apply", "--whitespace=nowarn", "--binary", "-"]).stdin(patch);
            match inside.run_cmd(apply) {
                Ok(_) => {
                    inside.run(["add", "-A"]).map_err(|e| WorktreeError::from_git("git add in the worktree", e))?;
                    let mut commit: Vec<&str> = BASELINE_IDENTITY.to_vec();
                    commit.extend(["commit", "--quiet", "--no-verify", "-m", "baseline: live uncommitted state"]);
                    inside.run(commit).map_err(|e| WorktreeError::from_git("baseline commit", e))?;
                }
                Err(GitError::Cancelled) => return Err(WorktreeError::Cancelled),
                Err(err) => self
                    .security_warnings
                    .push(format!("uncommitted changes could not be replayed ({err}); Codex worked from HEAD only")),
            }
        }
        let head = inside.run(["rev-parse", "HEAD"]).map_err(|e| WorktreeError::from_git("rev-parse", e))?;
        self.baseline = head.stdout.text().trim().to_string();
        Ok(())
    }

    /// Everything Codex changed since the baseline (new, deleted, renamed, mode-changed files),
    /// artefacts excluded; the diff text is kept up to `cap` bytes.
    pub fn edits(&self, cap: usize) -> Result<Edits, WorktreeError> {
        // Capture runs after codex, also when the call was cancelled meanwhile: use a fresh token.
        let inside = self.git(&CancelToken::new())?;
        let mut add: Vec<&str> = vec!["add", "-A", "--", "."];
        add.extend(ARTEFACT_EXCLUDES);
        inside.run(add).map_err(|e| WorktreeError::from_git("git add in the worktree", e))?;
        let diff_args = |extra: &[&'static str]| -> Vec<&str> {
            let mut args: Vec<&str> = vec!["diff", "--cached", "--find-renames"];
            args.extend(DIFF_FLAGS);
            args.extend(extra);
            args.extend([self.baseline.as_str(), "--", "."]);
            args.extend(ARTEFACT_EXCLUDES);
            args
        };
        let listing =
            inside.run(diff_args(&["--numstat", "-z"])).map_err(|e| WorktreeError::from_git("git diff", e))?;
        let mut numstat = Numstat::default();
        numstat.add(&listing.stdout.bytes());
        let diff = inside.run_head(diff_args(&[]), cap).map_err(|e| WorktreeError::from_git("git diff", e))?;
        Ok(Edits { diff: diff.stdout.text(), truncated: diff.stdout.truncated(), numstat })
    }

    /// Whether `diff` applies to the live tree as it is now; `Err` carries git's reason.
    pub fn applies_to_live_tree(&self, diff: &str) -> Result<(), String> {
        let check = self.live.cmd(["apply", "--check", "-"]).stdin(diff.as_bytes().to_vec());
        self.live.run_cmd(check).map(|_| ()).map_err(|e| crate::text::one_line(&e.to_string(), 300))
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        let tree = self.tree.to_string_lossy().into_owned();
        if let Err(err) = self.live.run(["worktree", "remove", "--force", tree.as_str()]) {
            crate::log_warn!("could not remove worktree {tree}: {err}");
        }
        if let Some(parent) = self.parent.take()
            && let Err(err) = parent.close()
        {
            crate::log_warn!("could not delete a worktree directory: {err}");
        }
        if let Err(err) = self.live.run(["worktree", "prune"]) {
            crate::log_warn!("git worktree prune failed: {err}");
        }
    }
}

/// Removes the worktrees under `base` whose owner died without cleaning up (their lock is
/// free), and prunes each one's repository. Returns what could not be removed.
pub fn reap_orphans(base: &Path, git_timeout: Duration) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(base) else { return Vec::new() };
    let mut warnings = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let named_ours = entry.file_name().to_string_lossy().starts_with(DIR_PREFIX);
        if !named_ours || !entry.file_type().is_ok_and(|t| t.is_dir()) || !is_orphan(&dir) {
            continue;
        }
        let repo = owning_repo(&dir.join("tree"));
        if let Err(err) = std::fs::remove_dir_all(&dir) {
            warnings.push(format!("could not remove the orphaned worktree {}: {err}", dir.display()));
            continue;
        }
        crate::log_info!("removed the orphaned worktree {}", dir.display());
        if let Some(repo) = repo {
            let pruned =
                Git::open(&repo, git_timeout, &CancelToken::new()).and_then(|git| git.run(["worktree", "prune"]));
            if let Err(err) = pruned {
                warnings.push(format!("git worktree prune in {} failed: {err}", repo.display()));
            }
        }
    }
    warnings
}

fn is_orphan(dir: &Path) -> bool {
    match std::fs::File::open(dir.join(OWNER_LOCK)) {
        Ok(lock) => lock.try_lock().is_ok(),
        Err(_) => std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > ORPHAN_MIN_AGE)),
    }
}

/// The repository a linked worktree belongs to, from its `.git` file
/// (`gitdir: <repo>/.git/worktrees/<name>`).
fn owning_repo(tree: &Path) -> Option<PathBuf> {
    let pointer = std::fs::read_to_string(tree.join(".git")).ok()?;
    let gitdir = pointer.strip_prefix("gitdir:")?.trim();
    let (git_dir, _) = gitdir.rsplit_once("/worktrees/")?;
    Path::new(git_dir).parent().map(Path::to_path_buf)
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
    let git = Git::open(repo, git_timeout, cancel).map_err(|e| WorktreeError::from_git("git", e))?;
    let head = git.resolve_commit("HEAD").map_err(|e| WorktreeError::from_git("git", e))?;
    Ok((git, head.ok_or(WorktreeError::NoCommits)?))
}

pub fn plan(repo: &Path, git_timeout: Duration, cancel: &CancelToken) -> Result<Plan, WorktreeError> {
    let (git, head_commit) = open_with_head(repo, git_timeout, cancel)?;
    let failed = |e| WorktreeError::from_git("git", e);
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
    let untracked = git.run(["ls-files", "--others", "--exclude-standard", "-z"]).map_err(failed)?;
    let (mut untracked_files, mut untracked_bytes) = (0, 0);
    for path in untracked.stdout.bytes().split(|&b| b == 0).filter(|p| !p.is_empty()) {
        untracked_files += 1;
        let path = git.repo().join(OsStr::from_bytes(path));
        untracked_bytes += std::fs::symlink_metadata(path).map(|m| m.len()).unwrap_or(0);
    }
    Ok(Plan {
        head_commit,
        head_subject: crate::text::one_line(&subject.stdout.text(), 200),
        tracked_files,
        tracked_bytes,
        uncommitted_tracked_files: numstat.files,
        untracked_files,
        untracked_bytes,
    })
}
