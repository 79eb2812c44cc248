//! Recovers the `id` of a line that cannot be parsed — too long to keep, not UTF-8, a lone
//! surrogate, broken JSON — so the error it gets still answers the request that waits for it
//! (MCP: an error carries the request's id unless the id could not be read).
//!
//! A single pass over the raw bytes, one at a time, keeping nothing but a few flags, the nesting
//! depth and at most `MAX_ID_BYTES` of the id itself, so a multi-gigabyte hostile line costs no
//! memory and no recursion. What is recovered: the value of the one key spelt `"id"` (no escapes)
//! directly in the object that opens the line, when that value is a string of at most
//! `MAX_ID_BYTES` bytes that decodes, or an integer, and ends before the line does; bytes after
//! the object closes are ignored. What is not (answered with a null id): a line that is not an
//! object, an `id` only inside a nested value, a key written with escapes (`"i\u0064"`), an `id`
//! key that appears twice (which one the client meant is unknowable), an id that is null, a
//! float, an object or an array (not an id at all), or one cut short by the end of the line; nor
//! the id of a reply (a depth-1 `result` or `error` key): that id is one this server gave its own
//! request (`roots/list`), and an error carrying it would read to the client as the answer to
//! whichever of its own requests has the same id.

use serde_json::Value;

use super::RequestId;

/// Longest id kept: far above any client's ids, small enough to keep for any line.
const MAX_ID_BYTES: usize = 1024;
/// Longest depth-1 key worth reading: `id`, `error`, `result`.
const MAX_KEY_BYTES: usize = 6;

/// The id of `line`, if it can be recovered (see the module doc).
pub fn id_of(line: &[u8]) -> Option<RequestId> {
    let mut scanner = IdScanner::default();
    scanner.feed(line);
    scanner.finish()
}

/// Scans a line in pieces (the stdio reader feeds the bytes of an oversized line as they come).
#[derive(Default)]
pub struct IdScanner {
    /// The line is not an object, or its top-level object has closed: nothing more to learn.
    done: bool,
    /// Nesting depth outside strings; 1 is inside the top-level object.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    /// Reading a depth-1 key that may still be `id`, `error` or `result`: its bytes so far.
    key: Option<Vec<u8>>,
    /// The last depth-1 key was `id` and its `:` has not been seen.
    id_key: bool,
    /// After `"id":`, waiting for the value's first byte.
    expect_id_value: bool,
    /// The id's raw bytes, while they are read and once complete.
    value: Option<Captured>,
    /// How many depth-1 `id` keys were seen.
    id_keys: usize,
    /// A depth-1 `result` or `error` key was seen: the line is a reply.
    reply: bool,
}

enum Captured {
    String {
        bytes: Vec<u8>,
        escaped: bool,
        complete: bool,
    },
    Number {
        bytes: Vec<u8>,
        complete: bool,
    },
    /// Too long, or not a string or a number.
    Unusable,
}

impl IdScanner {
    pub fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.done {
                return;
            }
            self.byte(byte);
        }
    }

    pub fn finish(self) -> Option<RequestId> {
        if self.id_keys != 1 || self.reply {
            return None;
        }
        let raw = match self.value? {
            Captured::String { bytes, complete: true, .. } | Captured::Number { bytes, complete: true } => bytes,
            _ => return None,
        };
        RequestId::from_value(&serde_json::from_slice::<Value>(&raw).ok()?)
    }

    fn byte(&mut self, byte: u8) {
        if self.capture(byte) {
            return;
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
                // An escaped key is never taken for `id`.
                self.key = None;
            } else if byte == b'"' {
                self.in_string = false;
                if let Some(key) = self.key.take() {
                    self.id_key = key == b"id";
                    if self.id_key {
                        self.id_keys += 1;
                    }
                    self.reply |= key == b"result" || key == b"error";
                }
            } else if let Some(key) = &mut self.key {
                if key.len() < MAX_KEY_BYTES {
                    key.push(byte);
                } else {
                    self.key = None;
                }
            }
            return;
        }
        if byte.is_ascii_whitespace() {
            return;
        }
        if self.depth == 0 && byte != b'{' {
            self.done = true;
            return;
        }
        if self.expect_id_value {
            self.expect_id_value = false;
            self.value = Some(match byte {
                b'"' => Captured::String { bytes: vec![byte], escaped: false, complete: false },
                b'-' | b'0'..=b'9' => Captured::Number { bytes: vec![byte], complete: false },
                _ => Captured::Unusable,
            });
            if !matches!(self.value, Some(Captured::Unusable)) {
                return;
            }
        }
        match byte {
            b'{' | b'[' => {
                self.depth += 1;
                self.expect_key = self.depth == 1;
            }
            b'}' | b']' => {
                self.depth -= 1;
                self.done = self.depth == 0;
            }
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key {
                    self.expect_key = false;
                    self.key = Some(Vec::new());
                }
            }
            b',' if self.depth == 1 => self.expect_key = true,
            b':' if self.depth == 1 && self.id_key => {
                self.id_key = false;
                // Only the first `id` is read; a second one makes the line ambiguous anyway.
                self.expect_id_value = self.value.is_none();
            }
            _ => {}
        }
    }

    /// Feeds `byte` to the id being read; false when no id is being read (or it just ended at a
    /// byte that belongs to what follows it).
    fn capture(&mut self, byte: u8) -> bool {
        let Some(value) = &mut self.value else { return false };
        match value {
            Captured::String { complete: complete @ false, bytes, escaped } => {
                bytes.push(byte);
                if *escaped {
                    *escaped = false;
                } else if byte == b'\\' {
                    *escaped = true;
                } else if byte == b'"' {
                    *complete = true;
                }
                if bytes.len() > MAX_ID_BYTES {
                    *value = Captured::Unusable;
                }
                true
            }
            Captured::Number { complete: complete @ false, bytes } => {
                if matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    bytes.push(byte);
                    if bytes.len() > MAX_ID_BYTES {
                        *value = Captured::Unusable;
                    }
                    return true;
                }
                *complete = true;
                false
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(line: &str) -> Option<RequestId> {
        id_of(line.as_bytes())
    }

    #[test]
    fn recovers_a_top_level_string_or_integer_id_wherever_it_stands() {
        assert_eq!(
            id(r#"{"jsonrpc":"2.0","id":7,"method":"ping","params":{"x":"\ud800"}}"#),
            Some(RequestId::Number(7))
        );
        assert_eq!(
            id(
                r#"{"method":"tools/call","params":{"id":1,"a":[{"id":2}],"s":"\"id\":3"},"jsonrpc":"2.0", "id" : "q-9" }"#
            ),
            Some(RequestId::Text("q-9".into()))
        );
        assert_eq!(id(r#"{"id":-12}"#), Some(RequestId::Number(-12)));
        assert_eq!(id(r#"{"id":"a\"b"} trailing"#), Some(RequestId::Text("a\"b".into())));
        let mut invalid_utf8 = br#"{"params":{"q":""#.to_vec();
        invalid_utf8.extend_from_slice(b"\xff\xfe\"},\"id\":11,\"method\":\"x\"}");
        assert_eq!(id_of(&invalid_utf8), Some(RequestId::Number(11)));
    }

    #[test]
    fn recovers_nothing_it_cannot_be_sure_of() {
        for line in [
            r#"{"params":{"id":1}}"#,
            r#"{"id":1,"id":2}"#,
            r#"{"i\u0064":1}"#,
            r#"{"id":null}"#,
            r#"{"id":1.5}"#,
            r#"{"id":{"x":1}}"#,
            r#"{"id":"\ud800"}"#,
            r#"{"id":"unterminated"#,
            r#"{"id":12"#,
            r#"[{"id":1}]"#,
            r#"x{"id":1}"#,
            r#"{"method":"x"}{"id":1}"#,
            r#"{"ids":1,"i":2}"#,
            // Replies: the id is this server's own, not one the client waits on.
            r#"{"jsonrpc":"2.0","id":3,"result":{"roots":[{"uri":"file:///\udc80"}]}}"#,
            r#"{"jsonrpc":"2.0","error":{"code":-1,"message":"\udc80"},"id":"codex-in-claude-roots-1"}"#,
        ] {
            assert_eq!(id(line), None, "{line}");
        }
        assert_eq!(id(&format!(r#"{{"id":"{}"}}"#, "x".repeat(MAX_ID_BYTES))), None);
    }

    #[test]
    fn a_broken_line_gets_the_id_its_valid_twin_would_have() {
        for literal in [
            "7",
            "-0",
            "1e3",
            "-1.0",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "123456789012345678901234567890",
            r#""""#,
            r#""\u00e9\"x""#,
            r#""\ud83d\ude00""#,
        ] {
            let valid = format!(r#"{{"jsonrpc":"2.0","method":"ping","id":{literal}}}"#);
            let expected = match crate::foundation::rpc::parse_line(valid.as_bytes()) {
                Ok(crate::foundation::rpc::Message::Request(request)) => Some(request.id),
                Ok(other) => panic!("{other:?}"),
                Err(rejection) => rejection.id,
            };
            let broken = format!(r#"{{"jsonrpc":"2.0","method":"ping","params":{{"q":"\udc00"}},"id":{literal}}}"#);
            assert_eq!(id(&broken), expected, "{literal}");
        }
    }

    #[test]
    fn an_id_key_anywhere_but_the_top_level_is_not_taken() {
        for (line, expected) in [
            (r#"{"a":"\"id\":5","id":6}"#, Some(RequestId::Number(6))),
            (r#"{"a":{"id":1,"result":2},"b":["id",{"error":3}],"id":2}"#, Some(RequestId::Number(2))),
            (r#"{"results":1,"errors":2,"id":4}"#, Some(RequestId::Number(4))),
            ("{\"method\":\"x\",\"id\":5\u{0}}", Some(RequestId::Number(5))),
            (r#"{"\"id":5}"#, None),
            (r#"{"id\"":5}"#, None),
        ] {
            assert_eq!(id(line), expected, "{line}");
        }
    }

    #[test]
    fn pieces_read_the_same_as_the_whole() {
        let line = r#"{"method":"m","params":{"big":"\\\"}"},"id":"split-id"}"#;
        for cut in 0..line.len() {
            let mut scanner = IdScanner::default();
            scanner.feed(&line.as_bytes()[..cut]);
            scanner.feed(&line.as_bytes()[cut..]);
            assert_eq!(scanner.finish(), Some(RequestId::Text("split-id".into())), "cut at {cut}");
        }
    }
}
