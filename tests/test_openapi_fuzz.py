"""Bad input, generated from ``/openapi.json``: schemathesis sends valid and invalid requests to
every documented route of a real hypercorn server; none may answer 5xx or break the envelope.

Bounded for CI: a few derandomized examples per route and mode. Every route must also be
documented (summary, request model for bodies), or the fuzzing would miss it.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from citu.app import create_app
from fakes.served import served

EXAMPLES_PER_MODE = 4
# Routes with their own wire shape (agents.md §3): not the {code, success, message, data} envelope.
NOT_ENVELOPED = {"/", "/health", "/api/test/redis", "/metrics"}
# The plain {success, error | data, timestamp} shape of two ReAct routes (agents.md §3.13, §3.14).
PLAIN_SHAPE = {
    "/api/v0/react/direct/conversations/{thread_id}",
    "/api/v0/react/direct/conversations/{thread_id}/compare",
}
# internal_error_response bodies answered with HTTP 404 on purpose (agents.md §3.13, §3.15).
ERROR_BODY_QUIRKS = {
    "/api/v0/react/direct/conversations/{thread_id}",
    "/api/v0/react/direct/conversations/{thread_id}/summary",
}
# Run last: switching read-only mode on makes every later write answer 503 on purpose.
LAST = {("POST", "/api/v0/maintenance/readonly")}
# POST routes that take no body.
NO_BODY = {
    "/api/v0/embedding_cache_cleanup",
    "/api/v0/qa_cache_cleanup",
    "/api/v0/data_pipeline/tasks/{task_id}/cancel",
    "/api/v0/eval/runs/{run_id}/cancel",
}
# Pages and their files (HTML, scripts, styles), not JSON routes: outside the OpenAPI document.
QUART_SCHEMA_PAGES = {"openapi", "docs.swagger_ui", "docs.asset", "ui.console", "ui.console_file"}


def envelope_problem(path: str, status: int, content_type: str, content: bytes) -> str | None:
    """Why this answer is not acceptable, or None."""
    if status >= 500:
        return f"HTTP {status}"
    if path == "/metrics":
        return None
    if content_type.startswith("text/event-stream"):
        return stream_problem(content)
    if not content_type.startswith("application/json"):
        return f"content type {content_type!r}"
    try:
        body = json.loads(content)
    except ValueError:
        return "body is not JSON"
    if path in NOT_ENVELOPED:
        return None if isinstance(body, dict) else "body is not an object"
    if path in PLAIN_SHAPE and isinstance(body, dict) and "code" not in body:
        plain = isinstance(body.get("success"), bool) and "timestamp" in body
        return None if plain and ("error" in body or "data" in body) else "broken plain shape"
    if not isinstance(body, dict) or not {"code", "success", "message"} <= body.keys():
        return f"not an envelope: {str(body)[:200]}"
    if not isinstance(body["code"], int) or not isinstance(body["message"], str):
        return "code/message of the wrong type"
    if body["success"] is not (200 <= body["code"] < 300):
        return f"success {body['success']} with code {body['code']}"
    data = body.get("data")
    if not body["success"]:
        # The helpers put the reason in data.response; the ReAct routes and ``failed()`` in
        # ``error`` or the message itself (agents.md §1.2, §3.3).
        response = data.get("response") if isinstance(data, dict) else None
        if not (response or body.get("error") or body["message"]):
            return "an error without a reason"
        # internal_error_response is what an unexpected exception becomes.
        quirk = path in ERROR_BODY_QUIRKS and status == 404
        unexpected = ("database_error", "internal_error")
        if isinstance(data, dict) and data.get("error_type") in unexpected and not quirk:
            return f"internal error: {str(response)[:200]}"
    return None


def stream_problem(content: bytes) -> str | None:
    """SSE answers (agents.md §1.3): at least one frame, every ``data:`` line a JSON object."""
    frames = [
        line[5:].strip() for line in content.decode().splitlines() if line.startswith("data:")
    ]
    if not frames:
        return "an event stream without frames"
    for frame in frames:
        if frame == "[DONE]":
            continue
        try:
            if not isinstance(json.loads(frame), dict):
                return f"frame is not an object: {frame[:200]}"
        except ValueError:
            return f"frame is not JSON: {frame[:200]}"
    return None


def fuzz_operation(operation: Any, base_url: str, mode: GenerationMode) -> list[str]:
    problems: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, timeout=30)
        problem = envelope_problem(
            operation.path,
            response.status_code,
            (response.headers.get("content-type") or [""])[0],
            response.content,
        )
        if problem:
            problems.append(
                f"{operation.method.upper()} {operation.path} ({mode}): {problem}"
                f" — request {case.path_parameters} {case.query} {str(case.body)[:200]}"
            )

    try:
        check()
    except Unsatisfiable:
        # Negative mode on a route without parameters: there is nothing to make invalid.
        assert mode == GenerationMode.NEGATIVE, operation.path
    return problems


def fuzz_all(base_url: str) -> tuple[list[str], int]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper(), op.path) in LAST)
    problems: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            problems.extend(fuzz_operation(operation, base_url, mode))
    return problems, len(operations)


# ---- hostile values schemathesis does not generate ----------------------------------------

DEEP_BODY = b"[" * 2000 + b"]" * 2000
DEEP_OBJECT_BODY = b'{"a":' * 2000 + b"0" + b"}" * 2000
HUGE = 2**70
# Literal JSON numbers: beyond any float, NaN, beyond 64 bits, and just inside them.
NUMBER_LITERALS = (
    b"1e309",
    b"-1e309",
    b"NaN",
    str(HUGE).encode(),
    str(-HUGE).encode(),
    str(2**63 - 1).encode(),  # fits the parser's 64 bits, not PostgreSQL's integer
    str(2**40).encode(),
    b"-1",
)
QUERY_VALUES = ("a\x00b", "\x01", str(HUGE), str(-HUGE), "-1", "1e309", "x" * 300)
PATH_VALUES = ("a%00b", "a%0Ab", "a%1Bb", "x" * 300, str(HUGE))


def hostile_requests(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(method, path template, requests kwargs)``: for every documented operation, NUL and
    control characters, huge and non-finite numbers and 2,000-deep JSON in each place it
    takes input (path parameters, query parameters, body properties)."""
    cases = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            path_names = [p["name"] for p in params if p.get("in") == "path"]
            query_names = [p["name"] for p in params if p.get("in") == "query"]
            for name in path_names:
                for value in PATH_VALUES:
                    cases.append((method, path, {"path": {name: value}}))
            for name in query_names:
                for value in QUERY_VALUES:
                    cases.append((method, path, {"params": {name: value}}))
            if method in ("get", "head") or "requestBody" not in operation:
                continue
            json_headers = {"Content-Type": "application/json"}
            for raw in (DEEP_BODY, DEEP_OBJECT_BODY, b'{"x": "a\\u0000b"}'):
                cases.append((method, path, {"content": raw, "headers": json_headers}))
            for name in body_properties(spec, operation):
                for literal in NUMBER_LITERALS:
                    raw = b'{"' + name.encode() + b'": ' + literal + b"}"
                    cases.append((method, path, {"content": raw, "headers": json_headers}))
                for value in ("a\x00b", "a\x1bb", "x" * 300):
                    cases.append((method, path, {"json": {name: value}}))
    return cases


def body_properties(spec: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    content = operation["requestBody"].get("content", {})
    schema = (content.get("application/json") or {}).get("schema") or {}
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


def send_hostile(base_url: str) -> tuple[list[str], int]:
    spec = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    cases = hostile_requests(spec)
    # The switch last: turning read-only mode on makes later writes answer 503 on purpose.
    cases.sort(key=lambda case: case[1] == "/api/v0/maintenance/readonly")
    problems = []
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for method, template, options in cases:
            options = dict(options)
            path = template
            for name, value in options.pop("path", {}).items():
                path = path.replace("{" + name + "}", value)
            path = re.sub(r"\{(\w+)\}", "x1", path)
            try:
                response = request_once_more(http, method.upper(), path, options)
            except httpx.TransportError as error:
                sent = {k: str(v)[:60] for k, v in options.items()}
                problems.append(f"{method.upper()} {path[:120]}: no answer ({error!r}) {sent}")
                continue
            problem = envelope_problem(
                template,
                response.status_code,
                response.headers.get("content-type", ""),
                response.content,
            )
            if problem:
                sent = {k: str(v)[:80] for k, v in options.items()}
                problems.append(f"{method.upper()} {path[:120]}: {problem} — {sent}")
    return problems, len(cases)


def request_once_more(
    http: httpx.Client, method: str, path: str, options: dict[str, Any]
) -> httpx.Response:
    """One retry on a fresh connection: the server may close a kept-alive connection after
    answering without reading the body, as the client sends the next request on it."""
    try:
        return http.request(method, path, **options)
    except httpx.RemoteProtocolError:
        with httpx.Client(base_url=str(http.base_url), timeout=60) as fresh:
            return fresh.request(method, path, **options)


async def test_hostile_values_on_every_route_get_no_5xx(served_url, fake_llm):
    problems, sent = await asyncio.to_thread(send_hostile, served_url)
    assert sent >= 500
    assert not problems, "\n".join(problems[:30])


@pytest.fixture
async def served_url(settings):
    """citu served by hypercorn in this test's loop (serving hooks and all) on a free port."""
    async with served(create_app(settings)) as port:
        yield f"http://127.0.0.1:{port}"


async def test_every_route_is_documented(client):
    spec = await (await client.get("/openapi.json")).get_json()
    undocumented = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not operation.get("summary"):
                undocumented.append(f"{method.upper()} {path}: no docstring")
            if method == "post" and "requestBody" not in operation and path not in NO_BODY:
                undocumented.append(f"POST {path}: no request model")
    assert not undocumented
    documented = {path for path in spec["paths"]}
    app_rules = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in client.app.url_map.iter_rules()
        if rule.endpoint != "static" and rule.endpoint not in QUART_SCHEMA_PAGES
    }
    assert app_rules <= documented


async def test_fuzzed_requests_get_no_5xx_and_keep_the_envelope(served_url, fake_llm):
    problems, operations = await asyncio.to_thread(fuzz_all, served_url)
    assert operations >= 30
    assert not problems, "\n".join(problems[:30])


def test_the_checker_flags_a_server_error_and_a_broken_envelope():
    assert envelope_problem("/api/v0/x", 500, "application/json", b"{}") == "HTTP 500"
    assert "not an envelope" in envelope_problem("/api/v0/x", 200, "application/json", b"[]")
    internal = {
        "code": 500,
        "success": False,
        "message": "系统内部错误",
        "data": {"response": "boom", "error_type": "database_error"},
    }
    body = json.dumps(internal).encode()
    assert "internal error" in envelope_problem("/api/v0/x", 200, "application/json", body)
    ok = {"code": 200, "success": True, "message": "操作成功", "data": {"timestamp": "t"}}
    assert envelope_problem("/api/v0/x", 200, "application/json", json.dumps(ok).encode()) is None
