//! Which directory a call works in, and whether the caller may point there.
//!
//! Order (docs/product.md §3): an explicit `workspace_root` (absolute, existing directory, inside the
//! client's roots when it declared any); else the client's first root; else
//! `CLAUDE_PROJECT_DIR`; else the server's own cwd, with a warning because that is rarely what
//! the caller meant.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Param,
    Roots,
    ProjectDir,
    Cwd,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Param => "param",
            Source::Roots => "roots",
            Source::ProjectDir => "claude_project_dir",
            Source::Cwd => "cwd",
        }
    }

    /// The source `as_str` names.
    pub fn parse(name: &str) -> Option<Source> {
        [Source::Param, Source::Roots, Source::ProjectDir, Source::Cwd].into_iter().find(|s| s.as_str() == name)
    }
}

/// Why an explicit `workspace_root` cannot be used. The messages never echo the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceError {
    NotAbsolute,
    ContainsNul,
    NotFound,
    NotADirectory,
    /// It lies outside every one of the client's `declared` roots.
    OutsideRoots {
        declared: usize,
    },
}

impl std::fmt::Display for WorkspaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkspaceError::NotAbsolute => write!(f, "workspace_root must be an absolute path"),
            WorkspaceError::ContainsNul => write!(f, "workspace_root must not contain NUL"),
            WorkspaceError::NotFound => write!(f, "workspace_root does not exist"),
            WorkspaceError::NotADirectory => write!(f, "workspace_root is not a directory"),
            WorkspaceError::OutsideRoots { declared } => {
                write!(f, "workspace_root is outside the client's {declared} declared root(s)")
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub path: PathBuf,
    pub source: Source,
    pub warning: Option<String>,
}

/// Resolves the workspace of one call. `roots` are the client's declared roots (empty when it
/// declared none, or on a stateless 2026 connection); `project_dir` is `CLAUDE_PROJECT_DIR`.
pub fn resolve(
    explicit: Option<&str>,
    roots: &[PathBuf],
    project_dir: Option<&str>,
) -> Result<Workspace, WorkspaceError> {
    if let Some(raw) = explicit {
        if !raw.starts_with('/') {
            return Err(WorkspaceError::NotAbsolute);
        }
        if raw.contains('\0') {
            return Err(WorkspaceError::ContainsNul);
        }
        let path = Path::new(raw).canonicalize().map_err(|_| WorkspaceError::NotFound)?;
        if !path.is_dir() {
            return Err(WorkspaceError::NotADirectory);
        }
        if !roots.is_empty() && !roots.iter().any(|root| path.starts_with(root)) {
            return Err(WorkspaceError::OutsideRoots { declared: roots.len() });
        }
        return Ok(Workspace { path, source: Source::Param, warning: None });
    }
    if let Some(root) = roots.first() {
        return Ok(Workspace { path: root.clone(), source: Source::Roots, warning: None });
    }
    if let Some(dir) = project_dir.filter(|d| d.starts_with('/')).and_then(|d| Path::new(d).canonicalize().ok())
        && dir.is_dir()
    {
        return Ok(Workspace { path: dir, source: Source::ProjectDir, warning: None });
    }
    let cwd = std::env::current_dir().and_then(|d| d.canonicalize()).unwrap_or_else(|_| PathBuf::from("/"));
    Ok(Workspace {
        path: cwd,
        source: Source::Cwd,
        warning: Some(
            "no workspace_root, client roots or CLAUDE_PROJECT_DIR: fell back to the server's own working directory; pass an absolute workspace_root".into(),
        ),
    })
}

/// Turns the client's `roots/list` entries into canonical directories, skipping anything that
/// is not a `file://` URI of an existing directory.
pub fn roots_from_uris<'a>(uris: impl IntoIterator<Item = &'a str>) -> Vec<PathBuf> {
    uris.into_iter()
        .filter_map(|uri| {
            let rest = uri.strip_prefix("file://")?;
            // `file://host/path` is legal; only the local host (empty or "localhost") is ours.
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            let decoded = percent_decode(path)?;
            let dir = Path::new(&decoded).canonicalize().ok()?;
            dir.is_dir().then_some(dir)
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (decoded.starts_with('/') && !decoded.contains('\0')).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_root_must_be_absolute_existing_and_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        for (bad, why) in [
            ("relative/path", WorkspaceError::NotAbsolute),
            ("/no/such/dir/anywhere", WorkspaceError::NotFound),
            (file.to_str().unwrap(), WorkspaceError::NotADirectory),
            ("/tmp/\0x", WorkspaceError::ContainsNul),
        ] {
            let err = resolve(Some(bad), &[], None).unwrap_err();
            assert_eq!(err, why, "{bad}");
            assert!(!err.to_string().contains(bad), "must not echo the value");
        }
        let ok = resolve(Some(dir.path().to_str().unwrap()), &[], None).unwrap();
        assert_eq!(ok.source, Source::Param);
    }

    #[test]
    fn explicit_root_must_sit_inside_declared_roots() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("sub");
        std::fs::create_dir(&inside).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let roots = vec![root.path().canonicalize().unwrap()];
        assert!(resolve(Some(inside.to_str().unwrap()), &roots, None).is_ok());
        let err = resolve(Some(outside.path().to_str().unwrap()), &roots, None).unwrap_err();
        assert_eq!(err, WorkspaceError::OutsideRoots { declared: 1 });
    }

    #[test]
    fn a_symlink_escaping_the_roots_is_caught_after_canonicalising() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let link = root.path().join("escape");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        let roots = vec![root.path().canonicalize().unwrap()];
        let err = resolve(Some(link.to_str().unwrap()), &roots, None).unwrap_err();
        assert_eq!(err, WorkspaceError::OutsideRoots { declared: 1 });
    }

    #[test]
    fn fallbacks_go_roots_then_project_dir_then_cwd() {
        let root = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let roots = vec![root.path().canonicalize().unwrap()];
        let project_dir = project.path().to_str().unwrap();
        assert_eq!(resolve(None, &roots, Some(project_dir)).unwrap().source, Source::Roots);
        assert_eq!(resolve(None, &[], Some(project_dir)).unwrap().source, Source::ProjectDir);
        let cwd = resolve(None, &[], Some("relative")).unwrap();
        assert_eq!(cwd.source, Source::Cwd);
        assert!(cwd.warning.is_some());
    }

    #[test]
    fn root_uris_are_decoded_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let spaced = dir.path().join("a b");
        std::fs::create_dir(&spaced).unwrap();
        let uri = format!("file://{}", spaced.to_str().unwrap().replace(' ', "%20"));
        let roots = roots_from_uris([uri.as_str(), "https://example.com/x", "file:///no/such/dir", "file://%zz"]);
        assert_eq!(roots, vec![spaced.canonicalize().unwrap()]);
    }
}
