# codex-in-claude — the two quick-start commands are `make run` and `make test`.
BIN := target/release/codex-in-claude

.PHONY: run build test test-deps lint clean

## Build the release binary, report codex readiness, then serve MCP on stdin/stdout (Ctrl-D ends it).
run: build
	@$(BIN) status >&2
	@echo "serving MCP on stdio; an MCP client (e.g. Claude Code) normally launches this. Ctrl-D to stop." >&2
	@exec $(BIN) serve

# Silent recipe: under `make run`, stdout is the MCP channel and must carry protocol messages only.
build:
	@cargo build --release --locked

## Everything CI checks: pinned test clients, formatting, lints, unit and integration tests.
test: test-deps lint
	cargo test --locked

## The pinned real codex CLI (npm) and the Python MCP SDK client, into the git-ignored .tools/.
test-deps:
	scripts/install-codex.sh
	scripts/install-mcp-client.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings

clean:
	cargo clean
	rm -rf .tools
