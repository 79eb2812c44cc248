#!/bin/sh
# Adds the Rust standard library for the static build's target (default
# x86_64-unknown-linux-musl) with rustup, when it is not installed yet. Usage:
# scripts/install-musl-target.sh [target]. Fails loudly when it cannot: `make static` needs it.
set -eu

TARGET=${1:-x86_64-unknown-linux-musl}

if ! command -v rustup >/dev/null 2>&1; then
    echo "install-musl-target.sh: rustup not found; install the Rust standard library for $TARGET" \
        "another way (see README, 'Static build where rustup cannot download')" >&2
    exit 1
fi
if rustup target list --installed | grep -qx "$TARGET"; then
    echo "Rust target $TARGET already installed"
    exit 0
fi
if ! rustup target add "$TARGET"; then
    echo "install-musl-target.sh: 'rustup target add $TARGET' failed (offline?); see README," \
        "'Static build where rustup cannot download'" >&2
    exit 1
fi
