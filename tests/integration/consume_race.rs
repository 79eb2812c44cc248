//! Consuming a finished job is exactly once among any number of concurrent consumers in separate
//! processes: one gets the result, every other `job_not_found`, and nothing of the job is left on
//! disk. Many rounds, many consumers, every time.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::jobs::{Setup, start, wait_finished};
use crate::support::binary;

const ROUNDS: usize = 20;
const CONSUMERS: usize = 8;

#[test]
fn concurrent_consumers_in_many_processes_get_a_result_exactly_once() {
    let setup = Setup::fake(&[]);
    let workspace = tempfile::tempdir().unwrap();
    let mut server = setup.server();
    let job_ids: Vec<String> = (0..ROUNDS)
        .map(|i| start(&mut server, "codex_consult_async", workspace.path(), json!({"question": format!("q{i}")})))
        .collect();
    for job_id in &job_ids {
        let status = wait_finished(&mut server, workspace.path(), job_id, Duration::from_secs(60));
        assert_eq!(status["status"], json!("done"), "{status}");
    }
    let workspace_dir = crate::jobs::workspace_dir_in(setup.state.path());

    for (round, job_id) in job_ids.iter().enumerate() {
        // All consumers are started before any is waited for, so their reads overlap.
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                Command::new(binary())
                    .args(["jobs", "consume", job_id])
                    .current_dir(workspace.path())
                    .env_clear()
                    .envs(setup.env.iter().map(|(k, v)| (k, v)))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outcomes: Vec<Value> = consumers
            .into_iter()
            .map(|consumer| {
                let output = consumer.wait_with_output().unwrap();
                let envelope: Value = serde_json::from_slice(&output.stdout).unwrap();
                assert_eq!(output.status.success(), envelope["ok"] == json!(true), "{envelope}");
                envelope
            })
            .collect();
        let winners: Vec<&Value> = outcomes.iter().filter(|o| o["ok"] == json!(true)).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:#?}");
        assert_eq!(winners[0]["summary"], json!("fake answer"));
        assert!(winners[0]["meta"].get("job_id").is_none(), "the consumer named the job: {}", winners[0]);
        for loser in outcomes.iter().filter(|o| o["ok"] != json!(true)) {
            assert_eq!(loser["error"]["code"], json!("job_not_found"), "round {round}: {loser}");
        }
        let left: Vec<String> = std::fs::read_dir(&workspace_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name == job_id || name.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "round {round}: left on disk: {left:?}");
    }
    let listed = crate::jobs::call(&mut server, "codex_job_list", json!({"workspace_root": workspace.path()}));
    assert!(listed.get("jobs").is_none(), "{listed}");
}
