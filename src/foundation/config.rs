//! The `CODEX_IN_CLAUDE_*` environment knobs: one table (`VARS`) from which `--help`, parsing,
//! clamping and `codex_status.config_warnings` are all derived.
//!
//! An invalid or out-of-range value never stops the server: it falls back to the default (or the
//! nearest bound) and the fallback is reported as a warning, never silently (docs/product.md §4).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::foundation::policy::{Isolation, Severity, Tier};

pub const PREFIX: &str = "CODEX_IN_CLAUDE_";

/// Codex minor versions the end-to-end suite runs against (docs/product.md §4: supported = tested).
pub const DEFAULT_SUPPORTED_VERSIONS: &[(u64, u64)] = &[(0, 169)];

/// One documented environment variable.
pub struct EnvVar {
    /// Name without the `CODEX_IN_CLAUDE_` prefix.
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// Every variable the server reads, in the order `--help` and the README list them.
pub const VARS: &[EnvVar] = &[
    EnvVar { name: "MODEL", default: "(codex's default)", help: "default --model for codex runs" },
    EnvVar {
        name: "REASONING_EFFORT",
        default: "(codex's default)",
        help: "default reasoning effort, sent as -c model_reasoning_effort=\"...\"",
    },
    EnvVar {
        name: "TIMEOUT_SECONDS",
        default: "300",
        help: "default timeout of synchronous codex runs, clamped to [10, 600]",
    },
    EnvVar {
        name: "ISOLATION",
        default: "inherit",
        help: "inherit | ignore-config | ignore-rules (which user codex config applies)",
    },
    EnvVar {
        name: "TIER_DEFAULT",
        default: "consult",
        help: "consult | propose; reported by codex_status only (each tool has a fixed tier)",
    },
    EnvVar {
        name: "SANDBOX_DEFAULT",
        default: "(the tier's sandbox)",
        help: "read-only | workspace-write; reported by codex_status only",
    },
    EnvVar {
        name: "MAX_INPUT_BYTES",
        default: "200000",
        help: "cap on question/task/context/focus and on the review diff or plan files sent (min 1000)",
    },
    EnvVar {
        name: "MAX_DELEGATE_DIFF_BYTES",
        default: "4194304",
        help: "cap on the diff a delegate captures, kept whole in its patch_file (min 1000)",
    },
    EnvVar {
        name: "MAX_INLINE_BYTES",
        default: "40000",
        help: "cap on any result's JSON; a larger diff is left to its patch_file, other text cut, and said (min 8000)",
    },
    EnvVar {
        name: "MAX_OUTPUT_BYTES",
        default: "10485760",
        help: "cap on codex stdout kept in memory; head and tail are kept (min 65536)",
    },
    EnvVar { name: "GIT_TIMEOUT_SECONDS", default: "60", help: "timeout of each git command (min 1)" },
    EnvVar { name: "JOB_TTL", default: "86400", help: "seconds a finished background job is kept (min 5)" },
    EnvVar { name: "JOB_MAX_SECONDS", default: "1800", help: "deadline of a background job, clamped to [10, 7200]" },
    EnvVar {
        name: "JOB_MAX_COUNT",
        default: "50",
        help: "jobs kept per workspace, clamped to [1, 1000]; only delivered results are evicted",
    },
    EnvVar {
        name: "MAX_CONCURRENT_CALLS",
        default: "64",
        help: "tool calls served at once over MCP, clamped to [1, 1024]; one more gets a retryable busy error",
    },
    EnvVar {
        name: "JOB_WRITE_RETRY_SECONDS",
        default: "60",
        help: "seconds a worker retries storing a result the state disk refuses, then as long again without its diff; clamped to [1, 3600]",
    },
    EnvVar {
        name: "DAILY_TOKEN_BUDGET",
        default: "(no limit)",
        help: "tokens paid runs may use per local day; past it paid calls are refused (min 1)",
    },
    EnvVar {
        name: "STALL_WARN_SECONDS",
        default: "120",
        help: "seconds without a codex event before a run is reported stalled (min 1)",
    },
    EnvVar {
        name: "STALL_KILL_SECONDS",
        default: "900",
        help: "seconds without a codex event before a run is stopped as codex_stalled (min 2, above the warning)",
    },
    EnvVar {
        name: "STATE_DIR",
        default: "$XDG_CACHE_HOME/codex-in-claude/jobs",
        help: "where background job records live: absolute (~ is expanded), owned by you, writable by nobody else",
    },
    EnvVar {
        name: "EPHEMERAL",
        default: "false",
        help: "true: every codex run is --ephemeral (no session files, so no follow-ups by session_id)",
    },
    EnvVar {
        name: "WORKTREE_BASE",
        default: "(system temp dir)",
        help: "where the throwaway copies delegate runs in are created",
    },
    EnvVar {
        name: "SUPPORTED_VERSIONS",
        default: "0.169",
        help: "comma list of codex major.minor versions treated as supported (advisory)",
    },
    EnvVar {
        name: "LOG_LEVEL",
        default: "WARNING",
        help: "DEBUG | INFO | WARNING | ERROR | CRITICAL (logs go to stderr only)",
    },
    EnvVar { name: "LOG_FILE", default: "(none)", help: "also append logs to this file" },
    EnvVar {
        name: "ENV_PASSTHROUGH",
        default: "(none)",
        help: "comma list of variable names (or NAME_PREFIX*) codex and the commands it runs also get",
    },
    EnvVar {
        name: "REVIEW_GATE",
        default: "(the project's switch, else off)",
        help: "on | off: the Stop-hook review gate, overriding /codex:review-gate for every project",
    },
    EnvVar {
        name: "REVIEW_GATE_MAX_ROUNDS",
        default: "2",
        help: "stops the review gate may block per Claude Code session, clamped to [1, 20]",
    },
    EnvVar {
        name: "REVIEW_GATE_SEVERITY",
        default: "high",
        help: "critical | high | medium | low | nit: a concerns finding this severe or worse blocks",
    },
    EnvVar {
        name: "REVIEW_GATE_TIMEOUT_SECONDS",
        default: "240",
        help: "review gate's time limit, clamped to [30, 300] (the plugin's hook allows 330)",
    },
];

/// Resolved configuration. Built once at start-up: the environment of a running server does not
/// change, and building it per call would repeat the warnings.
#[derive(Debug, Clone)]
pub struct Config {
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    /// The raw value as given (for `raw_defaults`), and the clamped one used for runs.
    pub timeout_seconds_raw: u64,
    pub timeout_seconds: u64,
    pub isolation: Isolation,
    pub tier_default: Tier,
    pub sandbox_default: &'static str,
    pub max_input_bytes: u64,
    pub max_delegate_diff_bytes: u64,
    /// No result handed to a client is larger (serialised); see `tools::inline`.
    pub max_inline_bytes: u64,
    pub max_output_bytes: u64,
    pub git_timeout_seconds: u64,
    pub job_ttl_seconds: u64,
    pub job_max_seconds: u64,
    pub job_max_count: u64,
    /// Seconds a worker retries storing a refused result, whole, then as long without its diff.
    pub job_write_retry_seconds: u64,
    /// Seconds without a codex event before a run is reported stalled, and before it is stopped.
    pub stall_warn_seconds: u64,
    pub stall_kill_seconds: u64,
    /// Tool calls one MCP connection runs at once (each holds a thread, and often a codex).
    pub max_concurrent_calls: usize,
    /// Tokens paid runs may use per local day; `None`: no limit.
    pub daily_token_budget: Option<u64>,
    pub state_dir: PathBuf,
    pub worktree_base: PathBuf,
    /// Every run is `--ephemeral`: codex keeps no session file, so nothing can be continued.
    pub ephemeral: bool,
    pub supported_versions: Vec<(u64, u64)>,
    pub log_level: crate::foundation::log::Level,
    pub log_file: Option<PathBuf>,
    /// Names (or `PREFIX*` patterns) of server variables codex and its commands also get.
    pub env_passthrough: Vec<String>,
    /// The review gate forced on or off for every project; `None`: each project's switch decides.
    pub review_gate: Option<bool>,
    /// Stops the gate may block per Claude Code session.
    pub review_gate_max_rounds: u64,
    /// The least severe finding that makes a `concerns` review block.
    pub review_gate_severity: Severity,
    pub review_gate_timeout_seconds: u64,
    /// Names of variables whose value is a literal `${NAME}` the host failed to expand.
    pub unexpanded_placeholders: Vec<String>,
    /// Human-readable notes about values that were invalid or clamped.
    pub warnings: Vec<String>,
}

pub const TIMEOUT_BOUNDS: (u64, u64) = (10, 600);
/// The review gate's own time limit; the plugin's Stop hook allows 330 s, above the maximum, so
/// the gate always answers before Claude Code gives up on it.
pub const REVIEW_GATE_TIMEOUT_BOUNDS: (u64, u64) = (30, 300);

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Config {
        let vars: BTreeMap<String, String> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        Config::from_map(&vars)
    }

    /// Builds the configuration from an explicit map (the whole environment), so tests need not
    /// mutate the process environment.
    pub fn from_map(env: &BTreeMap<String, String>) -> Config {
        let mut reader = Reader { env, warnings: Vec::new() };
        let unexpanded_placeholders = env
            .iter()
            .filter(|(k, v)| k.starts_with(PREFIX) && is_placeholder(v.trim()))
            .map(|(k, _)| k.clone())
            .collect();

        let (timeout_seconds_raw, timeout_seconds) =
            reader.bounded("TIMEOUT_SECONDS", 300, TIMEOUT_BOUNDS.0, TIMEOUT_BOUNDS.1);
        let isolation = match reader.text("ISOLATION") {
            None => Isolation::Inherit,
            Some(value) => Isolation::parse(&value).unwrap_or_else(|| {
                reader.warn("ISOLATION", "is not inherit, ignore-config or ignore-rules; using inherit");
                Isolation::Inherit
            }),
        };
        let tier_default = match reader.text("TIER_DEFAULT").as_deref() {
            None | Some("consult") => Tier::Consult,
            Some("propose") => Tier::Propose,
            Some(_) => {
                reader.warn("TIER_DEFAULT", "is not consult or propose; using consult");
                Tier::Consult
            }
        };
        let tier_sandbox = tier_default.sandbox();
        let sandbox_default = match reader.text("SANDBOX_DEFAULT").as_deref() {
            None => tier_sandbox,
            Some("read-only") => "read-only",
            Some("workspace-write") => "workspace-write",
            Some(_) => {
                reader.warn(
                    "SANDBOX_DEFAULT",
                    &format!(
                        "is not read-only or workspace-write (danger-full-access is never used); using the tier's sandbox, {tier_sandbox}"
                    ),
                );
                tier_sandbox
            }
        };
        let supported_versions = match reader.text("SUPPORTED_VERSIONS") {
            None => DEFAULT_SUPPORTED_VERSIONS.to_vec(),
            Some(list) => parse_versions(&list).unwrap_or_else(|| {
                let built_in: Vec<String> =
                    DEFAULT_SUPPORTED_VERSIONS.iter().map(|(major, minor)| format!("{major}.{minor}")).collect();
                reader.warn(
                    "SUPPORTED_VERSIONS",
                    &format!("is not a comma list of major.minor versions; using the built-in {}", built_in.join(", ")),
                );
                DEFAULT_SUPPORTED_VERSIONS.to_vec()
            }),
        };
        let log_level = match reader.text("LOG_LEVEL") {
            None => crate::foundation::log::Level::Warning,
            Some(name) => crate::foundation::log::Level::parse(&name).unwrap_or_else(|| {
                reader.warn("LOG_LEVEL", "is not DEBUG, INFO, WARNING, ERROR or CRITICAL; using WARNING");
                crate::foundation::log::Level::Warning
            }),
        };
        let stall_warn_seconds = reader.integer("STALL_WARN_SECONDS", 120, 1, 86_400);
        let mut stall_kill_seconds = reader.integer("STALL_KILL_SECONDS", 900, 2, 86_400);
        if stall_kill_seconds <= stall_warn_seconds {
            stall_kill_seconds = stall_warn_seconds + 1;
            reader.warn(
                "STALL_KILL_SECONDS",
                &format!("is not above CODEX_IN_CLAUDE_STALL_WARN_SECONDS; using {stall_kill_seconds}"),
            );
        }
        let daily_token_budget = match reader.text("DAILY_TOKEN_BUDGET") {
            None => None,
            Some(text) if text.bytes().all(|c| c.is_ascii_digit()) => {
                Some(reader.integer("DAILY_TOKEN_BUDGET", 1, 1, u64::MAX))
            }
            Some(_) => {
                reader.warn("DAILY_TOKEN_BUDGET", "is not a whole number; no daily budget applies");
                None
            }
        };
        let home = env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let default_state_dir = || {
            env.get("XDG_CACHE_HOME")
                .filter(|d| d.starts_with('/'))
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
                .unwrap_or_else(std::env::temp_dir)
                .join("codex-in-claude")
                .join("jobs")
        };
        let state_dir = match reader.text("STATE_DIR").map(|dir| expand_tilde(&dir, home.as_deref())) {
            Some(dir) if dir.is_absolute() => dir,
            // A relative one would name a different directory in every workspace the server is
            // started from, inside the user's repository.
            Some(_) => {
                let fallback = default_state_dir();
                reader.warn("STATE_DIR", &format!("is not an absolute path; using {}", fallback.display()));
                fallback
            }
            None => default_state_dir(),
        };
        let worktree_base = match reader.text("WORKTREE_BASE") {
            Some(dir) if dir.starts_with('/') || dir.starts_with('~') => expand_tilde(&dir, home.as_deref()),
            Some(_) => {
                let temp = std::env::temp_dir();
                reader.warn(
                    "WORKTREE_BASE",
                    &format!("is not an absolute path; using the system temp dir, {}", temp.display()),
                );
                temp
            }
            None => std::env::temp_dir(),
        };

        let ephemeral = match reader.text("EPHEMERAL").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(_) => {
                reader.warn("EPHEMERAL", "is not true or false; using false (runs can be continued)");
                false
            }
        };

        let review_gate = match reader.text("REVIEW_GATE").map(|v| v.to_ascii_lowercase()).as_deref() {
            None => None,
            Some("on" | "true" | "1") => Some(true),
            Some("off" | "false" | "0") => Some(false),
            Some(_) => {
                reader.warn("REVIEW_GATE", "is not on or off; each project's /codex:review-gate switch decides");
                None
            }
        };
        let review_gate_severity = match reader.text("REVIEW_GATE_SEVERITY").map(|v| v.to_ascii_lowercase()) {
            None => Severity::High,
            Some(name) => Severity::parse(&name).unwrap_or_else(|| {
                reader
                    .warn("REVIEW_GATE_SEVERITY", &format!("is not one of {}; using high", Severity::NAMES.join(", ")));
                Severity::High
            }),
        };

        let env_passthrough = match reader.text("ENV_PASSTHROUGH") {
            None => Vec::new(),
            Some(list) => {
                let (names, refused) = parse_passthrough(&list);
                if refused > 0 {
                    reader.warn(
                        "ENV_PASSTHROUGH",
                        &format!(
                            "has {refused} entr{} that are not a variable name or NAME_PREFIX* of at most \
                             {PASSTHROUGH_NAME_MAX} characters, or come after the first {PASSTHROUGH_MAX} names; {} ignored",
                            if refused == 1 { "y" } else { "ies" },
                            if refused == 1 { "it is" } else { "they are" }
                        ),
                    );
                }
                names
            }
        };

        Config {
            model: reader.argument("MODEL"),
            reasoning_effort: reader.argument("REASONING_EFFORT"),
            timeout_seconds_raw,
            timeout_seconds,
            isolation,
            tier_default,
            sandbox_default,
            max_input_bytes: reader.integer("MAX_INPUT_BYTES", 200_000, 1000, u64::MAX),
            max_delegate_diff_bytes: reader.integer("MAX_DELEGATE_DIFF_BYTES", 4 * 1024 * 1024, 1000, u64::MAX),
            max_inline_bytes: reader.integer("MAX_INLINE_BYTES", 40_000, 8000, u64::MAX),
            max_output_bytes: reader.integer("MAX_OUTPUT_BYTES", 10 * 1024 * 1024, 65_536, u64::MAX),
            git_timeout_seconds: reader.integer("GIT_TIMEOUT_SECONDS", 60, 1, 3600),
            job_ttl_seconds: reader.integer("JOB_TTL", 86_400, 5, u64::MAX),
            job_max_seconds: reader.integer("JOB_MAX_SECONDS", 1800, 10, 7200),
            job_max_count: reader.integer("JOB_MAX_COUNT", 50, 1, 1000),
            // Above the 50 parallel calls the load test makes; within [1, 1024], so the conversion
            // cannot fail.
            max_concurrent_calls: usize::try_from(reader.integer("MAX_CONCURRENT_CALLS", 64, 1, 1024)).unwrap_or(64),
            job_write_retry_seconds: reader.integer("JOB_WRITE_RETRY_SECONDS", 60, 1, 3600),
            stall_warn_seconds,
            stall_kill_seconds,
            daily_token_budget,
            state_dir,
            worktree_base,
            ephemeral,
            supported_versions,
            log_level,
            log_file: reader.text("LOG_FILE").map(|f| expand_tilde(&f, home.as_deref())),
            env_passthrough,
            review_gate,
            review_gate_max_rounds: reader.integer("REVIEW_GATE_MAX_ROUNDS", 2, 1, 20),
            review_gate_severity,
            review_gate_timeout_seconds: reader.integer(
                "REVIEW_GATE_TIMEOUT_SECONDS",
                240,
                REVIEW_GATE_TIMEOUT_BOUNDS.0,
                REVIEW_GATE_TIMEOUT_BOUNDS.1,
            ),
            unexpanded_placeholders,
            warnings: reader.warnings,
        }
    }

    pub fn version_supported(&self, major: u64, minor: u64) -> bool {
        self.supported_versions.contains(&(major, minor))
    }
}

/// Reads prefixed variables and records a warning for each value it had to replace.
struct Reader<'a> {
    env: &'a BTreeMap<String, String>,
    warnings: Vec<String>,
}

impl Reader<'_> {
    fn warn(&mut self, name: &str, problem: &str) {
        self.warnings.push(format!("{PREFIX}{name} {problem}"));
    }

    /// A trimmed, non-empty value that is not an unexpanded placeholder (those are reported
    /// separately, and using `${X}` literally as a model name would only confuse codex).
    fn text(&self, name: &str) -> Option<String> {
        let value = self.env.get(&format!("{PREFIX}{name}"))?.trim();
        (!value.is_empty() && !is_placeholder(value)).then(|| value.to_string())
    }

    /// A value that reaches codex's argv: one starting with `-` would be read as a flag, so it
    /// is dropped with a warning and codex's default applies.
    fn argument(&mut self, name: &str) -> Option<String> {
        let value = self.text(name)?;
        if value.starts_with('-') {
            self.warn(name, "starts with '-' and would be read as a flag; using codex's default");
            return None;
        }
        Some(value)
    }

    /// A whole number within `[min, max]`: the value used.
    fn integer(&mut self, name: &str, default: u64, min: u64, max: u64) -> u64 {
        self.bounded(name, default, min, max).1
    }

    /// A whole number: (the value as given, or the default when there is none or it is not a
    /// number; the value used, within `[min, max]`). Every replacement is a warning naming the
    /// value used.
    fn bounded(&mut self, name: &str, default: u64, min: u64, max: u64) -> (u64, u64) {
        let Some(text) = self.text(name) else { return (default, default) };
        let given = match text.parse::<u64>() {
            Ok(value) => value,
            // All digits but more than a u64 holds: above any maximum.
            Err(_) if text.bytes().all(|c| c.is_ascii_digit()) => u64::MAX,
            Err(_) => {
                self.warn(name, &format!("is not a whole number of 0 or more; using the default {default}"));
                return (default, default);
            }
        };
        let used = given.clamp(min, max);
        if given < min {
            self.warn(name, &format!("is {text}, below the minimum {min}; using {used}"));
        } else if given > max {
            self.warn(name, &format!("is {text}, above the maximum {max}; using {used}"));
        }
        (given, used)
    }
}

/// `${NAME}` exactly: what a host leaves behind when it does not expand its own config.
fn is_placeholder(value: &str) -> bool {
    let Some(inner) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return false;
    };
    let mut chars = inner.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The longest passthrough entry and the most entries kept. Every entry goes into one `-c`
/// argument of every codex run, and Linux refuses to start a program with an argument over
/// 128 KiB (`MAX_ARG_STRLEN`): a longer list would make every run fail to start.
const PASSTHROUGH_NAME_MAX: usize = 128;
const PASSTHROUGH_MAX: usize = 256;

/// `A, B_*` → the names and prefix patterns, and how many entries were refused. A pattern is a
/// name followed by one `*`: a prefix the user chose names one family of variables, while a bare
/// `*` or a `*` elsewhere would match credentials nobody meant to pass.
fn parse_passthrough(list: &str) -> (Vec<String>, usize) {
    let mut names: Vec<String> = Vec::new();
    let mut refused = 0;
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let name = entry.strip_suffix('*').unwrap_or(entry);
        let mut chars = name.chars();
        let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && entry.len() <= PASSTHROUGH_NAME_MAX;
        if !valid || (names.len() == PASSTHROUGH_MAX && !names.iter().any(|n| n == entry)) {
            refused += 1;
        } else if !names.iter().any(|n| n == entry) {
            names.push(entry.to_string());
        }
    }
    (names, refused)
}

/// `0.169, 1.2` → `[(0,169), (1,2)]`; extra components are ignored; any malformed part rejects
/// the whole list so a typo cannot silently narrow support.
fn parse_versions(list: &str) -> Option<Vec<(u64, u64)>> {
    let mut versions = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut numbers = part.split('.');
        let major = numbers.next()?.parse().ok()?;
        let minor = numbers.next()?.parse().ok()?;
        versions.push((major, minor));
    }
    (!versions.is_empty()).then_some(versions)
}

fn expand_tilde(path: &str, home: Option<&std::path::Path>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) => home.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let env = pairs.iter().map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string())).collect();
        Config::from_map(&env)
    }

    #[test]
    fn defaults_apply_without_warnings() {
        let c = config(&[]);
        assert_eq!(c.timeout_seconds, 300);
        assert_eq!(c.isolation, Isolation::Inherit);
        assert_eq!(c.max_input_bytes, 200_000);
        assert_eq!(c.max_inline_bytes, 40_000);
        assert_eq!(c.supported_versions, vec![(0, 169)]);
        assert!(!c.ephemeral, "runs are continuable by default");
        assert!(config(&[("EPHEMERAL", "TRUE")]).ephemeral);
        assert!(c.warnings.is_empty());
        assert_eq!((c.review_gate, c.review_gate_max_rounds), (None, 2));
        assert_eq!((c.review_gate_severity, c.review_gate_timeout_seconds), (Severity::High, 240));
        let gate = config(&[("REVIEW_GATE", "ON"), ("REVIEW_GATE_SEVERITY", "Medium")]);
        assert_eq!((gate.review_gate, gate.review_gate_severity), (Some(true), Severity::Medium));
        assert_eq!(config(&[("REVIEW_GATE", "off")]).review_gate, Some(false));
    }

    #[test]
    fn invalid_values_fall_back_and_are_reported() {
        let c = config(&[("TIMEOUT_SECONDS", "soon"), ("ISOLATION", "none"), ("JOB_MAX_SECONDS", "5")]);
        assert_eq!(c.timeout_seconds, 300);
        assert_eq!(c.isolation, Isolation::Inherit);
        assert_eq!(c.job_max_seconds, 10);
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings.iter().all(|w| w.starts_with(PREFIX)));
    }

    #[test]
    fn passthrough_takes_names_and_prefixes_and_reports_the_rest() {
        assert!(config(&[]).env_passthrough.is_empty());
        let c = config(&[("ENV_PASSTHROUGH", " NPM_TOKEN, MYAPP_* ,NPM_TOKEN,,")]);
        assert_eq!(c.env_passthrough, vec!["NPM_TOKEN".to_string(), "MYAPP_*".to_string()]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = config(&[("ENV_PASSTHROUGH", "*,A*B,1X,OK,-x,A=B")]);
        assert_eq!(c.env_passthrough, vec!["OK".to_string()]);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].starts_with("CODEX_IN_CLAUDE_ENV_PASSTHROUGH has 5 entries"), "{:?}", c.warnings);
    }

    /// 10,000 names, or one of 1,000 characters, would put one `-c` argument over Linux's
    /// 128 KiB limit on every codex run: the list is bounded, and what is cut is said.
    #[test]
    fn passthrough_is_bounded_so_codex_still_starts() {
        let long = "A".repeat(1000);
        let many: Vec<String> = (0..10_000).map(|i| format!("CIC_NAME_{i}")).collect();
        let list = format!("{long},OK,{},OK", many.join(","));
        let c = config(&[("ENV_PASSTHROUGH", list.as_str())]);
        assert_eq!(c.env_passthrough.len(), PASSTHROUGH_MAX);
        assert_eq!(c.env_passthrough[..2], ["OK".to_string(), "CIC_NAME_0".to_string()]);
        let pin = serde_json::to_string(&c.env_passthrough).unwrap();
        assert!(pin.len() < 128 * 1024 - 4096, "{}", pin.len());
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let refused = 1 + 10_000 - (PASSTHROUGH_MAX - 1);
        assert!(c.warnings[0].contains(&format!("has {refused} entries")), "{:?}", c.warnings);
        assert!(!c.warnings[0].contains(&long), "{:?}", c.warnings);
        let exact = "B".repeat(PASSTHROUGH_NAME_MAX);
        assert_eq!(config(&[("ENV_PASSTHROUGH", exact.as_str())]).env_passthrough, [exact]);
    }

    #[test]
    fn a_model_or_effort_that_would_be_read_as_a_flag_is_dropped_and_reported() {
        let c = config(&[("MODEL", "--dangerously-bypass-approvals-and-sandbox"), ("REASONING_EFFORT", "-x")]);
        assert_eq!((c.model, c.reasoning_effort), (None, None));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[0].starts_with("CODEX_IN_CLAUDE_MODEL starts with '-'"), "{:?}", c.warnings);
        assert_eq!(config(&[("MODEL", "gpt-5.5")]).model.as_deref(), Some("gpt-5.5"));
    }

    #[test]
    fn stall_limits_default_and_the_kill_stays_above_the_warning() {
        let c = config(&[]);
        assert_eq!((c.stall_warn_seconds, c.stall_kill_seconds), (120, 900));
        let c = config(&[("STALL_WARN_SECONDS", "30"), ("STALL_KILL_SECONDS", "10")]);
        assert_eq!((c.stall_warn_seconds, c.stall_kill_seconds), (30, 31));
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let c = config(&[("STALL_WARN_SECONDS", "0"), ("STALL_KILL_SECONDS", "1")]);
        assert_eq!((c.stall_warn_seconds, c.stall_kill_seconds), (1, 2));
    }

    #[test]
    fn timeout_is_clamped_for_use_but_raw_is_kept() {
        let c = config(&[("TIMEOUT_SECONDS", "5000")]);
        assert_eq!((c.timeout_seconds_raw, c.timeout_seconds), (5000, 600));
    }

    /// Every clamped or replaced value is a warning that names the value actually used.
    #[test]
    fn every_clamp_and_replacement_is_reported_with_the_value_used() {
        let temp = std::env::temp_dir().display().to_string();
        let cases: &[(&str, &str, &str)] = &[
            ("TIMEOUT_SECONDS", "5", "is 5, below the minimum 10; using 10"),
            ("TIMEOUT_SECONDS", "99999", "is 99999, above the maximum 600; using 600"),
            ("TIMEOUT_SECONDS", "0", "is 0, below the minimum 10; using 10"),
            ("TIMEOUT_SECONDS", "-3", "is not a whole number of 0 or more; using the default 300"),
            ("JOB_MAX_COUNT", "99999999999999999999999", "above the maximum 1000; using 1000"),
            ("MAX_CONCURRENT_CALLS", "0", "is 0, below the minimum 1; using 1"),
            ("MAX_CONCURRENT_CALLS", "many", "is not a whole number of 0 or more; using the default 64"),
            ("MAX_INPUT_BYTES", "10", "is 10, below the minimum 1000; using 1000"),
            ("MAX_INLINE_BYTES", "100", "is 100, below the minimum 8000; using 8000"),
            ("GIT_TIMEOUT_SECONDS", "0", "is 0, below the minimum 1; using 1"),
            ("ISOLATION", "none", "using inherit"),
            ("TIER_DEFAULT", "write", "using consult"),
            ("SANDBOX_DEFAULT", "danger-full-access", "using the tier's sandbox, read-only"),
            ("SUPPORTED_VERSIONS", "latest", "using the built-in 0.169"),
            ("LOG_LEVEL", "loud", "using WARNING"),
            ("EPHEMERAL", "maybe", "using false (runs can be continued)"),
            ("WORKTREE_BASE", "relative/dir", &format!("using the system temp dir, {temp}")),
            ("STATE_DIR", "relative/jobs", &format!("is not an absolute path; using {temp}/codex-in-claude/jobs")),
            ("REVIEW_GATE", "maybe", "each project's /codex:review-gate switch decides"),
            ("REVIEW_GATE_MAX_ROUNDS", "0", "is 0, below the minimum 1; using 1"),
            ("REVIEW_GATE_SEVERITY", "urgent", "using high"),
            ("REVIEW_GATE_TIMEOUT_SECONDS", "900", "is 900, above the maximum 300; using 300"),
        ];
        for (name, value, expected) in cases {
            let c = config(&[(name, value)]);
            assert_eq!(c.warnings.len(), 1, "{name}={value}: {:?}", c.warnings);
            let warning = &c.warnings[0];
            assert!(warning.starts_with(&format!("{PREFIX}{name} ")), "{warning}");
            assert!(warning.ends_with(expected), "{name}={value}: {warning:?} does not end with {expected:?}");
        }
        let c = config(&[("TIMEOUT_SECONDS", "0")]);
        assert_eq!((c.timeout_seconds_raw, c.timeout_seconds), (0, 10), "the warning's value is the one used");
        assert_eq!(config(&[("TIMEOUT_SECONDS", "99999")]).timeout_seconds, 600);
        assert_eq!(config(&[("JOB_MAX_COUNT", "99999999999999999999999")]).job_max_count, 1000);
        assert!(config(&[("TIMEOUT_SECONDS", "10"), ("JOB_MAX_COUNT", "1000")]).warnings.is_empty(), "bounds are in");
    }

    #[test]
    fn placeholders_are_detected_and_not_used() {
        let c = config(&[("MODEL", "${MODEL}"), ("LOG_FILE", " ${HOME_DIR} "), ("ISOLATION", "$HOME")]);
        assert_eq!(c.unexpanded_placeholders, vec!["CODEX_IN_CLAUDE_LOG_FILE", "CODEX_IN_CLAUDE_MODEL"]);
        assert_eq!(c.model, None);
        assert!(!is_placeholder("${1X}"));
    }

    #[test]
    fn supported_versions_override_is_all_or_nothing() {
        assert_eq!(config(&[("SUPPORTED_VERSIONS", "0.169, 1.2.3")]).supported_versions, vec![(0, 169), (1, 2)]);
        let bad = config(&[("SUPPORTED_VERSIONS", "0.169,x")]);
        assert_eq!(bad.supported_versions, vec![(0, 169)]);
        assert_eq!(bad.warnings.len(), 1);
    }
}
