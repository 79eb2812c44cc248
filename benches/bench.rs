//! `make bench`: this server side by side with the original Python server (`codex-in-claude`
//! 0.2.0 from PyPI) and a bare `codex exec`, measured in one run on one machine against the same
//! inputs. Prints a Markdown table and writes `target/bench/results.json`.
//!
//! What is measured, and how:
//! - cold start: spawn → `initialize` → `notifications/initialized` → `tools/list` answered;
//! - memory: peak RSS (`VmHWM` in `/proc/<pid>/status`) after `tools/list` and after 100
//!   `codex_capabilities` calls (a free tool both servers have);
//! - surface: bytes of the `tools` array of `tools/list`, re-serialised as compact JSON;
//! - context: bytes of the `codex_consult`, `codex_review_changes`, `codex_dry_run` and
//!   `codex_status` envelopes for the same mock answers and repository, as compact JSON;
//! - per-call overhead: `codex_consult` through each server minus a bare `codex exec` with the
//!   same flags and the same prompt, all three running the real pinned codex against the loopback
//!   mock model of the integration tests, rounds interleaved so drift hits all three alike;
//! - free path: `codex_dry_run` calls per second on a 5,000-line diff, and `redact::text` /
//!   `redact::diff` throughput on a generated 50 MB corpus;
//! - scaling: `codex_job_list` (a 20-job page) / `codex_job_status` / a `codex_consult_async`
//!   start with 10, 100 and 1,000 retained jobs, and
//!   `codex_dry_run` on repositories of 100, 10,000 and 100,000 tracked files.
//!
//! Every figure is measured here; nothing is expected or hard-coded except the targets the
//! issue sets. The only network traffic is codex talking to the mock on 127.0.0.1.
//! Prerequisites (`make bench` installs them): the release binary, `.tools/original-venv` from
//! `scripts/install-original.sh`, and the pinned codex from `scripts/install-codex.sh`.

// The lint steers product code to `process::Cmd`; a benchmark spawns servers, codex and git
// directly on purpose, as the integration tests do.
#![allow(clippy::disallowed_methods)]

// The integration tests' harness, shared rather than copied so the benchmark drives the servers,
// runs codex and builds repositories exactly as the tests prove it works: the stdio client, the
// mock of the Responses API, the CODEX_HOME recipe, the git repositories. Only part of each is
// used here, hence the dead-code allowance.
#[allow(dead_code)]
#[path = "../tests/integration/codex_home.rs"]
mod codex_home;
#[allow(dead_code)]
#[path = "../tests/integration/mock_model.rs"]
mod mock_model;
#[allow(dead_code)]
#[path = "../tests/integration/repo.rs"]
mod repo;
#[allow(dead_code)]
#[path = "../tests/integration/support.rs"]
mod support;
// The envelopes the context-budget test measures (and the review fixtures they use), so the
// bytes table is the test's own measurement.
#[allow(dead_code, unused_imports)]
#[path = "../tests/integration/context_budget.rs"]
mod context_budget;
#[allow(dead_code, unused_imports)]
#[path = "../tests/integration/review.rs"]
mod review;

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use codex_home::CodexHome;
use mock_model::{MockModel, Step, consult_answer};
use repo::TestRepo;
use support::{Server, fake_codex_dir, path_with};

/// How long any single response may take before the benchmark gives up loudly.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
const COLD_START_RUNS: usize = 15;
const MEMORY_RUNS: usize = 3;
const MEMORY_CALLS: usize = 100;
const CONSULT_RUNS: usize = 25;
const FAKE_CONSULT_RUNS: usize = 40;
const DRY_RUN_CALLS_OURS: usize = 60;
const DRY_RUN_CALLS_ORIGINAL: usize = 20;
const DIFF_LINES: usize = 5_000;
const REDACT_CORPUS_BYTES: usize = 50 * 1_000_000;
const REDACT_RUNS: usize = 5;
const JOB_COUNTS: [usize; 3] = [10, 100, 1_000];
/// Jobs started for real through `codex_consult_async`; the larger sets are copies of them.
const REAL_JOBS: usize = 10;
const JOB_LIST_RUNS: usize = 20;
const JOB_STATUS_RUNS: usize = 100;
const JOB_START_RUNS: usize = 10;
const REPO_SIZES: [usize; 3] = [100, 10_000, 100_000];
const REPO_DRY_RUN_RUNS: usize = 10;
/// "Flat" for job status: the median at 1,000 jobs within this factor of the median at 10.
const FLAT_FACTOR: f64 = 1.5;
/// The consult question; the same for both servers, and framed by our prompt for bare codex.
const QUESTION: &str = "Is it safe to call unwrap() on the result of parsing this configuration value, \
    given that the value comes from an environment variable the user controls?";

fn main() {
    // `cargo bench` passes `--bench`; there are no filters to honour.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = support::binary();
    let original = root.join(".tools/original-venv/bin/codex-in-claude-mcp");
    assert!(original.is_file(), "{} is missing: run scripts/install-original.sh", original.display());
    let codex_dir = codex_home::codex_bin_dir();
    let started = Instant::now();

    let mut report = Report::default();
    // Every codex run of the benchmark gets a valid consult answer; only the consult rows run
    // codex (three runs per round, plus the warm-up round).
    let mock = MockModel::start(vec![
        Step::message(consult_answer("Return an error instead of unwrap()."));
        3 * (CONSULT_RUNS + 1)
    ]);
    let home = CodexHome::new(&mock);
    let env = ServerEnv::new(&home);
    let servers = [ours.as_path(), original.as_path()];

    eprintln!("bench: cold start ({COLD_START_RUNS} runs each)");
    let cold: Vec<Stats> = servers.iter().map(|program| cold_start(program, &env)).collect();
    report.compare(
        "cold start to tools/list",
        "ms",
        &cold[0],
        &cold[1],
        Better::Lower,
        Some(Target::RatioAtLeast(100.0)),
    );

    eprintln!("bench: tools/list surface");
    let surface: Vec<Stats> = servers.iter().map(|program| surface_bytes(program, &env)).collect();
    report.compare(
        "tools/list size (tools array, compact JSON)",
        "bytes",
        &surface[0],
        &surface[1],
        Better::Lower,
        Some(Target::RatioOver(4.0, "< ¼ of the original")),
    );

    eprintln!("bench: envelope bytes");
    envelope_bytes(&mut report, &ours);

    eprintln!("bench: peak RSS ({MEMORY_RUNS} runs each)");
    let memory: Vec<(Stats, Stats)> = servers.iter().map(|program| peak_rss(program, &env)).collect();
    let rss_target = Some(Target::OursBelow(8.0 * 1024.0, "< 8 MiB"));
    report.compare("peak RSS after tools/list", "KiB", &memory[0].0, &memory[1].0, Better::Lower, rss_target.clone());
    report.compare(
        &format!("peak RSS after {MEMORY_CALLS} codex_capabilities calls"),
        "KiB",
        &memory[0].1,
        &memory[1].1,
        Better::Lower,
        rss_target,
    );

    eprintln!("bench: codex_consult vs bare codex exec ({CONSULT_RUNS} interleaved rounds)");
    let real = CodexUnderTest {
        label: "real codex",
        program: codex_dir.join("codex"),
        vars: &env.vars,
        rounds: CONSULT_RUNS,
        note: format!(
            "real codex {} against the loopback mock, all three with the same environment; bare codex ran \
             `codex exec --json --sandbox read-only --cd W --output-last-message F --ephemeral \
             --skip-git-repo-check --output-schema S -`, the prompt on stdin",
            codex_home::CODEX_VERSION
        ),
    };
    consult_overhead(&mut report, &ours, &original, &real);
    // The same with the test suite's fake codex (a shell script that answers at once): codex's
    // own run-to-run noise (tens of ms) no longer hides a server cost of a few ms.
    let fake_dir = fake_codex_dir();
    let fake_vars: Vec<(String, String)> = env
        .vars
        .iter()
        .filter(|(k, _)| k != "PATH")
        .cloned()
        .chain([
            ("PATH".to_string(), path_with(&fake_dir)),
            ("FAKE_CODEX_EXEC".to_string(), "answer".to_string()),
            ("FAKE_CODEX_LOGIN".to_string(), "ok".to_string()),
            // The server hands codex only its allowlist and the names passed through.
            ("CODEX_IN_CLAUDE_ENV_PASSTHROUGH".to_string(), "FAKE_CODEX_*".to_string()),
        ])
        .collect();
    let fake = CodexUnderTest {
        label: "instant fake codex",
        program: fake_dir.join("codex"),
        vars: &fake_vars,
        rounds: FAKE_CONSULT_RUNS,
        note: "fixtures/fake-codex/codex in answer mode (a shell script, no model), same flags; isolates each \
               server's own cost"
            .into(),
    };
    consult_overhead(&mut report, &ours, &original, &fake);
    assert_eq!(mock.unscripted_requests().len(), 0, "a codex run got no scripted answer");

    eprintln!("bench: codex_dry_run on a {DIFF_LINES}-line diff");
    let diff_repo = diff_repo();
    let dry_ours = dry_run_rate(&ours, &env, diff_repo.path(), DRY_RUN_CALLS_OURS);
    let dry_original = dry_run_rate(&original, &env, diff_repo.path(), DRY_RUN_CALLS_ORIGINAL);
    report.compare(
        &format!("codex_dry_run rate, {DIFF_LINES}-line diff"),
        "calls/s",
        &dry_ours,
        &dry_original,
        Better::Higher,
        None,
    );

    eprintln!("bench: redaction throughput on a {} MB corpus", REDACT_CORPUS_BYTES / 1_000_000);
    redaction(&mut report);

    eprintln!("bench: job tools with {JOB_COUNTS:?} retained jobs");
    job_scaling(&mut report, &ours);

    eprintln!("bench: codex_dry_run on repositories of {REPO_SIZES:?} tracked files");
    repo_scaling(&mut report, &ours, &env);

    drop(mock);
    let wall = started.elapsed();
    report.finish(wall, &root.join("target/bench/results.json"));
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report

#[derive(Debug, Clone)]
struct Stats {
    samples: Vec<f64>,
}

impl Stats {
    fn new(mut samples: Vec<f64>) -> Stats {
        assert!(!samples.is_empty(), "a row needs at least one sample");
        samples.sort_by(f64::total_cmp);
        Stats { samples }
    }

    fn runs(&self) -> usize {
        self.samples.len()
    }

    fn min(&self) -> f64 {
        self.samples[0]
    }

    fn max(&self) -> f64 {
        self.samples[self.samples.len() - 1]
    }

    /// The middle sample; the mean of the two middle ones for an even count.
    fn median(&self) -> f64 {
        let n = self.samples.len();
        if n % 2 == 1 { self.samples[n / 2] } else { (self.samples[n / 2 - 1] + self.samples[n / 2]) / 2.0 }
    }

    fn json(&self) -> Value {
        json!({"runs": self.runs(), "min": self.min(), "median": self.median(), "max": self.max()})
    }

    fn cell(&self) -> String {
        if self.runs() == 1 || self.min() == self.max() {
            format!("{} ({}×)", fmt_num(self.median()), self.runs())
        } else {
            format!(
                "{} / **{}** / {} ({}×)",
                fmt_num(self.min()),
                fmt_num(self.median()),
                fmt_num(self.max()),
                self.runs()
            )
        }
    }
}

fn fmt_num(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[derive(Debug, Clone, Copy)]
enum Better {
    Lower,
    Higher,
}

#[derive(Debug, Clone)]
enum Target {
    /// Ours at least this many times better than the original (by median).
    RatioAtLeast(f64),
    /// Ours strictly more than this many times better ("under a quarter" is more than 4×).
    RatioOver(f64, &'static str),
    /// Our median under this value (in the row's unit); the label is shown in the table.
    OursBelow(f64, &'static str),
    /// Our median at most this share of the original's.
    ShareAtMost(f64, &'static str),
}

struct Row {
    name: String,
    unit: String,
    ours: Stats,
    original: Option<Stats>,
    /// The headline: a ratio, or a derived figure.
    headline: String,
    target: Option<(String, bool)>,
    note: Option<String>,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
}

impl Report {
    /// A row comparing ours with the original; the headline is how many times better ours is.
    fn compare(
        &mut self,
        name: &str,
        unit: &str,
        ours: &Stats,
        original: &Stats,
        better: Better,
        target: Option<Target>,
    ) {
        let ratio = match better {
            Better::Lower => original.median() / ours.median(),
            Better::Higher => ours.median() / original.median(),
        };
        let target = target.map(|t| judge(&t, ours, ratio));
        self.rows.push(Row {
            name: name.into(),
            unit: unit.into(),
            ours: ours.clone(),
            original: Some(original.clone()),
            headline: format!(
                "**{}× {}**",
                fmt_num(ratio),
                if matches!(better, Better::Lower) { "less" } else { "more" }
            ),
            target,
            note: None,
        });
    }

    /// A row with our figure only.
    fn single(&mut self, name: &str, unit: &str, ours: &Stats, headline: String, target: Option<(String, bool)>) {
        self.rows.push(Row {
            name: name.into(),
            unit: unit.into(),
            ours: ours.clone(),
            original: None,
            headline,
            target,
            note: None,
        });
    }

    fn note_last(&mut self, note: &str) {
        if let Some(row) = self.rows.last_mut() {
            row.note = Some(note.into());
        }
    }

    fn finish(&self, wall: Duration, json_path: &Path) {
        let mut table = String::new();
        table.push_str("| measurement | unit | ours: min / **median** / max (runs) | original 0.2.0: min / **median** / max (runs) | headline | target |\n");
        table.push_str("|---|---|---|---|---|---|\n");
        for row in &self.rows {
            let original = row.original.as_ref().map_or_else(|| "—".to_string(), Stats::cell);
            let target = row.target.as_ref().map_or_else(
                || "—".to_string(),
                |(label, met)| format!("{label}: {}", if *met { "met" } else { "**missed**" }),
            );
            let _ = writeln!(
                table,
                "| {} | {} | {} | {} | {} | {} |",
                row.name,
                row.unit,
                row.ours.cell(),
                original,
                row.headline,
                target
            );
        }
        let notes: Vec<String> =
            self.rows.iter().filter_map(|r| r.note.as_ref().map(|n| format!("- {}: {n}", r.name))).collect();
        let machine = machine();
        println!();
        println!(
            "Machine: {} ({} CPUs), shared and noisy: read the ratios, not the absolute times.",
            machine.0, machine.1
        );
        println!();
        print!("{table}");
        if !notes.is_empty() {
            println!();
            println!("{}", notes.join("\n"));
        }
        println!();
        println!("Benchmark wall time: {:.1} s", wall.as_secs_f64());

        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "unit": r.unit,
                    "ours": r.ours.json(),
                    "original": r.original.as_ref().map(Stats::json),
                    "headline": r.headline.replace("**", ""),
                    "target": r.target.as_ref().map(|(label, met)| json!({"target": label, "met": met})),
                    "note": r.note,
                })
            })
            .collect();
        let document = json!({
            "machine": {"cpu": machine.0, "cpus": machine.1, "kernel": kernel()},
            "original": "codex-in-claude 0.2.0 (PyPI)",
            "codex": codex_home::CODEX_VERSION,
            "wall_seconds": wall.as_secs_f64(),
            "rows": rows,
            "table_markdown": table,
        });
        std::fs::create_dir_all(json_path.parent().expect("results path has a parent")).expect("create target/bench");
        std::fs::write(json_path, format!("{document:#}\n")).expect("write results.json");
        println!("Wrote {}", json_path.display());
    }
}

fn judge(target: &Target, ours: &Stats, ratio: f64) -> (String, bool) {
    match target {
        Target::RatioAtLeast(want) => (format!("≥ {want}×"), ratio >= *want),
        Target::RatioOver(want, label) => ((*label).into(), ratio > *want),
        Target::OursBelow(limit, label) => ((*label).into(), ours.median() < *limit),
        Target::ShareAtMost(share, label) => ((*label).into(), ratio * share >= 1.0),
    }
}

fn machine() -> (String, usize) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    (cpu, std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Driving a server over stdio (the integration tests' client)

/// The environment both servers get: a throwaway HOME, the mock-wired CODEX_HOME and the same
/// PATH (pinned codex first, then the system directories for git and sh).
struct ServerEnv {
    /// Kept so the directory lives as long as the servers using it.
    _home: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl ServerEnv {
    fn new(codex_home: &CodexHome) -> ServerEnv {
        let home = tempfile::tempdir().expect("temp HOME");
        let mut vars: Vec<(String, String)> = codex_home.env().into_iter().filter(|(k, _)| k != "PATH").collect();
        vars.push(("PATH".into(), path_with(&codex_home::codex_bin_dir())));
        vars.push(("HOME".into(), home.path().display().to_string()));
        // Like the bare codex run (and the original), keep no session files: the comparison
        // stays run for run.
        vars.push(("CODEX_IN_CLAUDE_EPHEMERAL".into(), "true".into()));
        ServerEnv { _home: home, vars }
    }
}

/// `program` (ours or the original) started with `vars` (over the harness's throwaway HOME and
/// system PATH) and past the handshake (the client declares no capabilities). The original asks
/// `roots/list` on every call; the harness answers it with no roots.
fn start(program: &Path, vars: &[(String, String)]) -> Server {
    let mut server = Server::start_program(program, vars).answering_requests().with_timeout(RESPONSE_TIMEOUT);
    let initialized = server.initialize(json!({}));
    assert!(!initialized.is_null(), "initialize failed");
    server
}

fn tools_list(server: &mut Server) -> Value {
    let id = server.fresh_id();
    server.request(id, "tools/list", json!({}))["result"]["tools"].clone()
}

/// A `tools/call`, returning `structuredContent`, where both servers put their result (the
/// text-block mirror [`support::envelope`] checks is our contract, not the original's); the
/// benchmark stops on a failed call, since a figure for a call that did not work would be
/// meaningless.
fn call(server: &mut Server, tool: &str, arguments: Value) -> Value {
    let id = server.fresh_id();
    let result = server.call(id, tool, arguments);
    let structured = result["structuredContent"].clone();
    assert_eq!(structured["ok"], json!(true), "{tool} failed: {result}");
    structured
}

// ---------------------------------------------------------------------------------------------
// The rows

fn cold_start(program: &Path, env: &ServerEnv) -> Stats {
    let samples = (0..COLD_START_RUNS)
        .map(|_| {
            let started = Instant::now();
            let mut server = start(program, &env.vars);
            let tools = tools_list(&mut server);
            let elapsed = started.elapsed();
            // The original lists 15 tools; ours adds codex_models.
            assert!(tools.as_array().is_some_and(|t| matches!(t.len(), 15 | 16)), "tools/list: {tools}");
            ms(elapsed)
        })
        .collect();
    Stats::new(samples)
}

fn surface_bytes(program: &Path, env: &ServerEnv) -> Stats {
    let mut server = start(program, &env.vars);
    let tools = tools_list(&mut server);
    // Re-serialised by the same serializer for both, so formatting choices do not count.
    Stats::new(vec![serde_json::to_string(&tools).expect("serialise tools").len() as f64])
}

/// Each envelope the context-budget test measures, from both servers (bytes are deterministic:
/// one run each).
fn envelope_bytes(report: &mut Report, ours: &Path) {
    let repo = review::repo_with_a_change();
    let launcher = tempfile::tempdir().expect("launcher dir");
    let original = context_budget::original_server(launcher.path());
    let ours = context_budget::envelopes(ours, &repo);
    let theirs = context_budget::envelopes(&original, &repo);
    for ((tool, ours), theirs) in context_budget::MEASURED.iter().zip(&ours).zip(&theirs) {
        report.compare(
            &format!("{tool} envelope (compact JSON)"),
            "bytes",
            &Stats::new(vec![context_budget::bytes(ours) as f64]),
            &Stats::new(vec![context_budget::bytes(theirs) as f64]),
            Better::Lower,
            Some(Target::ShareAtMost(context_budget::MAX_SHARE, "≤ 60 % of the original")),
        );
    }
}

fn peak_rss(program: &Path, env: &ServerEnv) -> (Stats, Stats) {
    let (mut after_list, mut after_calls) = (Vec::new(), Vec::new());
    for _ in 0..MEMORY_RUNS {
        let mut server = start(program, &env.vars);
        tools_list(&mut server);
        after_list.push(server.peak_rss_kib() as f64);
        for _ in 0..MEMORY_CALLS {
            call(&mut server, "codex_capabilities", json!({}));
        }
        after_calls.push(server.peak_rss_kib() as f64);
    }
    (Stats::new(after_list), Stats::new(after_calls))
}

/// Which codex a consult-overhead measurement runs.
struct CodexUnderTest<'a> {
    /// Row label prefix.
    label: &'static str,
    program: PathBuf,
    vars: &'a [(String, String)],
    rounds: usize,
    note: String,
}

/// `codex_consult` through each server and a bare `codex exec` with the same flags, prompt and
/// environment, interleaved round by round so drift on a shared machine hits all three alike.
fn consult_overhead(report: &mut Report, ours: &Path, original: &Path, codex: &CodexUnderTest) {
    let workspace = tempfile::tempdir().expect("consult workspace");
    let workspace_path = workspace.path().canonicalize().expect("canonical workspace");

    let mut our_server = start(ours, codex.vars);
    let mut original_server = start(original, codex.vars);
    let arguments = json!({"question": QUESTION, "workspace_root": workspace_path});

    // Bare codex gets our framed prompt (the same bytes our server sends) and the same schema.
    let prompt = codex_in_claude::adapters::codex::prompts::consult(QUESTION, None);
    let scratch = tempfile::tempdir().expect("bare codex scratch");
    let schema_path = scratch.path().join("schema.json");
    std::fs::write(&schema_path, codex_in_claude::adapters::codex::answer::consult_schema().to_string())
        .expect("write schema");
    let bare = |round: usize| -> Duration {
        let last_message = scratch.path().join(format!("last-{round}.txt"));
        let started = Instant::now();
        let mut child = Command::new(&codex.program)
            .args(["exec", "--json", "--sandbox", "read-only", "--cd"])
            .arg(&workspace_path)
            .arg("--output-last-message")
            .arg(&last_message)
            .args(["--ephemeral", "--skip-git-repo-check", "--output-schema"])
            .arg(&schema_path)
            .arg("-")
            .env_clear()
            .envs(codex.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bare codex");
        let mut stdin = child.stdin.take().expect("codex stdin");
        stdin.write_all(prompt.as_bytes()).expect("prompt to codex");
        drop(stdin);
        let output = child.wait_with_output().expect("bare codex output");
        let elapsed = started.elapsed();
        assert!(output.status.success(), "bare codex failed: {}", String::from_utf8_lossy(&output.stdout));
        let answer: Value = serde_json::from_str(&std::fs::read_to_string(&last_message).expect("bare codex answer"))
            .expect("bare codex answer is JSON");
        assert!(answer["summary"].is_string(), "{answer}");
        elapsed
    };
    let timed_call = |server: &mut Server| -> Duration {
        let started = Instant::now();
        let result = call(server, "codex_consult", arguments.clone());
        let elapsed = started.elapsed();
        assert!(result["summary"].is_string(), "{result}");
        elapsed
    };

    // Round 0 is a warm-up: page cache, the original's cached `codex exec --help` probe.
    let (mut bare_ms, mut ours_ms, mut original_ms) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=codex.rounds {
        let b = bare(round);
        let o = timed_call(&mut our_server);
        let p = timed_call(&mut original_server);
        if round > 0 {
            bare_ms.push(ms(b));
            ours_ms.push(ms(o));
            original_ms.push(ms(p));
        }
    }
    drop(our_server);
    drop(original_server);
    let bare_stats = Stats::new(bare_ms.clone());
    let ours_stats = Stats::new(ours_ms.clone());
    let original_stats = Stats::new(original_ms.clone());
    // Per-round differences pair each server call with the bare run right before it.
    let ours_over = Stats::new(ours_ms.iter().zip(&bare_ms).map(|(o, b)| o - b).collect());
    let original_over = Stats::new(original_ms.iter().zip(&bare_ms).map(|(o, b)| o - b).collect());
    let over_ours = ours_stats.median() - bare_stats.median();
    let over_original = original_stats.median() - bare_stats.median();

    let label = codex.label;
    report.single(&format!("{label}: bare `codex exec`"), "ms", &bare_stats, "baseline".into(), None);
    report.compare(
        &format!("{label}: codex_consult via server"),
        "ms",
        &ours_stats,
        &original_stats,
        Better::Lower,
        None,
    );
    report.rows.push(Row {
        name: format!("{label}: overhead over bare (per round)"),
        unit: "ms".into(),
        ours: ours_over,
        original: Some(original_over),
        headline: format!("**{} ms vs {} ms** (difference of medians)", fmt_num(over_ours), fmt_num(over_original)),
        target: Some(("< 10 ms".into(), over_ours < 10.0)),
        note: None,
    });
    report.note_last(&format!("{}; prompt {} bytes", codex.note, prompt.len()));
}

/// A repository whose working tree differs from HEAD by `DIFF_LINES` added lines over 10 files,
/// a few of them carrying secrets so redaction has work to do.
fn diff_repo() -> TestRepo {
    let repo = TestRepo::empty();
    let files = 10;
    for f in 0..files {
        let base: String = (0..200).map(|i| format!("fn existing_{f}_{i}() -> u32 {{ {i} }}\n")).collect();
        repo.write(&format!("src_{f}.rs"), &base);
    }
    repo.commit("base");
    for f in 0..files {
        let path = repo.path().join(format!("src_{f}.rs"));
        let mut text = std::fs::read_to_string(&path).expect("read base file");
        for i in 0..DIFF_LINES / files {
            if i % 97 == 0 {
                let _ = writeln!(text, "const KEY_{i}: &str = \"AKIAABCDEFGHIJ{:06}\";", i);
            } else {
                let _ = writeln!(text, "fn added_{f}_{i}(x: u32) -> u32 {{ x.wrapping_mul({i}) }}");
            }
        }
        std::fs::write(&path, text).expect("write changed file");
    }
    repo
}

/// Sequential `codex_dry_run` calls; each sample is one call's rate (1 / its latency).
fn dry_run_rate(program: &Path, env: &ServerEnv, repo: &Path, calls: usize) -> Stats {
    let mut server = start(program, &env.vars);
    let arguments = json!({"workspace_root": repo});
    let warm = call(&mut server, "codex_dry_run", arguments.clone());
    assert!(warm.to_string().contains("prompt_bytes"), "{warm}");
    let samples = (0..calls)
        .map(|_| {
            let started = Instant::now();
            call(&mut server, "codex_dry_run", arguments.clone());
            1.0 / started.elapsed().as_secs_f64()
        })
        .collect();
    Stats::new(samples)
}

fn redaction(report: &mut Report) {
    let corpus = corpus(REDACT_CORPUS_BYTES);
    let diff = as_diff(&corpus);
    let megabytes = |text: &str| text.len() as f64 / 1_000_000.0;

    let mut masks = 0;
    let text_samples = (0..REDACT_RUNS)
        .map(|_| {
            let started = Instant::now();
            let redacted = codex_in_claude::foundation::redact::text(&corpus);
            let elapsed = started.elapsed().as_secs_f64();
            masks = redacted.masks;
            megabytes(&corpus) / elapsed
        })
        .collect();
    let text_stats = Stats::new(text_samples);
    let target = Some(("> 200 MB/s".to_string(), text_stats.median() > 200.0));
    report.single(
        "redact::text throughput",
        "MB/s",
        &text_stats,
        format!("**{} MB/s**", fmt_num(text_stats.median())),
        target,
    );
    report.note_last(&format!(
        "{:.1} MB generated corpus (code, prose, JSON, base64, tokens, key blocks), {masks} masks",
        megabytes(&corpus)
    ));

    let mut paths = 0;
    let diff_samples = (0..REDACT_RUNS)
        .map(|_| {
            let started = Instant::now();
            let redacted = codex_in_claude::foundation::redact::diff(&diff);
            let elapsed = started.elapsed().as_secs_f64();
            paths = redacted.redacted_paths().len();
            megabytes(&diff) / elapsed
        })
        .collect();
    let diff_stats = Stats::new(diff_samples);
    let target = Some(("> 200 MB/s".to_string(), diff_stats.median() > 200.0));
    report.single(
        "redact::diff throughput",
        "MB/s",
        &diff_stats,
        format!("**{} MB/s**", fmt_num(diff_stats.median())),
        target,
    );
    report.note_last(&format!("the same corpus as a {:.1} MB unified diff, {paths} files redacted", megabytes(&diff)));
}

/// A deterministic mixed corpus of about `bytes` bytes: mostly ordinary code, prose and JSON,
/// with secrets of every family sprinkled in (about one line in 50).
fn corpus(bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 4096);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: cheap, deterministic, good enough to vary the lines.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let token = |n: usize, r: u64| -> String {
        let mut s = String::with_capacity(n);
        let mut x = r;
        for _ in 0..n {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            s.push(alphabet[(x >> 58) as usize % alphabet.len()] as char);
        }
        s
    };
    let mut line = 0u64;
    while text.len() < bytes {
        line += 1;
        let r = next();
        let _ = match r % 100 {
            0 => writeln!(text, "export AWS_ACCESS_KEY_ID=AKIA{}", token(16, r).to_uppercase()),
            1 => writeln!(text, "token = \"ghp_{}\"", token(36, r)),
            2 => writeln!(text, "{{\"api_key\": \"sk-proj-{}\", \"user\": \"u{line}\"}}", token(40, r)),
            3 => writeln!(text, "Authorization: Bearer {}", token(48, r)),
            4 if line.is_multiple_of(7) => writeln!(
                text,
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----",
                token(64, r),
                token(64, r ^ 1)
            ),
            5..=34 => writeln!(
                text,
                "    let value_{line} = config.get(\"key_{}\").unwrap_or_default(); // {}",
                r % 1000,
                token(12, r)
            ),
            35..=54 => writeln!(
                text,
                "The reviewer noted that function number {line} handles the error path without logging; see issue {}.",
                r % 10_000
            ),
            55..=69 => writeln!(
                text,
                "{{\"id\": {line}, \"name\": \"item-{}\", \"tags\": [\"a\", \"b\"], \"ok\": true}}",
                r % 977
            ),
            70..=74 => writeln!(text, "data:{}", token(76, r)),
            75..=79 => writeln!(text, "postgres://app@db.internal:5432/app_{}?sslmode=require", r % 50),
            _ => writeln!(
                text,
                "fn helper_{line}(input: &str) -> Result<usize, Error> {{ Ok(input.len() + {}) }}",
                r % 100
            ),
        };
    }
    text
}

/// The corpus cut into unified-diff file sections of 1,000 added lines each (one section in 40
/// under a secret-looking name, which is withheld whole).
fn as_diff(corpus: &str) -> String {
    let mut diff = String::with_capacity(corpus.len() + corpus.len() / 4);
    for (index, chunk) in corpus.lines().collect::<Vec<_>>().chunks(1000).enumerate() {
        let name = if index % 40 == 39 { format!("config/{index}.env") } else { format!("src/file_{index}.rs") };
        let _ = write!(
            diff,
            "diff --git a/{name} b/{name}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/{name}\n@@ -0,0 +1,{} @@\n",
            chunk.len()
        );
        for line in chunk {
            diff.push('+');
            diff.push_str(line);
            diff.push('\n');
        }
    }
    diff
}

/// `codex_job_list` / `codex_job_status` latency over 10, 100 and 1,000 retained jobs.
fn job_scaling(report: &mut Report, ours: &Path) {
    let state = tempfile::tempdir().expect("jobs state dir");
    // The client's HOME is the throwaway one the harness gives every server.
    let vars: Vec<(String, String)> = vec![
        ("PATH".into(), path_with(&fake_codex_dir())),
        ("CODEX_IN_CLAUDE_STATE_DIR".into(), state.path().display().to_string()),
        ("CODEX_IN_CLAUDE_JOB_MAX_COUNT".into(), "1000".into()),
        // A list of 1,000 jobs is larger than the default result cap, which would cut it; the
        // row measures reading and listing every record.
        ("CODEX_IN_CLAUDE_MAX_INLINE_BYTES".into(), "100000000".into()),
        ("FAKE_CODEX_EXEC".into(), "answer".into()),
        ("FAKE_CODEX_LOGIN".into(), "ok".into()),
        ("CODEX_IN_CLAUDE_ENV_PASSTHROUGH".into(), "FAKE_CODEX_*".into()),
    ];
    let mut server = start(ours, &vars);

    // Ten real jobs, through the product: started, run by detached workers, finished.
    let workspaces: Vec<tempfile::TempDir> =
        JOB_COUNTS.iter().map(|_| tempfile::tempdir().expect("workspace")).collect();
    let canonical: Vec<PathBuf> = workspaces.iter().map(|w| w.path().canonicalize().expect("canonical")).collect();
    let first = &canonical[0];
    let ids: Vec<String> = (0..REAL_JOBS)
        .map(|i| {
            let started = call(
                &mut server,
                "codex_consult_async",
                json!({"question": format!("question {i}"), "workspace_root": first}),
            );
            started["job_id"].as_str().expect("job_id").to_string()
        })
        .collect();
    for id in &ids {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = call(&mut server, "codex_job_status", json!({"job_id": id, "workspace_root": first}));
            if status["status"] == "done" {
                break;
            }
            assert_eq!(status["status"], "running", "a real job ended badly: {status}");
            assert!(Instant::now() < deadline, "job {id} did not finish");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // The larger sets are byte copies of a real record (every file the product wrote), with
    // the spec's id, workspace and start time rewritten: the exact on-disk format of jobs/mod.rs.
    let template = state.path().join(codex_in_claude::adapters::jobs::workspace_key(first)).join(&ids[0]);
    for (count, workspace) in JOB_COUNTS.iter().zip(&canonical).skip(1) {
        let dir = state.path().join(codex_in_claude::adapters::jobs::workspace_key(workspace));
        std::fs::create_dir_all(&dir).expect("workspace job dir");
        for n in 0..*count {
            clone_job(&template, &dir, n, workspace);
        }
    }

    // One probe job per set (from the middle of the newest-first list), then the calls
    // interleaved round-robin over the sets, so drift on a shared machine hits every set alike.
    let probes: Vec<String> = JOB_COUNTS
        .iter()
        .zip(&canonical)
        .map(|(count, workspace)| {
            let arguments = json!({"workspace_root": workspace, "offset": count / 2, "limit": 1});
            let listed = call(&mut server, "codex_job_list", arguments);
            assert_eq!(listed["total"], json!(count), "job_list at {count}: {listed}");
            listed["jobs"][0]["job_id"].as_str().expect("a job id").to_string()
        })
        .collect();
    let mut list_ms = vec![Vec::new(); JOB_COUNTS.len()];
    let mut status_ms = vec![Vec::new(); JOB_COUNTS.len()];
    let mut start_ms = vec![Vec::new(); JOB_COUNTS.len()];
    for round in 0..JOB_STATUS_RUNS.max(JOB_LIST_RUNS) {
        for (set, workspace) in canonical.iter().enumerate() {
            if round < JOB_START_RUNS {
                let arguments = json!({"question": format!("timed start {round}"), "workspace_root": workspace});
                let started = Instant::now();
                let launched = call(&mut server, "codex_consult_async", arguments);
                start_ms[set].push(ms(started.elapsed()));
                assert_eq!(launched["ok"], json!(true), "a timed start failed: {launched}");
            }
            if round < JOB_LIST_RUNS {
                let started = Instant::now();
                call(&mut server, "codex_job_list", json!({"workspace_root": workspace}));
                list_ms[set].push(ms(started.elapsed()));
            }
            if round < JOB_STATUS_RUNS {
                let arguments = json!({"job_id": probes[set], "workspace_root": workspace});
                let started = Instant::now();
                let status = call(&mut server, "codex_job_status", arguments);
                let elapsed = started.elapsed();
                assert_eq!(status["status"], "done");
                status_ms[set].push(ms(elapsed));
            }
        }
    }
    for (set, count) in JOB_COUNTS.iter().enumerate() {
        let list_stats = Stats::new(list_ms[set].clone());
        let status_stats = Stats::new(status_ms[set].clone());
        let list_headline = format!("{} ms", fmt_num(list_stats.median()));
        report.single(&format!("codex_job_list, {count} jobs"), "ms", &list_stats, list_headline, None);
        let status_headline = format!("{} ms", fmt_num(status_stats.median()));
        report.single(&format!("codex_job_status, {count} jobs"), "ms", &status_stats, status_headline, None);
        let start_stats = Stats::new(start_ms[set].clone());
        let start_headline = format!("{} ms", fmt_num(start_stats.median()));
        report.single(&format!("codex_consult_async start, {count} jobs"), "ms", &start_stats, start_headline, None);
    }
    // The flatness verdict compares status at the largest and smallest sets.
    let status_rows: Vec<&Row> = report.rows.iter().filter(|r| r.name.starts_with("codex_job_status")).collect();
    let (small, large) = (status_rows[0].ours.median(), status_rows[status_rows.len() - 1].ours.median());
    let factor = large / small;
    if let Some(row) = report.rows.iter_mut().rev().find(|r| r.name.starts_with("codex_job_status")) {
        row.headline = format!("**{}× the 10-job median**", fmt_num(factor));
        row.target = Some((format!("flat (≤ {FLAT_FACTOR}× the 10-job median)"), factor <= FLAT_FACTOR));
        row.note = Some(format!(
            "{REAL_JOBS} jobs started for real (codex_consult_async, fake codex in answer mode); the 100 and 1,000 \
             sets are copies of one of those records with new ids (same files, same format)"
        ));
    }
}

/// Copies a finished job's directory under a new id, rewriting what names the job or workspace.
fn clone_job(template: &Path, workspace_dir: &Path, n: usize, workspace: &Path) {
    let id = format!("{:032x}", 0xbe4c_0000_0000_0000_u128 + n as u128);
    let dir = workspace_dir.join(&id);
    std::fs::create_dir(&dir).expect("clone job dir");
    for entry in std::fs::read_dir(template).expect("read template job") {
        let entry = entry.expect("template entry");
        let name = entry.file_name();
        if !entry.file_type().expect("file type").is_file() {
            continue;
        }
        if name == "spec.json" {
            let mut spec: Value =
                serde_json::from_slice(&std::fs::read(entry.path()).expect("read spec")).expect("spec");
            spec["job_id"] = json!(id);
            spec["workspace"]["cwd"] = json!(workspace);
            spec["arguments"]["workspace_root"] = json!(workspace);
            let started = spec["started_epoch_ms"].as_u64().expect("started_epoch_ms");
            spec["started_epoch_ms"] = json!(started + n as u64);
            std::fs::write(dir.join("spec.json"), spec.to_string()).expect("write spec");
        } else {
            std::fs::copy(entry.path(), dir.join(&name)).expect("copy job file");
        }
    }
}

/// `codex_dry_run` latency on repositories of 100, 10,000 and 100,000 tracked files, each with
/// one modified file.
fn repo_scaling(report: &mut Report, program: &Path, env: &ServerEnv) {
    let mut server = start(program, &env.vars);
    let mut medians = Vec::new();
    for files in REPO_SIZES {
        let build_started = Instant::now();
        let repo = repo_with_files(files);
        let built = build_started.elapsed();
        let arguments = json!({"workspace_root": repo.path()});
        let warm = call(&mut server, "codex_dry_run", arguments.clone());
        assert!(warm.to_string().contains("prompt_bytes"), "{warm}");
        let stats = Stats::new(
            (0..REPO_DRY_RUN_RUNS)
                .map(|_| {
                    let started = Instant::now();
                    call(&mut server, "codex_dry_run", arguments.clone());
                    ms(started.elapsed())
                })
                .collect(),
        );
        medians.push(stats.median());
        report.single(
            &format!("codex_dry_run, {files} tracked files"),
            "ms",
            &stats,
            format!("{} ms", fmt_num(stats.median())),
            None,
        );
        report.note_last(&format!(
            "repository built with git fast-import + checkout in {:.1} s; one file modified",
            built.as_secs_f64()
        ));
        // A git status with the real git, for scale: the floor a dry run cannot go under.
        let started = Instant::now();
        repo.git(&["status", "--porcelain"]);
        let status_ms = ms(started.elapsed());
        if let Some(row) = report.rows.last_mut() {
            row.note = Some(format!(
                "{}; a bare `git status` there takes {} ms",
                row.note.take().unwrap_or_default(),
                fmt_num(status_ms)
            ));
        }
    }
}

/// A repository with `files` tracked files committed in one go through `git fast-import` (one
/// shared blob), checked out, then one of them modified.
fn repo_with_files(files: usize) -> TestRepo {
    let repo = TestRepo::empty();
    let mut stream = String::with_capacity(files * 48 + 256);
    let blob = "pub fn f() -> u32 { 42 }\n";
    let _ = write!(stream, "blob\nmark :1\ndata {}\n{blob}\n", blob.len());
    stream.push_str(
        "commit refs/heads/main\nmark :2\ncommitter Bench <bench@example.com> 1700000000 +0000\ndata 5\nbase\n",
    );
    for n in 0..files {
        let _ = writeln!(stream, "M 100644 :1 d{:03}/f{n:06}.rs", n / 1000);
    }
    stream.push('\n');
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(repo.path())
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child.stdin.take().expect("fast-import stdin").write_all(stream.as_bytes()).expect("feed fast-import");
    assert!(child.wait().expect("fast-import exit").success(), "git fast-import failed");
    repo.git(&["reset", "-q", "--hard", "main"]);
    // Racily clean index entries (written in the same second as the index) would make every
    // later diff re-hash them; a refresh a second later settles the stat cache.
    std::thread::sleep(Duration::from_millis(1100));
    repo.git(&["update-index", "-q", "--really-refresh"]);
    repo.git(&["status", "--porcelain"]);
    repo.write("d000/f000000.rs", "pub fn f() -> u32 { 43 }\n");
    repo
}
