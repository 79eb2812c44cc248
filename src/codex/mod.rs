//! Everything this server assumes about the `codex` CLI (`docs/codex-cli.md`).

pub mod answer;
pub mod events;
pub mod exec;
mod failure;
pub mod probe;

/// The binary looked up on PATH.
pub const PROGRAM: &str = "codex";
