#!/usr/bin/env bash
# Install the official Python MCP SDK client (mcp==2.3.0, plus jsonschema) into
# <repo>/.tools/venv for tests/clients/sdk_check.py. Idempotent: does nothing
# when the venv already imports mcp at the pinned version.
set -euo pipefail

MCP_VERSION="2.3.0"
NAME="install-mcp-client"
. "$(dirname "${BASH_SOURCE[0]}")/venv-pinned.sh"
VENV="$REPO_ROOT/.tools/venv"
PY="$VENV/bin/python"

installed_ok() {
    [ -x "$PY" ] && "$PY" - "$MCP_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import mcp, jsonschema  # noqa: F401  (both must import)
sys.exit(0 if version("mcp") == sys.argv[1] else 1)
PYEOF
}

if installed_ok; then
    echo "install-mcp-client: mcp==$MCP_VERSION already installed in $VENV"
    exit 0
fi

venv_install_pinned "mcp==$MCP_VERSION" jsonschema
echo "install-mcp-client: installed mcp==$MCP_VERSION into $VENV"
