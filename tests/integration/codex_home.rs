//! A throwaway `CODEX_HOME` wired to a [`MockModel`], and the location of the pinned codex
//! binary.
//!
//! This module owns the offline recipe of docs/codex-cli.md §3: the `config.toml` that makes
//! the real codex 0.169.0 talk only to the loopback mock (custom provider, no retries, no
//! phone-home features), and the environment a codex process needs to use it. The binary itself
//! comes from `scripts/install-codex.sh`; a missing install fails loudly instead of skipping.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::mock_model::MockModel;

/// Version installed by `scripts/install-codex.sh`; the config recipe was proven against it.
pub const CODEX_VERSION: &str = "0.169.0";

/// Where the contract says a stalled stream is given up on, unless a test picks another value.
const DEFAULT_IDLE_TIMEOUT_MS: u64 = 10_000;

/// The native binary's directory inside the npm install; the Node wrapper is avoided because
/// killing it orphans the native child (docs/codex-cli.md §1).
const NATIVE_BIN_DIR: &str = ".tools/codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin";

/// The directory holding the pinned native `codex` binary. Panics with install instructions when
/// it is missing, so an unprepared machine fails instead of silently skipping the e2e tests.
pub fn codex_bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(NATIVE_BIN_DIR);
    assert!(
        dir.join("codex").is_file(),
        "codex {CODEX_VERSION} is not installed at {}; run scripts/install-codex.sh first",
        dir.display()
    );
    dir
}

/// The pinned native `codex` binary (see [`codex_bin_dir`]).
pub fn codex_bin() -> PathBuf {
    codex_bin_dir().join("codex")
}

/// A fresh `CODEX_HOME` whose `config.toml` points codex at one mock, and a job state directory
/// of its own (every paid run is a job: none may land in a shared cache); deleted on drop.
pub struct CodexHome {
    dir: TempDir,
    state: TempDir,
    base_url: String,
    idle_timeout_ms: u64,
}

impl CodexHome {
    /// Creates the directory and writes `config.toml` for `mock`, with a 10 s idle timeout.
    pub fn new(mock: &MockModel) -> CodexHome {
        let home = CodexHome {
            dir: create_home_dir(),
            state: tempfile::tempdir().expect("create a job state directory"),
            base_url: mock.base_url(),
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
        };
        home.write_config();
        home
    }

    /// Rewrites `config.toml` with another `stream_idle_timeout_ms`: how long codex tolerates a
    /// silent SSE stream before failing the turn (a `Hang` step needs a short one).
    pub fn with_idle_timeout_ms(mut self, idle_timeout_ms: u64) -> CodexHome {
        self.idle_timeout_ms = idle_timeout_ms;
        self.write_config();
        self
    }

    /// The `CODEX_HOME` directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `$CODEX_HOME/config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.toml")
    }

    /// The variables a codex process needs: `CODEX_HOME`, the provider's `MOCK_API_KEY`, and
    /// `PATH` with the pinned codex first, so that a bare `codex` resolves to it; and
    /// `CODEX_IN_CLAUDE_STATE_DIR` for the jobs of paid runs (a later entry may override it).
    pub fn env(&self) -> Vec<(String, String)> {
        let current_path = std::env::var_os("PATH").unwrap_or_default();
        let mut path_entries = vec![codex_bin_dir()];
        path_entries.extend(std::env::split_paths(&current_path));
        let path: OsString = std::env::join_paths(path_entries).expect("PATH entries contain no separator");
        vec![
            ("CODEX_HOME".into(), self.path().to_string_lossy().into_owned()),
            ("MOCK_API_KEY".into(), "dummy".into()),
            ("CODEX_IN_CLAUDE_STATE_DIR".into(), self.state.path().to_string_lossy().into_owned()),
            ("PATH".into(), path.to_string_lossy().into_owned()),
        ]
    }

    fn write_config(&self) {
        let config = config_toml(&self.base_url, self.idle_timeout_ms);
        fs::write(self.config_path(), config).expect("write CODEX_HOME/config.toml");
    }
}

/// Prefers cargo's per-target scratch dir: a `CODEX_HOME` under `$TMPDIR` makes codex print a
/// warning on every run (docs/codex-cli.md §1), which would clutter stderr assertions.
fn create_home_dir() -> TempDir {
    let builder = {
        let mut builder = tempfile::Builder::new();
        builder.prefix("codex-home-");
        builder
    };
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(target_tmp)
        .ok()
        .and_then(|()| builder.tempdir_in(target_tmp).ok())
        .unwrap_or_else(|| builder.tempdir().expect("create a temporary CODEX_HOME"))
}

/// The docs/codex-cli.md §3 recipe. Every key matters: the retries are zeroed so failures surface in
/// one request, `unbounded_connection_retries` would otherwise retry a dead mock forever, and
/// plugins/analytics/otel would otherwise reach github.com and chatgpt.com.
fn config_toml(base_url: &str, idle_timeout_ms: u64) -> String {
    format!(
        r#"model = "gpt-5.5"
model_provider = "mock"
allow_login_shell = false
check_for_update_on_startup = false

[analytics]
enabled = false

[otel]
metrics_exporter = "none"

[features]
plugins = false
unbounded_connection_retries = false
shell_snapshot = false

[model_providers.mock]
name = "Mock"
base_url = "{base_url}"
wire_api = "responses"
env_key = "MOCK_API_KEY"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = {idle_timeout_ms}
supports_websockets = false
"#
    )
}
