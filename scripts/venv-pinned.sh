# Shared by the Python install scripts (sourced, not run): a virtualenv under <repo>/.tools/ with
# pinned packages from PyPI. Callers define `installed_ok` (does the venv already hold the pinned
# version?) and set NAME (for messages), VENV and PY before calling `venv_install_pinned`.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

fail() {
    echo "$NAME: $*" >&2
    exit 1
}

# venv_install_pinned PACKAGE...: creates $VENV when missing, pip-installs the packages, then
# requires `installed_ok`; exits 1 with a reason otherwise.
venv_install_pinned() {
    command -v python3 >/dev/null 2>&1 || fail "python3 not found on PATH"
    if [ ! -x "$PY" ]; then
        python3 -m venv "$VENV" || fail "python3 -m venv $VENV failed (on Debian: apt-get install python3-venv)"
    fi
    "$PY" -m pip install --quiet --disable-pip-version-check "$@" \
        || fail "pip install $* failed (is PyPI reachable?)"
    installed_ok || fail "installed $*, but the venv does not report the pinned version"
}
