//! The job store on a real full disk (a 1 MiB tmpfs filled to the last page), then on a
//! read-only one: every step of a job's life either works or answers `state_write_failed`, the
//! server never crashes, no file is left half-written, a finished result the disk refused at
//! first is stored once there is room again, and nothing is consumed that cannot be deleted.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_home::CodexHome;
use crate::jobs::{Setup, call, children_of, start, wait_finished};
use crate::mock_model::{MockModel, Step, consult_answer};
use crate::support::{live_pids_with_env, process_gone};

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    mount_point: tempfile::TempDir,
}

impl SmallDisk {
    /// `Err` with the reason when this process may not mount one.
    fn mount() -> Result<SmallDisk, String> {
        let mount_point = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "codex-in-claude-test"])
            .arg(mount_point.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Ok(SmallDisk { mount_point }),
            Ok(output) => Err(String::from_utf8_lossy(&output.stderr).trim().to_string()),
            Err(err) => Err(format!("cannot run mount: {err}")),
        }
    }

    fn path(&self) -> &Path {
        self.mount_point.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Writes until the disk says it is full; every new page after this fails with ENOSPC.
    fn fill(&self) {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(self.filler()).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if let Err(err) = file.write_all(&chunk) {
                assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "filling the disk: {err}");
                return;
            }
        }
    }

    /// Fills the disk but for `bytes`: room for a small record, not for a large one.
    fn fill_leaving(&self, bytes: usize) {
        let reserve = self.path().join("reserve");
        std::fs::write(&reserve, vec![0u8; bytes]).unwrap();
        self.fill();
        std::fs::remove_file(reserve).unwrap();
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }

    /// Makes the mount read-only (`true`) or read-write (`false`). Only the mount point's flag is
    /// changed (`bind`): that is also allowed inside a user namespace.
    fn read_only(&self, read_only: bool) {
        let option = if read_only { "remount,bind,ro" } else { "remount,bind,rw" };
        let status = Command::new("mount").args(["-o", option]).arg(self.path()).status().unwrap();
        assert!(status.success(), "mount -o {option} failed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// The job directories (and anything else) under every workspace directory of `state`.
fn job_entries(state: &Path) -> Vec<String> {
    let Ok(workspaces) = std::fs::read_dir(state) else { return Vec::new() };
    workspaces
        .flatten()
        .filter(|ws| ws.file_type().is_ok_and(|t| t.is_dir()))
        .flat_map(|ws| std::fs::read_dir(ws.path()).into_iter().flatten().flatten())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

fn job_dir(state: &Path, job_id: &str) -> PathBuf {
    crate::jobs::job_dir_in(state, job_id)
}

fn worker_pid(dir: &Path) -> i32 {
    let pid: Value = serde_json::from_slice(&std::fs::read(dir.join("worker.pid")).unwrap()).unwrap();
    i32::try_from(pid["pid"].as_i64().unwrap()).unwrap()
}

fn wait(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Set in the copy of this test that runs inside a user namespace.
const IN_NAMESPACE: &str = "CODEX_IN_CLAUDE_TEST_IN_USER_NAMESPACE";

/// Without the right to mount (not root), the test runs again in a user and mount namespace of
/// its own, where it may; it fails, loudly, when even that is refused: it never passes without
/// a real full disk.
fn rerun_in_a_user_namespace(test: &str, refused: &str) {
    assert!(
        std::env::var_os(IN_NAMESPACE).is_none(),
        "this test needs a real full disk and could not make one, even in a user namespace: {refused}"
    );
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NAMESPACE, "1")
        .output()
        .unwrap_or_else(|err| panic!("cannot mount a tmpfs ({refused}) nor run unshare: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "cannot mount a tmpfs here ({refused}); in a user namespace the test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_whole_job_lifecycle_survives_a_full_disk() {
    let disk = match SmallDisk::mount() {
        Ok(disk) => disk,
        Err(refused) => {
            return rerun_in_a_user_namespace("full_disk::the_whole_job_lifecycle_survives_a_full_disk", &refused);
        }
    };
    let mock = MockModel::start(vec![
        Step::Hang,
        Step::message(consult_answer("kept through a full disk")).delayed(Duration::from_secs(3)),
        Step::Hang,
        Step::message(consult_answer("kept through a read-only disk")),
    ]);
    let home = CodexHome::new(&mock);
    let mut setup = Setup::real(&home, &[]);
    let state = disk.path().join("state");
    setup.env.push(("CODEX_IN_CLAUDE_STATE_DIR".into(), state.display().to_string()));
    let workspace = tempfile::tempdir().unwrap();
    let ws = workspace.path();
    let mut server = setup.server();
    let ask = |id: &str| json!({"job_id": id, "workspace_root": ws});

    // A start on a full disk is refused whole: nothing runs, nothing is left.
    disk.fill();
    let refused = call(&mut server, "codex_consult_async", json!({"question": "q", "workspace_root": ws}));
    assert_eq!(refused["error"]["code"], json!("state_write_failed"), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("No space left"), "{refused}");
    assert_eq!(job_entries(&state), Vec::<String>::new());
    disk.free();

    // A worker that dies while the disk is full: reading the job (which would record `failed`)
    // answers state_write_failed, again and again, and the server lives on.
    let died = start(&mut server, "codex_consult_async", ws, json!({"question": "first"}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(30)), "the first worker never reached the model");
    let died_dir = job_dir(&state, &died);
    let spec_before = std::fs::read(died_dir.join("spec.json")).unwrap();
    disk.fill();
    let worker = worker_pid(&died_dir);
    Command::new("kill").args(["-KILL", &worker.to_string()]).status().unwrap();
    wait("the killed worker", Duration::from_secs(5), || process_gone(worker));
    // Its codex goes with it (parent-death signal); until then the job still reads as running.
    wait("the job to read as ended", Duration::from_secs(10), || {
        call(&mut server, "codex_job_status", ask(&died))["status"] != json!("running")
    });
    for _ in 0..3 {
        let status = call(&mut server, "codex_job_status", ask(&died));
        assert_eq!(status["error"]["code"], json!("state_write_failed"), "{status}");
        let message = status["error"]["message"].as_str().unwrap();
        assert!(message.contains("ended as failed") && message.contains("No space left"), "{status}");
    }
    let listed = call(&mut server, "codex_job_list", json!({"workspace_root": ws}));
    assert_eq!(listed["jobs"][0]["status"], json!("failed"), "{listed}");
    assert!(listed["jobs"][0]["state_write_error"].as_str().unwrap().contains("No space left"), "{listed}");
    let result = call(&mut server, "codex_job_result", ask(&died));
    assert_eq!(result["error"]["code"], json!("state_write_failed"), "{result}");
    assert!(!died_dir.join("terminal.json").exists());
    assert_eq!(std::fs::read(died_dir.join("spec.json")).unwrap(), spec_before, "the spec was touched");
    disk.free();
    let recorded = call(&mut server, "codex_job_status", ask(&died));
    assert_eq!(recorded["status"], json!("failed"), "{recorded}");
    assert!(died_dir.join("terminal.json").exists());

    // A result that finishes while the disk is full is not lost: the worker keeps it until
    // there is room (the job reads as running meanwhile), then stores it.
    let finished = start(&mut server, "codex_consult_async", ws, json!({"question": "second"}));
    assert!(mock.wait_for_requests(2, Duration::from_secs(30)), "the second worker never reached the model");
    disk.fill();
    let finished_dir = job_dir(&state, &finished);
    let worker = worker_pid(&finished_dir);
    assert!(!children_of(worker).is_empty(), "codex should be running under the worker");
    wait("codex to finish", Duration::from_secs(30), || children_of(worker).is_empty());
    std::thread::sleep(Duration::from_millis(1500));
    let waiting = call(&mut server, "codex_job_status", ask(&finished));
    assert_eq!(waiting["status"], json!("running"), "the worker gave up on its result: {waiting}");
    assert!(!finished_dir.join("result.json").exists());
    disk.free();
    let done = wait_finished(&mut server, ws, &finished, Duration::from_secs(10));
    assert_eq!((&done["status"], &done["result_available"]), (&json!("done"), &json!(true)), "{done}");

    // Consuming needs no room: the result is handed out once and the job is gone.
    disk.fill();
    let consumed = call(&mut server, "codex_job_consume_result", ask(&finished));
    assert_eq!(consumed["summary"], json!("kept through a full disk"), "{consumed}");
    assert!(!finished_dir.exists());
    let again = call(&mut server, "codex_job_consume_result", ask(&finished));
    assert_eq!(again["error"]["code"], json!("job_not_found"), "{again}");
    disk.free();

    // Cancelling on a full disk still stops everything; the caller hears the end was not recorded.
    let cancelled = start(&mut server, "codex_consult_async", ws, json!({"question": "third"}));
    assert!(mock.wait_for_requests(3, Duration::from_secs(30)), "the third worker never reached the model");
    disk.fill();
    let refused = call(&mut server, "codex_job_cancel", ask(&cancelled));
    assert_eq!(refused["error"]["code"], json!("state_write_failed"), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("cancelled"), "{refused}");
    assert!(live_pids_with_env("CODEX_HOME", home.path(), server.pid()).is_empty(), "the cancel left processes");
    disk.free();
    let after = call(&mut server, "codex_job_status", ask(&cancelled));
    assert_ne!(after["status"], json!("running"), "{after}");

    // A read-only disk: the result can be read but not consumed (that would delete it), and
    // nothing is handed out until it can be; then exactly once.
    let kept = start(&mut server, "codex_consult_async", ws, json!({"question": "fourth"}));
    let done = wait_finished(&mut server, ws, &kept, Duration::from_secs(30));
    assert_eq!(done["status"], json!("done"), "{done}");
    disk.read_only(true);
    let refused = call(&mut server, "codex_job_consume_result", ask(&kept));
    assert_eq!(refused["error"]["code"], json!("state_write_failed"), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("Read-only"), "{refused}");
    let read = call(&mut server, "codex_job_result", ask(&kept));
    assert_eq!(read["summary"], json!("kept through a read-only disk"), "{read}");
    disk.read_only(false);
    let consumed = call(&mut server, "codex_job_consume_result", ask(&kept));
    assert_eq!(consumed["summary"], json!("kept through a read-only disk"), "{consumed}");
    assert!(!job_dir(&state, &kept).exists());

    let leftovers: Vec<String> = job_entries(&state).into_iter().filter(|name| name.starts_with('.')).collect();
    assert!(leftovers.is_empty(), "half-made or half-deleted records: {leftovers:?}");
    for job in [&died, &cancelled] {
        let files: Vec<String> = std::fs::read_dir(job_dir(&state, job))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(files.iter().all(|f| !f.starts_with(".tmp")), "a failed write left a temp file: {files:?}");
        assert!(files.contains(&"spec.json".to_string()), "{files:?}");
    }
}

/// A delegation that finishes while the state disk has room for a small record but not for its
/// large diff, and keeps that little room past every retry window: the result is stored without
/// its diff (said in `diff_omitted` and `meta.truncation_hint`), not lost whole.
#[test]
fn a_delegation_on_a_disk_full_past_every_retry_is_kept_without_its_diff() {
    let test = "full_disk::a_delegation_on_a_disk_full_past_every_retry_is_kept_without_its_diff";
    let disk = match SmallDisk::mount() {
        Ok(disk) => disk,
        Err(refused) => return rerun_in_a_user_namespace(test, &refused),
    };
    let lines: String = (0..6_000).map(|i| format!("+line {i} of a file too large for the state disk\n")).collect();
    let patch = format!("*** Begin Patch\n*** Add File: big.txt\n{lines}*** End Patch");
    let mock = MockModel::start(vec![
        Step::apply_patch(patch).delayed(Duration::from_secs(3)),
        Step::message("Added big.txt."),
    ]);
    let home = CodexHome::new(&mock);
    // The disk stays full past both retry windows, shortened here from a minute each.
    let mut setup = Setup::real(&home, &[("CODEX_IN_CLAUDE_JOB_WRITE_RETRY_SECONDS", "3")]);
    let state = disk.path().join("state");
    setup.env.push(("CODEX_IN_CLAUDE_STATE_DIR".into(), state.display().to_string()));
    let repo = crate::repo::TestRepo::new();
    let mut server = setup.server();
    let job = start(&mut server, "codex_delegate_async", repo.path(), json!({"task": "add a big file"}));
    assert!(mock.wait_for_requests(1, Duration::from_secs(30)), "the worker never reached the model");
    disk.fill_leaving(96 * 1024);
    let status = wait_finished(&mut server, repo.path(), &job, Duration::from_secs(200));
    assert_eq!((&status["status"], &status["result_available"]), (&json!("done"), &json!(true)), "{status}");
    let result =
        call(&mut server, "codex_job_result", json!({"job_id": job, "workspace_root": repo.path(), "detail": "full"}));
    disk.free();
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(result["summary"].as_str().unwrap().contains("Added big.txt"), "{result}");
    assert!(result.get("diff").is_none(), "{result}");
    let omitted = result["diff_omitted"].as_str().unwrap();
    assert!(omitted.contains("without its") && omitted.contains("lost"), "{omitted}");
    assert_eq!(result["meta"]["truncated"], json!(true), "{result}");
    assert!(result["meta"]["truncation_hint"].as_str().unwrap().contains("without its"), "{result}");
}
