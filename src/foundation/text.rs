//! Sanitising foreign text (codex output, git messages) before it reaches an envelope: control
//! characters and bidirectional formatting characters are stripped first (so ANSI escapes and
//! terminal or reordering tricks never reach the client) and length is bounded with a visible
//! marker inside the budget.

/// What ends a text that was cut.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// Removes control characters (C0, DEL, C1) and bidirectional formatting characters. Newlines
/// and tabs survive when `keep_newlines`.
pub fn strip_controls(text: &str, keep_newlines: bool) -> String {
    text.chars()
        .filter(|&c| !(c.is_control() || is_bidi_format(c)) || (keep_newlines && (c == '\n' || c == '\t')))
        .collect()
}

/// The Unicode bidirectional embeddings, overrides, isolates and marks (format characters, not
/// controls, so `char::is_control` misses them). They make text display in an order other than
/// the one it is read in, the "Trojan Source" trick, so foreign text never carries them.
fn is_bidi_format(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Cuts `text` to at most `max_chars` characters, the marker included.
pub fn bounded(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let keep = max_chars.saturating_sub(TRUNCATION_MARKER.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(TRUNCATION_MARKER);
    out
}

/// One line of foreign text, safe to show: no control characters, bounded.
pub fn one_line(text: &str, max_chars: usize) -> String {
    bounded(strip_controls(text.trim(), false).trim(), max_chars)
}

/// `text` cut to at most `limit` bytes at a line end, so no line (or a secret in it) is split;
/// also says whether anything was cut.
pub fn cut_at_line(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text[..end].rfind('\n').map_or(0, |newline| newline + 1);
    (&text[..cut], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_and_c1_controls() {
        assert_eq!(strip_controls("a\u{1b}[31mb\u{9b}c\r\nd\te", true), "a[31mbc\nd\te");
        assert_eq!(strip_controls("a\nb", false), "ab");
    }

    #[test]
    fn strips_bidi_embeddings_overrides_isolates_and_marks() {
        let bidi = ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}'];
        let more = ['\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}'];
        for c in bidi.into_iter().chain(more) {
            assert_eq!(strip_controls(&format!("is{c}Admin\n"), true), "isAdmin\n", "U+{:04X}", c as u32);
        }
        // Letters of right-to-left scripts and the zero-width joiner are text, not tricks.
        assert_eq!(strip_controls("שלום مرحبا a\u{200D}b", false), "שלום مرحبا a\u{200D}b");
    }

    #[test]
    fn bounds_with_marker_inside_budget() {
        let out = bounded(&"x".repeat(100), 20);
        assert_eq!(out.chars().count(), 20);
        assert!(out.ends_with(TRUNCATION_MARKER));
        assert_eq!(bounded("short", 20), "short");
    }

    #[test]
    fn cutting_stops_at_a_line_end() {
        assert_eq!(cut_at_line("ab\ncd\nef\n", 100), ("ab\ncd\nef\n", false));
        assert_eq!(cut_at_line("ab\ncd\nef\n", 7), ("ab\ncd\n", true));
        assert_eq!(cut_at_line("abcdef", 3), ("", true));
        assert_eq!(cut_at_line("é\né\n", 4), ("é\n", true));
    }
}
