//! Every document a comment cites is in the repository: each `docs/<name>.md` named in the source,
//! the tests, the benches or the docs themselves exists, and each `§N` after it names a `## N.`
//! heading of that file. A `§` anywhere else is a citation of something a reader cannot open.
//! In Rust files only comments are read.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` and `.md` file under `dir`, recursively.
fn files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs" || ext == "md") {
            found.push(path);
        }
    }
}

/// One citation: the file it names and the section number after it, if any.
#[derive(Debug)]
struct Citation {
    doc: String,
    section: Option<String>,
}

/// The citations on one line, and whether every `§` on it belongs to one.
fn citations(line: &str) -> (Vec<Citation>, usize) {
    let mut found = Vec::new();
    let mut covered_sections = 0;
    let mut rest = line;
    while let Some(start) = rest.find("docs/") {
        let after = &rest[start + "docs/".len()..];
        let name_len = after.find(|c: char| !(c.is_ascii_lowercase() || c == '-' || c == '.')).unwrap_or(after.len());
        let name = &after[..name_len];
        rest = &after[name_len..];
        if !name.ends_with(".md") {
            continue;
        }
        let tail = rest.trim_start_matches('`');
        let section = tail.strip_prefix(" §").map(|s| s.chars().take_while(char::is_ascii_digit).collect::<String>());
        if section.is_some() {
            covered_sections += 1;
        }
        found.push(Citation { doc: name.to_string(), section });
    }
    (found, covered_sections)
}

#[test]
fn every_cited_document_and_section_exists() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "docs"] {
        files_under(&root.join(dir), &mut files);
    }
    files.extend(["README.md", "SECURITY.md"].map(|name| root.join(name)));
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file.strip_prefix(&root).unwrap().display().to_string();
        for (number, line) in text.lines().enumerate() {
            let at = format!("{shown}:{}", number + 1);
            // In Rust only comments cite; a string such as a test's file path is data.
            let cited = if shown.ends_with(".rs") { line.find("//").map_or("", |at| &line[at..]) } else { line };
            let (found, covered) = citations(cited);
            // Only this test may spell a citation's parts apart; it describes the form.
            if cited.matches('§').count() > covered && !shown.ends_with("docs.rs") && !shown.starts_with("docs/") {
                problems.push(format!("{at}: a § that is not part of a docs/<name>.md §N citation"));
            }
            for citation in found {
                checked += 1;
                let path = root.join("docs").join(&citation.doc);
                let Ok(doc) = std::fs::read_to_string(&path) else {
                    problems.push(format!("{at}: docs/{} does not exist", citation.doc));
                    continue;
                };
                if let Some(section) = citation.section {
                    let heading = format!("## {section}. ");
                    if section.is_empty() || !doc.lines().any(|l| l.starts_with(&heading)) {
                        problems.push(format!("{at}: docs/{} has no section §{section}", citation.doc));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "unresolved citations:\n{}", problems.join("\n"));
    // The source cites the docs in many places; a scanner that found none would prove nothing.
    assert!(checked >= 25, "only {checked} citations found: is the scanner still reading the source?");
}

#[test]
fn the_citation_scanner_reads_the_forms_the_source_uses() {
    let (found, covered) = citations("//! (docs/lessons.md §5 items 5–6) and `docs/codex-cli.md` §3, see docs/mcp.md");
    assert_eq!(covered, 2);
    let pairs: Vec<_> = found.iter().map(|c| (c.doc.as_str(), c.section.as_deref())).collect();
    assert_eq!(pairs, [("lessons.md", Some("5")), ("codex-cli.md", Some("3")), ("mcp.md", None)]);
    let (found, covered) = citations("(SPEC §4) and src/docs/x.rs");
    assert_eq!((found.len(), covered), (0, 0));
}
