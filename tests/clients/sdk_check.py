"""Independent-client conformance check of the codex-in-claude MCP stdio server.

Usage: sdk_check.py <legacy|auto|2026-07-28> <server-command> [args...]

Drives the server with the official Python MCP SDK (mcp==2.3.0, installed by
scripts/install-mcp-client.sh) in the given connection mode and proves that a
real third-party client accepts it:

- the handshake negotiates the expected protocol version (2025-11-25 for
  legacy, 2026-07-28 for auto and the 2026-07-28 pin) and the server calls
  itself ``codex-in-claude``;
- the SDK's per-version result validation accepts every response (it raises
  otherwise, e.g. on a 2026 result without ``resultType``), including a
  directly requested server/discover result in the two 2026 modes (``auto``
  would otherwise fall back to the legacy handshake silently on a bad one,
  and the version pin never sends it);
- tools/list (all pages) has exactly the 16 expected tools, each with a title,
  a ``PAID —``/``Free —`` description, a closed object inputSchema, an
  outputSchema and annotations; every schema is valid JSON Schema 2020-12;
  and the whole listing, re-serialized as compact JSON, is under 40,000 bytes;
- codex_status and codex_capabilities succeed, the fingerprint in the latter;
- bad arguments come back as an ``invalid_arguments`` tool error envelope;
- every other tool, called with empty arguments, returns a structured
  envelope that matches its outputSchema;
- in a scratch git repository, codex_dry_run (a change) and
  codex_review_changes (no change: ``not_run``, no model call) succeed, so
  their success branches pass the SDK's own outputSchema validation.

The SDK validates structuredContent against the outputSchema only for results
without ``isError``; error envelopes are validated here with jsonschema
(Draft 2020-12). The SDK does no client-side input validation, so the bad
arguments really reach the server. The server runs in a fresh empty directory (not a git
repository) so no call can reach a paid model: tools that need a question, a
task or a job id reject ``{}``, review tools find no repository, and the
repository calls are chosen so that none reaches codex.

Prints one line per check and ends with ``sdk_check <mode>: N passed, M failed``;
exits 0 only when nothing failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jsonschema import Draft202012Validator, SchemaError, ValidationError
from jsonschema.exceptions import best_match
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, DiscoverResult, Tool
from mcp_types.methods import parse_server_result

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
MODES = ("legacy", "auto", MODERN_VERSION)
EXPECTED_PROTOCOL = {"legacy": LEGACY_VERSION, "auto": MODERN_VERSION, MODERN_VERSION: MODERN_VERSION}
SERVER_NAME = "codex-in-claude"
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
EXPECTED_TOOLS = frozenset(
    {
        "codex_status",
        "codex_models",
        "codex_capabilities",
        "codex_consult",
        "codex_consult_async",
        "codex_review_changes",
        "codex_review_changes_async",
        "codex_delegate",
        "codex_delegate_async",
        "codex_dry_run",
        "codex_delegate_dry_run",
        "codex_job_status",
        "codex_job_result",
        "codex_job_consume_result",
        "codex_job_cancel",
        "codex_job_list",
    }
)
COST_MARKERS = ("PAID —", "Free —")
MAX_TOOLS_LIST_BYTES = 20_000
FINGERPRINT_PATTERN = re.compile(r"^codex-in-claude/\d+\.\d+/sha256:[0-9a-f]{12}$")
STATUS_KEYS = ("codex_found", "codex_version")
READ_TIMEOUT_SECONDS = 60.0
MAX_LIST_PAGES = 50

T = TypeVar("T")


@dataclass(frozen=True)
class EnvelopeCall:
    """One tools/call whose result must be a valid structured envelope.

    ``expect_ok`` / ``expect_code`` pin the outcome when set; left as None the
    call passes with either ``ok: true`` or ``ok: false`` plus an error code.
    """

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    expect_ok: bool | None = None
    expect_code: str | None = None


# Calls made after the status/capabilities/invalid-argument checks. Extend here.
ENVELOPE_CALLS = (
    EnvelopeCall("codex_consult"),
    EnvelopeCall("codex_consult_async"),
    EnvelopeCall("codex_review_changes"),
    EnvelopeCall("codex_review_changes_async"),
    EnvelopeCall("codex_delegate"),
    EnvelopeCall("codex_delegate_async"),
    EnvelopeCall("codex_dry_run"),
    EnvelopeCall("codex_delegate_dry_run"),
    EnvelopeCall("codex_job_status"),
    EnvelopeCall("codex_job_result"),
    EnvelopeCall("codex_job_consume_result"),
    EnvelopeCall("codex_job_cancel"),
    EnvelopeCall("codex_job_list"),
)

INVALID_CALL = EnvelopeCall("codex_status", {"bogus": 1}, expect_ok=False, expect_code="invalid_arguments")


class CheckFailed(Exception):
    """A check's expectation did not hold; the message says what was seen."""


class Report:
    """Counts checks and prints one PASS/FAIL line per check."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def record(self, name: str, problem: str | None, detail: str = "") -> None:
        if problem is None:
            self.passed += 1
            print(f"PASS {name}{f' ({detail})' if detail else ''}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {problem}")

    async def run(self, name: str, check: Coroutine[Any, Any, T]) -> T | None:
        """Await ``check`` (a coroutine) and return its value, or None if it failed.

        CheckFailed or any exception the SDK raises fails the check; a ``str``
        value is shown as the passing check's detail.
        """
        try:
            value = await check
        except CheckFailed as exc:
            self.record(name, str(exc))
            return None
        except Exception as exc:  # the SDK raising is itself a finding
            self.record(name, describe_exception(exc))
            return None
        self.record(name, None, value if isinstance(value, str) else "")
        return value


def describe_exception(exc: BaseException) -> str:
    """Flatten (nested) exception groups into 'Type: message' lines."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe_exception(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


def require(condition: bool, problem: str) -> None:
    if not condition:
        raise CheckFailed(problem)


def structured(result: CallToolResult) -> dict[str, Any]:
    """The result's structuredContent, required to be a JSON object."""
    content = result.structured_content
    if not isinstance(content, dict):
        text = " ".join(getattr(block, "text", f"<{block.type}>") for block in result.content)
        raise CheckFailed(
            f"structuredContent is not an object: {content!r} (isError={bool(result.is_error)}, text={text[:200]!r})"
        )
    return content


def located(error: ValidationError | SchemaError) -> str:
    """A jsonschema error's message plus where it happened."""
    return f"{error.message} at {'/'.join(map(str, error.absolute_path)) or '<root>'}"


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON Schema 2020-12 document, or None."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return located(exc)
    return None


def instance_problem(schema: dict[str, Any], instance: Any) -> str | None:
    """Why ``instance`` does not match ``schema`` (2020-12), or None."""
    error = best_match(Draft202012Validator(schema).iter_errors(instance))
    return None if error is None else located(error)


# --- connection -----------------------------------------------------------


def server_parameters(command: list[str], cwd: str) -> StdioServerParameters:
    """Launch ``command`` in ``cwd``; a relative executable path still means the caller's directory."""
    executable = os.path.abspath(command[0]) if os.sep in command[0] else command[0]
    return StdioServerParameters(command=executable, args=command[1:], env=dict(os.environ), cwd=cwd)


async def check_protocol(client: Client, mode: str) -> str:
    negotiated = client.protocol_version
    require(negotiated == EXPECTED_PROTOCOL[mode], f"negotiated {negotiated}, expected {EXPECTED_PROTOCOL[mode]}")
    return negotiated


async def check_discover(client: Client) -> DiscoverResult:
    """server/discover, validated by the SDK's 2026-07-28 result schema.

    ``auto`` silently falls back to the legacy handshake on an invalid
    DiscoverResult and a version pin never sends the probe, so this asks
    directly to make a bad result visible.
    """
    raw = await client.session.send_discover(MODERN_VERSION)
    result = parse_server_result("server/discover", MODERN_VERSION, raw)
    require(MODERN_VERSION in result.supported_versions, f"supportedVersions is {result.supported_versions}")
    return result


def advertised_name(client: Client, discover: DiscoverResult | None) -> str | None:
    """serverInfo.name from initialize, else from server/discover's _meta stamp."""
    if client.server_info is not None:
        return client.server_info.name
    stamp = (discover.meta or {}).get(SERVER_INFO_META_KEY) if discover is not None else None
    return stamp.get("name") if isinstance(stamp, dict) else None


async def check_server_name(client: Client, discover: DiscoverResult | None) -> str:
    name = advertised_name(client, discover)
    require(name == SERVER_NAME, f"server name is {name!r}, expected {SERVER_NAME!r}")
    return name


# --- tools/list -----------------------------------------------------------


async def list_all_tools(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return tools
    raise CheckFailed(f"tools/list still had a nextCursor after {MAX_LIST_PAGES} pages")


async def check_tool_names(tools: list[Tool]) -> str:
    names = [tool.name for tool in tools]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    missing = sorted(EXPECTED_TOOLS - set(names))
    extra = sorted(set(names) - EXPECTED_TOOLS)
    require(not (duplicates or missing or extra), f"duplicates={duplicates} missing={missing} unexpected={extra}")
    return f"{len(names)} tools"


async def check_tools_list_size(tools: list[Tool]) -> str:
    listing = {"tools": [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]}
    size = len(json.dumps(listing, separators=(",", ":"), ensure_ascii=False).encode())
    require(size <= MAX_TOOLS_LIST_BYTES, f"{size} bytes, limit {MAX_TOOLS_LIST_BYTES}")
    return f"{size} bytes"


async def check_tool_metadata(tool: Tool) -> None:
    input_schema = tool.input_schema or {}
    requirements = (
        (bool(tool.title), "no title"),
        (input_schema.get("type") == "object", "inputSchema type is not 'object'"),
        (input_schema.get("additionalProperties") is False, "inputSchema lacks additionalProperties: false"),
        (tool.output_schema is not None, "no outputSchema"),
        (tool.annotations is not None, "no annotations"),
    )
    problems = [problem for holds, problem in requirements if not holds]
    require(not problems, "; ".join(problems))


async def check_cost_marker(tool: Tool) -> None:
    description = tool.description or ""
    require(description.startswith(COST_MARKERS), f"description starts with {description[:40]!r}")


async def check_tool_schemas(tool: Tool) -> None:
    problems = [
        f"{label}: {problem}"
        for label, schema in (("inputSchema", tool.input_schema), ("outputSchema", tool.output_schema))
        if schema is not None and (problem := schema_problem(schema)) is not None
    ]
    require(not problems, "; ".join(problems))


async def check_tools(report: Report, client: Client) -> dict[str, Tool]:
    """Run the tools/list checks; return the listed tools by name."""
    tools = await report.run("tools/list: all pages", list_all_tools(client))
    if tools is None:
        return {}
    await report.run("tools/list: exactly the 16 expected tools", check_tool_names(tools))
    await report.run("tools/list: serialized size", check_tools_list_size(tools))
    for tool in sorted(tools, key=lambda t: t.name):
        await report.run(
            f"{tool.name}: title, closed inputSchema, outputSchema, annotations", check_tool_metadata(tool)
        )
        await report.run(f"{tool.name}: description starts with PAID —/Free —", check_cost_marker(tool))
        await report.run(f"{tool.name}: schemas are valid JSON Schema 2020-12", check_tool_schemas(tool))
    return {tool.name: tool for tool in tools}


# --- tools/call -----------------------------------------------------------


def error_code(content: dict[str, Any]) -> Any:
    """``error.code`` of an envelope, or None when there is no error object."""
    error = content.get("error")
    return error.get("code") if isinstance(error, dict) else None


def envelope_summary(result: CallToolResult, content: dict[str, Any]) -> str:
    outcome = "ok:true" if content.get("ok") is True else f"ok:false {error_code(content)}"
    return f"{outcome}, isError={bool(result.is_error)}"


def check_envelope_shape(result: CallToolResult, tool: Tool | None) -> dict[str, Any]:
    """A boolean ``ok``, an error code when not ok, and a schema-valid error envelope.

    The SDK already validated non-error results against the outputSchema (it
    raises otherwise); it skips ``isError`` results, so those are checked here.
    """
    content = structured(result)
    ok = content.get("ok")
    require(isinstance(ok, bool), f"structuredContent.ok is {ok!r}, expected a boolean")
    if ok is False:
        require(isinstance(error_code(content), str), f"ok:false without a string error.code: {content!r}")
    if result.is_error and tool is not None and tool.output_schema is not None:
        problem = instance_problem(tool.output_schema, content)
        require(problem is None, f"isError envelope does not match the outputSchema: {problem}")
    return content


async def check_envelope_call(client: Client, tools: dict[str, Tool], call: EnvelopeCall) -> str:
    result = await client.call_tool(call.tool, call.arguments)
    content = check_envelope_shape(result, tools.get(call.tool))
    summary = envelope_summary(result, content)
    if call.expect_ok is not None:
        require(content["ok"] is call.expect_ok, f"expected ok:{str(call.expect_ok).lower()}, got {summary}")
        require(bool(result.is_error) is not call.expect_ok, f"isError does not match ok: {summary}")
    if call.expect_code is not None:
        code = error_code(content)
        require(code == call.expect_code, f"expected error.code {call.expect_code!r}, got {code!r}")
    return summary


async def check_status(client: Client) -> None:
    content = structured(await client.call_tool("codex_status", {}))
    require(content.get("ok") is True, f"ok is {content.get('ok')!r}")
    missing = [key for key in STATUS_KEYS if key not in content]
    require(not missing, f"missing keys {missing}")


async def check_capabilities(client: Client) -> str:
    content = structured(await client.call_tool("codex_capabilities", {}))
    require(content.get("ok") is True, f"ok is {content.get('ok')!r}")
    fingerprint = content.get("fingerprint")
    require(
        isinstance(fingerprint, str) and FINGERPRINT_PATTERN.match(fingerprint) is not None,
        f"fingerprint {fingerprint!r} does not match {FINGERPRINT_PATTERN.pattern}",
    )
    return fingerprint


# --- driver ---------------------------------------------------------------


def make_repo(parent: str) -> tuple[str, str]:
    """Two scratch repositories: one with an uncommitted change, one clean."""
    paths = []
    for name, change in (("changed", True), ("clean", False)):
        repo = os.path.join(parent, name)
        os.makedirs(repo)
        git = ["git", "-C", repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgSign=false"]
        subprocess.run([*git, "init", "-q"], check=True)
        with open(os.path.join(repo, "a.txt"), "w") as f:
            f.write("one\n")
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
        if change:
            with open(os.path.join(repo, "a.txt"), "w") as f:
                f.write("two\n")
        paths.append(repo)
    return paths[0], paths[1]


async def run_repo_checks(report: Report, client: Client, tools: dict[str, Tool], workdir: str) -> None:
    changed, clean = make_repo(workdir)
    calls = (
        EnvelopeCall("codex_dry_run", {"workspace_root": changed}, expect_ok=True),
        EnvelopeCall("codex_review_changes", {"workspace_root": clean}, expect_ok=True),
    )
    for call in calls:
        await report.run(f"{call.tool} in a repository", check_envelope_call(client, tools, call))


async def run_connected_checks(report: Report, client: Client, mode: str, workdir: str) -> None:
    await report.run("negotiated protocol version", check_protocol(client, mode))
    discover = None
    if mode != "legacy":
        discover = await report.run("server/discover result", check_discover(client))
    await report.run("server name", check_server_name(client, discover))
    tools = await check_tools(report, client)
    await report.run("codex_status {}", check_status(client))
    await report.run("codex_capabilities {}", check_capabilities(client))
    await report.run(
        f"{INVALID_CALL.tool} {json.dumps(INVALID_CALL.arguments)} -> {INVALID_CALL.expect_code}",
        check_envelope_call(client, tools, INVALID_CALL),
    )
    for call in ENVELOPE_CALLS:
        await report.run(f"{call.tool} {json.dumps(call.arguments)}", check_envelope_call(client, tools, call))
    await run_repo_checks(report, client, tools, workdir)


async def run_checks(mode: str, command: list[str]) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="sdk_check-") as workdir:
        try:
            async with Client(
                server_parameters(command, workdir),
                mode=mode,
                raise_exceptions=True,
                read_timeout_seconds=READ_TIMEOUT_SECONDS,
            ) as client:
                report.record("connect", None, f"mode={mode}")
                await run_connected_checks(report, client, mode, workdir)
        except Exception as exc:
            report.record("session", describe_exception(exc))
            if os.environ.get("SDK_CHECK_TRACEBACK"):
                traceback.print_exc()
    return report


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in MODES:
        print(f"usage: {argv[0]} <{'|'.join(MODES)}> <server-command> [args...]", file=sys.stderr)
        return 2
    mode, command = argv[1], argv[2:]
    sys.stdout.reconfigure(line_buffering=True)  # keep our lines in order with the server's stderr
    started = time.monotonic()
    report = asyncio.run(run_checks(mode, command))
    print(f"elapsed: {time.monotonic() - started:.2f} s")
    print(f"sdk_check {mode}: {report.passed} passed, {report.failed} failed")
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
