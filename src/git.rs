//! The hardened git runner: every `git` the server runs goes through `Git`, so that no git call
//! executes repository-controlled code or sees the server's environment (original-spec §12.x 7).
//!
//! What a `Git` pins on every call:
//! - the environment is replaced: `LC_ALL=C`, `LANG=C`, the server's `PATH`, `GIT_CONFIG_NOSYSTEM=1`,
//!   `GIT_TERMINAL_PROMPT=0`, `GIT_OPTIONAL_LOCKS=0` (reads never rewrite the user's index), no
//!   `HOME` (the user's global config is not read) and no inherited `GIT_*`;
//! - `-c` overrides that switch off hooks, fsmonitor, signing and signature verification (which
//!   runs `gpg.program`), auto gc/maintenance and the pager;
//! - every gitattributes filter driver the repository configures is neutralised (see
//!   `filter_overrides`);
//! - the user's global gitignore, which git no longer finds without `HOME`, is passed explicitly.
//!
//! What callers must add themselves: `DIFF_FLAGS` on every diff-producing command (and
//! `--ignore-submodules=dirty` on `status`), because the external diff and textconv drivers and
//! the look into submodule work trees can only be switched off on the command line.
//!
//! Known gap: a command that inspects checked-out submodules and has no such flag (`git add -A`
//! over a gitlink) runs `git status` inside the submodule, whose own filter drivers are not
//! neutralised (hooks, fsmonitor and the other pins still apply there: git passes them on).
//! The server runs no such command on a user's tree; delegate worktrees have no submodules
//! checked out.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::process::{Cmd, Output, RunError};

/// Flags every `diff`, `show` or `log -p` must carry: no external diff or textconv program (both
/// are repository-configured commands), no colour codes, and no look into submodule work trees
/// (that runs `git status` inside the submodule, under the submodule's own filter drivers, which
/// this `Git` never read). Changes to the recorded submodule commit are still shown.
pub const DIFF_FLAGS: [&str; 4] = ["--no-ext-diff", "--no-textconv", "--no-color", "--ignore-submodules=dirty"];

/// Config pinned on every call. `/dev/null` as the hooks directory means no hook path can exist.
const PINNED_CONFIG: [&str; 8] = [
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "log.showSignature=false",
    "gc.auto=0",
    "maintenance.auto=false",
];

/// Longest stdout `run` accepts (listings, numstat); beyond it the output would be cut and a
/// parser would silently see a partial listing, so the call fails instead.
const MAX_RUN_STDOUT: usize = 32 * 1024 * 1024;

/// Longest git message carried in a `GitError::Failed`.
const MAX_MESSAGE_CHARS: usize = 300;

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

#[derive(Debug)]
pub enum GitError {
    /// git is not on PATH.
    Missing,
    /// The directory is not inside a git work tree.
    NotARepo,
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
            GitError::TimedOut => write!(f, "git timed out"),
            GitError::Cancelled => write!(f, "git was cancelled"),
            GitError::Failed { message } => write!(f, "{message}"),
        }
    }
}

/// A hardened git bound to one repository's top level.
#[derive(Debug)]
pub struct Git {
    top: PathBuf,
    timeout: Duration,
    cancel: CancelToken,
    path: String,
    /// `-c` pairs placed before the subcommand.
    config_args: Vec<OsString>,
    /// Filter-driver overrides, passed as `GIT_CONFIG_COUNT`/`_KEY_n`/`_VALUE_n` (see
    /// `filter_overrides`).
    config_env: Vec<(String, String)>,
}

/// What `open` takes from the server's environment; a value of its own so tests can vary it.
struct Host {
    path: String,
    home: Option<String>,
    xdg_config_home: Option<String>,
}

impl Host {
    fn from_env() -> Host {
        let non_empty = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        Host {
            path: non_empty("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string()),
            home: non_empty("HOME"),
            xdg_config_home: non_empty("XDG_CONFIG_HOME"),
        }
    }
}

impl Git {
    /// Opens the work tree containing `repo`. Fails `NotARepo` when `rev-parse
    /// --is-inside-work-tree` is not `true` (bare repositories and `.git` directories included),
    /// `Missing` when git is not on PATH.
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
            timeout,
            cancel: cancel.clone(),
            path: host.path.clone(),
            config_args: PINNED_CONFIG.iter().flat_map(|pair| ["-c".into(), pair.into()]).collect(),
            config_env: Vec::new(),
        };
        git.top = git.top_level()?;

        // Reading config runs nothing, so it is safe before the filter overrides exist.
        let listing = git.run_allowing_absent(["config", "-z", "--get-regexp", r"^filter\.|^core\.excludesfile$"])?;
        let entries = config_entries(&listing);
        git.config_env = filter_overrides(&entries)?;
        let repo_sets_excludes = entries.iter().any(|(key, _)| key.as_slice() == b"core.excludesfile");
        if !repo_sets_excludes && let Some(excludes) = git.global_excludes_file(&host) {
            let mut pair = OsString::from("core.excludesFile=");
            pair.push(excludes);
            git.config_args.extend(["-c".into(), pair]);
        }
        Ok(git)
    }

    /// The repository's top level, canonical.
    pub fn repo(&self) -> &Path {
        &self.top
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
        let mut env: Vec<(String, String)> = [
            ("LC_ALL", "C"),
            ("LANG", "C"),
            ("PATH", self.path.as_str()),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_TERMINAL_PROMPT", "0"),
            ("GIT_OPTIONAL_LOCKS", "0"),
        ]
        .iter()
        .chain(extra_env)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.extend(self.config_env.iter().cloned());
        Cmd::new("git")
            .args(self.config_args.iter().cloned())
            .args(args)
            .cwd(&self.top)
            .env(crate::process::Env::Only(env))
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
                GitError::Failed { message: crate::text::one_line(&err.to_string(), MAX_MESSAGE_CHARS) }
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

    /// `git config` exits 1 when nothing matched: an empty answer, not a failure.
    fn run_allowing_absent<const N: usize>(&self, args: [&str; N]) -> Result<Vec<u8>, GitError> {
        let output = self.spawn(self.cmd(args))?;
        match output.exit_code {
            Some(0) => Ok(output.stdout.bytes()),
            Some(1) => Ok(Vec::new()),
            _ => Err(failure(&output)),
        }
    }

    fn top_level(&self) -> Result<PathBuf, GitError> {
        let output = self.spawn(self.cmd(["rev-parse", "--is-inside-work-tree", "--show-toplevel"]))?;
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
        top.canonicalize().map_err(|err| GitError::Failed {
            message: crate::text::one_line(
                &format!("cannot resolve the repository top level: {err}"),
                MAX_MESSAGE_CHARS,
            ),
        })
    }

    /// The user's global gitignore, which git would find through `HOME` or `XDG_CONFIG_HOME`:
    /// `core.excludesFile` from the global config (read path-only, with the real `HOME` for this
    /// one call), else git's default location. Only an existing file is returned.
    fn global_excludes_file(&self, host: &Host) -> Option<PathBuf> {
        let mut env = vec![("HOME", host.home.as_deref()?)];
        if let Some(xdg) = &host.xdg_config_home {
            env.push(("XDG_CONFIG_HOME", xdg));
        }
        let configured = self
            .run_cmd(self.cmd_with_env(&env, ["config", "--global", "-z", "--path", "--get", "core.excludesFile"]))
            .ok()
            .map(|output| output.stdout.bytes())
            .and_then(|bytes| bytes.strip_suffix(b"\0").map(<[u8]>::to_vec))
            .map(|bytes| PathBuf::from(OsString::from_vec(bytes)));
        let default = || match &host.xdg_config_home {
            Some(xdg) => Path::new(xdg).join("git/ignore"),
            None => Path::new(host.home.as_deref().unwrap_or_default()).join(".config/git/ignore"),
        };
        Some(configured.unwrap_or_else(default)).filter(|path| path.is_file())
    }
}

/// The error for a git that ran and exited non-zero.
fn failure(output: &Output) -> GitError {
    let stderr = output.stderr.text();
    if stderr.contains("not a git repository") {
        return GitError::NotARepo;
    }
    let message = match crate::text::one_line(&stderr, MAX_MESSAGE_CHARS) {
        text if text.is_empty() => match output.exit_code {
            Some(code) => format!("git exited with status {code}"),
            None => "git was killed by a signal".to_string(),
        },
        text => text,
    };
    GitError::Failed { message }
}

/// `git config -z` output: entries end in NUL, each is `key` or `key\nvalue`.
fn config_entries(listing: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    listing
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.iter().position(|&b| b == b'\n') {
            Some(cut) => (entry[..cut].to_vec(), entry[cut + 1..].to_vec()),
            None => (entry.to_vec(), Vec::new()),
        })
        .collect()
}

/// Overrides that neutralise every configured filter driver: an empty `clean`, `smudge` and
/// `process` make git skip the driver, and `required=false` stops it from then refusing the file
/// (both proven by the tests below).
///
/// They travel as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, which git reads
/// with the same precedence as `-c`, because a driver name is chosen by the repository and may
/// contain `=`, which `-c name=value` cannot express (`-c filter.a=b.clean=` sets `filter.a`).
/// A name that is not UTF-8 cannot be put in the environment we build, so it fails closed.
fn filter_overrides(entries: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<(String, String)>, GitError> {
    let names: BTreeSet<&[u8]> = entries
        .iter()
        .filter_map(|(key, _)| {
            let rest = key.strip_prefix(b"filter.")?;
            let last_dot = rest.iter().rposition(|&b| b == b'.')?;
            Some(&rest[..last_dot])
        })
        .collect();
    let mut env = Vec::new();
    for name in names {
        let name = std::str::from_utf8(name).map_err(|_| GitError::Failed {
            message: "the repository configures a filter driver whose name is not UTF-8; refusing to run git there"
                .to_string(),
        })?;
        for (var, value) in [("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")] {
            let n = env.len() / 2;
            env.push((format!("GIT_CONFIG_KEY_{n}"), format!("filter.{name}.{var}")));
            env.push((format!("GIT_CONFIG_VALUE_{n}"), value.to_string()));
        }
    }
    if !env.is_empty() {
        env.push(("GIT_CONFIG_COUNT".to_string(), (env.len() / 2).to_string()));
    }
    Ok(env)
}

/// Repository fixtures shared by the git and review tests: a plain git (not `Git`) to build them.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use crate::process::{Cmd, Env, Output};

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
        Host { path: path.to_string(), home: None, xdg_config_home: None }
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
        write(&repo, ".gitattributes", "*.txt filter=evil diff=evil\n*.q filter=a=b\n");
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
    fn the_hostile_fixture_does_run_code_under_plain_git() {
        let (_scratch, repo, markers) = hostile_repo();
        plain_git(&repo, &["diff", "HEAD", "--", "a.txt"]);
        plain_git(&repo, &["diff", "HEAD", "--", "b.q"]);
        plain_git(&repo, &["diff", "HEAD", "--", "c.md"]);
        plain_git(&repo, &["diff", "HEAD", "--", "sub"]);
        plain_git(&repo, &["status"]);
        plain_git(&repo, &["add", "-A"]);
        plain_git(&repo, &["commit", "-m", "x"]);
        plain_git(&repo, &["show", "--format=", "signed"]);
        let seen = markers_seen(&markers);
        for expected in ["clean", "external", "fsmonitor", "gpg", "pre-commit", "process", "subclean", "textconv"] {
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

    #[test]
    fn filter_overrides_cover_every_driver_once() {
        let listing = b"filter.evil.clean\nx\0filter.evil.smudge\ny\0filter.a=b.c.process\nz\0filter.flag\0";
        let env = filter_overrides(&config_entries(listing)).unwrap();
        let keys: Vec<&str> =
            env.iter().filter(|(k, _)| k.starts_with("GIT_CONFIG_KEY_")).map(|(_, v)| v.as_str()).collect();
        assert_eq!(keys.len(), 8);
        assert!(keys.contains(&"filter.a=b.c.required") && keys.contains(&"filter.evil.process"));
        assert!(env.contains(&("GIT_CONFIG_COUNT".to_string(), "8".to_string())));
        assert!(filter_overrides(&config_entries(b"core.excludesfile\n/x\0")).unwrap().is_empty());
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
            .args(["--exact", "git::tests::git_env_probe", "--ignored", "--test-threads=1"])
            .env(crate::process::Env::Only(env))
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
            timeout,
            cancel: cancel.clone(),
            path: dir.join("bin").display().to_string(),
            config_args: Vec::new(),
            config_env: Vec::new(),
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
    fn global_gitignore_is_honoured_without_home() {
        let scratch = tempfile::tempdir().unwrap();
        let (home, repo) = (scratch.path().join("home"), scratch.path().join("repo"));
        std::fs::create_dir_all(&repo).unwrap();
        init_repo(&repo);
        write(&repo, "kept.txt", "");
        write(&repo, "x.default", "");
        write(&repo, "x.configured", "");
        let untracked = |home: &Path, xdg: Option<&Path>| {
            let host = Host {
                path: Host::from_env().path,
                home: Some(home.display().to_string()),
                xdg_config_home: xdg.map(|p| p.display().to_string()),
            };
            let git = Git::open_with(&repo, Duration::from_secs(30), &CancelToken::new(), host).unwrap();
            git.run(["ls-files", "--others", "--exclude-standard"]).unwrap().stdout.text()
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
}
