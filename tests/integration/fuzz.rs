//! Protocol fuzzing with a std-only generator: random bytes, truncated JSON, deep nesting, huge
//! strings and numbers, wrong types for every parameter of every tool, duplicate ids,
//! notifications carrying ids, invalid UTF-8 — all on one connection. The server must never
//! write a non-JSON line (the harness fails the test on one), answer every request exactly once,
//! and still serve afterwards.
//!
//! `FUZZ_ITERATIONS` sets how many messages are sent (default 3000; `make fuzz` runs far more).
//! `FUZZ_SEED` replays a run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, path_without_codex};

/// xorshift64*: small, deterministic, good enough to pick shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() & 0xff) as u8).filter(|&b| b != b'\n').collect()
    }
}

/// Values of every JSON type, hostile ones included.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e300),
        4 => json!(u64::MAX),
        5 => {
            let len = rng.below(200_000);
            json!("x".repeat(len))
        }
        6 => json!("\u{1b}[31m\u{0}\u{7}ansi\u{9b}"),
        7 => json!(["a", 1, null]),
        8 => json!({"nested": {"deeper": [1, 2, 3]}}),
        9 => json!(""),
        10 => json!("../../../../etc/passwd"),
        _ => json!("-c core.pager=touch /tmp/pwned"),
    }
}

/// One line to send, and the id the server must answer once (when it is a request we can
/// identify).
fn message(rng: &mut Rng, tools: &[Value], n: usize) -> (Vec<u8>, Option<Value>) {
    let id = json!(format!("f{n}"));
    match rng.below(10) {
        0 => {
            let len = rng.below(300);
            (rng.bytes(len), None)
        }
        1 => {
            let full = json!({"jsonrpc": "2.0", "id": id, "method": "ping"}).to_string();
            let cut = rng.below(full.len().max(1));
            (full.as_bytes()[..cut].to_vec(), None)
        }
        2 => {
            let depth = 1 + rng.below(20_000);
            (format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(), None)
        }
        3 => {
            let number = format!("{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}}", "9".repeat(400));
            (number.into_bytes(), None)
        }
        4 => {
            // Invalid UTF-8 inside an otherwise fine request.
            let mut line = br#"{"jsonrpc":"2.0","id":"u","method":"tools/call","params":{"name":"codex_status","arguments":{"x":""#.to_vec();
            line.extend([0xff, 0xfe, 0xc3]);
            line.extend(br#""}}}"#);
            (line, None)
        }
        5 => {
            // A notification-looking method sent as a request: still exactly one answer.
            (
                json!({"jsonrpc": "2.0", "id": id, "method": "notifications/initialized"}).to_string().into_bytes(),
                Some(id),
            )
        }
        6 => {
            let kind = rng.below(4);
            let bad = match kind {
                0 => json!({"jsonrpc": "1.0", "id": id, "method": "ping"}),
                1 => json!({"jsonrpc": "2.0", "id": id, "method": 7}),
                2 => json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": "nope"}),
                _ => json!({"jsonrpc": "2.0", "id": id, "method": "no/such/method"}),
            };
            (bad.to_string().into_bytes(), Some(id))
        }
        _ => {
            // A tool call with one parameter of the wrong type (the others absent): the server
            // must answer invalid_arguments, never run the tool.
            let tool = &tools[rng.below(tools.len())];
            let properties = tool["inputSchema"]["properties"].as_object().cloned().unwrap_or_default();
            let mut arguments = serde_json::Map::new();
            if !properties.is_empty() {
                let key = properties.keys().nth(rng.below(properties.len())).unwrap().clone();
                arguments.insert(key, odd_value(rng));
            }
            if rng.below(4) == 0 {
                arguments.insert(format!("unknown_{}", rng.below(5)), odd_value(rng));
            }
            let params = json!({"name": tool["name"], "arguments": arguments});
            (
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}).to_string().into_bytes(),
                Some(id),
            )
        }
    }
}

#[test]
fn fuzzed_input_never_breaks_the_server() {
    let iterations: usize = std::env::var("FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_1234_abcd_0001);
    let mut rng = Rng(seed | 1);
    let project = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut server = Server::start(&[
        ("PATH".into(), path_without_codex()),
        ("CLAUDE_PROJECT_DIR".into(), project.path().display().to_string()),
        ("CODEX_IN_CLAUDE_STATE_DIR".into(), state.path().display().to_string()),
    ]);
    server.initialize(json!({}));
    let tools = server.request(json!("list"), "tools/list", json!({}))["result"]["tools"].as_array().unwrap().clone();
    let free: Vec<&str> = tools
        .iter()
        .filter(|t| t["description"].as_str().is_some_and(|d| d.starts_with("Free")))
        .map(|t| t["name"].as_str().unwrap())
        .collect();

    let mut expected: HashMap<Value, usize> = HashMap::new();
    // The tools each id called (an envelope does not name its tool): a success for an id that
    // only ever called paid tools is a paid call that succeeded.
    let mut called: HashMap<Value, Vec<String>> = HashMap::new();
    for n in 0..iterations {
        let (mut line, id) = message(&mut rng, &tools, n);
        if let (Some(id), Ok(sent)) = (&id, serde_json::from_slice::<Value>(&line))
            && let Some(tool) = sent["params"]["name"].as_str().filter(|_| sent["method"] == json!("tools/call"))
        {
            called.entry(id.clone()).or_default().push(tool.to_string());
        }
        line.push(b'\n');
        server.send_raw(&line);
        if let Some(id) = id {
            *expected.entry(id).or_default() += 1;
        }
    }
    // Everything before this ping has been read by the time it is answered; calls run on
    // threads, so keep collecting until every tracked id has its answer.
    let mut answered: HashMap<Value, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while expected.iter().any(|(id, want)| answered.get(id).copied().unwrap_or(0) < *want) {
        assert!(Instant::now() < deadline, "unanswered requests (seed {seed})");
        let Some(message) = server.next(Duration::from_secs(5)) else { continue };
        if let Some(id) = message.get("id").filter(|_| message.get("method").is_none()) {
            *answered.entry(id.clone()).or_default() += 1;
            if let Some(result) = message.get("result").filter(|r| r.get("structuredContent").is_some()) {
                let content = &result["structuredContent"];
                // codex is not on PATH: no fuzzed call can have reached a model.
                let paid = called.get(id).is_some_and(|tools| tools.iter().all(|t| !free.contains(&t.as_str())));
                assert!(!(content["ok"] == json!(true) && paid), "a paid call succeeded (seed {seed}): {message}");
                assert!(!result.to_string().contains('\u{1b}'), "an escape sequence was echoed: {message}");
            }
        }
    }
    for (id, want) in &expected {
        assert_eq!(answered.get(id), Some(want), "id {id} answered {:?} times, expected {want}", answered.get(id));
    }
    assert_eq!(server.request(json!("alive"), "ping", json!({}))["result"], json!({}), "the server stopped serving");
    assert_eq!(server.close().code(), Some(0));
}
