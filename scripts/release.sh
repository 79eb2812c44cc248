#!/bin/sh
# Release artifacts. Usage:
#   scripts/release.sh VERSION           build the Linux binaries, then package (below)
#   scripts/release.sh package VERSION   package the binaries already in $DIST (the CI workflow
#                                        puts all four targets there, macOS included)
# Building: static, stripped musl binaries for x86_64 and aarch64 Linux (aarch64 cross-linked with
# the toolchain's own rust-lld), each checked by check-static.sh (the aarch64 one answers
# --version under qemu-user when this machine is not aarch64), copied to
# $DIST/codex-in-claude-<target>.
# Packaging: $DIST/codex-in-claude-plugin-VERSION.tar.gz, the marketplace and the plugin on their
# own (no source needed), whose bin/SHA256SUMS pins VERSION and the binaries' SHA-256 for the
# launcher to verify downloads against; $DIST/SHA256SUMS over every artifact; and, unless
# RELEASE_PLUGIN_SUMS=0, the same pins written to plugin/bin/SHA256SUMS (commit it with the
# release, so the plugin the marketplace serves fetches exactly these binaries).
# DIST defaults to dist/. VERSION must be the version Cargo.toml and the plugin manifests carry.
# RELEASE_OFFLINE=1 (the tests) downloads nothing: a missing Rust target is an error, and cargo
# runs --offline.
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
NAME=codex-in-claude
LINUX_TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl"

fail() {
    echo "release: $*" >&2
    exit 1
}

mode=build
if [ "${1:-}" = package ]; then
    mode=package
    shift
fi
[ $# -eq 1 ] && [ -n "$1" ] || fail "usage: scripts/release.sh [package] VERSION"
VERSION=$1
DIST=${DIST:-"$ROOT/dist"}
cargo_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n 1)
[ "$VERSION" = "$cargo_version" ] ||
    fail "VERSION $VERSION is not Cargo.toml's version $cargo_version; bump Cargo.toml, plugin/.claude-plugin/plugin.json and .claude-plugin/marketplace.json together first"
mkdir -p "$DIST"

# The command that runs a binary for $1 here: nothing when it is this machine's architecture,
# else qemu-user.
runner_for() {
    case "$1" in
        "$(uname -m)"-*) return 0 ;;
    esac
    arch=${1%%-*}
    for qemu in "qemu-$arch-static" "qemu-$arch"; do
        if command -v "$qemu" >/dev/null 2>&1; then
            command -v "$qemu"
            return 0
        fi
    done
    fail "cannot run a $1 binary here to check it: install qemu-user (scripts/install-qemu-user.sh)"
}

if [ "$mode" = build ]; then
    for target in $LINUX_TARGETS; do
        if [ "${RELEASE_OFFLINE:-0}" = 1 ]; then
            # The tests: no download of any kind (make test-deps installs the targets).
            rustup target list --installed | grep -qx "$target" ||
                fail "the Rust target $target is not installed; run make test-deps (or scripts/install-musl-target.sh $target)"
        else
            "$ROOT/scripts/install-musl-target.sh" "$target" >&2
        fi
        linker_var=CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER
        if [ "$target" != "$(uname -m)-unknown-linux-musl" ] && eval "[ -z \"\${$linker_var:-}\" ]"; then
            # Cross-linking needs no C cross toolchain: rustc finds its bundled rust-lld.
            export "$linker_var=rust-lld"
        fi
        offline=
        [ "${RELEASE_OFFLINE:-0}" != 1 ] || offline=--offline
        (cd "$ROOT" && cargo build --release --locked $offline --target "$target")
        bin="${CARGO_TARGET_DIR:-$ROOT/target}/$target/release/$NAME"
        CHECK_STATIC_RUNNER=$(runner_for "$target") "$ROOT/scripts/check-static.sh" "$bin" >&2
        cp "$bin" "$DIST/$NAME-$target.tmp" && mv -f "$DIST/$NAME-$target.tmp" "$DIST/$NAME-$target"
    done
fi

cd "$DIST"
binaries=$(ls "$NAME"-*-*-* 2>/dev/null | grep -v '\.tar\.gz$' | grep -v '\.tmp$' || true)
[ -n "$binaries" ] || fail "no binaries ($NAME-<target>) in $DIST to package"
pins=$(mktemp)
stage=$(mktemp -d)
trap 'rm -rf "$pins" "$stage"' EXIT
{
    echo "# version: $VERSION"
    # shellcheck disable=SC2086 # one word per binary name
    sha256sum $binaries
} >"$pins"

# The plugin archive: marketplace.json and plugin/ as a checkout has them, without a bundled
# binary or old pins, with the new pins.
mkdir -p "$stage/$NAME/.claude-plugin"
cp "$ROOT/.claude-plugin/marketplace.json" "$stage/$NAME/.claude-plugin/"
cp -R "$ROOT/plugin" "$stage/$NAME/plugin"
rm -f "$stage/$NAME/plugin/bin/$NAME"-* "$stage/$NAME/plugin/bin/SHA256SUMS"
cp "$pins" "$stage/$NAME/plugin/bin/SHA256SUMS"
archive=$NAME-plugin-$VERSION.tar.gz
tar -C "$stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -czf "$archive.tmp" "$NAME"
mv -f "$archive.tmp" "$archive"

# shellcheck disable=SC2086
sha256sum $binaries "$archive" >SHA256SUMS.tmp && mv -f SHA256SUMS.tmp SHA256SUMS
if [ "${RELEASE_PLUGIN_SUMS:-1}" != 0 ]; then
    cp "$pins" "$ROOT/plugin/bin/SHA256SUMS"
    echo "release: pinned in plugin/bin/SHA256SUMS (commit it with the release)" >&2
fi
echo "release: $NAME $VERSION in $DIST:" >&2
cat SHA256SUMS >&2
