//! The adapters layer: the outside things a tool works with, each behind one module — `git`
//! (the hardened runner, what a review looks at, the throwaway copy a delegated task runs in),
//! `codex` (what we assume of the CLI, one run, its events, why it failed, its answer, what it is
//! asked, the spend-free app-server conversation), `workspace` (where a call works), `jobs`
//! (background jobs on disk), `sessions` (what a follow-up by session id needs), `budget` (the
//! daily token ledger) and `state_dir` (whether the directory all of that state lives in may be
//! trusted). Adapters use the foundation and each other, never tools or front ends.

// Public for the bench, which sends the consult prompt and schema to a bare codex.
pub(crate) mod budget;
pub mod codex;
pub(crate) mod git;
// Public for the bench, which lays out job records as the store does.
pub mod jobs;
pub(crate) mod sessions;
pub(crate) mod state_dir;
pub(crate) mod workspace;
