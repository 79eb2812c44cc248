#!/bin/sh
# Installs the pinned OpenAI codex CLI into <repo>/.tools/codex for the end-to-end tests.
#
# The tests run the native musl binary directly (not the Node wrapper), so success here means
# that binary answers `--version` with the pinned version. Re-running is cheap: an install that
# already answers correctly is left alone.
set -eu

CODEX_VERSION="0.169.0"
. "$(dirname -- "$0")/npm-pinned.sh"
PREFIX="$REPO_ROOT/.tools/codex"
NATIVE_BIN="$PREFIX/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
EXPECTED="codex-cli $CODEX_VERSION"

if [ "$(version_of "$NATIVE_BIN")" = "$EXPECTED" ]; then
    echo "codex $CODEX_VERSION already installed: $NATIVE_BIN"
    exit 0
fi

npm_install_pinned install-codex.sh "@openai/codex@$CODEX_VERSION" "$PREFIX"

actual=$(version_of "$NATIVE_BIN")
if [ "$actual" != "$EXPECTED" ]; then
    echo "install-codex.sh: expected '$EXPECTED' from $NATIVE_BIN --version, got '${actual:-nothing}'" >&2
    echo "install-codex.sh: the native x86_64 linux binary may be missing for this platform" >&2
    exit 1
fi
echo "Installed $actual: $NATIVE_BIN"
