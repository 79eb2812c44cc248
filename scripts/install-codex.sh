#!/bin/sh
# Installs the pinned OpenAI codex CLI into <repo>/.tools/codex for the end-to-end tests.
#
# The tests run the native musl binary directly (not the Node wrapper), so success here means
# that binary answers `--version` with the pinned version. Re-running is cheap: an install that
# already answers correctly is left alone.
set -eu

CODEX_VERSION="0.169.0"
# Resolve the repo root from this script's own location so it works from any cwd.
REPO_ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
PREFIX="$REPO_ROOT/.tools/codex"
NATIVE_BIN="$PREFIX/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
EXPECTED="codex-cli $CODEX_VERSION"

native_version() {
    # Prints nothing when the binary is missing or fails, so the comparison below fails cleanly.
    if [ -x "$NATIVE_BIN" ]; then
        "$NATIVE_BIN" --version 2>/dev/null || true
    fi
}

if [ "$(native_version)" = "$EXPECTED" ]; then
    echo "codex $CODEX_VERSION already installed: $NATIVE_BIN"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "install-codex.sh: npm not found on PATH; install Node.js/npm first" >&2
    exit 1
fi

echo "Installing @openai/codex@$CODEX_VERSION into $PREFIX"
mkdir -p "$PREFIX"
if ! npm install --prefix "$PREFIX" "@openai/codex@$CODEX_VERSION" --no-audit --no-fund; then
    echo "install-codex.sh: npm install of @openai/codex@$CODEX_VERSION failed" >&2
    exit 1
fi

actual=$(native_version)
if [ "$actual" != "$EXPECTED" ]; then
    echo "install-codex.sh: expected '$EXPECTED' from $NATIVE_BIN --version, got '${actual:-nothing}'" >&2
    echo "install-codex.sh: the native x86_64 linux binary may be missing for this platform" >&2
    exit 1
fi
echo "Installed $actual: $NATIVE_BIN"
