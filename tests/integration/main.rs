//! The one integration test binary: it drives the built `codex-in-claude` over raw stdio pipes,
//! with real git, the real pinned codex against a loopback mock model, and a fake codex only for
//! fault injection.

// The lint steers product code to `process::Cmd`; tests spawn the binary, codex and the SDK
// client directly on purpose.
#![allow(clippy::disallowed_methods)]

// The harness: a raw JSON-RPC client for the server under test.
mod support;
// A mock of the OpenAI Responses API on 127.0.0.1 (SSE, scripted steps, request log).
mod mock_model;
// A throwaway CODEX_HOME wired to the mock, and the pinned codex binary.
mod codex_home;
// Proves the mock and recipe against the real codex, independent of our server.
mod codex_contract;
// Load: concurrent calls on one connection; the soak (make soak).
mod load;
// Protocol fuzzing: random and hostile input on one connection.
mod fuzz;
// JSON-RPC and MCP protocol behaviour over raw pipes, both eras.
mod protocol;
// Every advertised error code, reached through the real server.
mod error_codes;
// codex_status and codex_capabilities against the real and the fake codex.
mod status;
// Throwaway git repositories built with the real git.
mod repo;
// codex_review_changes and codex_dry_run end to end.
mod review;
// Real repository shapes through every tool that reads them: right answers, nothing written.
mod repo_shapes;
// codex_delegate and codex_delegate_dry_run end to end, worktree hygiene included.
mod delegate;
// Never spill: the delegate's patch file, the inline cap on every result, through Claude Code.
mod spill;
// The live .git untouched, mtimes included, in the shapes where git would touch it; odd files
// left out and listed.
mod live_git;
// Issue 12's isolation promises for delegate: the live repository untouched, the sandbox's
// reach, repository shapes, withheld files.
mod isolation;
// Issue 24's fidelity matrix end to end: the diff applied in a fresh clone makes what Codex made.
mod fidelity;
// Background jobs: async tools, the detached worker, the job lifecycle.
mod jobs;
// Every paid run is durable: sync runs outlive their server; idempotency_key replays a run.
mod durable;
// Consuming a job from many processes at once: exactly one result, nothing left.
mod consume_race;
// Issue 25's job store: one terminal status, no undelivered result evicted, vanished state, paging.
mod job_store;
// The job store on a full disk: every lifecycle step, no crash, nothing lost.
mod full_disk;
// A codex that goes silent: reported stalled, then stopped as codex_stalled.
mod stalls;
// A delegation stopped mid-edit (timeout, stall, job cancel) returns its edits as a partial diff.
mod stopped;
// codex_consult end to end: answers, progress, cancellation, real codex failures.
mod consult;
// Follow-ups by session_id: consult, delegate and review continue a Codex session.
mod follow_ups;
// Nothing Codex says is lost unsaid: mapped findings, cuts, no final message, blind reviews, bidi.
mod answers;
// Fault injection with the fake codex: garbage, floods, crashes, grandchildren, drift.
mod faults;
// The secrets corpus through every outbound surface: nothing leaks, benign code survives.
mod secrets;
// Issue 23: what codex and its commands see of the server's environment; no hidden goal turns.
mod environment;
// Issue 16: envelopes ordered, lean, and at most 60 % of the original server's bytes.
mod context_budget;
// consult, review and dry-run from a shell.
mod cli;
// `review --format sarif`: SARIF 2.1.0 for CI, validated against the official schema.
mod sarif;
// The official Python MCP SDK as an independent client, with its schema validation on.
mod sdk_client;
// Every docs/ citation in the source resolves to a file and section.
mod docs;
// Spend awareness: rate-limit windows, models and efforts through codex app-server, the budget.
mod spend;
// The layer rule of src/lib.rs: no module names a layer above its own; no import cycle.
mod layers;
// The plugin's review gate: the Stop hook against the real codex, and in a real Claude Code session.
mod review_gate;
// The Claude Code plugin: launcher, manifests, commands, skill, `claude plugin validate`.
mod plugin;
// The plugin launcher fetching, verifying and caching the pinned release binary.
mod launcher;
// `make release`: static binaries for both Linux targets (aarch64 run under qemu-user), the plugin
// archive, and the real Claude Code installing it from a local marketplace, offline.
mod release;
// Issue 23: what another local user can read or plant (a real second user), FIFOs in the store.
mod private;
