//! The inline cap (`CODEX_IN_CLAUDE_MAX_INLINE_BYTES`): no envelope handed to a client is larger,
//! serialised, than the cap. A client such as Claude Code replaces a larger tool result with a
//! note that it is too large (and a copy in a file the model does not read), so none of the
//! result's fields reach the model; a result under the cap is read whole. What is over goes,
//! and the result says so and where the rest is:
//!
//! - a delegate's `diff`, when its `patch_file` holds the same text, is left out first
//!   (`diff_omitted` says so; the patch file, `apply_command` and `diffstat` stay);
//! - then, until the envelope fits, the largest text is cut (with a visible marker) or the largest
//!   list loses its last items; `meta.truncated` and `meta.truncation_hint` name every cut, and
//!   say where the whole answer is (Codex's own session, `codex resume <session_id>`) when it is
//!   anywhere;
//!   a review whose findings were cut says so in its coverage too, and is never a pass.
//!
//! The job worker stores the whole envelope; the cap applies each time one is handed out.

use serde_json::Value;

use super::review::CoverageStatus;
use crate::adapters::codex::answer::{Confidence, Verdict};
use crate::foundation::text::TRUNCATION_MARKER;

/// Room kept under the cap for the note that names the cuts.
const NOTE_ROOM: usize = 1024;
/// Cuts named one by one in the note; more are counted.
const NAMED_CUTS: usize = 5;
/// A text this short (serialised) is not worth cutting.
const MIN_CUTTABLE: usize = 64;
/// Members of an answer that Codex's session keeps whole.
const ANSWER_MEMBERS: &[&str] =
    &["summary", "findings", "resolved_findings", "questions", "assumptions", "next_steps", "raw_response"];

/// The members `fit` may add that the tool itself never sets (schema checks allow for them).
#[cfg(test)]
pub const ADDED_MEMBERS: &[&str] = &["diff_omitted"];

/// Makes `envelope` fit within `cap` bytes of JSON, saying what was left out or cut: in `meta`,
/// and also at the top level when the tool reports truncation there (`top_level_truncation`,
/// a preview's own `truncated`; asked only when something is cut).
pub fn fit(envelope: &mut Value, cap: usize, top_level_truncation: impl FnOnce() -> bool) {
    if !envelope.is_object() {
        return;
    }
    let mut size = serialized_len(envelope);
    if size <= cap {
        return;
    }
    if let (Some(diff), true) = (envelope["diff"].as_str(), envelope["patch_file"].is_string()) {
        let note = format!(
            "the {}-byte diff is left out to keep this result within {cap} bytes (CODEX_IN_CLAUDE_MAX_INLINE_BYTES); \
             patch_file holds the same diff",
            diff.len()
        );
        // In the diff's place, so the result keeps its reading order.
        if let Value::Object(members) = envelope {
            let at = members.keys().position(|key| key == "diff").unwrap_or(members.len());
            members.shift_remove("diff");
            members.shift_insert(at, "diff_omitted".to_string(), Value::String(note));
        }
        size = serialized_len(envelope);
        if size <= cap {
            return;
        }
    }
    let top_level_truncation = top_level_truncation();
    // The note naming the cuts takes room too: when it needs more than was kept for it, the
    // cutting starts again from the whole envelope with more room.
    let mut room = NOTE_ROOM;
    loop {
        let mut cut = envelope.clone();
        let (target, mut size, mut cuts) = (cap.saturating_sub(room), size, Vec::new());
        while size > target {
            let Some(one) = cut_largest(&mut cut, size - target) else { break };
            cuts.push(one);
            size = serialized_len(&cut);
        }
        if !cuts.is_empty() {
            record(&mut cut, &cuts, cap, top_level_truncation);
        }
        if cuts.iter().any(|c| member_of(&c.path, "findings")) {
            findings_cut(&mut cut);
        }
        let size = serialized_len(&cut);
        if size <= cap || room >= cap {
            if size > cap {
                crate::log_warn!("a result of {size} bytes could not be brought within the inline cap of {cap} bytes");
            }
            *envelope = cut;
            return;
        }
        room = room.saturating_add(size - cap).saturating_mul(2);
    }
}

/// One cut: where, and the size before and after (bytes of text, or items of a list).
struct Cut {
    path: String,
    from: usize,
    to: usize,
    unit: &'static str,
}

/// A text or a non-empty list that could be cut, with its serialised size.
struct Candidate {
    pointer: String,
    path: String,
    size: usize,
    is_text: bool,
}

/// Cuts the largest text or list; `None` when nothing is left to cut. A text is preferred to a
/// list that is not much larger, so a long finding loses words before other findings are
/// dropped. The cut takes it down towards the next largest (by at least a quarter of `excess`,
/// at most all of it), so several large members share the cuts instead of the first losing all.
fn cut_largest(envelope: &mut Value, excess: usize) -> Option<Cut> {
    let mut found = Vec::new();
    for (key, value) in envelope.as_object()? {
        visit(value, &format!("/{}", pointer_key(key)), key, &mut found);
    }
    let largest = |is_text: bool| found.iter().filter(|c| c.is_text == is_text).max_by_key(|c| c.size);
    let chosen = match (largest(true), largest(false)) {
        (Some(text), Some(list)) if text.size.saturating_mul(2) < list.size => list,
        (Some(text), _) => text,
        (None, Some(list)) => list,
        (None, None) => return None,
    };
    let related = |c: &Candidate| {
        c.pointer.starts_with(&format!("{}/", chosen.pointer)) || chosen.pointer.starts_with(&format!("{}/", c.pointer))
    };
    let next = found.iter().filter(|c| c.pointer != chosen.pointer && !related(c)).map(|c| c.size).max();
    let step = chosen.size.saturating_sub(next.unwrap_or(0)).max(excess / 4).max(1024).min(excess);
    let value = envelope.pointer_mut(&chosen.pointer)?;
    let (from, to, unit) = if chosen.is_text { cut_text(value, step)? } else { cut_list(value, step)? };
    Some(Cut { path: chosen.path.clone(), from, to, unit })
}

/// `key` as one JSON Pointer reference token.
fn pointer_key(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Collects the texts and non-empty lists under `value`; the notes that say what was left out
/// or cut are never cut themselves.
fn visit(value: &Value, pointer: &str, path: &str, found: &mut Vec<Candidate>) {
    if matches!(path, "diff_omitted" | "truncation_hint" | "meta.truncation_hint") {
        return;
    }
    let mut add = |size: usize, is_text: bool| {
        found.push(Candidate { pointer: pointer.to_string(), path: path.to_string(), size, is_text });
    };
    match value {
        Value::String(s) if escaped_len(s) + 2 > MIN_CUTTABLE => add(escaped_len(s) + 2, true),
        Value::Array(items) if !items.is_empty() => {
            add(serialized_len(value), false);
            for (i, item) in items.iter().enumerate() {
                visit(item, &format!("{pointer}/{i}"), &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                visit(item, &format!("{pointer}/{}", pointer_key(key)), &format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

/// Cuts a text so its JSON is at least `excess` bytes shorter, marker included.
fn cut_text(value: &mut Value, excess: usize) -> Option<(usize, usize, &'static str)> {
    let Value::String(text) = value else { return None };
    let budget = escaped_len(text).saturating_sub(excess.saturating_add(escaped_len(TRUNCATION_MARKER)));
    let mut used = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        used += escaped_char_len(c);
        if used > budget {
            break;
        }
        end = at + c.len_utf8();
    }
    let from = text.len();
    text.truncate(end);
    text.push_str(TRUNCATION_MARKER);
    Some((from, end, "bytes"))
}

/// Drops a list's last items until its JSON is at least `excess` bytes shorter (or it is empty).
fn cut_list(value: &mut Value, excess: usize) -> Option<(usize, usize, &'static str)> {
    let Value::Array(items) = value else { return None };
    let from = items.len();
    let mut removed = 0;
    while removed < excess {
        let Some(item) = items.pop() else { break };
        removed += serialized_len(&item) + 1;
    }
    Some((from, items.len(), "items"))
}

/// Says what was cut in `meta` (made when a lean envelope has none) and, for a preview
/// (`top_level_truncation`), at its top level too.
fn record(envelope: &mut Value, cuts: &[Cut], cap: usize, top_level_truncation: bool) {
    // A member cut more than once is named once: from its first size to its last.
    let mut merged: Vec<Cut> = Vec::new();
    for cut in cuts {
        match merged.iter_mut().find(|m| m.path == cut.path) {
            Some(earlier) => earlier.to = cut.to,
            None => merged.push(Cut { path: cut.path.clone(), ..*cut }),
        }
    }
    let mut named: Vec<String> = merged
        .iter()
        .take(NAMED_CUTS)
        .map(|c| format!("{} cut from {} to {} {}", c.path, c.from, c.to, c.unit))
        .collect();
    if merged.len() > NAMED_CUTS {
        named.push(format!("{} more members cut", merged.len() - NAMED_CUTS));
    }
    let of_answer = |path: &str| ANSWER_MEMBERS.iter().any(|member| member_of(path, member));
    let rest = if envelope["session_id"].is_string() && cuts.iter().any(|c| of_answer(&c.path)) {
        "Codex's whole answer stays in its session (codex resume <session_id>); a larger CODEX_IN_CLAUDE_MAX_INLINE_BYTES shows more"
    } else {
        "a larger CODEX_IN_CLAUDE_MAX_INLINE_BYTES shows more"
    };
    let note = format!(
        "to keep this result within {cap} bytes (CODEX_IN_CLAUDE_MAX_INLINE_BYTES): {}; {rest}",
        named.join(", ")
    );
    if let Value::Object(members) = envelope {
        // `meta` is last, and may have been left out of a lean envelope as empty.
        let meta = members.entry("meta").or_insert_with(|| Value::Object(Default::default()));
        add_note(meta, &note);
        if top_level_truncation {
            // Before `meta`, where the preview's own `truncated` stands when it is set.
            if !members.contains_key("truncated") {
                let at = members.len() - 1;
                members.shift_insert(at, "truncated".to_string(), Value::Bool(false));
                members.shift_insert(at + 1, "truncation_hint".to_string(), Value::String(String::new()));
            }
            add_note(envelope, &note);
        }
    }
}

/// Whether `path` is the top-level `member` or inside it.
fn member_of(path: &str, member: &str) -> bool {
    path.strip_prefix(member).is_some_and(|rest| rest.is_empty() || rest.starts_with(['[', '.']))
}

/// A review whose findings were cut here did not return everything Codex found: its coverage
/// says so (`findings_truncated`, so no longer `complete`), and a `pass` over it is `unknown`,
/// as for findings the answer's own bounds cut.
fn findings_cut(envelope: &mut Value) {
    let Some(coverage) = envelope.get_mut("coverage").and_then(Value::as_object_mut) else { return };
    // A lean envelope leaves an empty list out.
    let reasons = coverage.entry("omission_reasons").or_insert_with(|| Value::Array(Vec::new()));
    if let Some(reasons) = reasons.as_array_mut().filter(|r| !r.iter().any(|r| r == "findings_truncated")) {
        reasons.push(Value::from("findings_truncated"));
    }
    if envelope["coverage"]["status"] == CoverageStatus::Complete.as_str() {
        envelope["coverage"]["status"] = Value::from(CoverageStatus::Partial.as_str());
    }
    if envelope["verdict"] == Verdict::Pass.as_str() {
        envelope["verdict"] = Value::from(Verdict::Unknown.as_str());
        envelope["confidence"] = Value::from(Confidence::Low.as_str());
    }
}

/// Sets `truncated` and adds `note` to `truncation_hint`.
fn add_note(target: &mut Value, note: &str) {
    let hint = match target["truncation_hint"].as_str() {
        Some(hint) if !hint.is_empty() => format!("{hint}; {note}"),
        _ => note.to_string(),
    };
    target["truncated"] = Value::Bool(true);
    target["truncation_hint"] = Value::String(hint);
}

fn serialized_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

/// The bytes of `text` inside a JSON string, as `serde_json` escapes it.
fn escaped_len(text: &str) -> usize {
    text.chars().map(escaped_char_len).sum()
}

fn escaped_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn len(value: &Value) -> usize {
        serialized_len(value)
    }

    #[test]
    fn escaped_lengths_match_serde() {
        for text in ["plain", "quote \" and \\ back", "lines\n\r\t", "\u{1}\u{1f} ctl", "ünï ✓ 🦀"] {
            assert_eq!(escaped_len(text) + 2, serde_json::to_string(text).unwrap().len(), "{text:?}");
        }
    }

    #[test]
    fn a_small_envelope_is_untouched() {
        let mut envelope = json!({"ok": true, "summary": "short", "meta": {"truncated": false}});
        let before = envelope.clone();
        fit(&mut envelope, 8000, || false);
        assert_eq!(envelope, before);
    }

    #[test]
    fn a_diff_kept_in_its_patch_file_is_left_out_first() {
        let diff = "+line\n".repeat(5000);
        let mut envelope = json!({
            "ok": true, "summary": "s".repeat(3000), "diff": diff, "patch_file": "/state/p.patch",
            "meta": {"truncated": false, "truncation_hint": null}
        });
        fit(&mut envelope, 8000, || false);
        assert!(len(&envelope) <= 8000, "{}", len(&envelope));
        let keys: Vec<&str> = envelope.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["ok", "summary", "diff_omitted", "patch_file", "meta"], "in the diff's place");
        assert!(envelope["diff_omitted"].as_str().unwrap().contains("30000-byte diff"), "{envelope}");
        assert_eq!(envelope["summary"].as_str().unwrap().len(), 3000, "the summary fits, so it stays whole");
        assert_eq!(envelope["meta"]["truncated"], json!(false), "nothing was cut");
    }

    #[test]
    fn a_huge_answer_cannot_push_the_envelope_over_the_cap() {
        let finding = |i: usize| json!({"title": format!("finding {i}"), "body": "why \"this\"\n".repeat(20)});
        let mut envelope = json!({
            "ok": true,
            "tool": "codex_review_changes",
            "summary": "ünïcode ✓ and \"quotes\"\n".repeat(10_000),
            "findings": (0..5000).map(finding).collect::<Vec<_>>(),
            "raw_response": {"text": "\u{1}raw".repeat(20_000), "session_id": "s"},
            "session_id": "s",
            "meta": {"truncated": true, "truncation_hint": "an earlier cut", "redacted_paths": vec!["a/b.env"; 3000]}
        });
        for cap in [8000, 40_000] {
            let mut fitted = envelope.clone();
            fit(&mut fitted, cap, || false);
            assert!(len(&fitted) <= cap, "{} > {cap}", len(&fitted));
            let hint = fitted["meta"]["truncation_hint"].as_str().unwrap();
            assert!(hint.starts_with("an earlier cut; to keep this result within"), "{hint}");
            assert!(hint.contains("summary cut from") && hint.contains("codex resume <session_id>"), "{hint}");
            assert!(fitted["summary"].as_str().unwrap().ends_with(TRUNCATION_MARKER));
            assert_eq!(fitted["ok"], json!(true));
            assert_eq!(fitted["tool"], json!("codex_review_changes"));
        }
        // Many small items: the list loses its tail, each kept item whole.
        envelope["summary"] = json!("short");
        fit(&mut envelope, 40_000, || false);
        assert!(len(&envelope) <= 40_000);
        let kept = envelope["findings"].as_array().unwrap();
        assert!(kept.iter().enumerate().all(|(i, f)| f["title"] == json!(format!("finding {i}"))));
    }

    #[test]
    fn a_note_longer_than_the_room_kept_for_it_still_fits() {
        let key = |i: usize| format!("a_member_with_a_long_name_that_the_note_repeats_{i}_{}", "x".repeat(200));
        let mut envelope = json!({"ok": true, "truncated": false, "truncation_hint": "h".repeat(900), "meta": {}});
        for i in 0..5 {
            envelope[key(i)] = json!(vec!["path/to/file"; 400]);
        }
        fit(&mut envelope, 8000, || true);
        assert!(len(&envelope) <= 8000, "{}", len(&envelope));
        assert!(envelope["meta"]["truncation_hint"].as_str().unwrap().contains(&key(4)));
    }

    #[test]
    fn a_review_whose_findings_are_cut_is_not_complete_and_not_a_pass() {
        let finding = json!({"severity": "nit", "title": "t", "evidence": "e".repeat(2000)});
        let mut review = json!({
            "ok": true, "verdict": "pass", "confidence": "high", "findings": vec![finding; 40],
            "coverage": {"status": "complete"}, "meta": {}
        });
        fit(&mut review, 8000, || false);
        assert!(len(&review) <= 8000);
        assert_eq!(review["coverage"]["omission_reasons"], json!(["findings_truncated"]));
        assert_eq!((&review["coverage"]["status"], &review["verdict"]), (&json!("partial"), &json!("unknown")));
        assert_eq!(review["confidence"], json!("low"));
    }

    #[test]
    fn an_envelope_without_meta_gets_one_that_says_so() {
        let mut envelope = json!({"ok": true, "jobs": (0..2000).map(|i| json!({"job_id": i})).collect::<Vec<_>>()});
        fit(&mut envelope, 8000, || false);
        assert!(len(&envelope) <= 8000);
        assert_eq!(envelope["meta"]["truncated"], json!(true));
        let hint = envelope["meta"]["truncation_hint"].as_str().unwrap();
        assert!(hint.contains("jobs cut from 2000 to") && !hint.contains("codex resume"), "{hint}");
        assert_eq!(envelope.as_object().unwrap().keys().next_back().map(String::as_str), Some("meta"));
    }

    #[test]
    fn a_preview_says_so_at_its_top_level_too_before_meta() {
        let mut preview = json!({"ok": true, "redacted_paths": vec!["keys/a.pem"; 3000], "meta": {}});
        fit(&mut preview, 8000, || true);
        assert!(len(&preview) <= 8000);
        let keys: Vec<&str> = preview.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["ok", "redacted_paths", "truncated", "truncation_hint", "meta"]);
        assert_eq!(preview["truncation_hint"], preview["meta"]["truncation_hint"]);
    }
}
