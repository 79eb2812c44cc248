//! Whether the state directory (`CODEX_IN_CLAUDE_STATE_DIR`: job records and results, patches,
//! sessions, the budget ledger, the review gate's switches, probe caches) may be trusted, checked
//! before anything in it is read or written. Another local user who could create or replace it,
//! or any directory above it, could serve a forged result (and its diff), plant a pid for the
//! server to signal, redirect a deletion through a link, or switch the review gate on: so every
//! entry point refuses the whole directory unless it is safe.
//!
//! Safe means: the path is absolute; every existing component, as written and after resolving
//! links, is owned by root or the user; the state directory itself is owned by the user and
//! writable by nobody else; a directory above it may be writable by others only if it is sticky
//! (like `/tmp`), where nobody can rename or remove what another user made. Components that do
//! not exist yet are created by the server, owner-only (`statefile::private_dir`). A component
//! that is a file (of the user or root) is no trust problem: nothing can lie below it, and the
//! store's own read or write fails with its own error (`state_write_failed`), which says so.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Why the state directory is not trusted.
#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    NotAbsolute,
    /// Owned by this uid, neither the user nor root (or, for the state directory itself, not the user).
    Owner(u32),
    /// Writable by group or others (mode shown), and not a sticky directory above the state dir.
    Writable(u32),
    /// It could not be examined (permissions, I/O).
    Unreadable(String),
}

#[derive(Debug, PartialEq, Eq)]
pub struct UnsafeStateDir {
    pub state_dir: PathBuf,
    /// The component at fault.
    pub component: PathBuf,
    pub problem: Problem,
}

impl std::fmt::Display for UnsafeStateDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (dir, at) = (self.state_dir.display(), self.component.display());
        write!(f, "the state directory {dir} is not safe to use, so nothing in it was read or written: ")?;
        match &self.problem {
            Problem::NotAbsolute => write!(f, "it is not an absolute path"),
            Problem::Owner(uid) if self.component == self.state_dir => {
                write!(f, "it is owned by uid {uid}, not by this user")
            }
            Problem::Owner(uid) => write!(f, "{at} is owned by uid {uid}, neither this user nor root"),
            Problem::Writable(mode) => {
                write!(f, "{at} (mode {mode:o}) can be written by other users, so they could replace what it holds")
            }
            Problem::Unreadable(why) => write!(f, "{at} cannot be examined: {why}"),
        }
    }
}

/// Checks `state_dir` and every directory above it (see the module comment).
pub fn verify(state_dir: &Path) -> Result<(), UnsafeStateDir> {
    let fail = |component: &Path, problem| {
        Err(UnsafeStateDir { state_dir: state_dir.to_path_buf(), component: component.to_path_buf(), problem })
    };
    if !state_dir.is_absolute() {
        return fail(state_dir, Problem::NotAbsolute);
    }
    let me = crate::foundation::sys::effective_uid();
    let mut prefixes: Vec<&Path> = state_dir.ancestors().collect();
    prefixes.reverse();
    for prefix in prefixes {
        let is_state_dir = prefix == state_dir;
        let meta = match std::fs::symlink_metadata(prefix) {
            Ok(meta) => meta,
            // The rest is made by the server, owner-only.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return fail(prefix, Problem::Unreadable(err.to_string())),
        };
        if let Some(problem) = judge(&meta, me, is_state_dir) {
            return fail(prefix, problem);
        }
        if meta.is_file() {
            // Nothing below a file exists to be forged (see the module comment).
            return Ok(());
        }
        if !meta.file_type().is_symlink() {
            continue;
        }
        // A link the user (or root) made: where it leads must pass too, every directory of it.
        let target = match prefix.canonicalize() {
            Ok(target) => target,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return fail(prefix, Problem::Unreadable(err.to_string())),
        };
        for real in target.ancestors() {
            let meta = match std::fs::symlink_metadata(real) {
                Ok(meta) => meta,
                Err(err) => return fail(real, Problem::Unreadable(err.to_string())),
            };
            if let Some(problem) = judge(&meta, me, is_state_dir && real == target) {
                return fail(real, problem);
            }
        }
    }
    Ok(())
}

/// What is wrong with one existing component, if anything.
fn judge(meta: &std::fs::Metadata, me: u32, is_state_dir: bool) -> Option<Problem> {
    let owner_ok = meta.uid() == me || (!is_state_dir && meta.uid() == 0);
    if !owner_ok {
        return Some(Problem::Owner(meta.uid()));
    }
    if meta.file_type().is_symlink() {
        // A link's own mode means nothing; only its owner can replace it in a sticky directory.
        return None;
    }
    if !meta.is_dir() {
        return None;
    }
    let mode = meta.permissions().mode() & 0o7777;
    let sticky = mode & 0o1000 != 0;
    (mode & 0o022 != 0 && (is_state_dir || !sticky)).then_some(Problem::Writable(mode))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn own_private_directories_and_missing_ones_below_them_pass() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(verify(root.path()), Ok(()));
        assert_eq!(verify(&root.path().join("not/yet/made")), Ok(()));
        // /tmp itself is sticky and world-writable: fine above the state dir.
        assert_eq!(verify(&std::env::temp_dir().join("cic-state-dir-test-never-made")), Ok(()));
    }

    #[test]
    fn writable_and_relative_state_dirs_are_refused_and_a_file_is_left_to_the_store() {
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        std::fs::create_dir(&state).unwrap();
        chmod(&state, 0o777);
        assert!(matches!(verify(&state), Err(UnsafeStateDir { problem: Problem::Writable(0o777), .. })));
        // Sticky is no excuse for the state dir itself.
        chmod(&state, 0o1777);
        assert!(matches!(verify(&state), Err(UnsafeStateDir { problem: Problem::Writable(_), .. })));
        // A group-writable directory above it, not sticky.
        chmod(&state, 0o700);
        chmod(root.path(), 0o770);
        let refused = verify(&state.join("jobs")).unwrap_err();
        assert_eq!((refused.component.as_path(), &refused.problem), (root.path(), &Problem::Writable(0o770)));
        chmod(root.path(), 0o700);
        assert!(matches!(verify(Path::new("rel/state")), Err(UnsafeStateDir { problem: Problem::NotAbsolute, .. })));
        let file = root.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(verify(&file), Ok(()));
        assert_eq!(verify(&file.join("jobs")), Ok(()));
    }

    #[test]
    fn a_link_is_judged_by_where_it_leads() {
        let root = tempfile::tempdir().unwrap();
        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        let refused = verify(&link).unwrap_err();
        assert_eq!(refused.component, open.canonicalize().unwrap());
        chmod(&open, 0o700);
        assert_eq!(verify(&link.join("jobs")), Ok(()));
    }
}
