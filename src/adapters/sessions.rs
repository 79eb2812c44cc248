//! What the server keeps about each codex session it started, so a later call can continue it
//! by `session_id`: the workspace it belongs to, and what a follow-up needs that codex's own
//! session file does not give back — the delegate's last diff (to replay its edits in a fresh
//! throwaway copy) and the review's open findings (to mark them still open or resolved).
//!
//! One private file per session, `<state dir>/sessions/<session id>.json` (directory 0700, file
//! 0600, written atomically). The id is checked to be a UUID before any path is built from it.
//! Records untouched for `RETENTION` are removed when another is written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::foundation::statefile::{self, ReadError};

/// How long a session can be continued after its last run.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The session records of one state directory.
pub struct Sessions {
    dir: PathBuf,
}

/// One session's record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    pub session_id: String,
    /// The workspace the session was started in; a follow-up must come from the same one.
    pub workspace: String,
    /// The delegate's edits as of its last run, if it was a delegation.
    #[serde(default)]
    pub edits: Option<DelegateEdits>,
    /// The review's findings as of its last run, if it was a review.
    #[serde(default)]
    pub findings: Option<Vec<KeptFinding>>,
}

/// The last diff a delegation returned, as returned (redacted: what the user could have
/// applied) and as captured (what a fresh copy replays).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DelegateEdits {
    pub returned: String,
    pub full: String,
}

/// An open finding of a review, as a re-review matches it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptFinding {
    pub finding_id: String,
    pub severity: String,
    pub title: String,
    pub file: Option<String>,
}

/// A codex session id as this server accepts it: a lowercase UUID (codex would also take a
/// thread name, which could be anything).
pub fn valid_session_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, len)| {
            group.len() == len && group.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

impl Sessions {
    pub fn new(state_dir: &Path) -> Sessions {
        Sessions { dir: state_dir.join("sessions") }
    }

    fn path(&self, session_id: &str) -> Option<PathBuf> {
        valid_session_id(session_id).then(|| self.dir.join(format!("{session_id}.json")))
    }

    /// The record of `session_id`; `Ok(None)` when there is none (or the id is not a UUID).
    pub fn load(&self, session_id: &str) -> Result<Option<Record>, String> {
        let Some(path) = self.path(session_id) else { return Ok(None) };
        match statefile::read_json::<Record>(&path) {
            Ok(record) => Ok(Some(record)),
            Err(ReadError::Missing) => Ok(None),
            Err(error) => Err(format!("the record of this session cannot be read: {error}")),
        }
    }

    /// Writes `record` (replacing the session's earlier one), then removes expired records.
    pub fn save(&self, record: &Record) -> Result<(), String> {
        let path = self.path(&record.session_id).ok_or("codex reported a session id that is not a UUID")?;
        statefile::private_dir(&self.dir)
            .and_then(|()| statefile::write_json(&path, record))
            .map_err(|error| format!("the session record could not be written: {error}"))?;
        self.prune();
        Ok(())
    }

    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let expired = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > RETENTION));
            let ours =
                entry.file_name().to_str().and_then(|name| name.strip_suffix(".json")).is_some_and(valid_session_id);
            if expired && ours {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    const ID: &str = "01a21247-a64d-7423-8ab9-0ac7989a36c0";

    #[test]
    fn only_lowercase_uuids_are_session_ids() {
        assert!(valid_session_id(ID));
        for bad in [
            "",
            "../../etc/passwd",
            "01A21247-A64D-7423-8AB9-0AC7989A36C0",
            "my-thread",
            "01a21247a64d74238ab90ac7989a36c0",
        ] {
            assert!(!valid_session_id(bad), "{bad}");
        }
    }

    #[test]
    fn records_round_trip_privately_and_unknown_ids_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::new(dir.path());
        assert!(sessions.load(ID).unwrap().is_none());
        assert!(sessions.load("../x").unwrap().is_none());
        let record = Record {
            session_id: ID.into(),
            workspace: "/w".into(),
            edits: Some(DelegateEdits { returned: "r".into(), full: "f".into() }),
            findings: None,
        };
        sessions.save(&record).unwrap();
        let loaded = sessions.load(ID).unwrap().unwrap();
        assert_eq!((loaded.workspace.as_str(), loaded.edits.unwrap().full.as_str()), ("/w", "f"));
        let file = dir.path().join("sessions").join(format!("{ID}.json"));
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(file.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
