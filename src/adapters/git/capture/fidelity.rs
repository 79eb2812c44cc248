//! The fidelity matrix at the capture level: every kind of change Codex can leave in the copy,
//! under every line-ending and attribute setting a repository can have, captured, then applied
//! with a plain `git apply` in a fresh clone of the start state and compared with the same edits
//! made directly (bytes, mode, type, link target). The live repository is hashed before and
//! after, mtimes included. (The end-to-end cases with the real codex are in
//! tests/integration/fidelity.rs.)

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use crate::adapters::git::capture::{IgnoredFiles, LeftOutReason};
use crate::adapters::git::testing::{git_ok, init_repo};
use crate::adapters::git::worktree::Worktree;
use crate::foundation::cancel::CancelToken;

/// One setting of the live repository: its committed `.gitattributes` and local config.
struct Setting {
    name: &'static str,
    attributes: Option<&'static str>,
    config: &'static [(&'static str, &'static str)],
    /// Whether the user's `git apply` reproduces every file. Where their side converts on
    /// reading (`text` forced on a binary file; CRLF working files of a Latin-1 text), a git
    /// binary patch's preimage id no longer matches the converted file, so git refuses it:
    /// then only `applies_cleanly` telling the truth is required.
    exact: bool,
}

const SETTINGS: &[Setting] = &[
    Setting { name: "plain", attributes: None, config: &[], exact: true },
    Setting { name: "text=auto", attributes: Some("* text=auto\n"), config: &[], exact: true },
    Setting { name: "eol=lf", attributes: Some("* text eol=lf\n"), config: &[], exact: false },
    Setting { name: "eol=crlf", attributes: Some("* text eol=crlf\n"), config: &[], exact: false },
    Setting { name: "binary", attributes: Some("* binary\n"), config: &[], exact: true },
    Setting { name: "-text", attributes: Some("* -text\n"), config: &[], exact: true },
    Setting { name: "autocrlf=input", attributes: None, config: &[("core.autocrlf", "input")], exact: true },
    Setting { name: "autocrlf=true", attributes: None, config: &[("core.autocrlf", "true")], exact: false },
    Setting { name: "autocrlf=false", attributes: None, config: &[("core.autocrlf", "false")], exact: true },
    Setting { name: "core.eol=crlf", attributes: Some("* text=auto\n"), config: &[("core.eol", "crlf")], exact: false },
];

const LATIN1: &[u8] = b"caf\xe9 cr\xe8me\nna\xefve\n";
const UTF16: &[u8] = b"\xff\xfeh\0i\0\n\0";
const BINARY: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\x01\x02";

/// The start state: one file per change kind.
fn start(repo: &Path) {
    let write = |rel: &str, bytes: &[u8]| {
        let path = repo.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("edit.txt", b"one\ntwo\nthree\n");
    write("crlf.txt", b"one\r\ntwo\r\n");
    write("gone.txt", b"bye\n");
    write("old-name.txt", b"a file that is renamed\nwith some lines\nso that\nit is found\n");
    write("run.sh", b"echo hi\n");
    write("config", b"key=value\n");
    write("dir/a", b"a\n");
    write("dir/b", b"b\n");
    write("blob.bin", BINARY);
    write("latin.txt", LATIN1);
    std::os::unix::fs::symlink("edit.txt", repo.join("link")).unwrap();
}

/// What Codex does in the copy (and the direct run does in its clone).
fn edits(root: &Path) {
    let write = |rel: &str, bytes: &[u8]| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("new-lf.txt", b"added\nlines\n");
    write("new-crlf.txt", b"added\r\nlines\r\n");
    write("edit.txt", b"one\n2\nthree\n");
    write("crlf.txt", b"one\r\n2\r\n");
    std::fs::remove_file(root.join("gone.txt")).unwrap();
    let renamed = std::fs::read(root.join("old-name.txt")).unwrap();
    std::fs::remove_file(root.join("old-name.txt")).unwrap();
    write("new-name.txt", &renamed);
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_file(root.join("link")).unwrap();
    std::os::unix::fs::symlink("crlf.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("dir-now-file", root.join("new-link")).unwrap();
    std::fs::remove_file(root.join("config")).unwrap();
    write("config/__init__.py", b"x = 1\n");
    std::fs::remove_dir_all(root.join("dir")).unwrap();
    write("dir", b"now a file\n");
    write("blob.bin", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\x03\x04\xff");
    write("new.bin", b"\0\x01\x02\x03\r\n\n\xfe");
    write("empty", b"");
    write("latin.txt", b"caf\xe9 cr\xe8me\nna\xefve!\n\xe0 la carte\n");
    write("new-latin.txt", b"\xe9t\xe9\n");
    write("utf16.txt", UTF16);
}

/// Every entry under `root` but `.git`: kind, bytes or target, and the executable bit.
fn state(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if rel == ".git" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let value = if meta.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else if meta.is_file() {
                format!("file {:o} {:?}", meta.permissions().mode() & 0o111, std::fs::read(&path).unwrap())
            } else {
                "special".to_string() // a FIFO, which reading would block on
            };
            out.insert(rel, value);
        }
    }
    out
}

/// Every file of the live repository, `.git` included: bytes and mtime.
fn fingerprint(root: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let bytes = if meta.is_file() { std::fs::read(&path).unwrap() } else { Vec::new() };
            out.insert(path.display().to_string(), (bytes, meta.modified().unwrap()));
        }
    }
    out
}

/// A clone of `live` at its HEAD, with the same local config, checked out under it.
fn clone(live: &Path, into: &Path, setting: &Setting) {
    let mut args = vec!["clone".to_string(), "-q".into(), "--no-checkout".into()];
    for (key, value) in setting.config {
        args.extend(["-c".into(), format!("{key}={value}")]);
    }
    args.extend([live.display().to_string(), into.display().to_string()]);
    git_ok(live, &args.iter().map(String::as_str).collect::<Vec<_>>());
    git_ok(into, &["checkout", "-q", "HEAD", "--", "."]);
}

#[test]
fn every_change_kind_comes_back_exactly_under_every_line_ending_setting() {
    let mut failures = Vec::new();
    for setting in SETTINGS {
        let scratch = tempfile::tempdir().unwrap();
        let (live, base) = (scratch.path().join("live"), scratch.path().join("base"));
        std::fs::create_dir(&live).unwrap();
        init_repo(&live);
        for (key, value) in setting.config {
            git_ok(&live, &["config", key, value]);
        }
        if let Some(attributes) = setting.attributes {
            std::fs::write(live.join(".gitattributes"), attributes).unwrap();
        }
        start(&live);
        git_ok(&live, &["add", "-A"]);
        git_ok(&live, &["commit", "-q", "-m", "start"]);
        // The user's tree as git checks it out under the setting, not as first written.
        for file in ["edit.txt", "crlf.txt", "latin.txt"] {
            std::fs::remove_file(live.join(file)).unwrap();
        }
        git_ok(&live, &["checkout", "-q", "--", "."]);
        let (direct, fresh) = (scratch.path().join("direct"), scratch.path().join("fresh"));
        clone(&live, &direct, setting);
        clone(&live, &fresh, setting);
        let before = fingerprint(&live);

        let worktree = Worktree::create(&live, &base, Duration::from_secs(60), &CancelToken::new()).unwrap();
        edits(worktree.path());
        edits(&direct);
        let capture = match worktree.edits(64 << 20, IgnoredFiles::List) {
            Ok(capture) => capture,
            Err(error) => {
                failures.push(format!("{}: capture failed: {error:?}", setting.name));
                continue;
            }
        };
        let patch: String = capture.files.iter().map(|file| file.text.as_str()).collect();
        let check = worktree.applies_to_live_tree(&patch, &capture.paths);
        let applied = {
            let cmd = crate::foundation::process::Cmd::new("git")
                .args(["apply", "-"])
                .cwd(&fresh)
                .env(crate::foundation::process::Env::Only(vec![("GIT_CONFIG_NOSYSTEM".into(), "1".into())]))
                .stdin(patch.clone().into_bytes());
            cmd.run().unwrap()
        };
        if check.is_ok() != applied.success() {
            failures.push(format!(
                "{}: applies_to_live_tree says {check:?} but git apply {}: {}",
                setting.name,
                applied.success(),
                applied.stderr.text()
            ));
        }
        if !applied.success() && setting.exact {
            failures.push(format!("{}: git apply failed: {}\n{patch}", setting.name, applied.stderr.text()));
        } else if applied.success() {
            let (want, got) = (state(&direct), state(&fresh));
            for (path, value) in &want {
                if got.get(path) != Some(value) {
                    failures.push(format!("{}: {path}: want {value}, got {:?}", setting.name, got.get(path)));
                }
            }
            for path in got.keys().filter(|path| !want.contains_key(*path)) {
                failures.push(format!("{}: {path} exists only after git apply", setting.name));
            }
        }
        drop(worktree);
        assert_eq!(before, fingerprint(&live), "{}: the live repository changed", setting.name);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tracked_artefacts_are_diffed_ignored_new_files_listed_or_included_and_the_bound_cuts_between_files() {
    let scratch = tempfile::tempdir().unwrap();
    let (live, base) = (scratch.path().join("live"), scratch.path().join("base"));
    std::fs::create_dir(&live).unwrap();
    init_repo(&live);
    std::fs::write(live.join(".gitignore"), ".vscode/\n").unwrap();
    std::fs::create_dir_all(live.join("node_modules/dep")).unwrap();
    std::fs::write(live.join("node_modules/dep/index.js"), "module.exports = 1;\n").unwrap();
    git_ok(&live, &["add", "-A"]);
    git_ok(&live, &["commit", "-q", "-m", "start"]);
    let worktree = Worktree::create(&live, &base, Duration::from_secs(60), &CancelToken::new()).unwrap();
    let copy = worktree.path();
    std::fs::write(copy.join("node_modules/dep/index.js"), "module.exports = 2;\n").unwrap();
    std::fs::create_dir_all(copy.join(".vscode")).unwrap();
    std::fs::write(copy.join(".vscode/launch.json"), "{}\n").unwrap();
    std::fs::create_dir_all(copy.join("__pycache__")).unwrap();
    std::fs::write(copy.join("__pycache__/m.pyc"), b"\0pyc").unwrap();
    std::fs::write(copy.join("a.txt"), "a\n".repeat(100)).unwrap();
    std::fs::write(copy.join("b.txt"), "b\n".repeat(100)).unwrap();
    std::fs::create_dir_all(copy.join("s2")).unwrap();
    std::fs::write(copy.join("s2/.GIT"), "git will not track this\n").unwrap();

    let listed = worktree.edits(64 << 20, IgnoredFiles::List).unwrap();
    let paths: Vec<&str> = listed.files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "b.txt", "node_modules/dep/index.js"]);
    let left_out: Vec<(&str, LeftOutReason)> =
        listed.left_out.iter().map(|file| (file.path.as_str(), file.reason)).collect();
    assert_eq!(
        left_out,
        [
            ("__pycache__/m.pyc", LeftOutReason::Artefact),
            (".vscode/", LeftOutReason::Ignored),
            ("s2/.GIT", LeftOutReason::RefusedPath)
        ]
    );

    let included = worktree.edits(64 << 20, IgnoredFiles::Include).unwrap();
    let paths: Vec<&str> = included.files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(paths, [".vscode/launch.json", "__pycache__/m.pyc", "a.txt", "b.txt", "node_modules/dep/index.js"]);
    let left_out: Vec<&str> = included.left_out.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(left_out, ["s2/.GIT"]);

    // A bound inside b.txt's section: a.txt whole, the rest listed, and what is kept applies.
    let first = listed.files[0].text.len();
    let cut = worktree.edits(first + 50, IgnoredFiles::List).unwrap();
    assert_eq!(cut.files.len(), 1);
    assert_eq!(cut.cut_files, ["b.txt", "node_modules/dep/index.js"]);
    assert_eq!(worktree.applies_to_live_tree(&cut.files[0].text, b"a.txt\0"), Ok(()));
}

#[test]
fn a_copy_whose_capture_fails_is_kept_out_of_the_run_area_with_its_edits() {
    let scratch = tempfile::tempdir().unwrap();
    let (live, base) = (scratch.path().join("live"), scratch.path().join("base"));
    std::fs::create_dir(&live).unwrap();
    init_repo(&live);
    std::fs::write(live.join("a.txt"), "a\n").unwrap();
    git_ok(&live, &["add", "-A"]);
    git_ok(&live, &["commit", "-q", "-m", "start"]);
    let mut worktree = Worktree::create(&live, &base, Duration::from_secs(60), &CancelToken::new()).unwrap();
    std::fs::write(worktree.path().join("a.txt"), "paid for\n").unwrap();
    // The baseline's objects become unreachable: every capture step needs them.
    std::fs::write(worktree.path().join(".git/objects/info/alternates"), "/nonexistent\n").unwrap();
    assert!(worktree.edits(1 << 20, IgnoredFiles::List).is_err());
    let kept = worktree.keep().unwrap();
    drop(worktree);
    assert_eq!(std::fs::read_to_string(kept.join("a.txt")).unwrap(), "paid for\n");
    let left: Vec<String> =
        std::fs::read_dir(&base).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with(crate::adapters::git::worktree::KEPT_PREFIX), "{left:?}");
    assert!(crate::adapters::git::worktree::reap_orphans(&base).is_empty());
    assert!(kept.exists(), "a kept copy is never reaped");
    let mode = std::fs::metadata(kept.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// Captures what `edits` does to a copy of the repository `start` builds (local `config` set),
/// applies the patch with the suggested command's flags in a fresh clone of the start state,
/// and returns how that clone differs from the same edits made directly, with the capture's
/// left-out files and whether `applies_to_live_tree` agreed with the apply.
fn round_trip(
    config: &'static [(&'static str, &'static str)],
    start: impl Fn(&Path),
    edits: impl Fn(&Path),
) -> (Vec<String>, Vec<(String, LeftOutReason)>) {
    let setting = Setting { name: "case", attributes: None, config, exact: true };
    let scratch = tempfile::tempdir().unwrap();
    let (live, base) = (scratch.path().join("live"), scratch.path().join("base"));
    std::fs::create_dir(&live).unwrap();
    init_repo(&live);
    for (key, value) in config {
        git_ok(&live, &["config", key, value]);
    }
    start(&live);
    git_ok(&live, &["add", "-A"]);
    git_ok(&live, &["commit", "-q", "-m", "start"]);
    // The user's tree as git checks it out under the attributes, not as first written.
    for tracked in git_ok(&live, &["ls-files"]).lines() {
        std::fs::remove_file(live.join(tracked)).unwrap();
    }
    git_ok(&live, &["checkout", "-q", "--", "."]);
    let (direct, fresh) = (scratch.path().join("direct"), scratch.path().join("fresh"));
    clone(&live, &direct, &setting);
    clone(&live, &fresh, &setting);
    let before = fingerprint(&live);
    let worktree = Worktree::create(&live, &base, Duration::from_secs(60), &CancelToken::new()).unwrap();
    edits(worktree.path());
    edits(&direct);
    let capture = worktree.edits(64 << 20, IgnoredFiles::List).unwrap();
    let left_out: Vec<(String, LeftOutReason)> =
        capture.left_out.iter().map(|file| (file.path.clone(), file.reason)).collect();
    let patch: String = capture.files.iter().map(|file| file.text.as_str()).collect();
    let check = worktree.applies_to_live_tree(&patch, &capture.paths);
    let applied = crate::foundation::process::Cmd::new("git")
        .arg("apply")
        .args(crate::adapters::git::capture::APPLY_FLAGS)
        .arg("-")
        .cwd(&fresh)
        .env(crate::foundation::process::Env::Only(vec![("GIT_CONFIG_NOSYSTEM".into(), "1".into())]))
        .stdin(patch.clone().into_bytes())
        .run()
        .unwrap();
    let mut failures = Vec::new();
    if check.is_ok() != applied.success() {
        failures.push(format!("applies_to_live_tree says {check:?}, git apply: {}", applied.stderr.text()));
    }
    if !applied.success() {
        failures.push(format!("git apply failed: {}\n{patch}", applied.stderr.text()));
    }
    let (want, got) = (state(&direct), state(&fresh));
    for (path, value) in &want {
        if got.get(path) != Some(value) && !left_out.iter().any(|(p, _)| p == path) {
            failures.push(format!("{path}: want {value}, got {:?}", got.get(path)));
        }
    }
    for path in got.keys().filter(|path| !want.contains_key(*path)) {
        failures.push(format!("{path} exists only after git apply"));
    }
    drop(worktree);
    assert_eq!(before, fingerprint(&live), "the live repository changed");
    (failures, left_out)
}

#[test]
fn trailing_whitespace_comes_back_exactly_whatever_the_users_apply_whitespace_says() {
    for value in ["fix", "error"] {
        let config: &'static [(&str, &str)] =
            if value == "fix" { &[("apply.whitespace", "fix")] } else { &[("apply.whitespace", "error")] };
        let (failures, _) = round_trip(
            config,
            |repo| std::fs::write(repo.join("a.txt"), "one\ntwo\n").unwrap(),
            |copy| {
                std::fs::write(copy.join("a.txt"), "one  \ntwo\n\t\n").unwrap();
                std::fs::write(copy.join("new.md"), "line with a break  \n").unwrap();
            },
        );
        assert!(failures.is_empty(), "apply.whitespace={value}: {}", failures.join("\n"));
    }
}

#[test]
fn a_tracked_file_replaced_by_a_fifo_is_listed_not_deleted() {
    let (failures, left_out) = round_trip(
        &[],
        |repo| {
            std::fs::write(repo.join("keep.txt"), "mine\n").unwrap();
            std::fs::write(repo.join("b.txt"), "b\n").unwrap();
        },
        |copy| {
            std::fs::remove_file(copy.join("keep.txt")).unwrap();
            let fifo = std::ffi::CString::new(copy.join("keep.txt").into_os_string().into_encoded_bytes()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
            std::fs::write(copy.join("b.txt"), "bee\n").unwrap();
        },
    );
    // The direct clone has a FIFO where the patch can carry nothing: listed, so skipped above;
    // what matters is that the patch does not delete the user's file.
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(left_out, [("keep.txt".to_string(), LeftOutReason::NotAFile)]);
}

#[test]
fn a_directory_replaced_by_a_symlink_to_a_directory_comes_back_as_the_symlink() {
    let (failures, left_out) = round_trip(
        &[],
        |repo| {
            std::fs::create_dir(repo.join("d")).unwrap();
            std::fs::write(repo.join("d/a"), "tracked\n").unwrap();
        },
        |copy| {
            std::fs::remove_dir_all(copy.join("d")).unwrap();
            std::fs::create_dir(copy.join("other")).unwrap();
            std::fs::write(copy.join("other/a"), "elsewhere\n").unwrap();
            std::os::unix::fs::symlink("other", copy.join("d")).unwrap();
        },
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(left_out.is_empty());
}

/// Writes `bytes` at `rel` under `root`, making its directories.
fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Every `.gitattributes` of the corpus (fixtures/fidelity/corpus) as the repository's: new and
/// edited files of the kinds those files name come back exactly, and `applies_cleanly` agrees
/// with the user's `git apply`. Files Codex wrote with LF where the user's attributes ask for
/// CRLF in the working tree are the documented exception (README): there git writes CRLF.
#[test]
fn every_corpus_gitattributes_file_round_trips() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fidelity/corpus/gitattributes");
    let mut names: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "gitattributes"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "{names:?}");
    let mut failures = Vec::new();
    for attributes in names {
        let text = std::fs::read(&attributes).unwrap();
        let (found, _) = round_trip(
            &[],
            |repo| {
                put(repo, ".gitattributes", &text);
                put(repo, "main.c", b"int main(void) {\n  return 0;\n}\n");
                put(repo, "notes.txt", b"one\r\ntwo\r\n");
                put(repo, "logo.png", BINARY);
                put(repo, "src/app.py", b"print('hi')\n");
            },
            |copy| {
                put(copy, "main.c", b"int main(void) {\n  return 1;\n}\n");
                put(copy, "notes.txt", b"one\r\n2\r\n");
                put(copy, "logo.png", b"\x89PNG\r\n\x1a\n\0\x07");
                put(copy, "src/app.py", b"print('caf\xe9')\n");
                put(copy, "lib/new.js", b"export const a = 1;\n");
                put(copy, "img/new.jpg", b"\xff\xd8\xff\0\r\n");
                put(copy, "data.csv", b"caf\xe9,1\r\n");
                put(copy, "doc/read me.md", b"# Title  \n");
                put(copy, "empty.json", b"");
            },
        );
        failures.extend(found.into_iter().map(|f| format!("{}: {f}", attributes.display())));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every `.gitignore` of the corpus, as the repository's and as the user's global excludes: a
/// new file is in the diff or listed in `left_out` (itself or a directory entry above it), never
/// dropped without a word.
#[test]
fn every_corpus_gitignore_file_leaves_nothing_out_silently() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fidelity/corpus/gitignore");
    let mut names: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "gitignore"))
        .collect();
    names.sort();
    assert!(names.len() >= 17, "{names:?}");
    let new_files = [
        ".vscode/settings.json",
        ".idea/workspace.xml",
        "build/out.o",
        "target/debug/app",
        "node_modules/dep/index.js",
        "__pycache__/m.cpython-312.pyc",
        ".env",
        "app.log",
        ".DS_Store",
        "Thumbs.db",
        "x.swp",
        "bin/Debug/a.dll",
        ".terraform/plugins/p",
        "local.properties",
        "src/keep.rs",
    ];
    let mut failures = Vec::new();
    for ignore in names {
        for as_global in [false, true] {
            let scratch = tempfile::tempdir().unwrap();
            let (live, base) = (scratch.path().join("live"), scratch.path().join("base"));
            std::fs::create_dir(&live).unwrap();
            init_repo(&live);
            if as_global {
                git_ok(&live, &["config", "core.excludesFile", ignore.to_str().unwrap()]);
            } else {
                put(&live, ".gitignore", &std::fs::read(&ignore).unwrap());
            }
            put(&live, "README", b"r\n");
            git_ok(&live, &["add", "-A"]);
            git_ok(&live, &["commit", "-q", "-m", "start"]);
            let worktree = Worktree::create(&live, &base, Duration::from_secs(60), &CancelToken::new()).unwrap();
            for file in new_files {
                put(worktree.path(), file, b"new\n");
            }
            let capture = worktree.edits(64 << 20, IgnoredFiles::List).unwrap();
            for file in new_files {
                let in_diff = capture.files.iter().any(|f| f.path == file);
                let listed = capture
                    .left_out
                    .iter()
                    .any(|l| l.path == file || (l.path.ends_with('/') && file.starts_with(l.path.as_str())));
                if in_diff == listed {
                    failures.push(format!(
                        "{} (global: {as_global}): {file}: in diff {in_diff}, listed {listed}",
                        ignore.display()
                    ));
                }
            }
            let included = worktree.edits(64 << 20, IgnoredFiles::Include).unwrap();
            for file in new_files {
                if !included.files.iter().any(|f| f.path == file) {
                    failures.push(format!("{} (global: {as_global}): {file} not included", ignore.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
