//! The official Python MCP SDK (`mcp==2.3.0`, installed by `scripts/install-mcp-client.sh`) as an
//! independent client: it lists the tools and calls them in all three connection modes with its
//! own output-schema validation on. The script's checks live in `tests/clients/sdk_check.py`.

use std::path::Path;

use crate::codex_home::codex_bin_dir;
use crate::support::{binary, path_with};

fn run_sdk_check(mode: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".tools/venv/bin/python");
    assert!(python.is_file(), "the MCP SDK client is not installed; run scripts/install-mcp-client.sh first");
    let home = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(python)
        .arg(root.join("tests/clients/sdk_check.py"))
        .arg(mode)
        .arg(binary())
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", path_with(&codex_bin_dir()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sdk_check {mode} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(", 0 failed"), "{stdout}");
}

#[test]
fn python_sdk_legacy_handshake() {
    run_sdk_check("legacy");
}

#[test]
fn python_sdk_auto_probe_picks_2026() {
    run_sdk_check("auto");
}

#[test]
fn python_sdk_pinned_2026() {
    run_sdk_check("2026-07-28");
}
