#!/usr/bin/env bash
# Install the official Python MCP SDK client (mcp==2.3.0, plus jsonschema) into
# <repo>/.tools/venv for tests/clients/sdk_check.py. Idempotent: does nothing
# when the venv already imports mcp at the pinned version.
set -euo pipefail

MCP_VERSION="2.3.0"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
VENV=".tools/venv"
PY="$VENV/bin/python"

fail() {
    echo "install-mcp-client: $*" >&2
    exit 1
}

installed_ok() {
    [ -x "$PY" ] && "$PY" - "$MCP_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import mcp, jsonschema  # noqa: F401  (both must import)
sys.exit(0 if version("mcp") == sys.argv[1] else 1)
PYEOF
}

if installed_ok; then
    echo "install-mcp-client: mcp==$MCP_VERSION already installed in $REPO_ROOT/$VENV"
    exit 0
fi

command -v python3 >/dev/null 2>&1 || fail "python3 not found on PATH"
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV" || fail "python3 -m venv $VENV failed (on Debian: apt-get install python3-venv)"
fi
"$PY" -m pip install --quiet --disable-pip-version-check "mcp==$MCP_VERSION" jsonschema \
    || fail "pip install mcp==$MCP_VERSION jsonschema failed (is PyPI reachable?)"
installed_ok || fail "installed, but '$PY -c \"import mcp\"' does not report mcp $MCP_VERSION"
echo "install-mcp-client: installed mcp==$MCP_VERSION into $REPO_ROOT/$VENV"
