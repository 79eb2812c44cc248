//! Capture of the throwaway copy's state as it is now: everything that differs from the
//! baseline as a patch the user's `git apply` replays byte for byte, and what was not put in it
//! and why. One function, `capture`, so a run that ended any way (finished, stopped, timed out)
//! can be captured the same way. It reads the copy and writes only the copy's own object store
//! and a scratch index beside the copy's index.
//!
//! Why it is exact: the copy's attributes switch every conversion off (`worktree`), so git sees
//! the working files' bytes. Each changed or new path is hashed raw (`hash-object --no-filters`;
//! a symlink as its target), and only objects no store holds yet are written, into the copy's
//! store (writing one the live store holds would make git touch that store's file). A scratch
//! index takes those entries (removals first, so a path may change between file and directory),
//! `write-tree` makes the tree, and `diff-tree --binary --full-index` from the baseline to it is
//! the patch: contents as Codex wrote them, line endings included, modes, symlink targets, type
//! changes, empty files, binaries as git binary patches. A text file whose bytes are not UTF-8 is
//! re-emitted as a binary patch (git treats a file over `core.bigFileThreshold` as binary), so
//! the patch is UTF-8 text without a byte of content altered.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::adapters::git::worktree::WorktreeError;
use crate::adapters::git::{DIFF_FLAGS, Git, GitError, Numstat};
use crate::foundation::policy::closed_set;

/// Build and cache artefacts: new files matching these are left out of the diff (and listed)
/// unless asked for; a tracked file's change is never left out.
pub const ARTEFACT_PATTERNS: &[&str] = &[
    ":(exclude,glob)**/__pycache__/**",
    ":(exclude,glob)**/*.py[co]",
    ":(exclude,glob)**/.pytest_cache/**",
    ":(exclude,glob)**/.ruff_cache/**",
    ":(exclude,glob)**/.mypy_cache/**",
    ":(exclude,glob)**/.DS_Store",
    ":(exclude,glob)**/node_modules/**",
    ":(exclude,glob)**/*.egg-info/**",
];
/// Flags of the suggested `git apply` (and of the check that says whether it applies): the
/// user's `apply.whitespace` would otherwise refuse (`error`) or rewrite (`fix`) lines Codex
/// wrote with trailing whitespace.
pub const APPLY_FLAGS: &[&str] = &["--whitespace=nowarn"];
/// At most this many left-out files are named; the rest are counted.
const MAX_LEFT_OUT_LISTED: usize = 100;
/// The scratch index, in the copy's `.git` (never Codex's to write).
const SCRATCH_INDEX: &str = "cic-capture-index";
/// Config of every diff here: octal-quoted non-ASCII paths, so headers are ASCII whatever the
/// user's `core.quotePath` says.
const QUOTED_PATHS: [&str; 2] = ["-c", "core.quotePath=true"];

closed_set! {
    /// Whether new files that ignore rules or artefact patterns leave out are only listed
    /// (`list`, the default) or put in the diff too (`include`).
    IgnoredFiles { List = "list", Include = "include" }
}

closed_set! {
    /// Why a new file is not in the diff.
    LeftOutReason { Ignored = "ignored", Artefact = "artefact", RefusedPath = "refused_path", OverBound = "over_bound",
        NotAFile = "not_a_file" }
}

impl LeftOutReason {
    pub fn describe(self) -> &'static str {
        match self {
            LeftOutReason::Ignored => {
                "a new file matched by an ignore rule (.gitignore, .git/info/exclude or your global excludes); \
                 ignored_files=include puts it in the diff"
            }
            LeftOutReason::Artefact => {
                "a new build or cache artefact (__pycache__, *.pyc, node_modules, ...); ignored_files=include puts it \
                 in the diff"
            }
            LeftOutReason::RefusedPath => {
                "git refuses to track this path (a .git component, in any letter case or spelling git treats as one), \
                 so no patch can carry it; copy it by hand if you want it"
            }
            LeftOutReason::NotAFile => {
                "Codex put a FIFO, socket or device in place of this tracked file; no patch can carry one, so the \
                 diff leaves the file as committed"
            }
            LeftOutReason::OverBound => {
                "its change did not fit in the diff bound (CODEX_IN_CLAUDE_MAX_DELEGATE_DIFF_BYTES), so it was left out \
                 whole and the rest still applies"
            }
        }
    }
}

/// A new file not in the diff.
pub struct LeftOut {
    pub path: String,
    pub reason: LeftOutReason,
}

/// One file's part of the patch: one `diff --git` section (two for a type change).
pub struct FileDiff {
    /// Repo-relative, for lists and warnings (lossy only where the name is not UTF-8).
    pub path: String,
    pub text: String,
}

/// The copy's state against the baseline.
pub struct Capture {
    /// The patch file by file, in git's order, each section whole; sections past the capture
    /// bound are not here but in `cut_files`.
    pub files: Vec<FileDiff>,
    /// Files whose diff did not fit in the capture bound.
    pub cut_files: Vec<String>,
    /// Counts over every change, cut files included.
    pub numstat: Numstat,
    /// Every path the patch touches (both names of a rename), NUL-terminated.
    pub paths: Vec<u8>,
    /// Repositories Codex created inside the copy (`dir/`): not diffable as files.
    pub nested_repos: Vec<String>,
    /// New files not in the diff, up to `MAX_LEFT_OUT_LISTED`, and how many more there are.
    pub left_out: Vec<LeftOut>,
    pub left_out_unlisted: usize,
}

/// Captures the copy at `inside` (its top level `tree`) against `baseline`; the patch text is
/// kept up to `cap` bytes, cut only between files.
pub fn capture(
    inside: &Git,
    tree: &Path,
    baseline: &str,
    cap: usize,
    ignored: IgnoredFiles,
) -> Result<Capture, WorktreeError> {
    let failed = |context: &'static str| move |e: GitError| WorktreeError::from_git(context, e);
    let new = new_files(inside, ignored)?;
    let Written { tree: captured, refused, not_files } = write_tree(inside, tree, baseline, &new.files)?;
    let range = [baseline, captured.as_str()];
    let listing_args = |extra: &[&'static str]| -> Vec<&str> {
        let mut args = QUOTED_PATHS.to_vec();
        args.extend(["diff-tree", "-r", "-z", "--find-renames"]);
        args.extend(DIFF_FLAGS);
        args.extend(extra);
        args.extend(range);
        args
    };
    let numstat_listing = inside.run(listing_args(&["--numstat"])).map_err(failed("git diff-tree"))?;
    let mut numstat = Numstat::default();
    numstat.add(&numstat_listing.stdout.bytes());
    let raw = inside.run(listing_args(&["--raw"])).map_err(failed("git diff-tree"))?.stdout.bytes();
    let records = raw_records(&raw);
    let paths: Vec<u8> =
        records.iter().flat_map(|r| r.paths.iter().flat_map(|p| p.iter().copied().chain([0]))).collect();

    let patch = inside.run_head(patch_args(range, &[]), cap).map_err(failed("git diff-tree"))?;
    let (bytes, cut) = (patch.stdout.bytes(), patch.stdout.truncated());
    let mut sections = split_sections(&bytes);
    if cut {
        sections.pop(); // partial, or ends where the bound fell: either way not known whole
    }
    // Whole records only: a type change is two sections (a deletion and an addition).
    let (mut kept_records, mut kept_sections) = (0, 0);
    while kept_records < records.len() && kept_sections + records[kept_records].sections <= sections.len() {
        kept_sections += records[kept_records].sections;
        kept_records += 1;
    }
    if !cut && (kept_records != records.len() || kept_sections != sections.len()) {
        return Err(WorktreeError::Failed(format!(
            "git diff-tree gave {} file sections for {} changes",
            sections.len(),
            records.len()
        )));
    }
    sections.truncate(kept_sections);
    let owners: Vec<usize> =
        records[..kept_records].iter().enumerate().flat_map(|(i, r)| vec![i; r.sections]).collect();
    let not_utf8: Vec<usize> =
        sections.iter().enumerate().filter(|(_, s)| std::str::from_utf8(s).is_err()).map(|(i, _)| i).collect();
    let mut sections: Vec<Vec<u8>> = sections.into_iter().map(<[u8]>::to_vec).collect();
    if !not_utf8.is_empty() {
        as_binary_patches(inside, range, &records, &owners, &not_utf8, &mut sections)?;
    }
    let mut files = Vec::with_capacity(sections.len());
    for (section, &owner) in sections.into_iter().zip(&owners) {
        let record = &records[owner];
        let text = String::from_utf8(section).map_err(|_| {
            WorktreeError::Failed(format!("the diff of {} is not UTF-8 even as a binary patch", record.display()))
        })?;
        files.push(FileDiff { path: record.display(), text });
    }
    let cut_files = records[kept_records..].iter().map(RawRecord::display).collect();
    let (mut left_out, left_out_unlisted) = new.left_out;
    left_out.extend(refused.into_iter().map(|path| LeftOut { path, reason: LeftOutReason::RefusedPath }));
    left_out.extend(
        not_files
            .iter()
            .map(|path| LeftOut { path: String::from_utf8_lossy(path).into_owned(), reason: LeftOutReason::NotAFile }),
    );
    Ok(Capture { files, cut_files, numstat, paths, nested_repos: new.nested_repos, left_out, left_out_unlisted })
}

fn patch_args<'a>(range: [&'a str; 2], config: &[&'a str]) -> Vec<&'a str> {
    let mut args = QUOTED_PATHS.to_vec();
    args.extend(config);
    args.extend(["diff-tree", "-r", "-p", "--binary", "--full-index", "--find-renames"]);
    args.extend(DIFF_FLAGS);
    args.extend(range);
    args
}

/// Replaces the sections at `which` (not UTF-8) with git binary patches of the same files:
/// the copy's `info/attributes` (which outranks every `.gitattributes`) gets `-diff` for them
/// while the limited diff runs, and is put back after.
fn as_binary_patches(
    inside: &Git,
    range: [&str; 2],
    records: &[RawRecord],
    owners: &[usize],
    which: &[usize],
    sections: &mut [Vec<u8>],
) -> Result<(), WorktreeError> {
    let mut wanted: Vec<usize> = which.iter().map(|&i| owners[i]).collect();
    wanted.dedup();
    let attributes_file = inside.repo().join(".git/info/attributes");
    let io = |e: std::io::Error| WorktreeError::Failed(format!("cannot write the copy's attributes: {e}"));
    let original = std::fs::read(&attributes_file).map_err(io)?;
    let mut attributes = original.clone();
    let mut args: Vec<std::ffi::OsString> = patch_args(range, &[]).into_iter().map(Into::into).collect();
    args.push("--".into());
    for &record in &wanted {
        for path in &records[record].paths {
            attributes.extend(binary_rule(path));
            let mut spec = std::ffi::OsString::from(":(literal)");
            spec.push(OsStr::from_bytes(path));
            args.push(spec);
        }
    }
    std::fs::write(&attributes_file, &attributes).map_err(io)?;
    let output = inside.run(args);
    std::fs::write(&attributes_file, &original).map_err(io)?;
    let output = output.map_err(|e| WorktreeError::from_git("git diff-tree --binary", e))?.stdout.bytes();
    // The limited diff holds exactly the wanted records' sections, in the same order.
    let mut replacements = split_sections(&output).into_iter();
    for i in (0..sections.len()).filter(|i| wanted.contains(&owners[*i])) {
        let Some(replacement) = replacements.next() else {
            return Err(WorktreeError::Failed("git diff-tree gave fewer binary sections than asked for".into()));
        };
        sections[i] = replacement.to_vec();
    }
    Ok(())
}

/// An attributes line marking exactly `path` (anchored, glob characters escaped, C-quoted)
/// as not to be diffed as text.
fn binary_rule(path: &[u8]) -> Vec<u8> {
    let mut line = b"\"/".to_vec();
    for &byte in path {
        match byte {
            b'*' | b'?' | b'[' => line.extend([b'\\', b'\\', byte]),
            b'\\' => line.extend(*b"\\\\\\\\"),
            b'"' => line.extend(*b"\\\""),
            b'\n' => line.extend(*b"\\n"),
            _ => line.push(byte),
        }
    }
    line.extend(*b"\" -diff\n");
    line
}

/// `diff --git` sections of a patch, each from its header to the next.
fn split_sections(patch: &[u8]) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = Vec::new();
    let mut at = 0;
    for line in patch.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"diff --git ") {
            starts.push(at);
        }
        at += line.len();
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &start)| &patch[start..starts.get(k + 1).copied().unwrap_or(patch.len())])
        .collect()
}

/// One record of `diff-tree --raw -z`.
struct RawRecord {
    /// The path, or both names of a rename or copy.
    paths: Vec<Vec<u8>>,
    /// `diff --git` sections it makes in the patch.
    sections: usize,
}

impl RawRecord {
    fn display(&self) -> String {
        self.paths.last().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default()
    }
}

/// `:<old mode> <new mode> <old id> <new id> <status>\0<path>\0[<path>\0]` records.
fn raw_records(raw: &[u8]) -> Vec<RawRecord> {
    let mut fields = raw.split(|&b| b == 0).peekable();
    let mut records = Vec::new();
    while let Some(meta) = fields.next() {
        if meta.is_empty() {
            continue;
        }
        let meta = String::from_utf8_lossy(meta);
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let (old_mode, new_mode, status) = (
            parts.first().copied().unwrap_or(""),
            parts.get(1).copied().unwrap_or(""),
            parts.get(4).copied().unwrap_or(""),
        );
        let names = if status.starts_with(['R', 'C']) { 2 } else { 1 };
        let paths: Vec<Vec<u8>> = (0..names).filter_map(|_| fields.next().map(<[u8]>::to_vec)).collect();
        // git splits a change of type (file, symlink, gitlink) into a deletion and an addition.
        let kind = |mode: &str| mode.get(..2).map(str::to_string);
        let split = status == "T" && kind(old_mode) != kind(new_mode) && old_mode != "000000" && new_mode != "000000";
        records.push(RawRecord { paths, sections: if split { 2 } else { 1 } });
    }
    records
}

/// New files of the copy: those that go in the diff, the nested repositories, and those left
/// out (listed, bounded).
struct NewFiles {
    files: Vec<Vec<u8>>,
    nested_repos: Vec<String>,
    left_out: (Vec<LeftOut>, usize),
}

fn new_files(inside: &Git, ignored: IgnoredFiles) -> Result<NewFiles, WorktreeError> {
    let list = |args: &[&str]| -> Result<Vec<Vec<u8>>, WorktreeError> {
        let mut all = vec!["ls-files", "-z", "--others"];
        all.extend(args);
        let out = inside.run(all).map_err(|e| WorktreeError::from_git("git ls-files in the worktree", e))?;
        Ok(out.stdout.bytes().split(|&b| b == 0).filter(|p| !p.is_empty()).map(<[u8]>::to_vec).collect())
    };
    let mut not_artefacts = vec!["--exclude-standard", "--", "."];
    not_artefacts.extend(ARTEFACT_PATTERNS);
    let plain = list(&not_artefacts)?;
    let unignored = list(&["--exclude-standard"])?;
    let plain_set: std::collections::HashSet<&Vec<u8>> = plain.iter().collect();
    let artefacts: Vec<&Vec<u8>> = unignored.iter().filter(|p| !plain_set.contains(p)).collect();
    // Ignored directories as one entry each when only listed; every file when included.
    let ignored_listing = list(&[
        "--ignored",
        "--exclude-standard",
        if ignored == IgnoredFiles::Include { "--" } else { "--directory" },
    ])?;
    let is_dir = |p: &[u8]| p.ends_with(b"/");
    let mut files: Vec<Vec<u8>> = plain.iter().filter(|p| !is_dir(p)).cloned().collect();
    let mut nested_repos: Vec<String> =
        unignored.iter().filter(|p| is_dir(p)).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
    let mut left_out = Vec::new();
    let mut unlisted = 0;
    let mut leave_out = |path: &[u8], reason| {
        if left_out.len() < MAX_LEFT_OUT_LISTED {
            left_out.push(LeftOut { path: String::from_utf8_lossy(path).into_owned(), reason });
        } else {
            unlisted += 1;
        }
    };
    match ignored {
        IgnoredFiles::Include => {
            files.extend(artefacts.iter().filter(|p| !is_dir(p)).map(|p| p.to_vec()));
            files.extend(ignored_listing.iter().filter(|p| !is_dir(p)).cloned());
            nested_repos
                .extend(ignored_listing.iter().filter(|p| is_dir(p)).map(|p| String::from_utf8_lossy(p).into_owned()));
        }
        IgnoredFiles::List => {
            artefacts.iter().for_each(|p| leave_out(p, LeftOutReason::Artefact));
            ignored_listing.iter().for_each(|p| leave_out(p, LeftOutReason::Ignored));
        }
    }
    nested_repos.sort();
    nested_repos.dedup();
    Ok(NewFiles { files, nested_repos, left_out: (left_out, unlisted) })
}

/// What `write_tree` made: the tree's id, the paths git refused to enter, and the tracked paths
/// that are no file, directory or symlink.
struct Written {
    tree: String,
    refused: Vec<String>,
    not_files: Vec<Vec<u8>>,
}

/// The copy's working state as a tree in the copy's store: the baseline index, with every
/// changed tracked path and every new file in `new` entered by its raw content.
/// Also returns the paths git refused to enter (`update-index` skips them with a warning) and
/// the tracked paths Codex replaced with a FIFO, socket or device (kept as in the baseline).
fn write_tree(inside: &Git, tree: &Path, baseline: &str, new: &[Vec<u8>]) -> Result<Written, WorktreeError> {
    let failed = |context: &'static str| move |e: GitError| WorktreeError::from_git(context, e);
    let io = |what: &str, e: std::io::Error| WorktreeError::Failed(format!("cannot {what}: {e}"));
    let scratch = tree.join(".git").join(SCRATCH_INDEX);
    let scratch_str = scratch.to_str().ok_or_else(|| WorktreeError::Failed("the copy's path is not UTF-8".into()))?;
    let env = [("GIT_INDEX_FILE", scratch_str)];
    let _ = std::fs::remove_file(&scratch);
    let run = |args: Vec<&str>, stdin: Option<Vec<u8>>, context: &'static str| {
        let mut cmd = inside.cmd_with_env(&env, args);
        if let Some(stdin) = stdin {
            cmd = cmd.stdin(stdin);
        }
        inside.run_cmd(cmd).map_err(failed(context))
    };
    run(vec!["read-tree", baseline], None, "git read-tree in the worktree")?;
    run(vec!["update-index", "-q", "--refresh"], None, "git update-index --refresh in the worktree")?;
    let mut diff_files = vec!["diff-files", "-z", "--raw"];
    diff_files.extend(DIFF_FLAGS);
    let changed = run(diff_files, None, "git diff-files in the worktree")?.stdout.bytes();
    let mut paths: Vec<(Vec<u8>, bool)> = Vec::new(); // (path, was a gitlink)
    let mut fields = changed.split(|&b| b == 0);
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        paths.push((path.to_vec(), meta.starts_with(b":160000")));
    }
    paths.extend(new.iter().map(|p| (p.clone(), false)));

    let mut refused = Vec::new();
    let mut not_files = Vec::new();
    let mut removals = Vec::new();
    let mut entries: Vec<(&'static str, Vec<u8>, Vec<u8>)> = Vec::new(); // (mode, id, path)
    let mut regular: Vec<(Vec<u8>, &'static str)> = Vec::new();
    for (path, gitlink) in &paths {
        let full = tree.join(OsStr::from_bytes(path));
        // A tracked path under a directory Codex replaced with a symlink is gone, whatever the
        // symlink leads to (git's own view: the symlink is the new entry).
        if behind_symlink(tree, path) {
            removals.push(path.clone());
            continue;
        }
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&full).map_err(|e| io("read a symlink in the copy", e))?;
                let id = write_blob(inside, target.as_os_str().as_bytes())?;
                entries.push(("120000", id, path.clone()));
            }
            Ok(meta) if meta.is_file() => {
                regular.push((path.clone(), if meta.permissions().mode() & 0o111 != 0 { "100755" } else { "100644" }))
            }
            Ok(meta) if meta.is_dir() && *gitlink => {} // a submodule stays as recorded
            Ok(meta) if !meta.is_dir() => not_files.push(path.clone()), // a FIFO, socket, device
            Ok(_) | Err(_) => removals.push(path.clone()),
        }
    }
    // Regular files in one batch: hash raw, then write only what no store holds.
    if !regular.is_empty() {
        let ids = hash_files(inside, regular.iter().map(|(p, _)| p.as_slice()), false)?;
        let present = present_objects(inside, &ids)?;
        let missing: Vec<&[u8]> =
            regular.iter().zip(&ids).filter(|(_, id)| !present.contains(*id)).map(|((p, _), _)| p.as_slice()).collect();
        if !missing.is_empty() {
            let written = hash_files(inside, missing.iter().copied(), true)?;
            let expected: Vec<&Vec<u8>> =
                regular.iter().zip(&ids).filter(|(_, id)| !present.contains(*id)).map(|(_, id)| id).collect();
            if written.iter().zip(&expected).any(|(w, e)| w != *e) {
                return Err(WorktreeError::Failed("a file in the copy changed while it was being captured".into()));
            }
        }
        entries.extend(regular.into_iter().zip(ids).map(|((path, mode), id)| (mode, id, path)));
    }
    if !removals.is_empty() {
        let zeros = "0".repeat(inside.empty_tree().len());
        let info: Vec<u8> = removals
            .iter()
            .flat_map(|p| format!("0 {zeros}\t").into_bytes().into_iter().chain(p.iter().copied()).chain([0]))
            .collect();
        run(vec!["update-index", "-z", "--index-info"], Some(info), "git update-index in the worktree")?;
    }
    if !entries.is_empty() {
        let mut info = Vec::new();
        for (mode, id, path) in &entries {
            info.extend_from_slice(mode.as_bytes());
            info.push(b' ');
            info.extend_from_slice(id);
            info.push(b'\t');
            info.extend_from_slice(path);
            info.push(0);
        }
        let entered = run(vec!["update-index", "-z", "--index-info"], Some(info), "git update-index in the worktree")?;
        refused.extend(
            entered.stderr.text().lines().filter_map(|line| line.strip_prefix("Ignoring path ")).map(str::to_string),
        );
    }
    let tree_id = run(vec!["write-tree"], None, "git write-tree in the worktree")?.stdout.text().trim().to_string();
    let _ = std::fs::remove_file(&scratch);
    Ok(Written { tree: tree_id, refused, not_files })
}

/// Whether a directory on the way to `path` (repo-relative, under `tree`) is now a symlink or
/// no directory at all.
fn behind_symlink(tree: &Path, path: &[u8]) -> bool {
    let relative = Path::new(OsStr::from_bytes(path));
    relative
        .ancestors()
        .skip(1)
        .filter(|dir| !dir.as_os_str().is_empty())
        .any(|dir| std::fs::symlink_metadata(tree.join(dir)).map_or(true, |meta| !meta.file_type().is_dir()))
}

/// Raw object ids of files (`hash-object --no-filters`), written to the copy's store when
/// `write`. Paths git's `--stdin-paths` cannot take as a line are hashed from their bytes.
fn hash_files<'a>(
    inside: &Git,
    paths: impl Iterator<Item = &'a [u8]>,
    write: bool,
) -> Result<Vec<Vec<u8>>, WorktreeError> {
    let mut args = vec!["hash-object", "--no-filters", "-t", "blob"];
    if write {
        args.push("-w");
    }
    let paths: Vec<&[u8]> = paths.collect();
    let mut ids: Vec<Option<Vec<u8>>> = vec![None; paths.len()];
    let (lines, odd): (Vec<usize>, Vec<usize>) =
        (0..paths.len()).partition(|&i| !paths[i].contains(&b'\n') && !paths[i].starts_with(b"\""));
    if !lines.is_empty() {
        let stdin: Vec<u8> = lines.iter().flat_map(|&i| paths[i].iter().copied().chain([b'\n'])).collect();
        let mut batch = args.clone();
        batch.push("--stdin-paths");
        let out = inside
            .run_cmd(inside.cmd(batch).stdin(stdin))
            .map_err(|e| WorktreeError::from_git("git hash-object in the worktree", e))?;
        let out = out.stdout.bytes();
        let got: Vec<&[u8]> = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        if got.len() != lines.len() {
            return Err(WorktreeError::Failed("git hash-object gave an unexpected answer".into()));
        }
        for (&i, id) in lines.iter().zip(got) {
            ids[i] = Some(id.to_vec());
        }
    }
    for i in odd {
        let bytes = std::fs::read(inside.repo().join(OsStr::from_bytes(paths[i])))
            .map_err(|e| WorktreeError::Failed(format!("cannot read a file in the copy: {e}")))?;
        ids[i] = Some(hash_bytes(inside, bytes, write)?);
    }
    Ok(ids.into_iter().map(Option::unwrap_or_default).collect())
}

fn hash_bytes(inside: &Git, bytes: Vec<u8>, write: bool) -> Result<Vec<u8>, WorktreeError> {
    let mut args = vec!["hash-object", "--no-filters", "-t", "blob", "--stdin"];
    if write {
        args.push("-w");
    }
    let out = inside
        .run_cmd(inside.cmd(args).stdin(bytes))
        .map_err(|e| WorktreeError::from_git("git hash-object in the worktree", e))?;
    Ok(out.stdout.text().trim().as_bytes().to_vec())
}

/// A blob of `bytes` in the copy's store (written only when no store holds it); its id.
fn write_blob(inside: &Git, bytes: &[u8]) -> Result<Vec<u8>, WorktreeError> {
    let id = hash_bytes(inside, bytes.to_vec(), false)?;
    if !present_objects(inside, std::slice::from_ref(&id))?.contains(&id) {
        hash_bytes(inside, bytes.to_vec(), true)?;
    }
    Ok(id)
}

/// Which of `ids` some store (the copy's or, through alternates, the live one) holds.
fn present_objects(inside: &Git, ids: &[Vec<u8>]) -> Result<std::collections::HashSet<Vec<u8>>, WorktreeError> {
    let stdin: Vec<u8> = ids.iter().flat_map(|id| id.iter().copied().chain([b'\n'])).collect();
    let check = inside.cmd(["cat-file", "--batch-check=%(objectname)"]).stdin(stdin);
    let out =
        inside.run_cmd(check).map_err(|e| WorktreeError::from_git("git cat-file in the worktree", e))?.stdout.bytes();
    // A missing object prints `<id> missing`; a present one its bare id.
    Ok(out.split(|&b| b == b'\n').filter(|l| !l.is_empty() && !l.ends_with(b" missing")).map(<[u8]>::to_vec).collect())
}

#[cfg(test)]
mod fidelity;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_at_file_headers_only() {
        let patch = b"diff --git a/x b/x\n+diff --git inside\n-y\ndiff --git a/z b/z\n+\xe9\n";
        let sections = split_sections(patch);
        assert_eq!(
            sections,
            vec![&b"diff --git a/x b/x\n+diff --git inside\n-y\n"[..], &b"diff --git a/z b/z\n+\xe9\n"[..]]
        );
    }

    #[test]
    fn a_type_change_makes_two_sections_and_a_rename_names_both_paths() {
        let raw =
            b":100644 120000 aa bb T\0link\0:100644 100755 aa aa M\0run.sh\0:100644 100644 aa aa R100\0old\0new\0";
        let records = raw_records(raw);
        assert_eq!(records.iter().map(|r| r.sections).collect::<Vec<_>>(), vec![2, 1, 1]);
        assert_eq!(records[2].paths, vec![b"old".to_vec(), b"new".to_vec()]);
        assert_eq!(records[2].display(), "new");
    }
}
