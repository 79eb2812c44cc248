//! The server's temporary areas: every directory it makes outside the state directory to hold
//! the user's code or codex's output for a while (a delegate's throwaway copy, the scratch
//! object store of untracked files, codex's last message and output schema, git-lfs's storage,
//! setup's sandbox probe). Each is created owner-only (0700) with a lock file (0600) its maker
//! holds for as long as the area lives, so the next start can tell a killed process's area from
//! a live one's by the lock alone (never by a pid, which is reused) and remove it.
//!
//! An area is removed when its `Area` is dropped; `reap` removes those whose owner died. Only
//! directories of a known kind's prefix, owned by this user, are ever considered: a stranger's
//! directory of the same name in `/tmp` is left alone.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Locked by the process that made the area, for as long as it lives: an area whose lock is free
/// was left by a process that died (SIGKILL, crash) and may be removed.
const OWNER_LOCK: &str = "owner.lock";
/// An area without its lock file is only an orphan once it is this old (it may be a few
/// microseconds from getting one).
const ORPHAN_MIN_AGE: Duration = Duration::from_secs(60);

/// What an area is for; its prefix is the only thing `reap` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A delegate's throwaway copy (`adapters::git::worktree`), under the worktree base.
    Worktree,
    /// codex's last-message file and output schema (`adapters::codex::exec`).
    CodexRun,
    /// The scratch index and objects of untracked files (`adapters::git::gather`).
    Untracked,
    /// git-lfs's storage when a global lfs filter is honoured (`adapters::git`).
    GitLfs,
    /// The private git directory a split index is read through (`adapters::git`).
    GitIndex,
    /// setup's sandbox probe (`frontends::setup`).
    Setup,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Worktree, Kind::CodexRun, Kind::Untracked, Kind::GitLfs, Kind::GitIndex, Kind::Setup];

    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Worktree => "cic-worktree-",
            Kind::CodexRun => "cic-codex-",
            Kind::Untracked => "cic-untracked-",
            Kind::GitLfs => "cic-git-lfs-",
            Kind::GitIndex => "cic-git-index-",
            Kind::Setup => "cic-setup-",
        }
    }
}

/// An area being made: created under this name, which no kind's prefix matches, locked, and only
/// then renamed to its kind's name, so a concurrent `reap` never sees an area whose lock is not
/// held yet (it would take it for a dead owner's and remove it under its maker).
const MAKING_PREFIX: &str = ".cic-making-";

/// A live area; removed when dropped (before its lock is let go: `Drop` runs before the fields
/// are dropped).
#[derive(Debug)]
pub struct Area {
    dir: Option<PathBuf>,
    _owner: File,
}

impl Area {
    /// A new area of `kind` in the system temporary directory.
    pub fn new(kind: Kind) -> std::io::Result<Area> {
        Area::new_in(&std::env::temp_dir(), kind)
    }

    /// A new area of `kind` under `base` (made if missing, owner-only).
    pub fn new_in(base: &Path, kind: Kind) -> std::io::Result<Area> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(base)?;
        let making = tempfile::Builder::new()
            .prefix(MAKING_PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(base)?;
        let owner = private_file(&making.path().join(OWNER_LOCK))?;
        owner.try_lock().map_err(std::io::Error::other)?;
        let unique = making.path().file_name().and_then(|name| name.to_str()).unwrap_or_default();
        let dir = base.join(format!("{}{}", kind.prefix(), unique.trim_start_matches(MAKING_PREFIX)));
        // The lock is on the open file, so it holds across the rename; if the rename fails,
        // dropping `making` removes the half-made area.
        std::fs::rename(making.path(), &dir)?;
        let _ = making.keep();
        Ok(Area { dir: Some(dir), _owner: owner })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_deref().unwrap_or(Path::new(""))
    }

    /// Removes the area now, saying why it could not be.
    pub fn close(mut self) -> std::io::Result<()> {
        self.dir.take().map_or(Ok(()), std::fs::remove_dir_all)
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Creates `path` as a new owner-only (0600) file for writing; an existing file (or a link
/// planted there) is an error, never followed or truncated.
pub fn private_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// Removes the areas of `kinds` under each of `bases` whose owner died without cleaning up (their
/// lock is free). Returns what could not be removed.
pub fn reap(bases: &[PathBuf], kinds: &[Kind]) -> Vec<String> {
    let me = crate::foundation::sys::effective_uid();
    let mut warnings = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for base in bases {
        let canonical = base.canonicalize().unwrap_or_else(|_| base.clone());
        if seen.contains(&canonical) {
            continue;
        }
        seen.push(canonical);
        let Ok(entries) = std::fs::read_dir(base) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // A maker killed before its rename leaves a `MAKING_PREFIX` area holding only its lock.
            let named_ours =
                name.starts_with(MAKING_PREFIX) || kinds.iter().any(|kind| name.starts_with(kind.prefix()));
            // `DirEntry::metadata` does not follow a symlink: a link named like an area is skipped.
            let mine = entry.metadata().is_ok_and(|meta| meta.is_dir() && meta.uid() == me);
            let dir = entry.path();
            if !named_ours || !mine || !is_orphan(&dir, name.starts_with(MAKING_PREFIX)) {
                continue;
            }
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => crate::log_info!("removed the orphaned temporary area {}", dir.display()),
                Err(err) => {
                    warnings.push(format!("could not remove the orphaned temporary area {}: {err}", dir.display()));
                }
            }
        }
    }
    warnings
}

/// Whether the area's owner is gone. An area still being made (`making`) may be between creating
/// its lock file and locking it, so it also has to be older than `ORPHAN_MIN_AGE`.
fn is_orphan(dir: &Path, making: bool) -> bool {
    let old = || {
        std::fs::symlink_metadata(dir)
            .and_then(|m| m.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > ORPHAN_MIN_AGE))
    };
    let lock =
        OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(dir.join(OWNER_LOCK));
    match lock {
        // Age first: trying the lock takes it for a moment, which a maker about to lock it would
        // see as held by someone else.
        Ok(lock) => (!making || old()) && lock.try_lock().is_ok(),
        Err(_) => old(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn areas_are_owner_only_from_the_start_and_gone_when_dropped() {
        let base = tempfile::tempdir().unwrap();
        let area = Area::new_in(&base.path().join("nested"), Kind::CodexRun).unwrap();
        assert_eq!(mode(&base.path().join("nested")), 0o700);
        assert_eq!(mode(area.path()), 0o700);
        assert_eq!(mode(&area.path().join(OWNER_LOCK)), 0o600);
        let path = area.path().to_path_buf();
        drop(area);
        assert!(!path.exists());
    }

    #[test]
    fn a_reaper_never_removes_an_area_being_made() {
        // Another process's start reaping while an area is made must never see a free lock on a
        // live area (attack/private: 41 of 3000 areas were removed under their makers when the
        // lock file was created under the kind's name before it was locked).
        let base = tempfile::tempdir().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reaper = {
            let (base, stop) = (base.path().to_path_buf(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    reap(std::slice::from_ref(&base), &[Kind::CodexRun]);
                }
            })
        };
        let mut broken = 0;
        for _ in 0..3000 {
            match Area::new_in(base.path(), Kind::CodexRun) {
                Ok(area) if area.path().join(OWNER_LOCK).exists() => {}
                Ok(_) => broken += 1,
                Err(err) => panic!("{err}"),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        reaper.join().unwrap();
        assert_eq!(broken, 0, "areas failed or were removed while being made");
    }

    #[test]
    fn reaping_removes_dead_owners_areas_only() {
        let base = tempfile::tempdir().unwrap();
        let live = Area::new_in(base.path(), Kind::Untracked).unwrap();
        // A dead owner's area: its lock file is there, nobody holds it.
        let dead = base.path().join("cic-codex-dead");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(OWNER_LOCK), "").unwrap();
        std::fs::write(dead.join("last-message.txt"), "secret").unwrap();
        // Lockless but fresh: may be microseconds from its lock.
        let fresh = base.path().join("cic-worktree-fresh");
        std::fs::create_dir(&fresh).unwrap();
        // Not a kind's name, or a kind not asked for.
        let other = base.path().join("someone-else");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(OWNER_LOCK), "").unwrap();
        let setup = base.path().join("cic-setup-x");
        std::fs::create_dir(&setup).unwrap();
        std::fs::write(setup.join(OWNER_LOCK), "").unwrap();
        let kinds = [Kind::Worktree, Kind::CodexRun, Kind::Untracked];
        assert!(reap(&[base.path().to_path_buf(), base.path().join(".")], &kinds).is_empty());
        assert!(!dead.exists(), "a dead owner's area is reaped");
        assert!(live.path().exists(), "a live area is kept");
        assert!(fresh.exists() && other.exists() && setup.exists());
    }
}
