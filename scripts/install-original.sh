#!/usr/bin/env bash
# Installs the original Python server (codex-in-claude==0.2.0 from PyPI, console script
# `codex-in-claude-mcp`) into <repo>/.tools/original-venv, for `make bench` to compare against.
# Idempotent: an install that already reports the pinned version is left alone. Fails loudly:
# a benchmark that silently skipped the original would have no ratio to report.
set -euo pipefail

ORIGINAL_VERSION="0.2.0"
NAME="install-original"
. "$(dirname "${BASH_SOURCE[0]}")/venv-pinned.sh"
VENV="$REPO_ROOT/.tools/original-venv"
PY="$VENV/bin/python"
SERVER="$VENV/bin/codex-in-claude-mcp"

installed_ok() {
    [ -x "$SERVER" ] && [ -x "$PY" ] && "$PY" - "$ORIGINAL_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import codex_in_claude.server  # noqa: F401  (the server module must import)
sys.exit(0 if version("codex-in-claude") == sys.argv[1] else 1)
PYEOF
}

if installed_ok; then
    echo "install-original: codex-in-claude==$ORIGINAL_VERSION already installed: $SERVER"
    exit 0
fi

venv_install_pinned "codex-in-claude==$ORIGINAL_VERSION"
echo "install-original: installed codex-in-claude==$ORIGINAL_VERSION: $SERVER"
