//! The environments codex and the commands it runs see: one allowlist for the codex process, a
//! narrower one for the commands its shell tool runs, and the user's additions
//! (`CODEX_IN_CLAUDE_ENV_PASSTHROUGH`).
//!
//! The server's environment holds whatever the user's shell exported (cloud keys, database URLs,
//! tokens of other tools). codex hands its own environment to every command the model runs, and
//! whatever a command prints (`env`, a test that dumps its environment) goes to the model API, so
//! a value not on these lists never reaches codex at all.
//!
//! The commands' list is pinned with `-c shell_environment_policy.*` on every run: a `-c` is
//! layered over every config file, `include_only` is applied last in codex's policy (after
//! `inherit`, the excludes and `set`) and an array given with `-c` replaces the user's instead of
//! joining it (docs/codex-cli.md §2), so neither a user's `config.toml`, a project's `.codex/`
//! config nor an `isolation` value can widen it. Entries ending in `*` match every name with that prefix.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::foundation::process::Env;

/// What the commands codex runs may see, and the codex process with them (the commands' policy
/// starts from codex's own environment).
const COMMANDS: &[&str] = &[
    // Where things are and who runs them: every build and test tool expects these.
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    // Scratch space; in a delegation codex's `TMPDIR` is the run's private directory.
    "TMPDIR",
    "TMP",
    "TEMP",
    // Locale and time zone: compilers' messages and tests' results depend on them.
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    // Where tools keep their configuration and caches (git's global config among them).
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    // Toolchain locations, so `cargo test`, `go test`, `npm test`, `pytest`, … find the
    // toolchain the user installed. Only locations and switches: `GOPROXY`, `PIP_INDEX_URL` and
    // `NPM_CONFIG_*` are left out as they may carry credentials in a URL.
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "GOPATH",
    "GOROOT",
    "GOCACHE",
    "GOMODCACHE",
    "GOFLAGS",
    "JAVA_HOME",
    "NVM_DIR",
    "NODE_PATH",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PYENV_ROOT",
    "RBENV_ROOT",
    "GEM_HOME",
    "GEM_PATH",
    "CC",
    "CXX",
    "PKG_CONFIG_PATH",
    "LD_LIBRARY_PATH",
];

/// What the codex process needs besides `COMMANDS` to start, authenticate and reach its API;
/// none of it reaches the commands (their sandbox has no network, so a proxy is of no use there).
const CODEX_ONLY: &[&str] = &[
    // codex's own configuration and state.
    "CODEX_HOME",
    "CODEX_SQLITE_HOME",
    // The credentials codex itself reads: API keys (`OPENAI_API_KEY`, `CODEX_API_KEY`), an
    // access token, the organization header, Amazon Bedrock's API key and profile selection, and
    // the credentials file of Google's Vertex AI (a path).
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "CODEX_ACCESS_TOKEN",
    "OPENAI_BASE_URL",
    "OPENAI_ORGANIZATION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    // A ChatGPT login kept in the desktop keyring is read over the session bus.
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
    // Reaching the API through a corporate proxy or TLS inspection.
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "CODEX_CA_CERTIFICATE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

static PASSTHROUGH: OnceLock<Vec<String>> = OnceLock::new();

/// Sets the user's additions (`Config::env_passthrough`) once, at start-up.
pub fn pass_through(names: &[String]) {
    let _ = PASSTHROUGH.set(names.to_vec());
}

fn passthrough() -> &'static [String] {
    PASSTHROUGH.get().map_or(&[], Vec::as_slice)
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Names of the variables a model provider in the user's `config.toml` reads its key from
/// (`env_key = "NAME"`): codex needs them to authenticate, the commands never get them.
fn provider_keys(server: &[(String, String)]) -> Vec<String> {
    let get = |key: &str| server.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let home =
        get("CODEX_HOME").map(PathBuf::from).or_else(|| get("HOME").map(|home| PathBuf::from(home).join(".codex")));
    let Some(text) = home.and_then(|home| std::fs::read_to_string(home.join("config.toml")).ok()) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("env_key") {
        rest = &rest[at + "env_key".len()..];
        let value = rest.trim_start().strip_prefix('=').map(str::trim_start);
        let Some(value) = value.and_then(|v| v.strip_prefix('"').or_else(|| v.strip_prefix('\''))) else { continue };
        let name: String = value.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && !keys.contains(&name) {
            keys.push(name);
        }
    }
    keys
}

/// The server's variables, as UTF-8 (a value that is not cannot be compared or reported).
fn server_vars() -> Vec<(String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect()
}

/// What a variable of the server's environment is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    CodexAndCommands,
    CodexOnly,
    Neither,
}

fn reach(name: &str, provider_keys: &[String], user: &[String]) -> Reach {
    if COMMANDS.iter().copied().chain(user.iter().map(String::as_str)).any(|p| matches(p, name)) {
        Reach::CodexAndCommands
    } else if CODEX_ONLY.iter().any(|p| matches(p, name)) || provider_keys.iter().any(|k| k == name) {
        Reach::CodexOnly
    } else {
        Reach::Neither
    }
}

/// The environment of every codex process: the allowlisted part of the server's, with `extra`
/// set on top (the git policy and a run's private `TMPDIR`).
pub fn codex(extra: Vec<(String, String)>) -> Env {
    let server = server_vars();
    let keys = provider_keys(&server);
    let mut vars: Vec<(String, String)> = server
        .into_iter()
        .filter(|(name, _)| {
            !extra.iter().any(|(k, _)| k == name) && reach(name, &keys, passthrough()) != Reach::Neither
        })
        .collect();
    vars.extend(extra);
    Env::Only(vars)
}

/// The `-c` pins of the commands' environment: everything codex has (already allowlisted),
/// narrowed to `COMMANDS`, the user's additions and `extra` (the git policy codex's own git and
/// the commands' git share). The default `*KEY*`/`*SECRET*`/`*TOKEN*` excludes are turned off
/// because the list is exact: they would otherwise silently drop a name the user added. No login
/// shell and no shell snapshot, so no dotfile adds to the list.
pub fn shell_policy_pins(extra: &[String]) -> Vec<OsString> {
    let mut include: Vec<&str> = COMMANDS.to_vec();
    include.extend(passthrough().iter().map(String::as_str));
    include.push("SHLVL");
    include.extend(extra.iter().map(String::as_str));
    // A JSON array of strings is a valid TOML array.
    let include = serde_json::to_string(&include).unwrap_or_else(|_| "[]".into());
    [
        "shell_environment_policy.inherit=\"all\"".to_string(),
        "shell_environment_policy.ignore_default_excludes=true".to_string(),
        format!("shell_environment_policy.include_only={include}"),
        // A login shell (the model may ask for one) and a snapshot of the user's shell, sourced
        // before every command, both re-run the user's dotfiles after the policy was applied:
        // an `export GITHUB_TOKEN=…` in `~/.bashrc` or `~/.profile` would reach the commands.
        "allow_login_shell=false".to_string(),
        // bash reads `~/.bashrc` even for `bash -c` when its standard input is a socket (codex
        // gives a command one) and it is not nested in another shell; `SHLVL=1` says it is.
        "shell_environment_policy.set.SHLVL=\"1\"".to_string(),
        "features.shell_snapshot=false".to_string(),
        "features.shell_snapshot_v2=false".to_string(),
    ]
    .into_iter()
    .flat_map(|pin| [OsString::from("-c"), OsString::from(pin)])
    .collect()
}

/// What is passed, by name only (`codex_status`, `setup`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Passed {
    /// Variables of the server's environment codex and the commands it runs both get.
    pub commands: Vec<String>,
    /// Variables only the codex process gets.
    pub codex_only: Vec<String>,
    /// The user's additions, as configured.
    pub passthrough: Vec<String>,
}

/// Names of the server's variables each environment gets with the user's additions
/// `passthrough`, sorted.
pub fn passed(passthrough: &[String]) -> Passed {
    let server = server_vars();
    let keys = provider_keys(&server);
    let mut passed = Passed { passthrough: passthrough.to_vec(), ..Passed::default() };
    for (name, _) in server {
        match reach(&name, &keys, passthrough) {
            Reach::CodexAndCommands => passed.commands.push(name),
            Reach::CodexOnly => passed.codex_only.push(name),
            Reach::Neither => {}
        }
    }
    passed.commands.sort();
    passed.codex_only.sort();
    passed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_reach_codex_at_most_and_never_the_commands() {
        let keys = vec!["AZURE_OPENAI_API_KEY".to_string()];
        let user = vec!["NPM_TOKEN".to_string(), "MYAPP_*".to_string()];
        for name in ["PATH", "HOME", "LC_ALL", "TMPDIR", "CARGO_HOME", "NPM_TOKEN", "MYAPP_DSN"] {
            assert_eq!(reach(name, &keys, &user), Reach::CodexAndCommands, "{name}");
        }
        for name in ["OPENAI_API_KEY", "CODEX_HOME", "HTTPS_PROXY", "AZURE_OPENAI_API_KEY"] {
            assert_eq!(reach(name, &keys, &user), Reach::CodexOnly, "{name}");
        }
        for name in [
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "ANTHROPIC_API_KEY",
            "PGPASSWORD",
            "DATABASE_URL",
            "FOO_PASSWORD",
            "GOPROXY",
            "BASH_ENV",
            "GIT_DIR",
            "LCX",
            "MYAPP",
        ] {
            assert_eq!(reach(name, &keys, &user), Reach::Neither, "{name}");
        }
    }

    #[test]
    fn provider_keys_are_read_from_the_user_config() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("config.toml"),
            "[model_providers.a]\nenv_key = \"A_KEY\"\n[model_providers.b]\nb = { env_key='B_KEY' }\n# env_key mention\nenv_key = 3\n",
        )
        .unwrap();
        let server = vec![("CODEX_HOME".to_string(), home.path().display().to_string())];
        assert_eq!(provider_keys(&server), vec!["A_KEY".to_string(), "B_KEY".to_string()]);
        assert!(provider_keys(&[]).is_empty());
    }

    #[test]
    fn the_shell_policy_pins_an_exact_list() {
        let pins: Vec<String> =
            shell_policy_pins(&["GIT_CONFIG_PARAMETERS".into()]).iter().map(|p| p.to_string_lossy().into()).collect();
        assert_eq!(pins[0], "-c");
        assert_eq!(pins[1], "shell_environment_policy.inherit=\"all\"");
        assert_eq!(pins[3], "shell_environment_policy.ignore_default_excludes=true");
        assert!(pins[5].starts_with("shell_environment_policy.include_only=[\"PATH\",\"HOME\","), "{}", pins[5]);
        assert!(pins[5].ends_with(",\"SHLVL\",\"GIT_CONFIG_PARAMETERS\"]"), "{}", pins[5]);
        assert!(!pins[5].contains("PROXY") && !pins[5].contains("API_KEY"), "{}", pins[5]);
        assert_eq!(
            pins[7..].iter().step_by(2).collect::<Vec<_>>(),
            [
                "allow_login_shell=false",
                "shell_environment_policy.set.SHLVL=\"1\"",
                "features.shell_snapshot=false",
                "features.shell_snapshot_v2=false"
            ]
        );
    }
}
