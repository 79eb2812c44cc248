#!/bin/sh
# Checks that the binary `make static` built is what the README promises: statically linked (no
# ELF interpreter, no shared-library dependencies), stripped, and working from an empty
# environment. Usage: scripts/check-static.sh [path]; prints what it checked, exits 1 on any miss.
# CHECK_STATIC_RUNNER (e.g. the absolute path of qemu-aarch64-static) runs a binary built for
# another architecture.
set -eu

REPO_ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
BIN=${1:-"$REPO_ROOT/target/x86_64-unknown-linux-musl/release/codex-in-claude"}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1)

fail() {
    echo "check-static: $*" >&2
    exit 1
}

[ -x "$BIN" ] || fail "$BIN is missing or not executable (run 'make static')"
for tool in file ldd readelf; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is required (Debian: apt-get install file libc-bin binutils)"
done

described=$(file -b "$BIN")
echo "file: $described"
case "$described" in
    *"statically linked"* | *"static-pie linked"*) ;;
    *) fail "file does not call it statically linked" ;;
esac
case "$described" in
    *", stripped"*) ;;
    *) fail "file does not call it stripped" ;;
esac

# ldd exits non-zero on a plain static binary ("not a dynamic executable") and zero on a
# static-pie one ("statically linked"); what it prints is what counts.
linked=$(ldd "$BIN" 2>&1 || true)
echo "ldd: $(echo "$linked" | tr -s ' \t\n' ' ')"
case "$linked" in
    *"statically linked"* | *"not a dynamic executable"*) ;;
    *) fail "ldd lists dynamic dependencies" ;;
esac

readelf -lW "$BIN" | grep -q 'INTERP' && fail "readelf: the binary requests a program interpreter"
readelf -dW "$BIN" | grep -q '(NEEDED)' && fail "readelf: the binary needs shared libraries"
echo "readelf: no INTERP segment, no NEEDED entries"

answer=$(env -i ${CHECK_STATIC_RUNNER:-} "$BIN" --version) || fail "env -i ${CHECK_STATIC_RUNNER:-} $BIN --version failed"
echo "env -i --version: $answer"
[ "$answer" = "codex-in-claude $VERSION" ] || fail "expected 'codex-in-claude $VERSION'"
echo "check-static: ok ($BIN)"
