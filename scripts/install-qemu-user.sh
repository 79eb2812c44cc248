#!/bin/sh
# Makes sure qemu-user can run an aarch64 Linux binary on this machine: the release tests run the
# cross-built aarch64 binary under it (tests/integration/release.rs). Installs Debian's
# qemu-user-static when it is missing and we may (root with apt-get); otherwise fails loudly,
# saying how to install it.
set -eu

for candidate in qemu-aarch64-static qemu-aarch64; do
    if command -v "$candidate" >/dev/null 2>&1; then
        echo "qemu-user already installed: $candidate"
        exit 0
    fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-user-static
    command -v qemu-aarch64-static >/dev/null 2>&1 && exit 0
fi
echo "install-qemu-user.sh: qemu-user is not installed and could not be installed here;" \
    "install it with your package manager (e.g. sudo apt-get install qemu-user-static) and rerun" >&2
exit 1
