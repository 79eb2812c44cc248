//! The layer rule of `src/lib.rs`, checked by reading the source: every `crate::…` path names a
//! module of its own layer or one below it (foundation < adapters < tools < front ends), and the
//! modules form no cycle, where a module counts with its own children (`adapters::git` includes
//! `git/gather.rs`; `tools` is one module with its handlers).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[&str] = &["foundation", "adapters", "tools", "frontends"];

/// The module a source file belongs to: `layer::module`, `tools`, or `root` for lib.rs/main.rs.
fn module_of(relative: &Path) -> String {
    let parts: Vec<String> =
        relative.with_extension("").components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    match parts.as_slice() {
        [first, ..] if first == "tools" => "tools".into(),
        [layer, module, ..] if LAYERS.contains(&layer.as_str()) && module != "mod" => format!("{layer}::{module}"),
        _ => "root".into(),
    }
}

fn layer_rank(module: &str) -> usize {
    let layer = module.split("::").next().unwrap();
    LAYERS.iter().position(|l| *l == layer).unwrap_or(LAYERS.len())
}

fn ident(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The modules one line of code names through `crate::` (comments excluded). `Err` for a form the
/// rule cannot be read from: `crate::{…}` must name its layer first.
fn named_modules(line: &str) -> Result<Vec<String>, String> {
    let code = line.find("//").map_or(line, |at| &line[..at]);
    let mut named = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if rest.starts_with('{') {
            return Err("`crate::{…}` hides the layer; write one `use` per layer".into());
        }
        let first = ident(rest);
        if first.starts_with("log_") {
            // The logging macros are exported at the crate root but are the foundation's.
            named.push("foundation::log".into());
            continue;
        }
        if first == "tools" {
            named.push("tools".into());
            continue;
        }
        if !LAYERS.contains(&first) {
            // `run`, `VERSION` and other items of the root, or something unknown: the root is above
            // every layer, so only a layer module may not name it.
            named.push("root".into());
            continue;
        }
        let after = rest[first.len()..].strip_prefix("::").unwrap_or("");
        if let Some(group) = after.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for member in group.split(',').map(|m| ident(m.trim())).filter(|m| !m.is_empty() && *m != "self") {
                named.push(format!("{first}::{member}"));
            }
        } else {
            named.push(format!("{first}::{}", ident(after)));
        }
    }
    Ok(named)
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_module_names_a_layer_above_its_own_and_modules_form_no_cycle() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let from = module_of(relative);
        for (number, line) in std::fs::read_to_string(file).unwrap().lines().enumerate() {
            let at = format!("src/{}:{}", relative.display(), number + 1);
            match named_modules(line) {
                Err(why) => problems.push(format!("{at}: {why}")),
                Ok(named) => {
                    for to in named.into_iter().filter(|to| *to != from) {
                        if layer_rank(&to) > layer_rank(&from) {
                            problems.push(format!("{at}: {from} names {to}, a layer above its own"));
                        }
                        graph.entry(from.clone()).or_default().insert(to);
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "layer rule broken:\n{}", problems.join("\n"));
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    // The crate has dozens of such edges; a scanner that saw few is not reading the source.
    assert!(edges >= 40, "only {edges} module edges found");
    for start in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, start, &mut vec![start.clone()]) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

/// The adapters report typed errors; only the tools turn them into the agent-visible error
/// (`tools/errors.rs`), so the codes, repairs and retry facts an agent sees are decided in one place.
#[test]
fn no_adapter_names_the_agent_visible_error() {
    let adapters = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/adapters");
    let mut files = Vec::new();
    rust_files(&adapters, &mut files);
    assert!(files.len() >= 10, "only {} adapter files found", files.len());
    let mut found = Vec::new();
    for file in &files {
        for (number, line) in std::fs::read_to_string(file).unwrap().lines().enumerate() {
            for name in ["ToolError", "ErrorCode"] {
                if line.contains(name) {
                    found.push(format!("{}:{}: {name}", file.display(), number + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "adapters build the agent's error themselves:\n{}", found.join("\n"));
}

/// A path of edges from the last module of `path` back to its first, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str, path: &mut Vec<String>) -> Option<Vec<String>> {
    let last = path.last().unwrap().clone();
    for next in graph.get(&last).into_iter().flatten() {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(next.clone());
            return Some(cycle);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(cycle) = cycle_from(graph, start, path) {
                return Some(cycle);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn the_scanner_reads_every_path_form_the_source_uses() {
    let read = |line: &str| named_modules(line).unwrap();
    assert_eq!(read("use crate::foundation::config::Config;"), ["foundation::config"]);
    assert_eq!(read("use crate::foundation::{clock, sys};"), ["foundation::clock", "foundation::sys"]);
    assert_eq!(read("    crate::tools::call_tool(x); // crate::frontends::mcp"), ["tools"]);
    assert_eq!(read("        crate::log_warn!(\"x\");"), ["foundation::log"]);
    assert_eq!(read("$crate::foundation::log::write(a)"), ["foundation::log"]);
    assert!(named_modules("use crate::{tools, foundation::text};").is_err());
    assert_eq!(module_of(Path::new("adapters/git/gather.rs")), "adapters::git");
    assert_eq!(module_of(Path::new("tools/review.rs")), "tools");
    assert_eq!(module_of(Path::new("foundation/mod.rs")), "root");
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(f, t)| (f.to_string(), BTreeSet::from([t.to_string()])))
        .collect();
    assert_eq!(cycle_from(&graph, "a", &mut vec!["a".into()]).unwrap(), ["a", "b", "c", "a"]);
}
