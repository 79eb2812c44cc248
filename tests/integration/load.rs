//! Load: 50 concurrent tool calls on one connection, each a real codex run against the mock;
//! and the soak (`make soak`, ignored by default): 1,000 consults in a row with the server's
//! memory and open file descriptors flat.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::support::{Server, envelope, live_pids_with_env, status_kib};

fn send_consult(server: &mut Server, id: u64, workspace: &std::path::Path) {
    let params = json!({"name": "codex_consult", "arguments": {"question": format!("question {id}"), "workspace_root": workspace}});
    server.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}));
}

#[test]
fn fifty_concurrent_calls_on_one_connection_each_answered_once() {
    let steps = (0..50).map(|i| Step::message(consult_answer(&format!("answer {i}")))).collect();
    let mock = MockModel::start(steps);
    let home = CodexHome::new(&mock);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = Server::start(&home.env());
    server.initialize(json!({}));
    for id in 0..50 {
        send_consult(&mut server, id, workspace.path());
    }
    // While 50 codex runs are in flight, the connection still answers at once.
    assert_eq!(server.request(json!("ping"), "ping", json!({}))["result"], json!({}));
    let mut summaries = BTreeSet::new();
    for id in 0..50 {
        let result = envelope(&server.response(json!(id))["result"]);
        assert_eq!(result["ok"], json!(true), "{result}");
        summaries.insert(result["summary"].as_str().unwrap().to_string());
    }
    assert_eq!(summaries.len(), 50, "every call got its own answer");
    server.expect_silence(Duration::from_millis(300));
    assert_eq!(mock.requests().len(), 50);
    assert!(live_pids_with_env("CODEX_HOME", home.path(), server.pid()).is_empty(), "codex processes left");
}

/// `VmRSS` (KiB) and the number of open file descriptors of `pid`.
fn footprint(pid: i32) -> (u64, usize) {
    let rss = status_kib(pid, "VmRSS");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    (rss, fds)
}

#[test]
#[ignore = "soak: run with `make soak`"]
fn soak_a_thousand_consults_with_flat_memory_and_descriptors() {
    let total: u64 = std::env::var("SOAK_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let steps = (0..total).map(|i| Step::message(consult_answer(&format!("answer {i}")))).collect();
    let mock = MockModel::start(steps);
    let home = CodexHome::new(&mock);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = Server::start(&home.env());
    server.initialize(json!({}));
    let mut samples: Vec<(u64, u64, usize)> = Vec::new();
    let warm_up = total / 10;
    for id in 0..total {
        send_consult(&mut server, id, workspace.path());
        let result: Value = envelope(&server.response(json!(id))["result"]);
        assert_eq!(result["ok"], json!(true), "call {id}: {result}");
        if id + 1 == warm_up || (id + 1) % (total / 10).max(1) == 0 {
            let (rss, fds) = footprint(server.pid());
            samples.push((id + 1, rss, fds));
        }
    }
    for (calls, rss, fds) in &samples {
        eprintln!("soak: after {calls:>5} calls: VmRSS {rss} KiB, {fds} open fds");
    }
    eprintln!("soak: VmHWM {} KiB", server.peak_rss_kib());
    let (_, rss_warm, fds_warm) = samples[0];
    let (_, rss_end, fds_end) = *samples.last().unwrap();
    assert_eq!(fds_end, fds_warm, "file descriptors grew: {samples:?}");
    // Flat, with room for allocator noise: a leak of even 1 KiB per call would exceed it.
    assert!(rss_end <= rss_warm + 512, "memory grew from {rss_warm} to {rss_end} KiB: {samples:?}");
    assert!(live_pids_with_env("CODEX_HOME", home.path(), server.pid()).is_empty());
}
