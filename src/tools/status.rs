//! `codex_status`: can a paid tool work right now? Found, version, supported range, auth, flag
//! support, the live ChatGPT usage windows, today's token budget, the defaults calls would use,
//! which environment variables codex and its commands get (names only), and every configuration
//! fallback. Never spends, never echoes what `codex login status` printed
//! (it may name the account).

use serde::Serialize;
use serde_json::{Value, json};

use super::Call;
use super::schema;
use crate::adapters::budget::{self, Budget};
use crate::adapters::codex::probe::{self, Auth, Version};
use crate::adapters::codex::{app_server, environment};
use crate::foundation::cancel::CancelToken;
use crate::foundation::config::{Config, TIMEOUT_BOUNDS};
use crate::foundation::policy::Tier;

pub fn run(call: &Call) -> Value {
    summary(report(call.config, &call.cancel))
}

/// The report as the tool gives it: what `super::lean` drops from every envelope, and also what
/// only restates another member, a constant or a built-in default (the README documents them):
/// a `readiness_detail` of "ready", an `auth_detail` when `readiness_detail` already says codex
/// is not logged in, the supported versions when this one is supported, `flags_checked: true`,
/// a `budget` with no budget set and nothing to report, `raw_defaults` that equal the resolved
/// ones, a resolved default at its built-in value (the state directory, which repairs point to,
/// always shows), the `environment` when no name is passed through (the built-in allowlists
/// apply), `session_persistence` when continuable, its detail, the caveat, and the
/// version and fingerprint `codex_capabilities` gives. The
/// `status` command prints the whole report.
fn summary(mut report: Value) -> Value {
    let Value::Object(fields) = &mut report else { return report };
    let is = |fields: &serde_json::Map<String, Value>, key: &str, value: Value| fields.get(key) == Some(&value);
    if is(fields, "readiness_detail", json!("ready")) {
        fields.shift_remove("readiness_detail");
    }
    if is(fields, "codex_authenticated", json!(false)) {
        fields.shift_remove("auth_detail");
    }
    if is(fields, "version_supported", json!(true)) {
        fields.shift_remove("supported_versions");
    }
    if is(fields, "flags_checked", json!(true)) {
        fields.shift_remove("flags_checked");
    }
    let budget = &fields["budget"];
    if ["daily_token_budget", "usage_limit_resets_at", "error"].iter().all(|key| budget[key].is_null()) {
        fields.shift_remove("budget");
    }
    // The resolved defaults that differ from a server configured with nothing; the raw ones
    // only where they differ from the resolved (a clamped timeout).
    let built_in = json!(resolved_defaults(&Config::from_map(&Default::default())));
    if let (Some(Value::Object(resolved)), Some(built_in)) = (fields.get_mut("resolved_defaults"), built_in.as_object())
    {
        resolved.retain(|key, value| key == "state_dir" || built_in.get(key) != Some(value));
    }
    let (raw, resolved) = (&fields["raw_defaults"], &fields["resolved_defaults"]);
    let raw_restated = raw
        .as_object()
        .is_some_and(|raw| raw.iter().all(|(key, value)| resolved.get(key).is_none_or(|resolved| resolved == value)));
    if raw_restated {
        fields.shift_remove("raw_defaults");
    }
    // Without names of the user's the environment follows the documented built-in lists;
    // `setup` and the `status` command show which variables those let through.
    if fields["environment"]["passthrough"].as_array().is_some_and(Vec::is_empty) {
        fields.shift_remove("environment");
    }
    if is(fields, "session_persistence", json!("continuable")) {
        fields.shift_remove("session_persistence");
    }
    for constant in ["session_persistence_detail", "caveat", "server_version", "fingerprint"] {
        fields.shift_remove(constant);
    }
    report
}

/// The `codex_status` success envelope, whole (`summary` gives the tool's view of it).
#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    ready: bool,
    readiness_detail: &'static str,
    codex_found: bool,
    codex_version: Option<String>,
    version_detail: Option<String>,
    version_supported: Option<bool>,
    supported_versions: Vec<String>,
    version_warning: Option<String>,
    codex_authenticated: Option<bool>,
    auth_detail: String,
    flags_checked: bool,
    missing_flags: Vec<&'static str>,
    flags_warning: Option<String>,
    rate_limit: app_server::RateLimit,
    budget: budget::Report,
    raw_defaults: Defaults<'a>,
    resolved_defaults: ResolvedDefaults<'a>,
    config_warnings: &'a [String],
    unexpanded_env_placeholders: &'a [String],
    /// Which of the server's variables codex and the commands it runs get, by name.
    environment: environment::Passed,
    session_persistence: SessionPersistence,
    session_persistence_detail: &'static str,
    caveat: &'static str,
    server_version: &'static str,
    fingerprint: &'static str,
}

/// Whether codex keeps each run's session files (`CODEX_IN_CLAUDE_EPHEMERAL`).
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum SessionPersistence {
    Continuable,
    Ephemeral,
}

/// The defaults a call would use (`raw_defaults`: the timeout as configured).
#[derive(Serialize)]
struct Defaults<'a> {
    tier: Tier,
    sandbox: &'static str,
    isolation: &'static str,
    model: Option<&'a str>,
    reasoning_effort: Option<&'a str>,
    timeout_seconds: u64,
}

/// `resolved_defaults`: the defaults as runs use them, plus the limits that apply.
#[derive(Serialize)]
struct ResolvedDefaults<'a> {
    #[serde(flatten)]
    defaults: Defaults<'a>,
    timeout_bounds: [u64; 2],
    max_input_bytes: u64,
    max_delegate_diff_bytes: u64,
    max_inline_bytes: u64,
    max_output_bytes: u64,
    git_timeout_seconds: u64,
    job_max_seconds: u64,
    job_ttl_seconds: u64,
    job_max_count: u64,
    state_dir: String,
    worktree_base: String,
}

/// The status envelope; also what `codex-in-claude status` prints.
pub fn report(config: &Config, cancel: &CancelToken) -> Value {
    // The four probes are independent processes; running them side by side keeps the call at
    // the cost of the slowest one.
    let (version, auth, flags, limits) = std::thread::scope(|scope| {
        let version = scope.spawn(|| probe::version(cancel));
        let auth = scope.spawn(|| probe::login_status(cancel));
        let flags = scope.spawn(|| probe::exec_flags(true, cancel, Some(&config.state_dir)));
        let limits =
            scope.spawn(|| app_server::ask(&[("account/rateLimits/read", json!({}))], app_server::TIMEOUT, cancel));
        (version.join(), auth.join(), flags.join(), limits.join())
    });
    let rate_limit = match limits {
        Ok(Ok(answers)) => app_server::rate_limit(Ok(&answers[0])),
        Ok(Err(why)) => app_server::rate_limit(Err(&why)),
        Err(_) => app_server::rate_limit(Err(&app_server::Unavailable::Failed("the probe panicked".into()))),
    };
    let version = version.unwrap_or(Version::Broken { detail: "version probe panicked".into() });
    let found = matches!(version, Version::Found { .. });
    // A login probe only means something when the binary answers.
    let auth = if found { auth.unwrap_or(Auth::Unknown) } else { Auth::Unknown };
    let missing_flags = match (&flags, found) {
        (Ok(flags), true) => flags.missing(),
        _ => Vec::new(),
    };
    let flags_checked = found && flags.as_ref().is_ok_and(|f| f.0.is_some());

    let (codex_version, version_supported, version_detail) = match &version {
        Version::Missing => (None, None, Some("codex was not found on PATH".to_string())),
        Version::Broken { detail } => (None, None, Some(crate::foundation::text::one_line(detail, 200))),
        Version::Found { text, parsed } => {
            (Some(text.clone()), parsed.map(|(major, minor, _)| config.version_supported(major, minor)), None)
        }
    };
    let supported: Vec<String> = config.supported_versions.iter().map(|(a, b)| format!("{a}.{b}")).collect();
    let version_warning = (version_supported == Some(false)).then(|| {
        format!(
            "this codex version is outside the tested range ({}); calls may still work, but flags or events may have changed",
            supported.join(", ")
        )
    });
    let (authenticated, auth_detail) = match auth {
        Auth::LoggedIn { method: Some(m) } => (Some(true), format!("codex reports an authenticated session ({m})")),
        Auth::LoggedIn { method: None } => (Some(true), "codex reports an authenticated session".to_string()),
        Auth::NotLoggedIn => (Some(false), "codex reports no login; run `codex login`".to_string()),
        Auth::Unknown => (None, "could not determine whether codex is logged in".to_string()),
    };
    let ready = found && authenticated == Some(true);
    let readiness_detail = if !found {
        "codex is not usable: install it (npm install -g @openai/codex) and make sure it is on the server's PATH"
    } else if authenticated == Some(false) {
        "codex is not logged in: run `codex login` (a custom model provider in codex's config.toml may not need it)"
    } else if authenticated.is_none() {
        "codex is installed but its login state could not be determined"
    } else {
        "ready"
    };
    let flags_warning = (!missing_flags.is_empty()).then(|| {
        format!("codex exec --help does not list {}; runs may fail with cli_contract_changed", missing_flags.join(", "))
    });

    json!(Report {
        ok: true,
        ready,
        readiness_detail,
        codex_found: found,
        codex_version,
        version_detail,
        version_supported,
        supported_versions: supported,
        version_warning,
        codex_authenticated: authenticated,
        auth_detail,
        flags_checked,
        missing_flags,
        flags_warning,
        rate_limit,
        budget: Budget::new(&config.state_dir, config.daily_token_budget).report(),
        raw_defaults: defaults(config, config.timeout_seconds_raw),
        resolved_defaults: resolved_defaults(config),
        config_warnings: &config.warnings,
        unexpanded_env_placeholders: &config.unexpanded_placeholders,
        environment: environment::passed(&config.env_passthrough),
        session_persistence: if config.ephemeral {
            SessionPersistence::Ephemeral
        } else {
            SessionPersistence::Continuable
        },
        session_persistence_detail: if config.ephemeral {
            "CODEX_IN_CLAUDE_EPHEMERAL=true: every run is --ephemeral; codex keeps no session files and follow-ups by session_id are refused"
        } else {
            "codex keeps each run's session files in $CODEX_HOME/sessions, so a later call can continue it by session_id"
        },
        caveat: "Paid tools send your question, context or redacted diff to OpenAI through codex; Codex can read any file the OS user can. Treat its output as claims to verify.",
        server_version: crate::foundation::identity::VERSION,
        fingerprint: super::fingerprint(),
    })
}

/// The defaults a call would use, with the timeout given: `raw_defaults` shows it as
/// configured, `resolved_defaults` as runs use it.
fn defaults(config: &Config, timeout_seconds: u64) -> Defaults<'_> {
    Defaults {
        tier: config.tier_default,
        sandbox: config.sandbox_default,
        isolation: config.isolation.as_str(),
        model: config.model.as_deref(),
        reasoning_effort: config.reasoning_effort.as_deref(),
        timeout_seconds,
    }
}

/// What runs use: the defaults, plus the limits that apply.
fn resolved_defaults(config: &Config) -> ResolvedDefaults<'_> {
    ResolvedDefaults {
        defaults: defaults(config, config.timeout_seconds),
        timeout_bounds: [TIMEOUT_BOUNDS.0, TIMEOUT_BOUNDS.1],
        max_input_bytes: config.max_input_bytes,
        max_delegate_diff_bytes: config.max_delegate_diff_bytes,
        max_inline_bytes: config.max_inline_bytes,
        max_output_bytes: config.max_output_bytes,
        git_timeout_seconds: config.git_timeout_seconds,
        job_max_seconds: config.job_max_seconds,
        job_ttl_seconds: config.job_ttl_seconds,
        job_max_count: config.job_max_count,
        state_dir: config.state_dir.display().to_string(),
        worktree_base: config.worktree_base.display().to_string(),
    }
}

pub fn success_schema() -> Value {
    let names = [
        "ready",
        "readiness_detail",
        "codex_found",
        "codex_version",
        "version_detail",
        "version_supported",
        "supported_versions",
        "version_warning",
        "codex_authenticated",
        "auth_detail",
        "flags_checked",
        "missing_flags",
        "flags_warning",
        "rate_limit",
        "budget",
        "raw_defaults",
        "resolved_defaults",
        "config_warnings",
        "unexpanded_env_placeholders",
        "environment",
        "session_persistence_detail",
        "caveat",
        "server_version",
        "fingerprint",
    ];
    schema::members(&names, &[("session_persistence", &["continuable", "ephemeral"])])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole report (no codex on this PATH, or whatever codex there is) has exactly the
    /// members the schema names, and its `session_persistence` is one of the values published.
    #[test]
    fn the_status_report_matches_its_schema() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().display().to_string();
        for ephemeral in ["false", "true"] {
            let vars = [("CODEX_IN_CLAUDE_STATE_DIR", dir.as_str()), ("CODEX_IN_CLAUDE_EPHEMERAL", ephemeral)];
            let config = Config::from_map(&vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
            let whole = report(&config, &CancelToken::new());
            crate::tools::check_against_schema(&whole, &success_schema());
            let allowed = &success_schema()["session_persistence"]["enum"];
            assert!(allowed.as_array().unwrap().contains(&whole["session_persistence"]), "{whole}");
        }
    }
}
