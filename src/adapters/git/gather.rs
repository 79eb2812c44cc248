//! What a code review looks at: the diff for a scope (working tree, branch, commit), optionally
//! limited to paths and extended by untracked files, with its numstat summary.
//!
//! Guarantees (docs/lessons.md §1, and docs/lessons.md §5 items 5, 7, 11):
//! - every git call goes through the hardened `Git`, diffs carry `git::DIFF_FLAGS`, and binary
//!   content is never sent (no `--binary`: git prints "Binary files … differ");
//! - refs are shape-checked, then resolved once to commit OIDs (annotated tags peeled) and the
//!   diff commands use those OIDs, so a ref moving mid-gather cannot mix two states;
//! - untracked files are hashed into a scratch index and a scratch object directory that does not
//!   borrow the repository's store (git would otherwise freshen the mtime of a pack or loose
//!   object already holding the content), so nothing under the repository's git directory is
//!   written or touched (the rest of "never written" is `Git`'s);
//! - a file that cannot be read whole without risk is left out before anything reads it, and
//!   listed with the reason (`LeftOut`): unreadable, too large (`file_limit`, decided from its
//!   size, so a huge file is never hashed), not a regular file (a nested repository), or gone;
//!   opening it never blocks (no FIFO swapped in can hang the read);
//! - a scope that needs a commit HEAD does not have says so (`NoCommits`), a base that shares no
//!   history with HEAD is refused, and so is a commit on a shallow clone's boundary, whose diff
//!   git would show as adding every file;
//! - listings are NUL-delimited, the diff text is read head-only up to `capture_bytes`, and the
//!   counts come from `--numstat` over the full diff.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::Path;
use std::time::Duration;

use crate::adapters::git::{DIFF_FLAGS, Git, GitError, Numstat};
use crate::foundation::cancel::CancelToken;
use crate::foundation::scratch;

/// Longest ref accepted; real refs and revision expressions are far shorter.
const MAX_REF_CHARS: usize = 256;
/// Paths per `hash-object` call, well under any argv limit.
const HASH_BATCH: usize = 256;
/// The least `file_limit` is. A file over the capture bound can never be shown whole, so
/// hashing it only counts its lines; up to this size that is cheap, so such a file is still
/// counted (and shown cut).
const MIN_FILE_LIMIT: u64 = 8 << 20;

/// The largest file a gather keeping `capture_bytes` of diff reads; larger ones are left out
/// (`LeftOutReason::TooLarge`) on their size alone.
fn file_limit(capture_bytes: usize) -> u64 {
    (capture_bytes as u64).max(MIN_FILE_LIMIT)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Staged and unstaged changes to tracked files against HEAD (plus untracked, see `Untracked`).
    WorkingTree,
    /// `base...HEAD`: what HEAD added since it diverged from `base`.
    Branch { base: String },
    /// One commit against its first parent (a root commit against the empty tree).
    Commit { commit: String },
}

impl Scope {
    /// The parameter's values, in declaration order.
    pub const NAMES: &'static [&'static str] = &["working_tree", "branch", "commit"];

    pub fn name(&self) -> &'static str {
        match self {
            Scope::WorkingTree => Scope::NAMES[0],
            Scope::Branch { .. } => Scope::NAMES[1],
            Scope::Commit { .. } => Scope::NAMES[2],
        }
    }
}

/// Which untracked (not ignored) files a working-tree review includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untracked {
    /// Those matched by `paths`; none when no paths were given.
    ExplicitOnly,
    Include,
    Exclude,
}

impl Untracked {
    /// The parameter's values, in declaration order.
    pub const NAMES: &'static [&'static str] = &["explicit_only", "include", "exclude"];

    pub fn parse(text: &str) -> Option<Untracked> {
        match text {
            "explicit_only" => Some(Untracked::ExplicitOnly),
            "include" => Some(Untracked::Include),
            "exclude" => Some(Untracked::Exclude),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub scope: Scope,
    /// Repo-relative pathspecs limiting the review; empty means the whole repository.
    pub paths: Vec<String>,
    pub untracked: Untracked,
    /// Stdout bytes kept from the diff.
    pub capture_bytes: usize,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Gathered {
    /// Raw unified diff (tracked, then included untracked), lossy UTF-8, cut at `capture_bytes`.
    pub diff: String,
    /// git wrote more than `capture_bytes`.
    pub capture_truncated: bool,
    /// `working_tree`, `branch <base>...HEAD` or `commit <full oid>`.
    pub label: String,
    pub base_oid: Option<String>,
    /// None for a working tree whose HEAD has no commit yet.
    pub head_oid: Option<String>,
    pub commit_oid: Option<String>,
    /// From `--numstat` over the full diff, included untracked files counted.
    pub files_changed: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub binary_files: Vec<String>,
    /// Working tree only, else 0: untracked, not ignored files (within `paths` when given).
    pub untracked_detected: u64,
    pub untracked_included: u64,
    /// Detected but not in the diff: excluded by the `Untracked` mode, or not a regular file or
    /// symlink (a nested repository, a FIFO).
    pub untracked_omitted: u64,
    /// git is told not to list untracked files (`status.showUntrackedFiles=no`): none were
    /// listed, counted or sent.
    pub untracked_unlisted: bool,
    /// Filter drivers the repository's own config defines that were not run (see `Git`).
    pub neutralised_filters: Vec<String>,
    /// Files asked for (untracked files included by the mode, or named plan files) that were
    /// left out, in listing order; untracked ones count in `untracked_omitted`.
    pub left_out: Vec<LeftOut>,
}

/// A file left out of what is read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// Repo-relative, lossy UTF-8.
    pub path: String,
    pub reason: LeftOutReason,
}

/// Why a file was left out (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOutReason {
    /// A directory (a nested repository) or another non-regular file.
    NotAFile,
    /// Removed before it was read.
    Gone,
    /// Opening it for reading failed (no permission, an I/O error).
    Unreadable,
    /// Its size is over `limit` (`file_limit`).
    TooLarge { bytes: u64, limit: u64 },
}

impl LeftOutReason {
    /// The reason's name in results.
    pub fn name(&self) -> &'static str {
        match self {
            LeftOutReason::NotAFile => "not_a_file",
            LeftOutReason::Gone => "gone",
            LeftOutReason::Unreadable => "unreadable",
            LeftOutReason::TooLarge { .. } => "too_large",
        }
    }
}

/// Each message is safe to show: it names the offending field, never a path's value, and echoes a
/// ref only after it passed the shape check.
#[derive(Debug, PartialEq, Eq)]
pub enum GatherError {
    InvalidBase(String),
    InvalidCommit(String),
    InvalidPaths(String),
    /// HEAD has no commit yet (a new repository or an orphan branch) and the scope needs one.
    NoCommits(String),
    /// The scratch directory for untracked files could not be made.
    Scratch(String),
    Git(GitError),
}

impl std::fmt::Display for GatherError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatherError::InvalidBase(message)
            | GatherError::InvalidCommit(message)
            | GatherError::InvalidPaths(message)
            | GatherError::NoCommits(message)
            | GatherError::Scratch(message) => write!(f, "{message}"),
            GatherError::Git(err) => write!(f, "{err}"),
        }
    }
}

impl From<GitError> for GatherError {
    fn from(err: GitError) -> GatherError {
        GatherError::Git(err)
    }
}

/// Checks the request's shape without git: the scope's ref and every path.
pub fn validate(request: &Request) -> Result<(), GatherError> {
    match &request.scope {
        Scope::WorkingTree => {}
        Scope::Branch { base } => check_ref("base", "branch", base).map_err(GatherError::InvalidBase)?,
        Scope::Commit { commit } => check_ref("commit", "commit", commit).map_err(GatherError::InvalidCommit)?,
    }
    validate_paths("paths", &request.paths)
}

/// Each entry must be a plain repo-relative path: non-empty, no control characters, no leading
/// `-` (an option) or `:` (pathspec magic), no `\`, not absolute, no `..` segment. The error
/// names the parameter (`field`) and the index of the first bad entry, never its value.
pub fn validate_paths(field: &str, paths: &[String]) -> Result<(), GatherError> {
    for (index, path) in paths.iter().enumerate() {
        let bytes = path.as_bytes();
        let problem = if path.is_empty() {
            Some("is empty")
        } else if path.chars().any(char::is_control) {
            Some("contains a control character")
        } else if path.starts_with('-') || path.starts_with(':') {
            Some("starts with '-' or ':'")
        } else if path.contains('\\') {
            Some("contains a backslash")
        } else if path.starts_with('/') || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':') {
            Some("is absolute")
        } else if path.split('/').any(|segment| segment == "..") {
            Some("has a '..' segment")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(GatherError::InvalidPaths(format!("{field}[{index}] {problem}; pass repo-relative paths")));
        }
    }
    Ok(())
}

/// Gathers the diff a review of `request` looks at, in the work tree containing `repo`. Paths
/// are relative to the repository's top level.
pub fn gather(
    repo: &Path,
    request: &Request,
    git_timeout: Duration,
    cancel: &CancelToken,
) -> Result<Gathered, GatherError> {
    validate(request)?;
    let git = Git::open(repo, git_timeout, cancel)?;
    let resolved = resolve_scope(&git, &request.scope)?;
    let mut gathered = Gathered {
        label: resolved.label,
        base_oid: resolved.base_oid,
        head_oid: resolved.head_oid,
        commit_oid: resolved.commit_oid,
        neutralised_filters: git.neutralised_filters().to_vec(),
        ..Gathered::default()
    };
    let (command, revisions) = (resolved.command, resolved.revisions);
    let diff_args = |extra: &[&str]| -> Vec<OsString> {
        let mut args: Vec<OsString> = command.iter().chain(&DIFF_FLAGS).chain(extra).map(OsString::from).collect();
        args.extend(["--end-of-options", &revisions, "--"].map(OsString::from));
        args.extend(request.paths.iter().map(OsString::from));
        args
    };

    let tracked = git.run_head(diff_args(&[]), request.capture_bytes)?;
    let mut diff = tracked.stdout.bytes();
    gathered.capture_truncated = tracked.stdout.truncated();
    gathered.add_numstat(&git.run(diff_args(&["--numstat", "-z"]))?.stdout.bytes());

    gathered.untracked_unlisted = request.scope == Scope::WorkingTree && git.untracked_listing_off()?;
    if request.scope == Scope::WorkingTree && !gathered.untracked_unlisted {
        let untracked = UntrackedDiff::gather(&git, request)?;
        gathered.untracked_detected = untracked.detected;
        gathered.untracked_included = untracked.included;
        gathered.untracked_omitted = untracked.detected - untracked.included;
        gathered.left_out = untracked.left_out;
        if let Some(scratch) = untracked.scratch {
            let room = request.capture_bytes.saturating_sub(diff.len());
            let (text, numstat) = scratch.diff(&git, room)?;
            diff.extend(text.stdout.bytes());
            gathered.capture_truncated |= text.stdout.truncated();
            gathered.add_numstat(&numstat);
        }
    }
    gathered.diff = String::from_utf8_lossy(&diff).into_owned();
    Ok(gathered)
}

impl Gathered {
    fn add_numstat(&mut self, listing: &[u8]) {
        let mut numstat = Numstat::default();
        numstat.add(listing);
        self.files_changed += numstat.files;
        self.lines_added += numstat.added;
        self.lines_removed += numstat.removed;
        self.binary_files.extend(numstat.binary_files);
    }
}

/// The current content of files named by repo-relative path, as a diff adding each one whole:
/// what a review shows of an untracked file, read the same way (hashed into a scratch index, no
/// filter run, binary content never inlined, unreadable or oversized files left out and listed)
/// and cut at `capture_bytes`. Each path must name a regular file of the work tree, outside any
/// `.git`, and not lead out of it through a symlink.
pub fn files(
    repo: &Path,
    paths: &[String],
    capture_bytes: usize,
    git_timeout: Duration,
    cancel: &CancelToken,
) -> Result<Gathered, GatherError> {
    let git = Git::open(repo, git_timeout, cancel)?;
    let named = named_files(&git, paths)?;
    let scratch = ScratchIndex::new()?;
    let names: Vec<&[u8]> = named.iter().map(|path| path.as_os_str().as_bytes()).collect();
    let added = scratch.add(&git, &names, file_limit(capture_bytes))?;
    let (text, numstat) = scratch.diff(&git, capture_bytes)?;
    let mut gathered = Gathered {
        diff: String::from_utf8_lossy(&text.stdout.bytes()).into_owned(),
        capture_truncated: text.stdout.truncated(),
        label: "files".to_string(),
        neutralised_filters: git.neutralised_filters().to_vec(),
        left_out: added.left_out,
        ..Gathered::default()
    };
    gathered.add_numstat(&numstat);
    Ok(gathered)
}

/// What `files` checks before anything is read: git opens the repository and every path names
/// a file it may read.
pub fn check_files(
    repo: &Path,
    paths: &[String],
    git_timeout: Duration,
    cancel: &CancelToken,
) -> Result<(), GatherError> {
    let git = Git::open(repo, git_timeout, cancel)?;
    named_files(&git, paths).map(drop)
}

/// Each of `paths` (the `files` parameter) as the repo-relative path of the regular file it
/// resolves to, symlinks followed only within the work tree; a file named twice is read once.
fn named_files(git: &Git, paths: &[String]) -> Result<Vec<std::path::PathBuf>, GatherError> {
    validate_paths("files", paths)?;
    let top = git.repo();
    let mut named = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let refuse = |problem: &str| GatherError::InvalidPaths(format!("files[{index}] {problem}"));
        let real = top.join(path).canonicalize().map_err(|_| refuse("names no file in the repository"))?;
        let relative = real.strip_prefix(top).map_err(|_| refuse("leads out of the repository through a symlink"))?;
        if relative.components().any(|part| part.as_os_str() == ".git") {
            return Err(refuse("is inside a .git directory"));
        }
        if !real.is_file() {
            return Err(refuse("is not a regular file"));
        }
        if !named.iter().any(|seen| seen == relative) {
            named.push(relative.to_path_buf());
        }
    }
    Ok(named)
}

/// Everything a review can check in the repository before it starts: the request's shape, that
/// git opens the repository, and that the scope's revisions are usable.
pub fn check(repo: &Path, request: &Request, git_timeout: Duration, cancel: &CancelToken) -> Result<(), GatherError> {
    validate(request)?;
    let git = Git::open(repo, git_timeout, cancel)?;
    resolve_scope(&git, &request.scope).map(|_| ())
}

/// A scope's revisions pinned to commit ids, and the diff command comparing them.
struct Resolved {
    label: String,
    base_oid: Option<String>,
    head_oid: Option<String>,
    commit_oid: Option<String>,
    /// The subcommand with its options; `--numstat -z` is added for the counts.
    command: &'static [&'static str],
    revisions: String,
}

fn resolve_scope(git: &Git, scope: &Scope) -> Result<Resolved, GatherError> {
    let head = || resolve(git, "HEAD");
    let resolved = match scope {
        Scope::WorkingTree => {
            let head = head()?;
            Resolved {
                label: "working_tree".to_string(),
                // An unborn HEAD has no commit to compare with: the whole index and tree are new.
                revisions: head.clone().unwrap_or_else(|| git.empty_tree().to_string()),
                base_oid: None,
                head_oid: head,
                commit_oid: None,
                command: &["diff"],
            }
        }
        Scope::Branch { base } => {
            let head_oid = head()?.ok_or_else(|| no_commits("scope=branch"))?;
            let base_oid = resolve(git, base)?
                .ok_or_else(|| GatherError::InvalidBase(format!("base {base} does not name a commit")))?;
            if git.merge_base(&base_oid, &head_oid)?.is_none() {
                return Err(GatherError::InvalidBase(format!(
                    "base {base} and HEAD share no history, so there is no branch point to diff from (in a shallow clone it may not have been fetched: git fetch --unshallow)"
                )));
            }
            Resolved {
                label: format!("branch {base}...HEAD"),
                revisions: format!("{base_oid}...{head_oid}"),
                base_oid: Some(base_oid),
                head_oid: Some(head_oid),
                commit_oid: None,
                command: &["diff"],
            }
        }
        Scope::Commit { commit } => {
            let Some(oid) = resolve(git, commit)? else {
                return Err(match head()? {
                    None => no_commits("scope=commit"),
                    Some(_) => GatherError::InvalidCommit(format!("commit {commit} does not name a commit")),
                });
            };
            if git.is_shallow_boundary(&oid)? {
                return Err(GatherError::InvalidCommit(format!(
                    "commit {commit} is a boundary of this shallow clone: its parent was not fetched, so git would show it as adding every file (fetch more history with git fetch --deepen=1, or pick a later commit)"
                )));
            }
            Resolved {
                label: format!("commit {oid}"),
                revisions: oid.clone(),
                base_oid: None,
                head_oid: None,
                commit_oid: Some(oid),
                // A merge is shown against its first parent (what it brought in), in the text
                // and the numstat alike; git's default combined diff would leave the text empty.
                command: &["show", "--format=", "--diff-merges=first-parent"],
            }
        }
    };
    Ok(resolved)
}

fn no_commits(scope: &str) -> GatherError {
    GatherError::NoCommits(format!(
        "HEAD has no commit yet (a new repository, or an orphan branch), so {scope} has nothing to compare"
    ))
}

/// Shape check of a caller's ref: `Err` carries the message.
fn check_ref(field: &str, scope: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("scope={scope} needs {field}"));
    }
    let bad_char = |c: char| c.is_whitespace() || c.is_control();
    if value.chars().count() > MAX_REF_CHARS || value.starts_with('-') || value.chars().any(bad_char) {
        return Err(format!(
            "{field} must be a git revision: at most {MAX_REF_CHARS} characters, no leading '-', no whitespace or control characters"
        ));
    }
    Ok(())
}

/// The full commit OID `revision` names, `None` when it names no commit.
fn resolve(git: &Git, revision: &str) -> Result<Option<String>, GatherError> {
    git.resolve_commit(revision).map_err(GatherError::from)
}

/// The untracked files of a working-tree review: how many exist, and a scratch index holding the
/// included ones.
struct UntrackedDiff {
    detected: u64,
    included: u64,
    left_out: Vec<LeftOut>,
    scratch: Option<ScratchIndex>,
}

impl UntrackedDiff {
    fn gather(git: &Git, request: &Request) -> Result<UntrackedDiff, GatherError> {
        let mut args: Vec<&str> = vec!["ls-files", "--others", "--exclude-standard", "-z", "--"];
        args.extend(request.paths.iter().map(String::as_str));
        let listing = git.run(args)?.stdout.bytes();
        let detected: Vec<&[u8]> = listing.split(|&b| b == 0).filter(|path| !path.is_empty()).collect();
        let wanted = match request.untracked {
            Untracked::Include => true,
            Untracked::ExplicitOnly => !request.paths.is_empty(),
            Untracked::Exclude => false,
        };
        let mut untracked =
            UntrackedDiff { detected: detected.len() as u64, included: 0, left_out: Vec::new(), scratch: None };
        if !wanted || detected.is_empty() {
            return Ok(untracked);
        }
        let scratch = ScratchIndex::new()?;
        let added = scratch.add(git, &detected, file_limit(request.capture_bytes))?;
        (untracked.included, untracked.left_out) = (added.count, added.left_out);
        untracked.scratch = Some(scratch);
        Ok(untracked)
    }
}

/// A temporary index and object directory, so untracked files can be diffed without writing to
/// the repository. It does not borrow the repository's store as an alternate: hashing content
/// that store already holds would freshen (set the mtime of) the pack or loose object holding
/// it, and nothing here needs the store, since the diff is against the empty tree.
struct ScratchIndex {
    /// Owner-only (it holds copies of the user's untracked files), reaped after a kill; removed
    /// on drop.
    _dir: scratch::Area,
    env: [(&'static str, String); 2],
}

/// What `ScratchIndex::add` recorded.
struct Added {
    count: u64,
    left_out: Vec<LeftOut>,
}

impl ScratchIndex {
    fn new() -> Result<ScratchIndex, GatherError> {
        let unavailable = |what: &str| GatherError::Scratch(format!("cannot stage untracked files: {what}"));
        let dir = scratch::Area::new(scratch::Kind::Untracked).map_err(|_| unavailable("no temporary directory"))?;
        std::fs::create_dir(dir.path().join("objects")).map_err(|_| unavailable("no temporary directory"))?;
        // The environment carries strings only.
        let path = dir.path().to_str().ok_or_else(|| unavailable("the temporary directory path is not UTF-8"))?;
        let env = [("GIT_INDEX_FILE", format!("{path}/index")), ("GIT_OBJECT_DIRECTORY", format!("{path}/objects"))];
        Ok(ScratchIndex { _dir: dir, env })
    }

    fn cmd<I: IntoIterator<Item = S>, S: Into<OsString>>(&self, git: &Git, args: I) -> crate::foundation::process::Cmd {
        let env = self.env.each_ref().map(|(k, v)| (*k, v.as_str()));
        git.cmd_with_env(&env, args)
    }

    /// Hashes the regular files and symlinks among `paths` into the scratch object directory
    /// and records them in the scratch index. Other entries (a nested repository listed as
    /// `dir/`, a file gone meanwhile), and files that cannot be read or are over `max_bytes`,
    /// are left out and listed.
    fn add(&self, git: &Git, paths: &[&[u8]], max_bytes: u64) -> Result<Added, GatherError> {
        let mut entries: Vec<(&str, String, &[u8])> = Vec::new();
        let mut regular: Vec<(&str, &[u8])> = Vec::new();
        let mut left_out = Vec::new();
        for &path in paths {
            let full = git.repo().join(OsStr::from_bytes(path));
            let leave_out = |reason| LeftOut { path: String::from_utf8_lossy(path).into_owned(), reason };
            let meta = match full.symlink_metadata() {
                Ok(meta) => meta,
                Err(_) => {
                    left_out.push(leave_out(LeftOutReason::Gone));
                    continue;
                }
            };
            if meta.file_type().is_symlink() {
                // The link's target text is the blob; the link is never followed.
                let Ok(target) = std::fs::read_link(&full) else {
                    left_out.push(leave_out(LeftOutReason::Gone));
                    continue;
                };
                let stdin = target.into_os_string().into_vec();
                let sha = git.run_cmd(self.cmd(git, ["hash-object", "-w", "--stdin"]).stdin(stdin))?;
                entries.push(("120000", sha.stdout.text().trim().to_string(), path));
            } else {
                match readable(&full, max_bytes) {
                    Ok(mode) => regular.push((if mode & 0o111 != 0 { "100755" } else { "100644" }, path)),
                    Err(reason) => left_out.push(leave_out(reason)),
                }
            }
        }
        for batch in regular.chunks(HASH_BATCH) {
            let mut args: Vec<OsString> = ["hash-object", "--no-filters", "-w", "--"].map(OsString::from).to_vec();
            args.extend(batch.iter().map(|(_, path)| OsStr::from_bytes(path).to_os_string()));
            let shas = git.run_cmd(self.cmd(git, args))?.stdout.text();
            for ((mode, path), sha) in batch.iter().zip(shas.lines()) {
                entries.push((mode, sha.to_string(), path));
            }
        }
        let mut index_info = Vec::new();
        for (mode, sha, path) in &entries {
            index_info.extend_from_slice(format!("{mode} {sha}\t").as_bytes());
            index_info.extend_from_slice(path);
            index_info.push(0);
        }
        git.run_cmd(self.cmd(git, ["update-index", "--add", "-z", "--index-info"]).stdin(index_info))?;
        Ok(Added { count: entries.len() as u64, left_out })
    }

    /// The scratch index against the empty tree: the diff text (first `cap` bytes) and its
    /// `--numstat -z`.
    fn diff(&self, git: &Git, cap: usize) -> Result<(crate::foundation::process::Output, Vec<u8>), GatherError> {
        let args = |extra: &[&'static str]| -> Vec<&'static str> {
            let mut args = vec!["diff", "--cached"];
            args.extend(DIFF_FLAGS.iter().chain(extra));
            args.extend(["--end-of-options", git.empty_tree()]);
            args
        };
        let text = git.run_cmd_head(self.cmd(git, args(&[])), cap)?;
        let numstat = git.run_cmd(self.cmd(git, args(&["--numstat", "-z"])))?;
        Ok((text, numstat.stdout.bytes()))
    }
}

/// Whether the file at `path` can be hashed, decided before its content is read: it is opened
/// without following a symlink and without blocking (a FIFO put in its place meanwhile would
/// block an ordinary open), and the open file must be a regular file of at most `max_bytes`
/// (its size as metadata says, so a huge or sparse file is never read). Returns its mode.
fn readable(path: &Path, max_bytes: u64) -> Result<u32, LeftOutReason> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW).open(path);
    let meta = match file.and_then(|file| file.metadata()) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(LeftOutReason::Gone),
        // No permission, an I/O error, or a symlink swapped in (O_NOFOLLOW): not readable as
        // the file listed.
        Err(_) => return Err(LeftOutReason::Unreadable),
    };
    if !meta.is_file() {
        Err(LeftOutReason::NotAFile)
    } else if meta.len() > max_bytes {
        Err(LeftOutReason::TooLarge { bytes: meta.len(), limit: max_bytes })
    } else {
        Ok(meta.permissions().mode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::git::testing::*;

    #[test]
    fn scope_and_untracked_names_match_their_variants() {
        let scopes = [Scope::WorkingTree, Scope::Branch { base: "b".into() }, Scope::Commit { commit: "c".into() }];
        assert_eq!(scopes.iter().map(Scope::name).collect::<Vec<_>>(), Scope::NAMES);
        let untracked: Vec<_> = Untracked::NAMES.iter().map(|name| Untracked::parse(name).unwrap()).collect();
        assert_eq!(untracked, [Untracked::ExplicitOnly, Untracked::Include, Untracked::Exclude]);
        assert_eq!(Untracked::parse("all"), None);
    }

    fn request(scope: Scope, paths: &[&str], untracked: Untracked) -> Request {
        Request { scope, paths: paths.iter().map(|p| p.to_string()).collect(), untracked, capture_bytes: 1 << 20 }
    }

    fn run(repo: &Path, request: &Request) -> Result<Gathered, GatherError> {
        gather(repo, request, Duration::from_secs(30), &CancelToken::new())
    }

    /// A repository with a committed `a.txt` and `b.txt`.
    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        init_repo(dir.path());
        write(dir.path(), "a.txt", "a1\na2\n");
        write(dir.path(), "b.txt", "b1\n");
        commit_all(dir.path(), "base");
        dir
    }

    #[test]
    fn working_tree_has_staged_and_unstaged_changes_with_counts() {
        let dir = repo();
        write(dir.path(), "a.txt", "a1\nchanged\n");
        write(dir.path(), "b.txt", "b1\nb2\nb3\n");
        git_ok(dir.path(), &["add", "b.txt"]);
        let got = run(dir.path(), &request(Scope::WorkingTree, &[], Untracked::ExplicitOnly)).unwrap();
        assert!(got.diff.contains("+changed") && got.diff.contains("-a2") && got.diff.contains("+b3"), "{}", got.diff);
        assert_eq!((got.files_changed, got.lines_added, got.lines_removed), (2, 3, 1));
        assert_eq!(got.label, "working_tree");
        assert_eq!(got.head_oid.as_deref(), Some(git_ok(dir.path(), &["rev-parse", "HEAD"]).as_str()));
        assert!(!got.capture_truncated && got.binary_files.is_empty());
    }

    #[test]
    fn untracked_files_git_is_told_not_to_list_are_never_listed_or_sent() {
        let dir = repo();
        write(dir.path(), "diary.txt", "DEAR-DIARY\n");
        let include = request(Scope::WorkingTree, &[], Untracked::Include);
        let got = run(dir.path(), &include).unwrap();
        assert!(got.diff.contains("DEAR-DIARY") && !got.untracked_unlisted, "listed by default: {}", got.diff);
        for value in ["no", "false", "No"] {
            git_ok(dir.path(), &["config", "status.showUntrackedFiles", value]);
            let got = run(dir.path(), &include).unwrap();
            assert!(!got.diff.contains("DEAR-DIARY"), "{value}: {}", got.diff);
            assert!(got.untracked_unlisted && got.untracked_detected == 0, "{value}: said, and counted as none");
            // Named explicitly, still not listed: git was told not to.
            let named = run(dir.path(), &request(Scope::WorkingTree, &["diary.txt"], Untracked::ExplicitOnly)).unwrap();
            assert!(!named.diff.contains("DEAR-DIARY"));
        }
        git_ok(dir.path(), &["config", "status.showUntrackedFiles", "normal"]);
        assert!(run(dir.path(), &include).unwrap().diff.contains("DEAR-DIARY"));
    }

    #[test]
    fn branch_scope_diffs_from_the_merge_base_with_pinned_oids() {
        let dir = repo();
        let main = git_ok(dir.path(), &["rev-parse", "HEAD"]);
        git_ok(dir.path(), &["checkout", "-q", "-b", "feature"]);
        write(dir.path(), "f.txt", "feature\n");
        let head = commit_all(dir.path(), "feature");
        let got = run(dir.path(), &request(Scope::Branch { base: "main".into() }, &[], Untracked::Exclude)).unwrap();
        assert!(got.diff.contains("+feature") && !got.diff.contains("a1"), "{}", got.diff);
        assert_eq!(got.label, "branch main...HEAD");
        assert_eq!((got.base_oid.as_deref(), got.head_oid.as_deref()), (Some(main.as_str()), Some(head.as_str())));
        let got = run(dir.path(), &request(Scope::Branch { base: "HEAD~1".into() }, &[], Untracked::Exclude)).unwrap();
        assert_eq!(got.files_changed, 1);
        // Untracked files belong to working-tree reviews only.
        write(dir.path(), "loose.txt", "x\n");
        let got = run(dir.path(), &request(Scope::Branch { base: "HEAD^".into() }, &[], Untracked::Include)).unwrap();
        assert_eq!((got.files_changed, got.untracked_detected), (1, 0));
    }

    #[test]
    fn commit_scope_handles_root_commits_and_annotated_tags() {
        let dir = repo();
        let root = git_ok(dir.path(), &["rev-parse", "HEAD"]);
        write(dir.path(), "b.txt", "b1\nb2\n");
        let second = commit_all(dir.path(), "second");
        git_ok(dir.path(), &["tag", "-a", "v1.0", "-m", "release"]);

        let got =
            run(dir.path(), &request(Scope::Commit { commit: "HEAD~1".into() }, &[], Untracked::Include)).unwrap();
        assert!(got.diff.contains("+a1") && got.diff.contains("+b1"), "{}", got.diff);
        assert_eq!((got.label, got.commit_oid), (format!("commit {root}"), Some(root)));
        let got = run(dir.path(), &request(Scope::Commit { commit: "v1.0".into() }, &[], Untracked::Include)).unwrap();
        assert_eq!(got.commit_oid, Some(second));
        assert_eq!((got.files_changed, got.lines_added, got.lines_removed), (1, 1, 0));
    }

    #[test]
    fn a_merge_commit_is_shown_against_its_first_parent() {
        let dir = repo();
        git_ok(dir.path(), &["checkout", "-q", "-b", "side"]);
        write(dir.path(), "side.txt", "side\n");
        commit_all(dir.path(), "side");
        git_ok(dir.path(), &["checkout", "-q", "main"]);
        write(dir.path(), "main.txt", "main\n");
        commit_all(dir.path(), "main");
        git_ok(dir.path(), &["merge", "-q", "--no-edit", "side"]);
        let got = run(dir.path(), &request(Scope::Commit { commit: "HEAD".into() }, &[], Untracked::Exclude)).unwrap();
        assert!(got.diff.contains("+side") && !got.diff.contains("+main"), "{}", got.diff);
        assert_eq!(got.files_changed, 1);
    }

    #[test]
    fn invalid_refs_are_rejected_without_side_effects() {
        let dir = repo();
        for bad in ["--output=x", "-x", "nope", "a b", "$(touch x)", "HEAD\u{7}", &"a".repeat(300)] {
            let branch = run(dir.path(), &request(Scope::Branch { base: bad.into() }, &[], Untracked::Exclude));
            assert!(matches!(branch, Err(GatherError::InvalidBase(_))), "{bad}: {branch:?}");
            let commit = run(dir.path(), &request(Scope::Commit { commit: bad.into() }, &[], Untracked::Exclude));
            assert!(matches!(commit, Err(GatherError::InvalidCommit(_))), "{bad}: {commit:?}");
        }
        assert!(!dir.path().join("x").exists() && !Path::new("x").exists());
        assert_eq!(git_ok(dir.path(), &["status", "--porcelain"]), "");
        let missing = run(dir.path(), &request(Scope::Branch { base: String::new() }, &[], Untracked::Exclude));
        assert_eq!(missing, Err(GatherError::InvalidBase("scope=branch needs base".into())));
        let missing = run(dir.path(), &request(Scope::Commit { commit: String::new() }, &[], Untracked::Exclude));
        assert_eq!(missing, Err(GatherError::InvalidCommit("scope=commit needs commit".into())));
    }

    #[test]
    fn paths_limit_the_diff() {
        let dir = repo();
        write(dir.path(), "a.txt", "a1\n");
        write(dir.path(), "b.txt", "b1\nmore\n");
        let got = run(dir.path(), &request(Scope::WorkingTree, &["b.txt"], Untracked::Exclude)).unwrap();
        assert!(got.diff.contains("+more") && !got.diff.contains("a.txt"), "{}", got.diff);
        assert_eq!(got.files_changed, 1);
    }

    #[test]
    fn bad_path_shapes_name_the_index_only() {
        for bad in ["", "-p", ":(top)x", "a\\b", "/etc/passwd", "C:x", "a/../b", "..", "a\nb", "a\u{0}b"] {
            let err = validate_paths("paths", &["ok/path".to_string(), bad.to_string()]).unwrap_err();
            let GatherError::InvalidPaths(message) = err else { panic!("{bad:?}") };
            assert!(message.starts_with("paths[1] "), "{message}");
            assert!(bad.len() < 3 || !message.contains(bad), "{message} echoes {bad:?}");
        }
        assert!(validate_paths("paths", &["src/a b.rs".into(), "docs/".into(), "*.md".into(), "a..b".into()]).is_ok());
    }

    fn object_count(repo: &Path) -> usize {
        fn walk(dir: &Path) -> usize {
            std::fs::read_dir(dir)
                .map(|entries| entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
                .unwrap_or(0)
        }
        walk(&repo.join(".git/objects"))
    }

    #[test]
    fn untracked_files_follow_the_mode_without_touching_the_repository() {
        use std::os::unix::fs::PermissionsExt as _;
        let scratch = tempfile::tempdir().unwrap();
        let secret = scratch.path().join("secret.txt");
        std::fs::write(&secret, "TOPSECRET\n").unwrap();
        let dir = repo();
        let repo = dir.path();
        write(repo, "a.txt", "a1\na2\nmore\n");
        write(repo, "new file.txt", "spaced\n");
        write(repo, "line\nbreak.txt", "newline\n");
        write(repo, "cr\rname.txt", "carriage\n");
        write(repo, "run.sh", "#!/bin/sh\n");
        std::fs::set_permissions(repo.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&secret, repo.join("link")).unwrap();
        std::fs::write(repo.join(OsStr::from_bytes(b"caf\xe9.txt")), "latin1\n").unwrap();
        write(repo, "ignored.log", "noise\n");
        write(repo, ".git/info/exclude", "*.log\n");
        let index_before = std::fs::read(repo.join(".git/index")).unwrap();
        let objects_before = object_count(repo);

        let got = run(repo, &request(Scope::WorkingTree, &[], Untracked::Include)).unwrap();
        assert_eq!((got.untracked_detected, got.untracked_included, got.untracked_omitted), (6, 6, 0));
        assert_eq!((got.files_changed, got.lines_added), (7, 7), "{}", got.diff);
        for expected in ["+more", "+spaced", "+newline", "+carriage", "new file mode 100755", "new file mode 120000"] {
            assert!(got.diff.contains(expected), "{expected} missing:\n{}", got.diff);
        }
        assert!(got.diff.contains(&format!("+{}", secret.display())), "link target is the blob");
        assert!(!got.diff.contains("TOPSECRET") && !got.diff.contains("noise"));

        let got = run(repo, &request(Scope::WorkingTree, &[], Untracked::Exclude)).unwrap();
        assert_eq!((got.untracked_detected, got.untracked_included, got.untracked_omitted), (6, 0, 6));
        assert_eq!(got.files_changed, 1);
        let got = run(repo, &request(Scope::WorkingTree, &[], Untracked::ExplicitOnly)).unwrap();
        assert_eq!((got.untracked_detected, got.untracked_included, got.untracked_omitted), (6, 0, 6));
        let got = run(repo, &request(Scope::WorkingTree, &["run.sh", "a.txt"], Untracked::ExplicitOnly)).unwrap();
        assert_eq!((got.untracked_detected, got.untracked_included, got.files_changed), (1, 1, 2));
        assert!(got.diff.contains("run.sh") && !got.diff.contains("spaced"));

        assert_eq!(std::fs::read(repo.join(".git/index")).unwrap(), index_before);
        assert_eq!(object_count(repo), objects_before);
        let status = plain_git(repo, &["status", "--porcelain", "-z", "--untracked-files=all"]).stdout.text();
        assert!(status.contains("?? run.sh") && status.contains(" M a.txt"), "{status}");
    }

    /// Every entry under `.git` with its content and mtime.
    fn git_dir_state(repo: &Path) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
        fn walk(path: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)>) {
            let meta = std::fs::symlink_metadata(path).unwrap();
            let content = if meta.is_dir() {
                for entry in std::fs::read_dir(path).unwrap() {
                    walk(&entry.unwrap().path(), out);
                }
                Vec::new()
            } else {
                std::fs::read(path).unwrap()
            };
            out.push((path.to_path_buf(), content, meta.modified().unwrap()));
        }
        let mut out = Vec::new();
        walk(&repo.join(".git"), &mut out);
        out.sort();
        out
    }

    /// git sets the mtime of a split index's shared file on every read, and of a pack or loose
    /// object when asked to write content it already holds; with `core.splitIndex` on it writes
    /// a scratch index's shared part into `.git`. None of that may reach the repository.
    #[test]
    fn reading_touches_nothing_under_git_with_a_split_index_and_stored_untracked_content() {
        let dir = repo();
        let repo = dir.path();
        write(repo, "packed.txt", "already packed\n");
        write(repo, "loose.txt", "already loose\n");
        commit_all(repo, "both");
        git_ok(repo, &["rm", "-q", "--cached", "packed.txt", "loose.txt"]);
        git_ok(repo, &["commit", "-q", "-m", "untrack both"]);
        git_ok(repo, &["gc", "-q"]);
        git_ok(repo, &["hash-object", "-w", "loose.txt"]);
        write(repo, "a.txt", "a1\nchanged\n");
        git_ok(repo, &["update-index", "--split-index"]);
        git_ok(repo, &["config", "core.splitIndex", "true"]);
        let shared = std::fs::read_dir(repo.join(".git")).unwrap().flatten();
        assert_eq!(shared.filter(|e| e.file_name().to_string_lossy().starts_with("sharedindex.")).count(), 1);
        // mtimes set now would be indistinguishable from the fixture's own.
        std::thread::sleep(Duration::from_millis(20));
        let before = git_dir_state(repo);

        let got = run(repo, &request(Scope::WorkingTree, &[], Untracked::Include)).unwrap();
        assert_eq!((got.untracked_included, got.files_changed), (2, 3), "{}", got.diff);
        assert!(got.diff.contains("+already packed") && got.diff.contains("+changed"), "{}", got.diff);
        run(repo, &request(Scope::Branch { base: "HEAD~1".into() }, &[], Untracked::Exclude)).unwrap();
        run(repo, &request(Scope::Commit { commit: "HEAD".into() }, &[], Untracked::Exclude)).unwrap();
        files(repo, &["packed.txt".into()], 1 << 20, Duration::from_secs(30), &CancelToken::new()).unwrap();
        assert!(git_dir_state(repo) == before, "the repository's .git was written or touched");

        // `core.splitIndex` set, the index not split yet: the scratch index must not split.
        let dir = self::repo();
        let repo = dir.path();
        git_ok(repo, &["config", "core.splitIndex", "true"]);
        write(repo, "new.txt", "new\n");
        let before = git_dir_state(repo);
        let got = run(repo, &request(Scope::WorkingTree, &[], Untracked::Include)).unwrap();
        assert_eq!(got.untracked_included, 1);
        assert!(git_dir_state(repo) == before, "the repository's .git was written or touched");
    }

    /// A huge (sparse) file is left out on its size alone, a nested repository as not a file;
    /// FIFOs and sockets are not even listed by git; the rest is read, and nothing blocks.
    #[test]
    fn odd_untracked_and_named_files_are_left_out_and_listed() {
        let dir = repo();
        let repo = dir.path();
        write(repo, "kept.txt", "kept\n");
        let huge = std::fs::File::create(repo.join("huge.bin")).unwrap();
        huge.set_len(1 << 30).unwrap();
        assert!(plain_git(repo, &["init", "-q", "nested"]).success());
        write(repo, "nested/inner.txt", "inner\n");
        let fifo = std::ffi::CString::new(repo.join("pipe").into_os_string().into_vec()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let _socket = std::os::unix::net::UnixListener::bind(repo.join("sock")).unwrap();

        let mut req = request(Scope::WorkingTree, &[], Untracked::Include);
        req.capture_bytes = 4096;
        let got = run(repo, &req).unwrap();
        let left_out: Vec<(&str, &str)> = got.left_out.iter().map(|f| (f.path.as_str(), f.reason.name())).collect();
        assert_eq!(left_out, [("huge.bin", "too_large"), ("nested/", "not_a_file")]);
        assert_eq!(got.left_out[0].reason, LeftOutReason::TooLarge { bytes: 1 << 30, limit: MIN_FILE_LIMIT });
        assert_eq!((got.untracked_detected, got.untracked_included, got.untracked_omitted), (3, 1, 2));
        assert!(got.diff.contains("+kept") && !got.diff.contains("huge.bin"), "{}", got.diff);

        let named = ["kept.txt".to_string(), "huge.bin".to_string()];
        let got = files(repo, &named, 4096, Duration::from_secs(30), &CancelToken::new()).unwrap();
        assert_eq!(got.left_out.len(), 1, "{:?}", got.left_out);
        assert_eq!((got.left_out[0].path.as_str(), got.files_changed), ("huge.bin", 1));
        assert!(got.diff.contains("+kept"), "{}", got.diff);
    }

    #[test]
    fn binary_changes_are_named_not_sent() {
        let dir = repo();
        std::fs::write(dir.path().join("bin.dat"), b"\0\x01BINARYPAYLOAD\x02").unwrap();
        commit_all(dir.path(), "bin");
        std::fs::write(dir.path().join("bin.dat"), b"\0\x01BINARYPAYLOAD\x03more").unwrap();
        std::fs::write(dir.path().join("new.bin"), b"\0NEWPAYLOAD").unwrap();
        let got = run(dir.path(), &request(Scope::WorkingTree, &[], Untracked::Include)).unwrap();
        assert_eq!(got.binary_files, ["bin.dat", "new.bin"]);
        assert_eq!((got.files_changed, got.lines_added, got.lines_removed), (2, 0, 0));
        assert!(got.diff.contains("Binary files") && !got.diff.contains("PAYLOAD"), "{}", got.diff);
    }

    #[test]
    fn capture_is_cut_but_counts_cover_the_full_diff() {
        let dir = repo();
        let long: String = (0..200).map(|i| format!("line {i}\n")).collect();
        write(dir.path(), "a.txt", &long);
        write(dir.path(), "untracked.txt", &long);
        let mut req = request(Scope::WorkingTree, &[], Untracked::Include);
        req.capture_bytes = 300;
        let got = run(dir.path(), &req).unwrap();
        assert!(got.capture_truncated && got.diff.len() <= 300, "{}", got.diff.len());
        assert!(got.diff.starts_with("diff --git a/a.txt"));
        assert_eq!((got.files_changed, got.lines_added, got.lines_removed), (2, 400, 2));
    }

    #[test]
    fn unborn_head_diffs_the_working_tree_against_the_empty_tree() {
        let dir = tempfile::tempdir().unwrap();
        init_repo(dir.path());
        write(dir.path(), "first.txt", "hello\n");
        git_ok(dir.path(), &["add", "first.txt"]);
        write(dir.path(), "loose.txt", "loose\n");
        let got = run(dir.path(), &request(Scope::WorkingTree, &[], Untracked::Include)).unwrap();
        assert!(got.diff.contains("+hello") && got.diff.contains("+loose"), "{}", got.diff);
        assert_eq!((got.head_oid, got.files_changed), (None, 2));
        for scope in [Scope::Branch { base: "main".into() }, Scope::Commit { commit: "HEAD".into() }] {
            let got = run(dir.path(), &request(scope, &[], Untracked::Exclude));
            assert!(matches!(got, Err(GatherError::NoCommits(_))), "{got:?}");
        }
    }

    #[test]
    fn an_orphan_branch_has_no_commits_for_a_branch_review() {
        let dir = repo();
        git_ok(dir.path(), &["checkout", "-q", "--orphan", "fresh"]);
        let got = run(dir.path(), &request(Scope::Branch { base: "main".into() }, &[], Untracked::Exclude));
        let Err(GatherError::NoCommits(message)) = got else { panic!("{got:?}") };
        assert!(message.contains("orphan branch") && message.contains("scope=branch"), "{message}");
        // A commit that exists is still reviewable from there, and the working tree against
        // the empty tree.
        let got = run(dir.path(), &request(Scope::Commit { commit: "main".into() }, &[], Untracked::Exclude)).unwrap();
        assert_eq!(got.files_changed, 2);
        let got = run(dir.path(), &request(Scope::WorkingTree, &[], Untracked::Exclude)).unwrap();
        assert_eq!((got.head_oid, got.files_changed), (None, 2));
    }

    #[test]
    fn a_base_without_common_history_is_an_invalid_base() {
        let dir = repo();
        git_ok(dir.path(), &["checkout", "-q", "--orphan", "unrelated"]);
        write(dir.path(), "c.txt", "c\n");
        git_ok(dir.path(), &["rm", "-q", "--cached", "a.txt", "b.txt"]);
        commit_all(dir.path(), "unrelated root");
        let got = run(dir.path(), &request(Scope::Branch { base: "main".into() }, &[], Untracked::Exclude));
        let Err(GatherError::InvalidBase(message)) = got else { panic!("{got:?}") };
        assert!(message.contains("share no history"), "{message}");
    }

    #[test]
    fn a_sha256_repository_reviews_every_scope() {
        let dir = tempfile::tempdir().unwrap();
        git_ok(dir.path(), &["init", "-q", "-b", "main", "--object-format=sha256"]);
        write(dir.path(), "staged.txt", "staged\n");
        git_ok(dir.path(), &["add", "staged.txt"]);
        write(dir.path(), "loose.txt", "loose\n");
        // Unborn: tracked and untracked files against the sha256 empty tree.
        let got = run(dir.path(), &request(Scope::WorkingTree, &[], Untracked::Include)).unwrap();
        assert!(got.diff.contains("+staged") && got.diff.contains("+loose"), "{}", got.diff);
        let root = commit_all(dir.path(), "root");
        assert_eq!(root.len(), 64);
        write(dir.path(), "staged.txt", "staged\nmore\n");
        let second = commit_all(dir.path(), "second");
        write(dir.path(), "new.txt", "new\n");
        let got = run(dir.path(), &request(Scope::WorkingTree, &[], Untracked::Include)).unwrap();
        assert_eq!((got.files_changed, got.untracked_included), (1, 1), "{}", got.diff);
        let got = run(dir.path(), &request(Scope::Branch { base: root.clone() }, &[], Untracked::Exclude)).unwrap();
        assert!(got.diff.contains("+more"), "{}", got.diff);
        let got = run(dir.path(), &request(Scope::Commit { commit: root }, &[], Untracked::Exclude)).unwrap();
        assert!(got.diff.contains("+staged") && !got.diff.contains("+more"), "{}", got.diff);
        assert_eq!(got.head_oid, None);
        assert_ne!(got.commit_oid, Some(second));
    }

    #[test]
    fn a_shallow_boundary_commit_is_refused_and_later_ones_review() {
        let dir = repo();
        write(dir.path(), "a.txt", "a1\na2\na3\n");
        commit_all(dir.path(), "second");
        write(dir.path(), "b.txt", "b1\nb2\n");
        commit_all(dir.path(), "third");
        let scratch = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        git_ok(scratch.path(), &["clone", "-q", "--depth", "2", &url, "shallow"]);
        let shallow = scratch.path().join("shallow");
        let got = run(&shallow, &request(Scope::Commit { commit: "HEAD".into() }, &[], Untracked::Exclude)).unwrap();
        assert!(got.diff.contains("+b2") && !got.diff.contains("+a3"), "{}", got.diff);
        let got = run(&shallow, &request(Scope::Commit { commit: "HEAD~1".into() }, &[], Untracked::Exclude));
        let Err(GatherError::InvalidCommit(message)) = got else { panic!("{got:?}") };
        assert!(message.contains("shallow clone"), "{message}");
        let got = run(&shallow, &request(Scope::Branch { base: "HEAD~1".into() }, &[], Untracked::Exclude)).unwrap();
        assert_eq!(got.files_changed, 1);
    }

    #[test]
    fn outside_a_repository_is_not_a_git_repo() {
        let dir = tempfile::tempdir().unwrap();
        let got = run(dir.path(), &request(Scope::WorkingTree, &[], Untracked::Exclude));
        assert_eq!(got, Err(GatherError::Git(GitError::NotARepo)));
        let cancelled = CancelToken::new();
        cancelled.cancel();
        let dir = repo();
        let req = request(Scope::WorkingTree, &[], Untracked::Exclude);
        assert_eq!(
            gather(dir.path(), &req, Duration::from_secs(30), &cancelled),
            Err(GatherError::Git(GitError::Cancelled))
        );
    }

    #[test]
    fn numstat_parses_renames_and_binaries() {
        let mut got = Gathered::default();
        got.add_numstat(b"3\t1\tsrc/a.rs\0-\t-\timg.png\x000\t0\t\0old name\0new name\0");
        assert_eq!((got.files_changed, got.lines_added, got.lines_removed), (3, 3, 1));
        assert_eq!(got.binary_files, ["img.png"]);
    }

    #[test]
    fn named_files_are_read_whole_and_nothing_outside_the_work_tree_is() {
        let dir = repo();
        write(dir.path(), "a.txt", "a1\nchanged\n");
        write(dir.path(), "docs/plan.md", "step one\n");
        std::os::unix::fs::symlink("docs", dir.path().join("inside")).unwrap();
        let read = |paths: &[&str]| {
            let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
            files(dir.path(), &paths, 1 << 20, Duration::from_secs(30), &CancelToken::new())
        };
        let got = read(&["a.txt", "inside/plan.md", "docs/plan.md"]).unwrap();
        assert!(got.diff.contains("+a1\n+changed\n") && got.diff.contains("+step one"), "{}", got.diff);
        assert_eq!((got.files_changed, got.label.as_str()), (2, "files"), "a file named twice is read once");
        assert_eq!(git_ok(dir.path(), &["status", "--porcelain"]), " M a.txt\n?? docs/\n?? inside", "nothing written");

        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.txt", "outside\n");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("link.txt")).unwrap();
        let cases = [
            ("out/secret.txt", "files[0] leads out of the repository through a symlink"),
            ("link.txt", "files[0] leads out of the repository through a symlink"),
            ("missing.txt", "files[0] names no file in the repository"),
            ("docs", "files[0] is not a regular file"),
            (".git/config", "files[0] is inside a .git directory"),
            ("../x", "files[0] has a '..' segment"),
            ("/etc/passwd", "files[0] is absolute"),
        ];
        for (path, want) in cases {
            let Err(GatherError::InvalidPaths(message)) = read(&[path]) else { panic!("{path} was read") };
            assert!(message.starts_with(want), "{path}: {message}");
            let Err(GatherError::InvalidPaths(checked)) =
                check_files(dir.path(), &[path.to_string()], Duration::from_secs(30), &CancelToken::new())
            else {
                panic!("{path} passed the check")
            };
            assert_eq!(checked, message);
        }
    }
}
