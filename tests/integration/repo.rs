//! Throwaway git repositories for end-to-end tests (and `make bench`), built with the real `git`.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub struct TestRepo {
    dir: TempDir,
}

impl TestRepo {
    /// A repository on branch `main` with one commit holding `README.md`.
    pub fn new() -> TestRepo {
        let repo = TestRepo::empty();
        repo.write("README.md", "# demo\n");
        repo.commit("initial");
        repo
    }

    /// A repository on branch `main` with no commit yet, its committer configured.
    pub fn empty() -> TestRepo {
        let repo = TestRepo { dir: tempfile::tempdir().unwrap() };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "test@example.com"]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "commit.gpgSign", "false"]);
        repo
    }

    /// A plain directory that is not a repository.
    pub fn not_a_repo() -> TestRepo {
        TestRepo { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The canonical path (what the server reports after resolving symlinks).
    pub fn canonical(&self) -> PathBuf {
        self.path().canonicalize().unwrap()
    }

    /// Writes `content` to `relative`, creating parent directories.
    pub fn write(&self, relative: &str, content: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// `git add -A` and a commit; returns the new HEAD.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--no-verify", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Runs git in the repository (test set-up, with the test's own environment), returning
    /// stdout; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git").args(args).current_dir(self.path()).output().expect("run git");
        assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Deletes the loose object of the blob `path` has in HEAD: a damaged repository.
    pub fn delete_blob(&self, path: &str) {
        let oid = self.git(&["rev-parse", &format!("HEAD:{path}")]).trim().to_string();
        std::fs::remove_file(self.path().join(".git/objects").join(&oid[..2]).join(&oid[2..])).unwrap();
    }
}

/// Hands everything under `path` to `uid` (tests run as root), so git sees a repository there
/// as another user's.
pub fn chown_all(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("tests run as root, so they can chown");
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_all(&entry.unwrap().path(), uid);
        }
    }
}
