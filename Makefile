# codex-in-claude — the two quick-start commands are `make run` and `make test`.
BIN := target/release/codex-in-claude
# The static build: Linux, musl, for this machine's architecture (x86_64 unless overridden).
TARGET ?= $(shell uname -m | sed -e 's/^amd64$$/x86_64/' -e 's/^arm64$$/aarch64/')-unknown-linux-musl
STATIC_BIN := target/$(TARGET)/release/codex-in-claude
# `make install` puts the static binary in $(PREFIX)/bin.
PREFIX ?= $(HOME)/.local
BINDIR ?= $(PREFIX)/bin

.PHONY: run build test test-deps lint fuzz soak static release install uninstall plugin bench clean

## Build the release binary, report codex readiness, then serve MCP on stdin/stdout (Ctrl-D ends it).
## `status` exits 1 when codex is not ready; the server starts all the same (codex_status says why).
run: build
	@$(BIN) status >&2 || true
	@echo "serving MCP on stdio; an MCP client (e.g. Claude Code) normally launches this. Ctrl-D to stop." >&2
	@exec $(BIN) serve

# Silent recipe: under `make run`, stdout is the MCP channel and must carry protocol messages only.
build:
	@cargo build --release --locked

## Everything CI checks: pinned test clients, formatting, lints, the static build, unit and
## integration tests (the plugin included). cargo test runs last so its summary ends the output.
test: test-deps lint static
	cargo test --locked

## The pinned real codex CLI (npm), the Python MCP SDK client, the original Python server (PyPI, for
## the context-budget test that compares envelope sizes with it), the pinned Claude Code CLI (npm,
## for `claude plugin validate` and the marketplace install test), all into the git-ignored
## .tools/, the musl Rust targets (this machine's and the two the release tests build), git-lfs
## (a real user-level filter for the repository-shape tests) and qemu-user (runs the aarch64
## release binary in the release tests).
test-deps:
	scripts/install-git-lfs.sh
	scripts/install-original.sh
	scripts/install-codex.sh
	scripts/install-mcp-client.sh
	scripts/install-claude.sh
	scripts/install-musl-target.sh $(TARGET)
	scripts/install-musl-target.sh x86_64-unknown-linux-musl
	scripts/install-musl-target.sh aarch64-unknown-linux-musl
	scripts/install-qemu-user.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings

## Long protocol fuzzing: FUZZ_ITERATIONS messages (default 200000) on one connection; FUZZ_SEED replays.
FUZZ_ITERATIONS ?= 200000
fuzz: test-deps
	FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) cargo test --locked --release --test integration fuzz -- --nocapture

## The soak: SOAK_CALLS consults (default 1000) against the mock, memory and descriptors flat.
SOAK_CALLS ?= 1000
soak: test-deps
	SOAK_CALLS=$(SOAK_CALLS) cargo test --locked --release --test integration soak -- --ignored --nocapture

## One statically linked, stripped binary (musl) that runs on any Linux of its architecture;
## checked: static, stripped, answers --version from an empty environment.
static:
	scripts/install-musl-target.sh $(TARGET)
	cargo build --release --locked --target $(TARGET)
	scripts/check-static.sh $(STATIC_BIN)

## Release artifacts in dist/: static Linux binaries for x86_64 and aarch64, the plugin archive,
## SHA256SUMS; pins the sums in plugin/bin/SHA256SUMS for the launcher (commit that file with the
## release). VERSION must be Cargo.toml's. macOS binaries come from .github/workflows/release.yml.
release:
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z (Cargo.toml's version)" >&2; exit 2; }
	scripts/release.sh $(VERSION)

## Install the static binary as $(BINDIR)/codex-in-claude (PREFIX defaults to ~/.local).
install: static
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 0755 $(STATIC_BIN) "$(DESTDIR)$(BINDIR)/codex-in-claude"
	@echo "installed $(DESTDIR)$(BINDIR)/codex-in-claude; make sure $(BINDIR) is on PATH"

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/codex-in-claude"

## Bundle the static binary into the plugin (git-ignored), so the plugin needs nothing on PATH.
plugin: static
	install -m 0755 $(STATIC_BIN) plugin/bin/codex-in-claude-$(TARGET)
	@echo "bundled plugin/bin/codex-in-claude-$(TARGET)"

## Benchmarks, not part of `make test`: this server vs the original Python server
## (codex-in-claude 0.2.0 from PyPI, in the git-ignored .tools/original-venv) and a bare
## `codex exec` (the pinned codex against a loopback mock model). Prints a table and writes
## target/bench/results.json; see the README's "Performance" section.
bench: build
	scripts/install-original.sh
	scripts/install-codex.sh
	cargo bench --locked --bench bench

clean:
	cargo clean
	rm -rf .tools
	rm -f plugin/bin/codex-in-claude-*
	rm -rf dist
