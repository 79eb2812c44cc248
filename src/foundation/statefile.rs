//! The one writer of state files: every job file is written to a temporary file in the same
//! directory, fsynced, renamed over the target, and the directory fsynced, so a reader sees the
//! old content or the new one, never a half-written file, even across a crash. Also the bounded
//! JSON reader that pairs with it (which never follows a link or blocks on a FIFO), and the
//! private (0700) directory maker.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// No state file we write comes near this; a larger one is not ours (or is corrupt).
const MAX_STATE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Writes `value` as JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    write_bytes(path, &bytes)
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, directory fsync).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("a state file needs a parent directory"))?;
    let mut temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// Writes `value` as JSON to `path` atomically unless `path` exists: the temp file is linked into
/// place, which fails when the name is taken, so of any number of writers (in any processes) the
/// first one wins and the others get `false`; nothing is ever written over.
pub fn write_json_once<T: Serialize>(path: &Path, value: &T) -> std::io::Result<bool> {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let dir = path.parent().ok_or_else(|| std::io::Error::other("a state file needs a parent directory"))?;
    let mut temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    temp.write_all(&bytes)?;
    temp.as_file().sync_all()?;
    match fs::hard_link(temp.path(), path) {
        Ok(()) => File::open(dir)?.sync_all().map(|()| true),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(err),
    }
}

/// Why a state file could not be read. A missing file is an answer ("not written yet", "gone");
/// the other two are problems, and a caller must not mistake them for a missing file: a file
/// that cannot be read now may be readable after its cause is fixed.
#[derive(Debug)]
pub enum ReadError {
    Missing,
    /// It exists but reading it failed (permissions, I/O).
    Unreadable(std::io::Error),
    /// It was read but is too large, or not the JSON we wrote (truncated, corrupt).
    Invalid(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing => f.write_str("it is missing"),
            ReadError::Unreadable(err) => write!(f, "it cannot be read: {err}"),
            ReadError::Invalid(why) => write!(f, "it is not valid: {why}"),
        }
    }
}

/// Reads and parses a JSON state file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ReadError> {
    let file = open_regular(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => ReadError::Missing,
        _ => ReadError::Unreadable(err),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_STATE_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(ReadError::Unreadable)?;
    if bytes.len() as u64 > MAX_STATE_FILE_BYTES {
        return Err(ReadError::Invalid(format!("larger than {MAX_STATE_FILE_BYTES} bytes")));
    }
    serde_json::from_slice(&bytes).map_err(|err| ReadError::Invalid(err.to_string()))
}

/// Opens a state file for reading without following a symlink (a link planted in the store
/// could lead anywhere) or blocking on it (opening a FIFO for reading waits for a writer that
/// never comes); only a regular file is returned.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    Ok(file)
}

/// Opens (creating it owner-only if missing) a lock file to hold with `File::lock`/`try_lock`,
/// without following a symlink or blocking on a FIFO planted in its place.
pub fn open_lock(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Creates `dir` (and parents) readable by the owner only; tightens an existing one.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_once_file_keeps_its_first_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminal.json");
        assert!(write_json_once(&path, &serde_json::json!({"first": true})).unwrap());
        assert!(!write_json_once(&path, &serde_json::json!({"first": false})).unwrap());
        assert_eq!(read_json::<serde_json::Value>(&path).unwrap(), serde_json::json!({"first": true}));
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("terminal.json")], "no temp left behind");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn writes_replace_whole_files_and_leave_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_json(&path, &serde_json::json!({"a": 1})).unwrap();
        write_json(&path, &serde_json::json!({"a": 2})).unwrap();
        assert_eq!(read_json::<serde_json::Value>(&path).unwrap(), serde_json::json!({"a": 2}));
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn missing_corrupt_and_unreadable_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        assert!(matches!(read_json::<serde_json::Value>(&path), Err(ReadError::Missing)));
        fs::write(&path, b"{\"half\":").unwrap();
        assert!(matches!(read_json::<serde_json::Value>(&path), Err(ReadError::Invalid(_))));
        // A directory where a file should be: it exists, but reading it fails.
        let not_a_file = dir.path().join("d.json");
        fs::create_dir(&not_a_file).unwrap();
        assert!(matches!(read_json::<serde_json::Value>(&not_a_file), Err(ReadError::Unreadable(_))));
    }

    #[test]
    fn fifos_and_links_are_refused_at_once_never_opened_through() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("result.json");
        assert!(crate::foundation::process::Cmd::new("mkfifo").arg(&fifo).run().unwrap().success());
        assert!(matches!(read_json::<serde_json::Value>(&fifo), Err(ReadError::Unreadable(_))));
        let target = dir.path().join("elsewhere.json");
        fs::write(&target, b"{}").unwrap();
        let link = dir.path().join("spec.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(read_json::<serde_json::Value>(&link), Err(ReadError::Unreadable(_))));
    }

    #[test]
    fn private_dirs_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        private_dir(&nested).unwrap();
        assert_eq!(fs::metadata(&nested).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
