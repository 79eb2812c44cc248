//! Everything this server assumes about the `codex` CLI (`reference/codex-cli-contract.md`).

pub mod probe;

/// The binary looked up on PATH.
pub const PROGRAM: &str = "codex";
