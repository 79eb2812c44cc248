#!/bin/sh
# Makes sure git-lfs is installed: the repository-shape tests run it as a real user-level filter
# (tests/integration/repo_shapes.rs). Installs Debian's package when it is missing and we may
# (root with apt-get); otherwise fails loudly, saying how to install it.
set -eu

if command -v git-lfs >/dev/null 2>&1; then
    echo "git-lfs already installed: $(git-lfs version)"
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq git-lfs
    command -v git-lfs >/dev/null 2>&1 && exit 0
fi
echo "install-git-lfs.sh: git-lfs is not installed and could not be installed here;" \
    "install it with your package manager (e.g. sudo apt-get install git-lfs) and rerun" >&2
exit 1
