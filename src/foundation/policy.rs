//! The closed sets that say how much a codex run may do: the tier a tool runs in (and the
//! sandbox that follows from it), how much of the user's codex configuration it inherits, and
//! the order of a review finding's severities. Configuration, the codex adapter and the tools all name them; they depend on nothing.

use serde::Serialize;

/// A review finding's severity, most severe first (the review's answer schema and the review
/// gate's blocking threshold both use this order).
pub const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "nit"];

/// Which part of the system a call runs in. Fixed per tool, reported so an agent knows what a
/// call was allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Read-only codex runs (consult, review) and free tools.
    Consult,
    /// Codex writes inside a throwaway worktree; the user gets a diff (delegate).
    Propose,
}

impl Tier {
    pub fn sandbox(self) -> &'static str {
        match self {
            Tier::Consult => "read-only",
            Tier::Propose => "workspace-write",
        }
    }
}

/// How much of the user's own codex configuration a run inherits (the `isolation` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    Inherit,
    IgnoreConfig,
    IgnoreRules,
}

impl Isolation {
    pub const NAMES: &'static [&'static str] = &["inherit", "ignore-config", "ignore-rules"];

    pub fn parse(text: &str) -> Option<Isolation> {
        match text {
            "inherit" => Some(Isolation::Inherit),
            "ignore-config" => Some(Isolation::IgnoreConfig),
            "ignore-rules" => Some(Isolation::IgnoreRules),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Isolation::NAMES[self as usize]
    }
}
