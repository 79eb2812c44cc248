//! JSON-RPC and MCP behaviour over raw pipes: framing, every protocol error code, both eras,
//! roots, cancellation, stdin EOF, and the error envelopes of argument and workspace problems.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{self, Server, envelope, fake_codex_dir, path_with, process_gone};

fn legacy_server() -> Server {
    let mut server = Server::start(&[]);
    server.initialize(json!({}));
    server
}

#[test]
fn initialize_negotiates_the_version_and_describes_the_server() {
    for (asked, expected) in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2024-11-05", "2024-11-05"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let mut server = Server::start(&[]);
        let params = json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}});
        let result = server.request(json!(1), "initialize", params)["result"].clone();
        assert_eq!(result["protocolVersion"], json!(expected));
        assert_eq!(result["serverInfo"]["name"], json!("codex-in-claude"));
        assert_eq!(result["capabilities"]["tools"], json!({"listChanged": false}));
        assert!(result["instructions"].as_str().unwrap().contains("codex_status"));
        assert!(result.get("resultType").is_none(), "legacy results carry no resultType");
    }
}

#[test]
fn bad_input_gets_the_precise_error_and_the_loop_keeps_serving() {
    let mut server = legacy_server();
    let cases: Vec<(&[u8], i64, Value)> = vec![
        (b"{not json\n", -32700, Value::Null),
        (b"\xff\xfe\n", -32700, Value::Null),
        (b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n", -32600, Value::Null),
        (b"\"just a string\"\n", -32600, Value::Null),
        (b"{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"no/such/method\"}\n", -32601, json!(11)),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{\"name\":\"no_such_tool\"}}\n",
            -32602,
            json!(12),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/list\",\"params\":{\"cursor\":\"x\"}}\n",
            -32602,
            json!(13),
        ),
        (b"{\"jsonrpc\":\"1.0\",\"id\":14,\"method\":\"ping\"}\n", -32600, json!(14)),
        (b"{\"jsonrpc\":\"2.0\",\"id\":{\"x\":1},\"method\":\"ping\"}\n", -32600, Value::Null),
    ];
    for (line, code, id) in cases {
        server.send_raw(line);
        let reply = server.next(support::TIMEOUT).expect("an error reply");
        assert_eq!(reply["error"]["code"], json!(code), "for {:?}: {reply}", String::from_utf8_lossy(line));
        assert_eq!(reply["id"], id, "for {:?}", String::from_utf8_lossy(line));
    }
    assert_eq!(server.request(json!("p"), "ping", json!({}))["result"], json!({}));
}

#[test]
fn an_oversized_line_is_answered_and_skipped() {
    let mut server = legacy_server();
    let mut line = vec![b' '; 8 * 1024 * 1024 + 10];
    line.push(b'\n');
    server.send_raw(&line);
    let reply = server.next(support::TIMEOUT).unwrap();
    assert_eq!(reply["error"]["code"], json!(-32600));
    assert!(reply["error"]["message"].as_str().unwrap().contains("limit"));
    assert_eq!(server.request(json!(2), "ping", json!({}))["result"], json!({}));
}

#[test]
fn notifications_are_never_answered() {
    let mut server = legacy_server();
    server.send(json!({"jsonrpc": "2.0", "method": "notifications/unknown", "params": {}}));
    server.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 999}}));
    let reply = server.request(json!(3), "ping", json!({}));
    assert_eq!(reply["result"], json!({}));
    server.expect_silence(Duration::from_millis(200));
}

#[test]
fn stdin_eof_exits_zero() {
    let mut server = legacy_server();
    assert!(server.close().success());
}

#[test]
fn stdin_eof_lets_a_quick_call_answer_before_exiting() {
    let mut server = Server::start(&[("PATH".into(), path_with(&fake_codex_dir()))]);
    server.initialize(json!({}));
    let params = json!({"name": "codex_status", "arguments": {}});
    server.send(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": params}));
    assert!(server.close().success());
    let status = envelope(&server.response(json!(4))["result"]);
    assert_eq!(status["codex_found"], json!(true), "status was cut short: {status}");
}

#[test]
fn stdin_eof_cancels_an_in_flight_call_and_kills_its_codex() {
    let (mut server, pids, _pidfile) = stuck_status_call(5);
    let started = Instant::now();
    let status = server.close();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "exit took {:?}", started.elapsed());
    wait_until_gone(&pids, "stdin EOF did not kill the codex process group");
}

#[test]
fn a_killed_server_takes_its_synchronous_children_with_it() {
    let (mut server, pids, _pidfile) = stuck_status_call(6);
    server.kill();
    wait_until_gone(&pids, "codex outlived a SIGKILLed server (no parent-death signal)");
}

#[test]
fn a_cancelled_call_gets_no_response_and_its_codex_is_killed() {
    let (mut server, pids, _pidfile) = stuck_status_call(7);

    // While the call hangs, the loop still serves other requests, and refuses a reused id.
    assert_eq!(server.request(json!(8), "ping", json!({}))["result"], json!({}));
    let duplicate = server.request(json!(7), "tools/call", json!({"name": "codex_capabilities", "arguments": {}}));
    assert_eq!(duplicate["error"]["code"], json!(-32600));

    server.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7, "reason": "user"}}),
    );
    wait_until_gone(&pids, "cancel did not kill the codex process group");
    assert_eq!(server.request(json!(9), "ping", json!({}))["result"], json!({}));
    server.expect_silence(Duration::from_millis(300));
}

/// A server whose `codex_status` call `id` is stuck in a hanging fake codex, and the pids of the
/// three probe processes (the pid file must outlive the test's checks).
fn stuck_status_call(id: i64) -> (Server, Vec<i32>, tempfile::NamedTempFile) {
    let pidfile = tempfile::NamedTempFile::new().unwrap();
    let mut server = Server::start(&[
        ("PATH".into(), path_with(&fake_codex_dir())),
        ("FAKE_CODEX_HANG".into(), "1".into()),
        ("FAKE_CODEX_PIDFILE".into(), pidfile.path().display().to_string()),
    ]);
    server.initialize(json!({}));
    let params = json!({"name": "codex_status", "arguments": {}});
    server.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}));
    let deadline = Instant::now() + support::TIMEOUT;
    loop {
        let pids: Vec<i32> =
            std::fs::read_to_string(pidfile.path()).unwrap().lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.len() >= 3 {
            return (server, pids, pidfile);
        }
        assert!(Instant::now() < deadline, "fake codex never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_until_gone(pids: &[i32], failure: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pids.iter().all(|&pid| process_gone(pid)) {
        assert!(Instant::now() < deadline, "{failure}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn modern_meta(version: &str) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "0"}
    })
}

#[test]
fn the_2026_era_is_served_statelessly() {
    let mut server = Server::start(&[]);
    let discover = server.request(
        json!("server-discover-probe-1"),
        "server/discover",
        json!({"_meta": modern_meta("2026-07-28")}),
    );
    let result = &discover["result"];
    assert_eq!(result["supportedVersions"], json!(["2026-07-28"]));
    assert_eq!(result["resultType"], json!("complete"));
    assert!(result["ttlMs"].as_u64().is_some());
    assert_eq!(result["cacheScope"], json!("public"));
    assert_eq!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], json!("codex-in-claude"));

    let list = server.request(json!(2), "tools/list", json!({"_meta": modern_meta("2026-07-28")}));
    assert_eq!(list["result"]["resultType"], json!("complete"));
    assert!(list["result"]["ttlMs"].as_u64().is_some());
    assert_eq!(list["result"]["tools"].as_array().unwrap().len(), 16);

    let call = server.request(
        json!(3),
        "tools/call",
        json!({"name": "codex_capabilities", "arguments": {}, "_meta": modern_meta("2026-07-28")}),
    );
    assert_eq!(call["result"]["resultType"], json!("complete"));
    assert_eq!(envelope(&call["result"])["ok"], json!(true));

    let unsupported = server.request(json!(4), "tools/list", json!({"_meta": modern_meta("2099-01-01")}));
    assert_eq!(unsupported["error"]["code"], json!(-32022));
    assert_eq!(unsupported["error"]["data"]["supported"], json!(["2026-07-28"]));
    assert_eq!(unsupported["error"]["data"]["requested"], json!("2099-01-01"));

    let no_capabilities = server.request(
        json!(5),
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    assert_eq!(no_capabilities["error"]["code"], json!(-32602));
}

#[test]
fn tools_list_meets_the_surface_contract() {
    let mut server = legacy_server();
    let list = server.request(json!(1), "tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "codex_status",
            "codex_models",
            "codex_capabilities",
            "codex_consult",
            "codex_consult_async",
            "codex_review_changes",
            "codex_review_changes_async",
            "codex_delegate",
            "codex_delegate_async",
            "codex_dry_run",
            "codex_delegate_dry_run",
            "codex_job_status",
            "codex_job_result",
            "codex_job_consume_result",
            "codex_job_cancel",
            "codex_job_list"
        ]
    );
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        let description = tool["description"].as_str().unwrap();
        assert!(description.starts_with("PAID — ") || description.starts_with("Free — "), "{name}");
        assert!(tool["title"].as_str().is_some_and(|t| !t.is_empty()), "{name}");
        assert_eq!(tool["inputSchema"]["type"], json!("object"), "{name}");
        assert_eq!(tool["inputSchema"]["additionalProperties"], json!(false), "{name}");
        assert_eq!(tool["outputSchema"]["type"], json!("object"), "{name}");
        let annotations = tool["annotations"].as_object().unwrap_or_else(|| panic!("{name} has no annotations"));
        for (hint, value) in annotations {
            assert!(HINT_DEFAULTS.iter().any(|(known, _)| known == hint), "{name} {hint}");
            assert!(value.is_boolean(), "{name} {hint}");
        }
        if description.starts_with("PAID") {
            assert!(!hint(tool, "readOnlyHint"), "{name} spends, so it is not read-only");
        }
    }
    let delegate = tools.iter().find(|t| t["name"] == "codex_delegate").unwrap();
    assert!(hint(delegate, "destructiveHint"));
    let status = tools.iter().find(|t| t["name"] == "codex_status").unwrap();
    assert!(hint(status, "readOnlyHint") && !hint(status, "destructiveHint") && !hint(status, "openWorldHint"));
}

/// MCP's tool hints and the value a client assumes for one that is absent.
const HINT_DEFAULTS: [(&str, bool); 4] =
    [("readOnlyHint", false), ("destructiveHint", true), ("idempotentHint", false), ("openWorldHint", true)];

/// A listed tool's hint, MCP's default when it is not stated.
fn hint(tool: &Value, name: &str) -> bool {
    let default = HINT_DEFAULTS.iter().find(|(known, _)| *known == name).unwrap().1;
    tool["annotations"].get(name).map_or(default, |value| value.as_bool().unwrap())
}

/// The whole `tools/list` result, as compact JSON, fits the 20,000-byte context budget in both
/// protocol eras (the 2026 result carries its cache fields besides the tools).
#[test]
fn tools_list_fits_the_context_budget_in_both_eras() {
    let mut legacy = legacy_server();
    let list = legacy.request(json!(1), "tools/list", json!({}));
    let bytes = serde_json::to_vec(&list["result"]).unwrap().len();
    assert!(bytes <= 20_000, "legacy tools/list result is {bytes} bytes, over the 20,000-byte budget");

    let mut modern = Server::start(&[]);
    let list = modern.request(json!(2), "tools/list", json!({"_meta": modern_meta("2026-07-28")}));
    assert_eq!(list["result"]["tools"].as_array().map(Vec::len), Some(16));
    let bytes = serde_json::to_vec(&list["result"]).unwrap().len();
    assert!(bytes <= 20_000, "2026-07-28 tools/list result is {bytes} bytes, over the 20,000-byte budget");
}

#[test]
fn argument_errors_are_envelopes_that_name_fields_but_never_echo_values() {
    let mut server = legacy_server();
    let result = server.call(
        1,
        "codex_consult",
        json!({"question": "   ", "isolation": "SECRET-ISOLATION", "timeout_seconds": 5, "bogus_key": "SECRET-VALUE"}),
    );
    let env = envelope(&result);
    assert_eq!(env["ok"], json!(false));
    assert_eq!(env["error"]["code"], json!("invalid_arguments"));
    let message = env["error"]["message"].as_str().unwrap();
    for field in ["question", "isolation", "timeout_seconds", "bogus_key"] {
        assert!(message.contains(field), "{field} not named in {message}");
    }
    assert!(!result.to_string().contains("SECRET"), "a rejected value was echoed: {result}");
    assert_eq!(env["error"]["allowed_values"], json!(["inherit", "ignore-config", "ignore-rules"]));
    assert!(env.get("meta").is_none(), "nothing about the call is known but the error: {env}");

    let not_an_object = server.call(2, "codex_status", json!([1, 2]));
    assert_eq!(envelope(&not_an_object)["error"]["offending_param"], json!("arguments"));
}

/// Answers the server's next `roots/list` request with `uris`.
pub fn answer_roots(server: &mut Server, uris: &[String]) {
    let request = server.wait_for("a roots/list request", |m| m["method"] == json!("roots/list"));
    let roots: Vec<Value> = uris.iter().map(|u| json!({"uri": u, "name": "root"})).collect();
    server.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": {"roots": roots}}));
}

#[test]
fn workspace_root_must_be_absolute_existing_and_inside_the_roots() {
    let root = tempfile::tempdir().unwrap();
    let inside = root.path().join("inner");
    std::fs::create_dir(&inside).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut server = Server::start(&[]);
    server.initialize(json!({"roots": {"listChanged": true}}));
    answer_roots(&mut server, &[format!("file://{}", root.path().display())]);

    let code_of = |server: &mut Server, id: i64, workspace_root: &str| {
        let env = envelope(&server.call(
            id,
            "codex_delegate_dry_run",
            json!({"task": "t", "workspace_root": workspace_root}),
        ));
        (env["error"]["code"].as_str().unwrap().to_string(), env)
    };
    assert_eq!(code_of(&mut server, 1, "relative/dir").0, "invalid_workspace_root");
    assert_eq!(code_of(&mut server, 2, "/no/such/place").0, "invalid_workspace_root");
    let (code, env) = code_of(&mut server, 3, outside.path().to_str().unwrap());
    assert_eq!(code, "workspace_outside_roots");
    assert_eq!(env["error"]["offending_param"], json!("workspace_root"));
    let (code, env) = code_of(&mut server, 4, inside.to_str().unwrap());
    assert_eq!(code, "not_a_git_repo", "inside the roots the call gets as far as looking for the repository");
    assert_eq!(inside.canonicalize().unwrap(), inside, "the named workspace is already canonical");
    assert!(env.get("meta").is_none(), "the workspace is the one the call named: {env}");

    // Without workspace_root the first root is used.
    let env = envelope(&server.call(5, "codex_job_list", json!({})));
    assert_eq!(env["meta"]["workspace_source"], json!("roots"));
    assert_eq!(env["meta"]["cwd"], json!(root.path().canonicalize().unwrap().to_str().unwrap()));

    // After roots/list_changed the server asks again and uses the new answer.
    server.send(json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}));
    answer_roots(&mut server, &[format!("file://{}", outside.path().display())]);
    let (code, _) = code_of(&mut server, 6, outside.path().to_str().unwrap());
    assert_eq!(code, "not_a_git_repo");
    let (code, _) = code_of(&mut server, 7, inside.to_str().unwrap());
    assert_eq!(code, "workspace_outside_roots");
}

#[test]
fn without_roots_the_workspace_is_claude_project_dir_then_cwd() {
    let project = tempfile::tempdir().unwrap();
    let mut server = Server::start(&[("CLAUDE_PROJECT_DIR".into(), project.path().display().to_string())]);
    server.initialize(json!({}));
    let env = envelope(&server.call(1, "codex_job_list", json!({})));
    assert_eq!(env["meta"]["workspace_source"], json!("claude_project_dir"));
    assert_eq!(env["meta"]["workspace_warning"], Value::Null);

    let cwd = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(&[], Some(cwd.path()));
    server.initialize(json!({}));
    let env = envelope(&server.call(1, "codex_job_list", json!({})));
    assert_eq!(env["meta"]["workspace_source"], json!("cwd"));
    assert_eq!(env["meta"]["cwd"], json!(cwd.path().canonicalize().unwrap().to_str().unwrap()));
    assert!(env["meta"]["workspace_warning"].as_str().unwrap().contains("workspace_root"));
}

/// No envelope has a top-level member its tool's `outputSchema` does not name: every tool's
/// argument error, and the answers of the free tools that need neither codex nor a job. The
/// inventory has every member in every answer, so its schema names nothing more (besides what
/// its error envelope has).
#[test]
fn every_envelope_member_is_named_by_its_output_schema() {
    let project = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut server = Server::start(&[
        ("CLAUDE_PROJECT_DIR".into(), project.path().display().to_string()),
        ("CODEX_IN_CLAUDE_STATE_DIR".into(), state.path().display().to_string()),
    ]);
    server.initialize(json!({}));
    let list = server.request(json!("list"), "tools/list", json!({}));
    for (id, tool) in list["result"]["tools"].as_array().unwrap().iter().enumerate() {
        let name = tool["name"].as_str().unwrap();
        let named = tool["outputSchema"]["properties"].as_object().unwrap();
        let refused = envelope(&server.call(id, name, json!({"no_such_parameter": 1})));
        assert_eq!(refused["error"]["code"], json!("invalid_arguments"), "{name}");
        let mut envelopes = vec![refused];
        if ["codex_status", "codex_models", "codex_capabilities", "codex_job_list"].contains(&name) {
            let answer = envelope(&server.call(100 + id, name, json!({})));
            assert_eq!(answer["ok"], json!(true), "{name}: {answer}");
            if name == "codex_capabilities" {
                let mut members: Vec<&String> = answer.as_object().unwrap().keys().collect();
                // `error` and `meta` are what its ok:false envelope has besides `ok`.
                let mut described: Vec<&String> =
                    named.keys().filter(|k| !["error", "meta"].contains(&k.as_str())).collect();
                members.sort();
                described.sort();
                assert_eq!(members, described, "{name}: the schema names exactly the envelope's members");
            }
            envelopes.push(answer);
        }
        for envelope in envelopes {
            for member in envelope.as_object().unwrap().keys() {
                assert!(named.contains_key(member), "{name}: {member} is not named by its outputSchema");
            }
        }
    }
}

#[test]
fn an_oversized_or_undecodable_line_is_answered_with_its_own_id() {
    let mut server = legacy_server();
    // Over the 8 MiB cap, its id after the bulk (where the MCP SDKs put it) or before it.
    let question = "x".repeat(8 * 1024 * 1024);
    let params = format!(r#"{{"name":"codex_consult","arguments":{{"question":"{question}"}}}}"#);
    let last = format!("{{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{params},\"id\":41}}\n");
    let first = format!("{{\"jsonrpc\":\"2.0\",\"id\":\"big-42\",\"method\":\"tools/call\",\"params\":{params}}}\n");
    // Not UTF-8, and a lone surrogate (valid UTF-8, not valid JSON text).
    let mut not_utf8 =
        b"{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"params\":{\"q\":\"\xff\xfe\"},\"id\":43}\n".to_vec();
    not_utf8.shrink_to_fit();
    let surrogate = br#"{"jsonrpc":"2.0","id":"s-44","method":"ping","params":{"q":"\ud800"}}"#.to_vec();
    let cases: Vec<(Vec<u8>, i64, Value)> = vec![
        (last.into_bytes(), -32600, json!(41)),
        (first.into_bytes(), -32600, json!("big-42")),
        (not_utf8, -32700, json!(43)),
        ([surrogate, b"\n".to_vec()].concat(), -32700, json!("s-44")),
        // An id only inside params is not the request's: null, as before.
        (br#"{"jsonrpc":"2.0","method":"ping","params":{"id":45,"q":"\udc00"}}"#.to_vec(), -32700, Value::Null),
    ];
    for (line, code, id) in cases {
        let mut line = line;
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        server.send_raw(&line);
        let reply = server.next(support::TIMEOUT).expect("an error reply");
        assert_eq!(reply["error"]["code"], json!(code), "{reply}");
        assert_eq!(reply["id"], id, "{reply}");
    }
    assert_eq!(server.request(json!(46), "ping", json!({}))["result"], json!({}));
}

#[test]
fn a_call_that_gets_no_thread_is_answered_and_leaves_nothing_registered() {
    let (mut server, _wrapper) = server_that_can_start_no_more_threads();
    let call = json!({"name": "codex_capabilities", "arguments": {}});
    // The same id twice: a registration left behind by the first would make the second
    // "already in use" (-32600) instead of refused the same way.
    for _ in 0..2 {
        let refused = server.request(json!(51), "tools/call", call.clone());
        assert_eq!(refused["error"]["code"], json!(-32603), "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains("cannot start a thread"), "{refused}");
        assert_eq!(refused["error"]["data"], json!({"retryable": true, "retry_after_ms": 1000}));
        assert_eq!(server.request(json!(52), "ping", json!({}))["result"], json!({}));
    }
    assert!(server.close().success());
}

#[test]
fn calls_beyond_the_concurrency_limit_get_one_busy_error_each_and_ping_and_cancel_keep_working() {
    let pidfile = tempfile::NamedTempFile::new().unwrap();
    let mut server = Server::start(&[
        ("PATH".into(), path_with(&fake_codex_dir())),
        ("FAKE_CODEX_HANG".into(), "1".into()),
        ("FAKE_CODEX_PIDFILE".into(), pidfile.path().display().to_string()),
        ("CODEX_IN_CLAUDE_MAX_CONCURRENT_CALLS".into(), "2".into()),
    ]);
    server.initialize(json!({}));
    let status = json!({"name": "codex_status", "arguments": {}});
    for id in [61, 62, 63] {
        server.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": status}));
    }
    // Requests are taken in order, so the third is the one over the limit of two.
    let busy = server.response(json!(63));
    assert_eq!(busy["error"]["code"], json!(-32603), "{busy}");
    assert!(busy["error"]["message"].as_str().unwrap().starts_with("server busy: 2 tool calls"), "{busy}");
    assert_eq!(busy["error"]["data"], json!({"retryable": true, "retry_after_ms": 5000}));
    let mut answered = vec![json!(63)];

    // Two calls hang in codex; the loop still answers ping and takes a cancel.
    assert_eq!(server.request(json!(64), "ping", json!({}))["result"], json!({}));
    answered.push(json!(64));
    server.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 61}}));
    // The cancelled call's slot is free once its thread has ended: a new call is then served.
    let deadline = Instant::now() + support::TIMEOUT;
    let capabilities = json!({"name": "codex_capabilities", "arguments": {}});
    for id in 65.. {
        let reply = server.request(json!(id), "tools/call", capabilities.clone());
        answered.push(json!(id));
        if reply.get("result").is_some() {
            assert_eq!(envelope(&reply["result"])["ok"], json!(true), "{reply}");
            break;
        }
        assert!(reply["error"]["message"].as_str().unwrap().starts_with("server busy"), "{reply}");
        assert!(Instant::now() < deadline, "the cancelled call never freed its slot");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Closing stdin makes the call still hanging answer; the cancelled one never does.
    assert!(server.close().success());
    let mut rest = Vec::new();
    while let Some(message) = server.next(Duration::from_secs(2)) {
        rest.push(message["id"].clone());
    }
    assert_eq!(rest, vec![json!(62)], "exactly one response per request; none for the cancelled 61");
    assert!(!answered.contains(&json!(61)) && !answered.contains(&json!(62)));
}

/// An initialised server whose every further thread fails to start: its RLIMIT_NPROC soft limit
/// is lowered to 0 once it runs (its reader and writer threads are started by then), and the
/// directory of the wrapper script that started it. Root ignores that limit, so as root the
/// server runs as a uid of its own, and the limit is lowered by `prlimit` run as that uid (a
/// process may lower the soft limit of another of the same user; root here may lack
/// CAP_SYS_RESOURCE).
fn server_that_can_start_no_more_threads() -> (Server, tempfile::TempDir) {
    use std::os::unix::fs::PermissionsExt;
    let wrapper = tempfile::tempdir().unwrap();
    let script = wrapper.path().join("server");
    // SAFETY: getuid has no preconditions.
    let uid = (unsafe { libc::getuid() } == 0).then(unused_uid);
    let binary = support::binary().display().to_string();
    let as_user = |uid: u32| format!("setpriv --reuid={uid} --regid={uid} --clear-groups --");
    let command = uid.map_or_else(|| format!("exec {binary}"), |uid| format!("exec {} {binary}", as_user(uid)));
    std::fs::write(&script, format!("#!/bin/sh\n{command}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(wrapper.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut server = Server::start_program(&script, &[]);
    server.initialize(json!({}));
    let pid = server.pid();
    let lowered = match uid {
        Some(uid) => {
            let command = format!("{} prlimit --pid {pid} --nproc=0:", as_user(uid));
            std::process::Command::new("sh").args(["-c", &command]).status().unwrap().success()
        }
        None => {
            let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: both pointers are to live rlimit values.
            unsafe {
                libc::prlimit(pid, libc::RLIMIT_NPROC, std::ptr::null(), &mut limit) == 0 && {
                    limit.rlim_cur = 0;
                    libc::prlimit(pid, libc::RLIMIT_NPROC, &limit, std::ptr::null_mut()) == 0
                }
            }
        }
    };
    assert!(lowered, "cannot lower the server's RLIMIT_NPROC");
    (server, wrapper)
}

/// A uid that owns no process. The kernel counts a uid's processes across PID namespaces, so a
/// uid free in this /proc may be busy in a neighbouring container (test users are often created
/// in the tens of thousands): the pick is from a billion uids no account uses, by this process's
/// pid and the clock, and also free here.
fn unused_uid() -> u32 {
    let owners: std::collections::BTreeSet<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("status")).ok())
        .filter_map(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .collect();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let start = 3_000_000_000 + (std::process::id().wrapping_mul(7919) ^ nanos) % 1_000_000_000;
    (start..).find(|uid| !owners.contains(uid)).expect("a free uid")
}
