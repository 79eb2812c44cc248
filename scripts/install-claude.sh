#!/bin/sh
# Installs the pinned Claude Code CLI into <repo>/.tools/claude, for the test that runs
# `claude plugin validate` on the plugin and the marketplace (offline; nothing is sent anywhere).
#
# Success means <repo>/.tools/claude/claude answers `--version` with the pinned version. npm may
# or may not run the package's postinstall (which puts the native binary at bin/claude.exe), so
# the native binary of the platform package is accepted too. Re-running is cheap: an install that
# already answers correctly is left alone.
set -eu

CLAUDE_VERSION="2.1.330"
. "$(dirname -- "$0")/npm-pinned.sh"
PREFIX="$REPO_ROOT/.tools/claude"
LINK="$PREFIX/claude"
EXPECTED="$CLAUDE_VERSION (Claude Code)"

if [ "$(version_of "$LINK")" = "$EXPECTED" ]; then
    echo "claude $CLAUDE_VERSION already installed: $LINK"
    exit 0
fi

npm_install_pinned install-claude.sh "@anthropic-ai/claude-code@$CLAUDE_VERSION" "$PREFIX"

for candidate in \
    "$PREFIX/node_modules/@anthropic-ai/claude-code/bin/claude.exe" \
    "$PREFIX"/node_modules/@anthropic-ai/claude-code-*/claude; do
    if [ "$(version_of "$candidate")" = "$EXPECTED" ]; then
        # Relative, so the link survives moving the checkout.
        ln -sf "${candidate#"$PREFIX"/}" "$LINK"
        echo "Installed $EXPECTED: $LINK -> $candidate"
        exit 0
    fi
done
echo "install-claude.sh: no binary in $PREFIX answers --version with '$EXPECTED'" >&2
echo "install-claude.sh: the native binary may be missing for this platform" >&2
exit 1
