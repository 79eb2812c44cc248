# Shared by the install scripts (sourced, not run): pinned npm packages go into <repo>/.tools/,
# and an install counts only when its binary answers --version with the pinned version.

REPO_ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)

# The --version output of executable $1; nothing when it is missing or fails, so comparisons
# fail cleanly.
version_of() {
    if [ -x "$1" ]; then
        "$1" --version 2>/dev/null || true
    fi
}

# npm_install_pinned SCRIPT PACKAGE@VERSION PREFIX: installs into PREFIX or exits 1, naming SCRIPT.
npm_install_pinned() {
    if ! command -v npm >/dev/null 2>&1; then
        echo "$1: npm not found on PATH; install Node.js/npm first" >&2
        exit 1
    fi
    echo "Installing $2 into $3"
    mkdir -p "$3"
    if ! npm install --prefix "$3" "$2" --no-audit --no-fund; then
        echo "$1: npm install of $2 failed" >&2
        exit 1
    fi
}
