//! The hardened git runner: every `git` the server runs goes through `Git`, so that no git call
//! runs a program the repository configures, writes to the user's repository, or sees the
//! server's `GIT_*` environment (docs/lessons.md §5 item 7; the policy is written out in SECURITY.md,
//! "Git policy").
//!
//! What a `Git` reads and pins on every call:
//! - config files: the user's global config (found through the server's own `HOME`,
//!   `XDG_CONFIG_HOME` or `GIT_CONFIG_GLOBAL`) and the repository's own config; never the
//!   system config (`GIT_CONFIG_NOSYSTEM=1`). From the global config git honours what the user
//!   set for themselves: `safe.directory`, filter drivers such as git-lfs, the global gitignore
//!   and attributes files, and the settings that change what a diff means (`core.autocrlf`,
//!   `core.eol`, `core.fileMode`, `core.ignoreCase`, `diff.renames`, …);
//! - `PINNED_CONFIG`, which overrides both files for every key that would run a program (hooks,
//!   fsmonitor, pager, editor, signing and its verification, any transport), change the shape
//!   of a diff our parsers and the redactor read, or write to the repository (index refresh,
//!   auto gc and maintenance);
//! - filter drivers the repository's own config defines (local and worktree scopes, includes
//!   followed) are neutralised; a driver the global config defines is honoured, with its global
//!   definition even where the repository redefines it, unless the repository sets a variable
//!   the global definition lacks (`filter_overrides`); while one is honoured, git-lfs keeps its
//!   objects in a scratch directory instead of `.git/lfs`;
//! - the environment is replaced (`FIXED_ENV`): `LC_ALL=C`, the server's `PATH` and config
//!   locations, `GIT_OPTIONAL_LOCKS=0`, `GIT_NO_LAZY_FETCH=1` (a partial clone never fetches),
//!   no git-lfs download, trace2 off, no other inherited `GIT_*`;
//! - a split index is read through a private git directory (`PrivateGitDir`), since git sets
//!   the mtime of its shared file on every read; no index git writes is split.
//!
//! What callers must add themselves: `DIFF_FLAGS` on every diff-producing command (and
//! `--ignore-submodules=dirty` on `status`), because the external diff and textconv drivers and
//! the look into submodule work trees can only be switched off on the command line.
//!
//! Known gaps: a command that inspects checked-out submodules and has no such flag (`git add -A`
//! over a gitlink) runs `git status` inside the submodule, whose own filter drivers are not
//! neutralised (hooks, fsmonitor and the other pins still apply there: git passes them on). The
//! server runs no such command on a user's tree; delegate worktrees have no submodules checked
//! out. An honoured user-level filter is the user's own program: what it does besides filtering
//! (other than git-lfs's storage, redirected here) is up to it. With a split index, refs kept
//! per work tree other than `HEAD` (`refs/bisect/*`, `refs/worktree/*`, `HEAD`'s reflog) are
//! not in the private git directory, so they do not resolve.
//!
//! Children: `gather` (what a review looks at), `worktree` (the throwaway copy a delegated
//! task runs in) and `capture` (what is in that copy, as a patch); all run git only through `Git`.

pub(crate) mod capture;
pub(crate) mod gather;
pub(crate) mod worktree;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::foundation::cancel::CancelToken;
use crate::foundation::process::{Cmd, Output, RunError};

/// Flags every `diff`, `show` or `log -p` must carry: no external diff or textconv program (both
/// are repository-configured commands), no colour codes, and no look into submodule work trees
/// (that runs `git status` inside the submodule, under the submodule's own filter drivers, which
/// this `Git` never read). Changes to the recorded submodule commit are still shown.
pub const DIFF_FLAGS: [&str; 4] = ["--no-ext-diff", "--no-textconv", "--no-color", "--ignore-submodules=dirty"];

/// Config pinned on every call, over the global and the repository's config alike. A program
/// path of `/dev/null` cannot be executed and no hook can exist under it; `:` is git's "no
/// editor".
const PINNED_CONFIG: [&str; 24] = [
    // Programs git would run.
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.editor=:",
    "sequence.editor=:",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "log.showSignature=false",
    "gpg.program=/dev/null",
    "gpg.ssh.program=/dev/null",
    "gpg.x509.program=/dev/null",
    // No transport at all, so ssh commands, credential helpers and askpass are never reached.
    "protocol.allow=never",
    // The diff shape the parsers and the redactor read (`diff --git a/… b/…`, repo-relative).
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.srcPrefix=a/",
    "diff.dstPrefix=b/",
    "diff.relative=false",
    "diff.submodule=short",
    "submodule.recurse=false",
    // No look into submodule work trees, where the submodule's own config (never read here)
    // names the programs: our diffs carry the flag too; this holds for git started by codex.
    "diff.ignoreSubmodules=dirty",
    // Writes: `git diff` rewrites the index after a stat refresh whatever GIT_OPTIONAL_LOCKS
    // says, unless told not to refresh.
    "diff.autoRefreshIndex=false",
    // A scratch index written with `core.splitIndex` on would put its shared part in the
    // repository's git directory.
    "core.splitIndex=false",
    "gc.auto=0",
    "maintenance.auto=false",
];

/// Environment of every call besides PATH and the config locations: no locale surprises, no
/// prompt, no optional lock, no lazy fetch from a promisor remote, no trace2 output (its targets
/// come from the global config and an environment variable is the only override), and no
/// git-lfs download when a checkout smudges (the pointer is checked out instead).
const FIXED_ENV: [(&str, &str); 10] = [
    ("LC_ALL", "C"),
    ("LANG", "C"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_TERMINAL_PROMPT", "0"),
    ("GIT_OPTIONAL_LOCKS", "0"),
    ("GIT_NO_LAZY_FETCH", "1"),
    ("GIT_TRACE2", "0"),
    ("GIT_TRACE2_EVENT", "0"),
    ("GIT_TRACE2_PERF", "0"),
    ("GIT_LFS_SKIP_SMUDGE", "1"),
];

/// Config sections whose entries name programs, with the variables that do and the value that
/// switches each off: an empty `clean`, `smudge` and `process` make git skip a filter driver, and
/// `required=false` stops it from then refusing the file (both proven by the tests below); an
/// empty git-lfs extension program fails the clean instead of running anything.
const PROGRAM_SECTIONS: [(&str, &[(&str, &str)]); 3] = [
    ("filter.", &[("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")]),
    ("lfs.extension.", &[("clean", ""), ("smudge", "")]),
    // Our diffs carry `--no-textconv --no-ext-diff`; git started by codex does not, and an empty
    // program makes it fail on those paths rather than run anything.
    ("diff.", &[("textconv", ""), ("command", "")]),
];

/// The external diff program for every path, which the repository may set outside any driver;
/// pinned like a driver's program.
const EXTERNAL_DIFF: &[u8] = b"diff.external";

/// Longest stdout `run` accepts (listings, numstat); beyond it the output would be cut and a
/// parser would silently see a partial listing, so the call fails instead.
const MAX_RUN_STDOUT: usize = 32 * 1024 * 1024;

/// Longest git message carried in a `GitError::Failed`.
const MAX_MESSAGE_CHARS: usize = 300;

/// What git prints when it refuses a repository owned by another user.
const DUBIOUS_OWNERSHIP: &str = "detected dubious ownership in repository at '";

/// Totals of `--numstat -z` listings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Numstat {
    pub files: u64,
    pub added: u64,
    pub removed: u64,
    /// Paths whose change is binary (`-\t-`), in listing order.
    pub binary_files: Vec<String>,
}

impl Numstat {
    /// Adds one listing: `added\tremoved\tpath\0`, or for a rename `added\tremoved\t\0old\0new\0`.
    pub fn add(&mut self, listing: &[u8]) {
        let mut fields = listing.split(|&b| b == 0);
        while let Some(record) = fields.next().filter(|record| !record.is_empty()) {
            let mut parts = record.splitn(3, |&b| b == b'\t');
            let (added, removed) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            let path = match parts.next().unwrap_or_default() {
                b"" => fields.nth(1).unwrap_or_default(),
                path => path,
            };
            self.files += 1;
            if added == b"-" && removed == b"-" {
                self.binary_files.push(String::from_utf8_lossy(path).into_owned());
            }
            let count = |field: &[u8]| std::str::from_utf8(field).ok().and_then(|n| n.parse::<u64>().ok());
            self.added += count(added).unwrap_or(0);
            self.removed += count(removed).unwrap_or(0);
        }
    }
}

/// Why git could not do what was asked; `tools::errors` maps it to the agent's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitError {
    /// git is not on PATH.
    Missing,
    /// The directory is not inside a git work tree.
    NotARepo,
    /// git refuses the repository: it is owned by another user and the user's global config
    /// does not list it in `safe.directory`. `path` is the one git names.
    Unsafe {
        path: String,
    },
    TimedOut,
    Cancelled,
    /// git ran and failed; the message is its stderr, sanitised and bounded.
    Failed {
        message: String,
    },
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::Missing => write!(f, "git: not found on PATH"),
            GitError::NotARepo => write!(f, "not a git repository (or not inside its work tree)"),
            GitError::Unsafe { path } => write!(
                f,
                "git refuses the repository at {path}: it is owned by another user and not listed in safe.directory"
            ),
            GitError::TimedOut => write!(f, "git timed out"),
            GitError::Cancelled => write!(f, "git was cancelled"),
            GitError::Failed { message } => write!(f, "{message}"),
        }
    }
}

/// How the repository names objects; decides the id of the empty tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectFormat {
    Sha1,
    Sha256,
}

/// A hardened git bound to one repository's top level.
#[derive(Debug)]
pub struct Git {
    top: PathBuf,
    object_format: ObjectFormat,
    timeout: Duration,
    cancel: CancelToken,
    /// PATH and the config locations, from the server's environment.
    host_env: Vec<(String, String)>,
    /// `-c` pairs placed before the subcommand.
    config_args: Vec<OsString>,
    /// Program-section overrides (key, value), passed as `GIT_CONFIG_COUNT`/`_KEY_n`/`_VALUE_n`
    /// (see `filter_overrides`).
    config_pins: Vec<(String, String)>,
    /// Filter drivers the repository's own config defines that were switched off.
    neutralised_filters: Vec<String>,
    /// git-lfs's storage while a global filter driver is honoured; removed with the last of the
    /// `Git` and the `ForeignGitEnv`s it handed out.
    filter_scratch: Option<Arc<crate::foundation::scratch::Area>>,
    /// `GIT_DIR`/`GIT_WORK_TREE` naming the private git directory of a split index (see
    /// `PrivateGitDir`), added to every command about this repository; empty otherwise.
    repo_env: Vec<(String, String)>,
    /// Removed with the last of the `Git` and the `ForeignGitEnv`s it handed out.
    private_git_dir: Option<Arc<crate::foundation::scratch::Area>>,
}

/// The environment a program we start in a repository (codex) runs with, so that the git it runs
/// itself, outside any sandbox and with its own arguments, is held to the same policy as ours:
/// no repository-configured program, no write to the repository. Keep it alive while the program
/// runs: it owns git-lfs's scratch storage.
#[derive(Debug, Clone, Default)]
pub struct ForeignGitEnv {
    pub vars: Vec<(String, String)>,
    _filter_scratch: Option<Arc<crate::foundation::scratch::Area>>,
    _private_git_dir: Option<Arc<crate::foundation::scratch::Area>>,
}

/// What `open` takes from the server's environment; a value of its own so tests can vary it.
struct Host {
    path: String,
    home: Option<String>,
    xdg_config_home: Option<String>,
    /// Where the user moved their global config, if they did.
    config_global: Option<String>,
}

impl Host {
    fn from_env() -> Host {
        let non_empty = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        Host {
            path: non_empty("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string()),
            home: non_empty("HOME"),
            xdg_config_home: non_empty("XDG_CONFIG_HOME"),
            config_global: non_empty("GIT_CONFIG_GLOBAL"),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("PATH".to_string(), self.path.clone())];
        for (key, value) in [
            ("HOME", &self.home),
            ("XDG_CONFIG_HOME", &self.xdg_config_home),
            ("GIT_CONFIG_GLOBAL", &self.config_global),
        ] {
            if let Some(value) = value {
                env.push((key.to_string(), value.clone()));
            }
        }
        env
    }
}

impl Git {
    /// Opens the work tree containing `repo`. Fails `NotARepo` when `rev-parse
    /// --is-inside-work-tree` is not `true` (bare repositories and `.git` directories included),
    /// `Unsafe` when git refuses a repository owned by another user, `Missing` when git is not
    /// on PATH.
    pub fn open(repo: &Path, timeout: Duration, cancel: &CancelToken) -> Result<Git, GitError> {
        Git::open_with(repo, timeout, cancel, Host::from_env())
    }

    fn open_with(repo: &Path, timeout: Duration, cancel: &CancelToken, host: Host) -> Result<Git, GitError> {
        // A missing cwd would surface as a spawn ENOENT, indistinguishable from a missing git.
        if !repo.is_dir() {
            return Err(GitError::NotARepo);
        }
        let mut git = Git {
            top: repo.to_path_buf(),
            object_format: ObjectFormat::Sha1,
            timeout,
            cancel: cancel.clone(),
            host_env: host.env(),
            config_args: PINNED_CONFIG.iter().flat_map(|pair| ["-c".into(), pair.into()]).collect(),
            config_pins: Vec::new(),
            neutralised_filters: Vec::new(),
            filter_scratch: None,
            repo_env: Vec::new(),
            private_git_dir: None,
        };
        let (top, object_format, dirs) = git.top_level()?;
        (git.top, git.object_format) = (top, object_format);
        if let Some(private) = PrivateGitDir::for_split_index(&dirs)? {
            git.repo_env = private.env(&git.top)?;
            git.private_git_dir = Some(Arc::new(private.dir));
        }

        // Reading config runs nothing, so it is safe before the overrides exist.
        let listing = git.run_allowing_absent([
            "config",
            "-z",
            "--show-scope",
            "--get-regexp",
            r"^filter\.|^lfs\.extension\.|^diff\.",
        ])?;
        let overrides = filter_overrides(&config_entries(&listing))?;
        git.config_pins = overrides.pins;
        git.neutralised_filters = overrides.neutralised;
        if overrides.honours_global {
            let scratch =
                crate::foundation::scratch::Area::new(crate::foundation::scratch::Kind::GitLfs).map_err(|err| {
                    GitError::Failed { message: format!("cannot make a scratch directory for git-lfs: {err}") }
                })?;
            let mut pair = OsString::from("lfs.storage=");
            pair.push(scratch.path());
            git.config_args.extend(["-c".into(), pair]);
            git.filter_scratch = Some(Arc::new(scratch));
        }
        Ok(git)
    }

    /// The repository's top level, canonical.
    pub fn repo(&self) -> &Path {
        &self.top
    }

    /// The object id of the empty tree in this repository's object format: the "before" side of
    /// an added file or an unborn HEAD.
    pub fn empty_tree(&self) -> &'static str {
        match self.object_format {
            ObjectFormat::Sha1 => "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            ObjectFormat::Sha256 => "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
        }
    }

    /// Filter drivers defined by the repository's own config (and not by the user's global
    /// config) that were not run: files using them are compared as they are on disk.
    pub fn neutralised_filters(&self) -> &[String] {
        &self.neutralised_filters
    }

    /// What a program started in this repository needs so that its own git follows this
    /// policy: every `-c` pin and filter override as `GIT_CONFIG_PARAMETERS` (the variable git
    /// itself hands `-c` to its children through; unlike `GIT_CONFIG_KEY_n`, its name survives
    /// codex's filter of `*KEY*`, `*SECRET*` and `*TOKEN*` variables on the way to the shell
    /// commands it runs, so they get the pins too), no optional locks (a `git status` would
    /// otherwise refresh the index), no lazy fetch, no git-lfs download, and a split index read
    /// through the private git directory (`PrivateGitDir`).
    pub fn foreign_env(&self) -> ForeignGitEnv {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for arg in self.config_args.iter().filter(|arg| arg.as_os_str() != "-c") {
            let arg = arg.to_string_lossy();
            if let Some((key, value)) = arg.split_once('=') {
                pairs.push((key.to_string(), value.to_string()));
            }
        }
        pairs.extend(self.config_pins.iter().cloned());
        let mut vars: Vec<(String, String)> = FIXED_ENV
            .iter()
            .filter(|(key, _)| key.starts_with("GIT_") && *key != "GIT_CONFIG_NOSYSTEM")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.push(("GIT_CONFIG_PARAMETERS".to_string(), config_parameters(&pairs)));
        vars.extend(self.repo_env.iter().cloned());
        ForeignGitEnv {
            vars,
            _filter_scratch: self.filter_scratch.clone(),
            _private_git_dir: self.private_git_dir.clone(),
        }
    }

    /// The full commit id `revision` names (tags peeled), `None` when it names no commit. The
    /// revision cannot be taken for an option (`--end-of-options`).
    pub fn resolve_commit(&self, revision: &str) -> Result<Option<String>, GitError> {
        let spec = format!("{revision}^{{commit}}");
        match self.run(["rev-parse", "--verify", "--quiet", "--end-of-options", &spec]) {
            Ok(output) => Ok(Some(output.stdout.text().trim().to_string())),
            // `--verify --quiet` says "no such commit" by exiting 1 with nothing on stderr.
            Err(GitError::Failed { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The best common ancestor of two commits, `None` when they share no history (or, in a
    /// shallow clone, when it was not fetched).
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>, GitError> {
        let output = self.run_allowing_absent(["merge-base", "--end-of-options", a, b])?;
        let oid = String::from_utf8_lossy(&output).trim().to_string();
        Ok((!oid.is_empty()).then_some(oid))
    }

    /// Whether `oid` is a boundary commit of a shallow clone: its parents were not fetched, so
    /// git would show it as adding every file.
    pub fn is_shallow_boundary(&self, oid: &str) -> Result<bool, GitError> {
        let path = self.run(["rev-parse", "--path-format=absolute", "--git-path", "shallow"])?.stdout.text();
        match std::fs::read_to_string(path.trim_end_matches('\n')) {
            Ok(shallow) => Ok(shallow.lines().any(|line| line.trim() == oid)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(GitError::Failed { message: format!("cannot read the shallow-clone list: {err}") }),
        }
    }

    /// A hardened `Cmd` running `git <args>` at the top level, for callers that need stdin; run
    /// it with `run_cmd` or `run_cmd_head`.
    pub fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.cmd_with_env(&[], args)
    }

    /// Like `cmd`, with extra environment variables (e.g. `GIT_INDEX_FILE` for a scratch index).
    /// They are added after the hardening ones; callers must not pass config or `HOME` here.
    pub fn cmd_with_env<I, S>(&self, extra_env: &[(&str, &str)], args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.hardened(&self.repo_env, extra_env, args)
    }

    /// A hardened `Cmd` for a command about another repository (`git init` of a new one): the
    /// pins and environment of `cmd`, without this repository's private git directory.
    pub fn cmd_elsewhere<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.hardened(&[], &[], args)
    }

    fn hardened<I, S>(&self, repo_env: &[(String, String)], extra_env: &[(&str, &str)], args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut env: Vec<(String, String)> = FIXED_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.extend(self.host_env.iter().cloned());
        env.extend(repo_env.iter().cloned());
        env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env.extend(config_count_env(&self.config_pins));
        Cmd::new("git")
            .arg("--no-pager")
            .args(self.config_args.iter().cloned())
            .args(args)
            .cwd(&self.top)
            .env(crate::foundation::process::Env::Only(env))
            .timeout(self.timeout)
            .cancel(&self.cancel)
    }

    /// Runs `git <args>` and requires exit 0; see `run_cmd`.
    pub fn run<I, S>(&self, args: I) -> Result<Output, GitError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.run_cmd(self.cmd(args))
    }

    /// Runs `git <args>` and requires exit 0; see `run_cmd_head`.
    pub fn run_head<I, S>(&self, args: I, cap: usize) -> Result<Output, GitError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.run_cmd_head(self.cmd(args), cap)
    }

    /// Runs a `Cmd` built by `cmd`/`cmd_with_env` and requires exit 0. Stdout is complete: over
    /// `MAX_RUN_STDOUT` bytes the call fails rather than hand a parser a cut listing.
    pub fn run_cmd(&self, cmd: Cmd) -> Result<Output, GitError> {
        let output = self.run_cmd_head(cmd, MAX_RUN_STDOUT)?;
        if output.stdout.truncated() {
            return Err(GitError::Failed { message: format!("git output exceeded {MAX_RUN_STDOUT} bytes") });
        }
        Ok(output)
    }

    /// Like `run_cmd`, keeping only the first `cap` bytes of stdout (memory stays bounded;
    /// `Output.stdout.truncated()` tells whether git wrote more).
    pub fn run_cmd_head(&self, cmd: Cmd, cap: usize) -> Result<Output, GitError> {
        let output = self.spawn(cmd.stdout_head(cap))?;
        if output.exit_code == Some(0) { Ok(output) } else { Err(failure(&output)) }
    }

    /// Runs a command, mapping only the outcomes that are never a git answer (not started,
    /// timeout, cancel); the exit code is the caller's to judge.
    fn spawn(&self, cmd: Cmd) -> Result<Output, GitError> {
        let output = cmd.run().map_err(|err| match err {
            RunError::NotFound { .. } => GitError::Missing,
            RunError::Spawn { .. } => {
                GitError::Failed { message: crate::foundation::text::one_line(&err.to_string(), MAX_MESSAGE_CHARS) }
            }
        })?;
        if output.cancelled {
            Err(GitError::Cancelled)
        } else if output.timed_out {
            Err(GitError::TimedOut)
        } else {
            Ok(output)
        }
    }

    /// For commands that exit 1 to say "nothing" (`git config` with no match, `merge-base`
    /// with no common ancestor): an empty answer, not a failure.
    fn run_allowing_absent<const N: usize>(&self, args: [&str; N]) -> Result<Vec<u8>, GitError> {
        let output = self.spawn(self.cmd(args))?;
        match output.exit_code {
            Some(0) => Ok(output.stdout.bytes()),
            Some(1) => Ok(Vec::new()),
            _ => Err(failure(&output)),
        }
    }

    /// Whether git is told not to list untracked files here: `status.showUntrackedFiles` set to
    /// `no` (or a false boolean) in any config git reads (`-c` and `GIT_CONFIG_*` included).
    /// `git status` honours it; `ls-files --others` does not, so every untracked listing asks.
    pub fn untracked_listing_off(&self) -> Result<bool, GitError> {
        let value = self.run_allowing_absent(["config", "--get", "status.showUntrackedFiles"])?;
        let value = String::from_utf8_lossy(&value).trim().to_ascii_lowercase();
        Ok(matches!(value.as_str(), "no" | "false" | "off" | "0"))
    }

    /// The repository's top level, canonical, its object format and its git directories.
    fn top_level(&self) -> Result<(PathBuf, ObjectFormat, GitDirs), GitError> {
        let output = self.spawn(self.cmd([
            "rev-parse",
            "--is-inside-work-tree",
            "--show-toplevel",
            "--show-object-format",
            "--path-format=absolute",
            "--git-dir",
            "--git-common-dir",
        ]))?;
        let stdout = output.stdout.bytes();
        let mut lines = stdout.split(|&b| b == b'\n');
        // Bare repositories and `.git` directories answer `false` (and then fail on
        // --show-toplevel); a directory outside any repository fails with a message.
        if lines.next() == Some(b"false") {
            return Err(GitError::NotARepo);
        }
        if output.exit_code != Some(0) {
            return Err(failure(&output));
        }
        let top = lines.next().filter(|line| !line.is_empty()).ok_or(GitError::NotARepo)?;
        let top = PathBuf::from(OsString::from_vec(top.to_vec()));
        let format = match lines.next() {
            Some(b"sha1") => ObjectFormat::Sha1,
            Some(b"sha256") => ObjectFormat::Sha256,
            other => {
                let named = String::from_utf8_lossy(other.unwrap_or_default()).into_owned();
                return Err(GitError::Failed {
                    message: crate::foundation::text::one_line(
                        &format!("unsupported object format {named:?}"),
                        MAX_MESSAGE_CHARS,
                    ),
                });
            }
        };
        let mut dir = || PathBuf::from(OsString::from_vec(lines.next().unwrap_or_default().to_vec()));
        let dirs = GitDirs { git_dir: dir(), common_dir: dir() };
        let top = top.canonicalize().map_err(|err| GitError::Failed {
            message: crate::foundation::text::one_line(
                &format!("cannot resolve the repository top level: {err}"),
                MAX_MESSAGE_CHARS,
            ),
        })?;
        Ok((top, format, dirs))
    }
}

/// Where a work tree's git directory is, and the directory it shares with the other work trees
/// of its repository (the same one outside a linked work tree); both absolute.
struct GitDirs {
    git_dir: PathBuf,
    common_dir: PathBuf,
}

/// Files of a work tree's own git directory a reading command may look at, copied into a
/// private git directory when present: the sparse-checkout patterns and the per-worktree config.
const PER_WORKTREE_FILES: [&str; 2] = ["config.worktree", "info/sparse-checkout"];

/// A private git directory for a repository whose index is split (`git update-index
/// --split-index`, `core.splitIndex`). git sets the mtime of the shared index file
/// (`sharedindex.<oid>`, always looked up in the git directory, whatever `GIT_INDEX_FILE` says)
/// on every read of the index, to keep it from expiring. Here git reads copies: `HEAD`, the index
/// and its shared file in a directory of ours whose `commondir` names the repository's own
/// (the layout of a linked work tree's git directory), so objects, refs and config are the
/// repository's and git touches only the copies.
struct PrivateGitDir {
    /// Owner-only (it holds a copy of the user's index), reaped after a kill.
    dir: crate::foundation::scratch::Area,
}

impl PrivateGitDir {
    /// `None` when the index is not split (or there is none).
    fn for_split_index(dirs: &GitDirs) -> Result<Option<PrivateGitDir>, GitError> {
        let failed = |what: &str, err: std::io::Error| GitError::Failed {
            message: crate::foundation::text::one_line(
                &format!("cannot copy the split index into a private git directory ({what}): {err}"),
                MAX_MESSAGE_CHARS,
            ),
        };
        let index = match std::fs::read(dirs.git_dir.join("index")) {
            Ok(index) => index,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(failed("index", err)),
        };
        let Some(shared) = shared_index_file(&dirs.git_dir, &index) else { return Ok(None) };
        let dir = crate::foundation::scratch::Area::new(crate::foundation::scratch::Kind::GitIndex)
            .map_err(|err| failed("temporary directory", err))?;
        let mut common = dirs.common_dir.clone().into_os_string().into_vec();
        common.push(b'\n');
        std::fs::write(dir.path().join("commondir"), common).map_err(|err| failed("commondir", err))?;
        std::fs::write(dir.path().join("index"), &index).map_err(|err| failed("index", err))?;
        for (name, what) in [(Path::new("HEAD"), "HEAD"), (&shared, "shared index")] {
            std::fs::copy(dirs.git_dir.join(name), dir.path().join(name)).map_err(|err| failed(what, err))?;
        }
        for name in PER_WORKTREE_FILES {
            let from = dirs.git_dir.join(name);
            if from.is_file() {
                let to = dir.path().join(name);
                std::fs::create_dir_all(to.parent().unwrap_or(dir.path()))
                    .and_then(|()| std::fs::copy(&from, &to))
                    .map_err(|err| failed(name, err))?;
            }
        }
        Ok(Some(PrivateGitDir { dir }))
    }

    /// The variables pointing git at the private directory, with `top` as the work tree.
    fn env(&self, top: &Path) -> Result<Vec<(String, String)>, GitError> {
        let (Some(dir), Some(top)) = (self.dir.path().to_str(), top.to_str()) else {
            return Err(GitError::Failed {
                message: "the index is split and the repository or temporary directory path is not UTF-8, so git cannot be pointed at a private copy of it".into(),
            });
        };
        Ok(vec![("GIT_DIR".to_string(), dir.to_string()), ("GIT_WORK_TREE".to_string(), top.to_string())])
    }
}

/// The name of the shared index file `index` links to (its `link` extension: the signature,
/// a 4-byte size, then the shared file's object id), among the `sharedindex.*` files in
/// `git_dir`.
fn shared_index_file(git_dir: &Path, index: &[u8]) -> Option<PathBuf> {
    for entry in std::fs::read_dir(git_dir).ok()?.flatten() {
        let name = entry.file_name();
        let Some(oid) = name.to_str().and_then(|name| name.strip_prefix("sharedindex.")).and_then(decode_hex) else {
            continue;
        };
        let linked = index.windows(8 + oid.len()).any(|window| window.starts_with(b"link") && window[8..] == oid[..]);
        if linked {
            return Some(PathBuf::from(name));
        }
    }
    None
}

/// Lower-case hex to bytes; `None` for anything else.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|at| hex.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

/// The error for a git that ran and exited non-zero.
fn failure(output: &Output) -> GitError {
    let stderr = output.stderr.text();
    if let Some(start) = stderr.find(DUBIOUS_OWNERSHIP) {
        let rest = &stderr[start + DUBIOUS_OWNERSHIP.len()..];
        let line = rest.lines().next().unwrap_or_default();
        let path = line.rsplit_once('\'').map_or(line, |(path, _)| path);
        return GitError::Unsafe { path: crate::foundation::text::one_line(path, MAX_MESSAGE_CHARS) };
    }
    if stderr.contains("not a git repository") {
        return GitError::NotARepo;
    }
    // One line per git line, kept apart: `one_line` alone would run them together.
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let message = match crate::foundation::text::one_line(&lines.join("; "), MAX_MESSAGE_CHARS) {
        text if text.is_empty() => match output.exit_code {
            Some(code) => format!("git exited with status {code}"),
            None => "git was killed by a signal".to_string(),
        },
        text => text,
    };
    GitError::Failed { message }
}

/// One entry of a `git config -z --show-scope` listing.
#[derive(Debug)]
struct ConfigEntry {
    /// `global`, `local`, `worktree`, `command`, …; an included file has its includer's scope.
    scope: Vec<u8>,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// `pins` as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, which git reads with the
/// same precedence as `-c` and which, unlike `-c name=value`, can name a key holding `=`.
fn config_count_env(pins: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = Vec::with_capacity(pins.len() * 2 + 1);
    for (n, (key, value)) in pins.iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{n}"), key.clone()));
        env.push((format!("GIT_CONFIG_VALUE_{n}"), value.clone()));
    }
    if !pins.is_empty() {
        env.push(("GIT_CONFIG_COUNT".to_string(), pins.len().to_string()));
    }
    env
}

/// `pairs` in the form git passes `-c` to its children in `GIT_CONFIG_PARAMETERS`: each entry
/// single-quoted, `'key=value'` (read by every git) or, for a key holding `=`, `'key'='value'`
/// (git 2.31 and later), separated by spaces.
fn config_parameters(pairs: &[(String, String)]) -> String {
    let quote = |text: &str| format!("'{}'", text.replace('\'', "'\\''"));
    let entries: Vec<String> = pairs
        .iter()
        .map(|(key, value)| {
            if key.contains('=') {
                format!("{}={}", quote(key), quote(value))
            } else {
                quote(&format!("{key}={value}"))
            }
        })
        .collect();
    entries.join(" ")
}

/// `git config -z --show-scope` output: NUL-terminated fields alternating `scope` and
/// `key\nvalue` (or `key` alone for a value-less boolean).
fn config_entries(listing: &[u8]) -> Vec<ConfigEntry> {
    let fields: Vec<&[u8]> = listing.split(|&b| b == 0).collect();
    fields
        .chunks_exact(2)
        .map(|pair| {
            let (key, value) = match pair[1].iter().position(|&b| b == b'\n') {
                Some(cut) => (&pair[1][..cut], &pair[1][cut + 1..]),
                None => (pair[1], &b""[..]),
            };
            ConfigEntry { scope: pair[0].to_vec(), key: key.to_vec(), value: value.to_vec() }
        })
        .collect()
}

/// What `filter_overrides` decided.
#[derive(Debug, Default)]
struct Overrides {
    /// (key, value) pins.
    pins: Vec<(String, String)>,
    /// Filter drivers the repository defines and the global config does not.
    neutralised: Vec<String>,
    /// Some filter driver comes from the global config and may run.
    honours_global: bool,
}

/// Pins every program entry (`PROGRAM_SECTIONS`) that the repository's own config defines, in
/// any scope but the user's global one. Where the user's global config defines the same entry
/// with every variable the repository sets, those variables are pinned to the user's values (a
/// repository cannot redefine git-lfs); otherwise the whole entry is switched off, since git
/// cannot be told to forget a variable (an empty `process` alone would disable a global `clean`).
/// Entries only the global config defines are left to git.
///
/// They travel as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, which git reads
/// with the same precedence as `-c`, because a driver name is chosen by the repository and may
/// contain `=`, which `-c name=value` cannot express (`-c filter.a=b.clean=` sets `filter.a`).
/// A name that is not UTF-8 cannot be put in the environment we build, so it fails closed.
fn filter_overrides(entries: &[ConfigEntry]) -> Result<Overrides, GitError> {
    #[derive(Default)]
    struct Definition<'a> {
        /// Variables the repository's config sets.
        by_repository: BTreeSet<&'a [u8]>,
        /// The last global value of each variable (git's "last one wins").
        global: BTreeMap<&'a [u8], &'a [u8]>,
    }
    let mut definitions: BTreeMap<(usize, &[u8]), Definition> = BTreeMap::new();
    let (mut external_by_repository, mut external_global) = (false, None);
    for entry in entries {
        if entry.key == EXTERNAL_DIFF {
            match entry.scope.as_slice() {
                b"global" => external_global = std::str::from_utf8(&entry.value).ok(),
                _ => external_by_repository = true,
            }
            continue;
        }
        let Some((section, rest)) = PROGRAM_SECTIONS
            .iter()
            .enumerate()
            .find_map(|(i, (prefix, _))| Some((i, entry.key.strip_prefix(prefix.as_bytes())?)))
        else {
            continue;
        };
        let Some(last_dot) = rest.iter().rposition(|&b| b == b'.') else { continue };
        let definition = definitions.entry((section, &rest[..last_dot])).or_default();
        let variable = &rest[last_dot + 1..];
        if entry.scope == b"global" {
            definition.global.insert(variable, &entry.value);
        } else {
            definition.by_repository.insert(variable);
        }
    }
    let mut overrides = Overrides::default();
    let mut pin = |key: String, value: &str| overrides.pins.push((key, value.to_string()));
    if external_by_repository {
        pin("diff.external".to_string(), external_global.unwrap_or_default());
    }
    let mut neutralised = Vec::new();
    let mut honours_global = false;
    for ((section, name), definition) in &definitions {
        let (prefix, variables) = PROGRAM_SECTIONS[*section];
        let global_value = |variable: &str| {
            definition.global.get(variable.as_bytes()).and_then(|value| std::str::from_utf8(value).ok())
        };
        let keeps_global = variables
            .iter()
            .filter(|(variable, _)| definition.by_repository.contains(variable.as_bytes()))
            .all(|(variable, _)| global_value(variable).is_some())
            && !definition.global.is_empty();
        honours_global |= prefix == "filter." && keeps_global;
        if definition.by_repository.is_empty() {
            continue;
        }
        let name = std::str::from_utf8(name).map_err(|_| GitError::Failed {
            message: "the repository configures a filter driver whose name is not UTF-8; refusing to run git there"
                .to_string(),
        })?;
        for (variable, off) in variables {
            match (keeps_global, global_value(variable)) {
                (true, Some(value)) if definition.by_repository.contains(variable.as_bytes()) => {
                    pin(format!("{prefix}{name}.{variable}"), value)
                }
                (true, _) => {}
                (false, _) => pin(format!("{prefix}{name}.{variable}"), off),
            }
        }
        if !keeps_global && prefix == "filter." {
            neutralised.push(name.to_string());
        }
    }
    overrides.neutralised = neutralised;
    overrides.honours_global = honours_global;
    Ok(overrides)
}

/// Repository fixtures shared by the git and review tests: a plain git (not `Git`) to build them.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use crate::foundation::process::{Cmd, Env, Output};

    /// Unhardened git with a fixed identity and no user or system config, for building fixtures.
    pub fn plain_git(dir: &Path, args: &[&str]) -> Output {
        let env = [
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_AUTHOR_NAME", "t"),
            ("GIT_AUTHOR_EMAIL", "t@example.com"),
            ("GIT_COMMITTER_NAME", "t"),
            ("GIT_COMMITTER_EMAIL", "t@example.com"),
            ("LC_ALL", "C"),
        ];
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Cmd::new("git").args(args).cwd(dir).env(Env::Only(env)).run().expect("git runs")
    }

    /// Like `plain_git`, and the command must succeed; returns trimmed stdout.
    pub fn git_ok(dir: &Path, args: &[&str]) -> String {
        let out = plain_git(dir, args);
        assert!(out.success(), "git {args:?} failed: {}", out.stderr.text());
        out.stdout.text().trim_end().to_string()
    }

    /// A fresh repository on branch `main` with `user.name`/`user.email` in its own config (so
    /// hardened commits have an identity without HOME).
    pub fn init_repo(dir: &Path) {
        git_ok(dir, &["init", "-q", "-b", "main"]);
        git_ok(dir, &["config", "user.name", "t"]);
        git_ok(dir, &["config", "user.email", "t@example.com"]);
    }

    pub fn write(dir: &Path, rel: &str, content: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn commit_all(dir: &Path, message: &str) -> String {
        git_ok(dir, &["add", "-A"]);
        git_ok(dir, &["commit", "-q", "--no-verify", "-m", message]);
        git_ok(dir, &["rev-parse", "HEAD"])
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn numstat_counts_renames_and_binaries() {
        let mut numstat = Numstat::default();
        numstat.add(b"1\t2\tsrc/a.rs\0-\t-\tlogo.png\0");
        numstat.add(b"3\t0\t\0old.rs\0new.rs\0");
        assert_eq!((numstat.files, numstat.added, numstat.removed), (3, 4, 2));
        assert_eq!(numstat.binary_files, vec!["logo.png".to_string()]);
    }

    fn host(path: &str) -> Host {
        Host { path: path.to_string(), home: None, xdg_config_home: None, config_global: None }
    }

    /// A host whose HOME is `home` (the user's global config is `home/.gitconfig`).
    fn host_with_home(home: &Path) -> Host {
        Host { home: Some(home.display().to_string()), ..host(&Host::from_env().path) }
    }

    fn open_as(dir: &Path, host: Host) -> Result<Git, GitError> {
        Git::open_with(dir, Duration::from_secs(30), &CancelToken::new(), host)
    }

    fn open(dir: &Path) -> Result<Git, GitError> {
        Git::open_with(dir, Duration::from_secs(30), &CancelToken::new(), host(&Host::from_env().path))
    }

    fn executable(path: &Path, script: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, script).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A repository whose config and attributes try every code-execution route we pin: hooks,
    /// fsmonitor, filter drivers (one named with `=`), textconv, external diff, signing and
    /// signature verification, and a submodule with its own filter driver. Each route touches a
    /// file in `markers/`. Returns (scratch dir, repo dir, markers dir).
    fn hostile_repo() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let scratch = tempfile::tempdir().unwrap();
        let (repo, markers, bin) =
            (scratch.path().join("repo"), scratch.path().join("markers"), scratch.path().join("bin"));
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::create_dir_all(&markers).unwrap();
        let marker_script = |name: &str, tail: &str| {
            let path = bin.join(name);
            executable(&path, &format!("#!/bin/sh\ntouch '{}/{name}'\n{tail}\n", markers.display()));
            path.display().to_string()
        };

        init_repo(&repo);
        let sub = repo.join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        init_repo(&sub);
        write(&sub, "s.txt", "sub\n");
        write(&sub, ".gitattributes", "* filter=subevil\n");
        commit_all(&sub, "sub");
        write(&repo, "a.txt", "one\n");
        write(&repo, "b.q", "bee\n");
        write(&repo, "c.md", "see\n");
        write(&repo, "d.inc", "dee\n");
        write(&repo, "e.wt", "eee\n");
        commit_all(&repo, "base");

        let config = [
            ("core.hooksPath", bin.join("hooks").display().to_string()),
            ("core.fsmonitor", marker_script("fsmonitor", "exit 1")),
            ("filter.evil.clean", marker_script("clean", "exec cat")),
            ("filter.evil.smudge", marker_script("smudge", "exec cat")),
            ("filter.evil.required", "true".to_string()),
            ("filter.a=b.process", marker_script("process", "exit 1")),
            ("diff.evil.textconv", marker_script("textconv", "exec cat \"$1\"")),
            ("diff.external", marker_script("external", "exit 0")),
            ("gpg.program", marker_script("gpg", "exit 1")),
            ("commit.gpgSign", "true".to_string()),
            ("log.showSignature", "true".to_string()),
        ];
        for (key, value) in &config {
            git_ok(&repo, &["config", key, value]);
        }
        git_ok(&sub, &["config", "filter.subevil.clean", &marker_script("subclean", "exec cat")]);
        // A driver in a file the repository's config includes, and one in the worktree scope.
        let included = scratch.path().join("included.config");
        std::fs::write(&included, format!("[filter \"incl\"]\n\tclean = {}\n", marker_script("inclclean", "exec cat")))
            .unwrap();
        git_ok(&repo, &["config", "include.path", &included.display().to_string()]);
        git_ok(&repo, &["config", "extensions.worktreeConfig", "true"]);
        git_ok(&repo, &["config", "--worktree", "filter.wt.clean", &marker_script("wtclean", "exec cat")]);
        for (hook, status) in [("pre-commit", 1), ("post-commit", 0)] {
            let script = format!("#!/bin/sh\ntouch '{}/{hook}'\nexit {status}\n", markers.display());
            executable(&bin.join("hooks").join(hook), &script);
        }
        executable(
            &repo.join(".git/hooks/pre-commit"),
            &format!("#!/bin/sh\ntouch '{}/default-hook'\n", markers.display()),
        );
        // A signed-looking commit, so `show` has a signature to verify.
        let tree = git_ok(&repo, &["rev-parse", "HEAD^{tree}"]);
        let signed = format!(
            "tree {tree}\nauthor t <t@example.com> 1 +0000\ncommitter t <t@example.com> 1 +0000\n\
             gpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\nsigned\n"
        );
        std::fs::write(scratch.path().join("signed"), signed).unwrap();
        let signed_path = scratch.path().join("signed").display().to_string();
        let oid = git_ok(&repo, &["hash-object", "-t", "commit", "-w", &signed_path]);
        git_ok(&repo, &["tag", "signed", &oid]);

        // Attributes and working-tree edits come last: from here on plain git runs the drivers.
        write(
            &repo,
            ".gitattributes",
            "*.txt filter=evil diff=evil\n*.q filter=a=b\n*.inc filter=incl\n*.wt filter=wt\n",
        );
        write(&repo, "d.inc", "dee\ndee\n");
        write(&repo, "e.wt", "eee\neee\n");
        write(&repo, "a.txt", "one\ntwo\n");
        write(&repo, "b.q", "bee\nbee\n");
        write(&repo, "c.md", "see\nsee\n");
        // Same content, new mtime: git must re-hash the file through the submodule's filter.
        write(&sub, "s.txt", "sub\n");
        (scratch, repo, markers)
    }

    fn markers_seen(markers: &Path) -> Vec<String> {
        let mut seen: Vec<String> = std::fs::read_dir(markers)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        seen.sort();
        seen
    }

    #[test]
    fn git_started_under_the_foreign_env_runs_no_repository_code_and_writes_nothing() {
        let (_scratch, repo, markers) = hostile_repo();
        let foreign = open(&repo).unwrap().foreign_env();
        let index = repo.join(".git/index");
        let index_state = || (std::fs::read(&index).unwrap(), std::fs::metadata(&index).unwrap().modified().unwrap());
        let before = index_state();
        let mut env = foreign.vars.clone();
        env.push(("PATH".to_string(), Host::from_env().path));
        env.push(("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string()));
        // What codex runs for its turn metadata, and what a model's shell command might.
        for args in [
            &["status", "--porcelain"][..],
            &["diff", "HEAD"],
            &["diff", "HEAD", "--", "sub"],
            &["log", "-p", "-1"],
            &["show", "signed"],
        ] {
            Cmd::new("git")
                .args(args)
                .cwd(&repo)
                .env(crate::foundation::process::Env::Only(env.clone()))
                .run()
                .unwrap();
            assert_eq!(markers_seen(&markers), Vec::<String>::new(), "after git {args:?}");
        }
        assert_eq!(index_state(), before, "the index was rewritten");
        assert!(env.iter().any(|(k, v)| k == "GIT_CONFIG_PARAMETERS" && v.contains("'core.hooksPath=/dev/null'")));
        assert!(env.iter().any(|(k, v)| k == "GIT_CONFIG_PARAMETERS" && v.contains("'filter.a=b.process'=''")));
    }

    #[test]
    fn config_parameters_quote_like_git() {
        let pairs = [("a.b".to_string(), "it's".to_string()), ("filter.x=y.clean".to_string(), String::new())];
        assert_eq!(config_parameters(&pairs), r#"'a.b=it'\''s' 'filter.x=y.clean'=''"#);
    }

    #[test]
    fn the_hostile_fixture_does_run_code_under_plain_git() {
        let (_scratch, repo, markers) = hostile_repo();
        plain_git(&repo, &["diff", "HEAD", "--", "a.txt"]);
        plain_git(&repo, &["diff", "HEAD", "--", "b.q"]);
        plain_git(&repo, &["diff", "HEAD", "--", "c.md"]);
        plain_git(&repo, &["diff", "HEAD", "--", "d.inc", "e.wt"]);
        plain_git(&repo, &["diff", "HEAD", "--", "sub"]);
        plain_git(&repo, &["status"]);
        plain_git(&repo, &["add", "-A"]);
        plain_git(&repo, &["commit", "-m", "x"]);
        plain_git(&repo, &["show", "--format=", "signed"]);
        let seen = markers_seen(&markers);
        let expected_markers = [
            "clean",
            "external",
            "fsmonitor",
            "gpg",
            "inclclean",
            "pre-commit",
            "process",
            "subclean",
            "textconv",
            "wtclean",
        ];
        for expected in expected_markers {
            assert!(seen.iter().any(|m| m == expected), "{expected} did not run under plain git: {seen:?}");
        }
    }

    #[test]
    fn hardened_git_runs_no_repository_code() {
        let (_scratch, repo, markers) = hostile_repo();
        let git = open(&repo).unwrap();
        let before = git.run(["rev-parse", "HEAD"]).unwrap().stdout.text();

        let nothing_ran = |step: &str| assert_eq!(markers_seen(&markers), Vec::<String>::new(), "after {step}");
        let diff = git.run(["diff"].into_iter().chain(DIFF_FLAGS).chain(["HEAD"])).unwrap().stdout.text();
        assert!(diff.contains("+two") && diff.contains("+bee") && diff.contains("+see"), "{diff}");
        assert!(diff.contains("+dee") && diff.contains("+eee"), "{diff}");
        nothing_ran("diff");
        git.run(["status", "--ignore-submodules=dirty"]).unwrap();
        nothing_ran("status");
        // Not `add -A`: it checks checked-out submodules for dirt with no flag to stop it (see
        // the module doc).
        git.run(["add", "--", "a.txt", "b.q", "c.md"]).unwrap();
        nothing_ran("add");
        git.run(["commit", "-q", "-m", "x"]).unwrap();
        nothing_ran("commit");
        git.run(["show", "--format=%H"].into_iter().chain(DIFF_FLAGS).chain(["signed"])).unwrap();
        nothing_ran("show");
        let after = git.run(["rev-parse", "HEAD"]).unwrap().stdout.text();
        assert_ne!(before, after, "the commit went through despite the failing pre-commit hook");
        // The filter really was bypassed, not merely silent: the blob is the raw content.
        assert_eq!(git.run(["show", "HEAD:a.txt"]).unwrap().stdout.text(), "one\ntwo\n");
    }

    /// The value `env` gives `key` through `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`.
    fn override_of<'a>(pins: &'a [(String, String)], key: &str) -> Option<&'a str> {
        pins.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn filter_overrides_cover_every_repository_driver_once() {
        let listing = b"local\0filter.evil.clean\nx\0local\0filter.evil.smudge\ny\0worktree\0filter.a=b.c.process\nz\0\
                        local\0filter.flag\0global\0filter.lfs.process\ngit-lfs filter-process\0\
                        global\0filter.lfs.required\ntrue\0local\0filter.lfs.process\nevil\0\
                        global\0filter.mine.clean\nmine\0local\0lfs.extension.x.clean\nevil\0command\0filter.c.clean\nq\0\
                        global\0filter.half.clean\nmine\0local\0filter.half.process\nevil\0";
        let overrides = filter_overrides(&config_entries(listing)).unwrap();
        let env = &overrides.pins;
        let keys = env.len();
        // evil, a=b.c, c (a scope that is not global is not trusted) and half (the repository
        // sets a variable the user did not): four variables each; the git-lfs extension: two;
        // lfs: the one variable the repository redefines.
        assert_eq!(keys, 4 * 4 + 2 + 1, "{env:?}");
        assert_eq!(override_of(env, "filter.a=b.c.required"), Some("false"));
        assert_eq!(override_of(env, "filter.evil.process"), Some(""));
        assert_eq!(override_of(env, "filter.c.clean"), Some(""));
        assert_eq!(override_of(env, "lfs.extension.x.clean"), Some(""));
        // A repository redefining the user's driver gets the user's definition back.
        assert_eq!(override_of(env, "filter.lfs.process"), Some("git-lfs filter-process"));
        assert_eq!(override_of(env, "filter.lfs.required"), None);
        assert_eq!(override_of(env, "filter.half.clean"), Some(""));
        // The user's own driver is left to git.
        assert_eq!(override_of(env, "filter.mine.clean"), None);
        assert!(config_count_env(env).contains(&("GIT_CONFIG_COUNT".to_string(), "19".to_string())));
        assert_eq!(overrides.neutralised, ["a=b.c", "c", "evil", "half"]);
        assert!(overrides.honours_global);
        // Diff programs: a repository's textconv, command and external diff are pinned off, the
        // user's own are left; plain diff settings are not programs.
        let diff = b"local\0diff.external\nevil\0local\0diff.evil.textconv\nevil\0global\0diff.mine.textconv\nmine\0\
                     local\0diff.renames\ncopies\0";
        let diff = filter_overrides(&config_entries(diff)).unwrap();
        let mut keys: Vec<&str> = diff.pins.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["diff.evil.command", "diff.evil.textconv", "diff.external"]);
        assert!(diff.pins.iter().all(|(_, v)| v.is_empty()), "{:?}", diff.pins);
        let none = filter_overrides(&config_entries(b"local\0core.excludesfile\n/x\0")).unwrap();
        assert!(none.pins.is_empty() && !none.honours_global);
    }

    /// Re-executed by `server_git_env_does_not_redirect_git` with `GIT_DIR` and
    /// `GIT_WORK_TREE` set in its own environment; does nothing in a normal run.
    #[test]
    #[ignore = "helper process for server_git_env_does_not_redirect_git"]
    fn git_env_probe() {
        let Some(repo) = std::env::var_os("CIC_PROBE_REPO") else { return };
        let git = open(Path::new(&repo)).unwrap();
        let git_dir = git.run(["rev-parse", "--absolute-git-dir"]).unwrap().stdout.text();
        assert_eq!(Path::new(git_dir.trim()), git.repo().join(".git"));
    }

    #[test]
    fn server_git_env_does_not_redirect_git() {
        let scratch = tempfile::tempdir().unwrap();
        let (repo, decoy) = (scratch.path().join("repo"), scratch.path().join("decoy"));
        for dir in [&repo, &decoy] {
            std::fs::create_dir_all(dir).unwrap();
            init_repo(dir);
        }
        let env = [
            ("CIC_PROBE_REPO", repo.display().to_string()),
            ("GIT_DIR", decoy.join(".git").display().to_string()),
            ("GIT_WORK_TREE", decoy.display().to_string()),
            ("PATH", Host::from_env().path),
        ];
        let env = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let out = Cmd::new(std::env::current_exe().unwrap().to_str().unwrap())
            .args(["--exact", "adapters::git::tests::git_env_probe", "--ignored", "--test-threads=1"])
            .env(crate::foundation::process::Env::Only(env))
            .run()
            .unwrap();
        assert!(out.success(), "{}{}", out.stdout.text(), out.stderr.text());
        assert!(out.stdout.text().contains("1 passed"), "{}", out.stdout.text());
    }

    #[test]
    fn git_not_on_path_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = Git::open_with(dir.path(), Duration::from_secs(5), &CancelToken::new(), host("/nonexistent"));
        assert!(matches!(err, Err(GitError::Missing)), "{err:?}");
    }

    #[test]
    fn outside_a_work_tree_is_not_a_repo() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(open(dir.path()), Err(GitError::NotARepo)));
        assert!(matches!(open(&dir.path().join("missing")), Err(GitError::NotARepo)));
        git_ok(dir.path(), &["init", "-q", "--bare", "bare.git"]);
        assert!(matches!(open(&dir.path().join("bare.git")), Err(GitError::NotARepo)));
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        init_repo(&work);
        assert!(matches!(open(&work.join(".git")), Err(GitError::NotARepo)));
    }

    #[test]
    fn opens_at_the_canonical_top_level_from_a_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        init_repo(dir.path());
        write(dir.path(), "src/x", "x");
        let git = open(&dir.path().join("src")).unwrap();
        assert_eq!(git.repo(), dir.path().canonicalize().unwrap());
    }

    #[test]
    fn failures_carry_sanitised_stderr() {
        let dir = tempfile::tempdir().unwrap();
        init_repo(dir.path());
        let git = open(dir.path()).unwrap();
        match git.run(["rev-parse", "--verify", "no\u{1b}[31mpe"]) {
            Err(GitError::Failed { message }) => {
                assert!(message.contains("Needed a single revision") && !message.contains('\u{1b}'), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// A `Git` whose `git` is a script that never finishes.
    fn stuck_git(dir: &Path, timeout: Duration, cancel: &CancelToken) -> Git {
        // PATH holds only this script, so it cannot call `sleep`.
        executable(&dir.join("bin/git"), "#!/bin/sh\nwhile :; do :; done\n");
        Git {
            top: dir.to_path_buf(),
            object_format: ObjectFormat::Sha1,
            timeout,
            cancel: cancel.clone(),
            host_env: host(&dir.join("bin").display().to_string()).env(),
            config_args: Vec::new(),
            config_pins: Vec::new(),
            neutralised_filters: Vec::new(),
            filter_scratch: None,
            repo_env: Vec::new(),
            private_git_dir: None,
        }
    }

    #[test]
    fn timeout_and_cancel_are_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let git = stuck_git(dir.path(), Duration::from_millis(200), &CancelToken::new());
        let err = git.run(["status"]);
        assert!(matches!(err, Err(GitError::TimedOut)), "{err:?}");
        let cancelled = CancelToken::new();
        cancelled.cancel();
        let git = stuck_git(dir.path(), Duration::from_secs(30), &cancelled);
        assert!(matches!(git.run_head(["status"], 10), Err(GitError::Cancelled)));
    }

    #[test]
    fn global_gitignore_is_honoured() {
        let scratch = tempfile::tempdir().unwrap();
        let (home, repo) = (scratch.path().join("home"), scratch.path().join("repo"));
        std::fs::create_dir_all(&repo).unwrap();
        init_repo(&repo);
        write(&repo, "kept.txt", "");
        write(&repo, "x.default", "");
        write(&repo, "x.configured", "");
        let untracked = |home: &Path, xdg: Option<&Path>| {
            let host = Host { xdg_config_home: xdg.map(|p| p.display().to_string()), ..host_with_home(home) };
            open_as(&repo, host).unwrap().run(["ls-files", "--others", "--exclude-standard"]).unwrap().stdout.text()
        };
        write(&home, ".config/git/ignore", "*.default\n");
        assert_eq!(untracked(&home, None), "kept.txt\nx.configured\n");
        write(&scratch.path().join("xdg"), "git/ignore", "*.configured\n");
        assert_eq!(untracked(&home, Some(&scratch.path().join("xdg"))), "kept.txt\nx.default\n");
        write(&home, ".gitconfig", "[core]\n\texcludesFile = ~/my-ignore\n");
        write(&home, "my-ignore", "*.configured\n*.default\n");
        assert_eq!(untracked(&home, None), "kept.txt\n");
        // The repository's own setting wins over the global one, as in plain git.
        write(&repo, "local-ignore", "kept.txt\nlocal-ignore\n");
        git_ok(&repo, &["config", "core.excludesFile", "local-ignore"]);
        assert_eq!(untracked(&home, None), "x.configured\nx.default\n");
    }

    /// A global config that turns on everything a user might set for interactive use: hooks,
    /// fsmonitor, a pager, signing, trace2 output, an external diff, diff prefixes and an index
    /// refresh. Under the hardened git none of it runs, writes or changes the diff's shape.
    #[test]
    fn the_users_dangerous_global_keys_stay_pinned() {
        let (scratch, repo, markers) = hostile_repo();
        let (home, bin) = (scratch.path().join("home"), scratch.path().join("userbin"));
        let marker = |name: &str| {
            let path = bin.join(name);
            executable(&path, &format!("#!/bin/sh\ntouch '{}/user-{name}'\nexit 1\n", markers.display()));
            path.display().to_string()
        };
        let trace = scratch.path().join("trace2.json");
        executable(
            &bin.join("hooks/pre-commit"),
            &format!("#!/bin/sh\ntouch '{}/user-hook'\nexit 1\n", markers.display()),
        );
        let config = format!(
            "[core]\n\thooksPath = {hooks}\n\tfsmonitor = {fsmonitor}\n\tpager = {pager}\n\teditor = {editor}\n\
             [commit]\n\tgpgSign = true\n[gpg]\n\tprogram = {gpg}\n[log]\n\tshowSignature = true\n\
             [trace2]\n\teventTarget = {trace}\n\tnormalTarget = {trace}\n\
             [diff]\n\texternal = {external}\n\tnoprefix = true\n\tautoRefreshIndex = true\n\tsubmodule = log\n",
            hooks = bin.join("hooks").display(),
            fsmonitor = marker("fsmonitor"),
            pager = marker("pager"),
            editor = marker("editor"),
            gpg = marker("gpg"),
            trace = trace.display(),
            external = marker("external"),
        );
        write(&home, ".gitconfig", &config);
        let git = open_as(&repo, host_with_home(&home)).unwrap();
        let index = || std::fs::read(repo.join(".git/index")).unwrap();
        let index_before = index();
        let diff = git.run(["diff"].into_iter().chain(DIFF_FLAGS).chain(["HEAD"])).unwrap().stdout.text();
        assert!(diff.contains("diff --git a/a.txt b/a.txt"), "the prefixes are pinned: {diff}");
        assert_eq!(index(), index_before, "the stat refresh rewrote the index");
        git.run(["show", "--format=%H"].into_iter().chain(DIFF_FLAGS).chain(["signed"])).unwrap();
        git.run(["add", "--", "a.txt"]).unwrap();
        git.run(["commit", "-q", "-m", "x"]).unwrap();
        assert_eq!(markers_seen(&markers), Vec::<String>::new());
        assert!(!trace.exists(), "trace2 wrote its target");
    }

    /// A filter driver in the user's global config (a stand-in for git-lfs: the blob holds the
    /// upper-case "clean" form, the work tree the lower-case "smudged" one). It must run, so a
    /// file whose content did not change shows no change, and the repository cannot redefine it.
    #[test]
    fn a_global_filter_driver_is_honoured_and_cannot_be_redefined() {
        let scratch = tempfile::tempdir().unwrap();
        let (home, repo, markers) =
            (scratch.path().join("home"), scratch.path().join("repo"), scratch.path().join("markers"));
        std::fs::create_dir_all(&markers).unwrap();
        std::fs::create_dir_all(&repo).unwrap();
        init_repo(&repo);
        write(
            &home,
            ".gitconfig",
            "[filter \"upper\"]\n\tclean = tr a-z A-Z\n\tsmudge = tr A-Z a-z\n\trequired = true\n",
        );
        write(&repo, ".gitattributes", "*.up filter=upper\n");
        write(&repo, "a.up", "hello\n");
        write(&repo, "b.up", "bee\n");
        // Committed through the filter, as the user's own git would.
        let user_git = |args: &[&str]| {
            let env = [
                ("HOME", home.display().to_string()),
                ("GIT_CONFIG_NOSYSTEM", "1".into()),
                ("PATH", Host::from_env().path),
            ];
            let env = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            let out =
                Cmd::new("git").args(args).cwd(&repo).env(crate::foundation::process::Env::Only(env)).run().unwrap();
            assert!(out.success(), "{}", out.stderr.text());
        };
        user_git(&["add", "-A"]);
        user_git(&["commit", "-q", "-m", "base"]);
        assert_eq!(git_ok(&repo, &["show", "HEAD:a.up"]), "HELLO");
        // Same content, later mtime: git has to run the file through the filter to compare.
        let later = std::time::SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options().write(true).open(repo.join("a.up")).unwrap().set_modified(later).unwrap();
        write(&repo, "b.up", "bee\nbuzz\n");
        let diff = |git: &Git| {
            git.run(["diff"].into_iter().chain(DIFF_FLAGS).chain(["HEAD", "--stat"])).unwrap().stdout.text()
        };

        let honoured = open_as(&repo, host_with_home(&home)).unwrap();
        assert!(honoured.neutralised_filters().is_empty());
        let stat = diff(&honoured);
        assert!(stat.contains("b.up") && !stat.contains("a.up"), "a phantom change: {stat}");
        let text = honoured.run(["diff"].into_iter().chain(DIFF_FLAGS).chain(["HEAD"])).unwrap().stdout.text();
        assert!(text.contains("+BUZZ"), "the clean form is what is compared: {text}");

        // Without the user's config the driver is unknown, and the phantom change shows: the
        // fixture does exercise the filter.
        let unfiltered = open_as(&repo, host(&Host::from_env().path)).unwrap();
        assert!(diff(&unfiltered).contains("a.up"));

        // The repository redefines the user's driver and adds one of its own: the user's
        // definition still applies and the repository's program never runs.
        let evil = markers.join("evil");
        executable(&scratch.path().join("bin/evil"), &format!("#!/bin/sh\ntouch '{}'\ncat\n", evil.display()));
        let evil_cmd = scratch.path().join("bin/evil").display().to_string();
        git_ok(&repo, &["config", "filter.upper.clean", &evil_cmd]);
        git_ok(&repo, &["config", "filter.own.clean", &evil_cmd]);
        write(&repo, ".gitattributes", "*.up filter=upper\n*.own filter=own\n");
        write(&repo, "c.own", "own\n");
        user_git(&["add", "--", "c.own"]);
        std::fs::remove_file(&evil).unwrap();
        let redefined = open_as(&repo, host_with_home(&home)).unwrap();
        assert_eq!(redefined.neutralised_filters(), ["own"]);
        let stat = diff(&redefined);
        assert!(!stat.contains("a.up"), "{stat}");
        assert!(!evil.exists(), "the repository's filter ran");
    }

    /// Tests run as root: a repository chowned to `nobody` is one git refuses.
    #[test]
    fn a_repository_owned_by_another_user_is_unsafe_until_listed() {
        let scratch = tempfile::tempdir().unwrap();
        let (home, repo) = (scratch.path().join("home"), scratch.path().join("repo"));
        std::fs::create_dir_all(&repo).unwrap();
        init_repo(&repo);
        write(&repo, "a.txt", "a\n");
        commit_all(&repo, "base");
        chown_tree(&repo, 65534);
        let canonical = repo.canonicalize().unwrap().display().to_string();
        match open_as(&repo, host_with_home(&home)) {
            Err(GitError::Unsafe { path }) => assert_eq!(path, canonical),
            other => panic!("{other:?}"),
        }
        write(&home, ".gitconfig", &format!("[safe]\n\tdirectory = {canonical}\n"));
        let git = open_as(&repo, host_with_home(&home)).unwrap();
        assert_eq!(git.run(["ls-files"]).unwrap().stdout.text(), "a.txt\n");
    }

    fn chown_tree(path: &Path, uid: u32) {
        std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("tests run as root, so they can chown");
        if path.is_dir() && !path.is_symlink() {
            for entry in std::fs::read_dir(path).unwrap() {
                chown_tree(&entry.unwrap().path(), uid);
            }
        }
    }

    #[test]
    fn the_empty_tree_follows_the_object_format() {
        let dir = tempfile::tempdir().unwrap();
        for format in ["sha1", "sha256"] {
            let repo = dir.path().join(format);
            std::fs::create_dir_all(&repo).unwrap();
            git_ok(&repo, &["init", "-q", &format!("--object-format={format}")]);
            let git = open(&repo).unwrap();
            assert_eq!(git.empty_tree(), git_ok(&repo, &["hash-object", "-t", "tree", "/dev/null"]));
        }
    }
}
