//! The closed sets that say how much a codex run may do: the tier a tool runs in (and the
//! sandbox that follows from it), how much of the user's codex configuration it inherits, and
//! the order of a review finding's severities. Configuration, the codex adapter and the tools all name them; they depend on nothing.
//! `closed_set!` makes such a set an enum with its wire names in one list, so the schemas, the
//! prompts' tests and the parse all take their values from that list.

use serde::Serialize;

/// An enum whose variants are written as the given lowercase names: serialised as them, parsed
/// from them (`parse`), listed in order in `NAMES`; the variants are ordered as written.
macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ::serde::Serialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        // A set uses what it needs of these: a wire value only written has no use for `parse`.
        #[allow(dead_code)]
        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use closed_set;

closed_set! {
    /// A review finding's severity, most severe first: a lesser variant is the more severe (the
    /// review's answer schema and the review gate's blocking threshold both use this order).
    Severity { Critical = "critical", High = "high", Medium = "medium", Low = "low", Nit = "nit" }
}

impl Severity {
    /// Whether this severity is `threshold` or worse.
    pub fn at_or_above(self, threshold: Severity) -> bool {
        self <= threshold
    }
}

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
