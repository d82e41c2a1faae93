"""Malformed input on every route: 4xx envelopes, never a 5xx (deep JSON, over-size bodies,
huge integers, control characters in ids, over-long questions)."""

from __future__ import annotations

import re

import pytest

from citu.app import create_app

DEEP = b"[" * 2000 + b"]" * 2000
DEEP_OBJECT = b'{"a":' * 2000 + b"1" + b"}" * 2000
SKIP_ENDPOINTS = {"static", "openapi", "swagger_ui", "redoc_ui", "scalar_ui"}


def concrete(rule: str) -> str:
    """A URL for a rule: each variable part becomes a plausible value."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: _sample(m.group(1)), rule)


def _sample(name: str) -> str:
    return {"task_id": "task_20250101_000000", "thread_id": "u:20250101000000000"}.get(name, "x1")


def body_routes() -> list[tuple[str, str]]:
    app = create_app()  # routes only: nothing is started
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS:
            continue
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            found.append((method, rule.rule))
    return sorted(found)


def assert_envelope(response, body, status: int) -> None:
    assert response.status_code == status, body
    assert body["success"] is False and body["code"] == status


@pytest.mark.parametrize(("method", "rule"), body_routes())
async def test_deeply_nested_json_is_a_bad_request_on_every_route(client, method, rule):
    for payload in (DEEP, DEEP_OBJECT):
        response = await client.open(
            concrete(rule),
            method=method,
            data=payload,
            headers={"Content-Type": "application/json", "X-API-Key": "k"},
        )
        assert response.status_code < 500, (method, rule, await response.get_data())


@pytest.fixture
async def small_body_client(settings):
    """An app whose body limit is 1 KiB, so any route can be sent an over-size body."""
    app = create_app(settings.model_copy(update={"max_content_length": 1024}))
    async with app.test_app():
        yield app.test_client()


@pytest.mark.parametrize(("method", "rule"), body_routes())
async def test_an_over_size_body_is_a_413_envelope_on_every_route(small_body_client, method, rule):
    big = b'{"question": "' + b"x" * 4096 + b'"}'
    response = await small_body_client.open(
        concrete(rule),
        method=method,
        data=big,
        # As every HTTP client sends it (Quart's test client does not).
        headers={"Content-Type": "application/json", "Content-Length": str(len(big))},
    )
    body = await response.get_json()
    assert_envelope(response, body, 413)


@pytest.mark.parametrize("payload", [DEEP, DEEP_OBJECT])
async def test_deep_json_is_a_400_envelope_that_says_why(client, payload):
    response = await client.post("/api/v0/ask", data=payload)
    body = await response.get_json()
    assert_envelope(response, body, 400)
    assert "嵌套" in body["data"]["response"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v0/user/u1/conversations?limit={}",
        "/api/v0/user/u1/conversations/full?conversation_limit={}",
        "/api/v0/user/u1/conversations/full?message_limit={}",
        "/api/v0/conversation/u1:1/messages?limit={}",
        "/api/v0/conversation/u1:1/context?count={}",
        "/api/v0/qa_cache_list?limit={}",
        "/api/v0/react/users/u1/conversations?limit={}",
        "/api/v0/data_pipeline/tasks?limit={}",
        "/api/v0/data_pipeline/tasks/task_20250101_000000/logs?limit={}",
    ],
)
@pytest.mark.parametrize("value", [str(2**70), "-1", "-" + str(2**70), "1e309"])
async def test_an_out_of_range_integer_in_a_query_string_is_never_a_5xx(client, url, value):
    response = await client.get(url.format(value))
    assert response.status_code < 500, await response.get_data()


@pytest.mark.parametrize(
    "value", [str(2**70).encode(), b"-1", b"1e309", b"-" + str(2**70).encode()]
)
async def test_an_out_of_range_count_is_a_bad_request(client, value):
    response = await client.get(f"/api/v0/conversation/u1:1/context?count={value.decode()}")
    body = await response.get_json()
    assert_envelope(response, body, 400)


@pytest.mark.parametrize("number", [b"1180591620717411303424", b"1e309", b"-1e309", b"NaN"])
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v0/conversation_limit_enforcement", "user_max_conversations"),
        ("/api/v0/qa_feedback/query", "page_size"),
        ("/api/v0/training_data/query", "page_size"),
        ("/api/v0/data_pipeline/tasks/query", "page_size"),
        ("/api/v0/cache_cleanup", "older_than_hours"),
    ],
)
async def test_an_out_of_range_number_in_a_body_is_a_bad_request(client, path, field, number):
    payload = b'{"' + field.encode() + b'": ' + number + b"}"
    response = await client.post(path, data=payload, headers={"Content-Type": "application/json"})
    body = await response.get_json()
    assert_envelope(response, body, 400)


BAD_IDS = ["a\x00b", "a\nb", "a\x1bb", "x" * 129]


@pytest.mark.parametrize("user_id", BAD_IDS)
async def test_a_react_user_id_with_a_control_character_is_a_bad_request(client, user_id):
    response = await client.post(
        "/api/v0/ask_react_agent", json={"question": "你好", "user_id": user_id}
    )
    body = await response.get_json()
    assert_envelope(response, body, 400)
    assert "PostgreSQL" not in str(body) and "0x00" not in str(body)


@pytest.mark.parametrize("thread_id", ["u\x00:1", "u:1\x00", "u:1\n"])
async def test_a_react_thread_id_with_a_control_character_is_a_bad_request(client, thread_id):
    response = await client.post(
        "/api/v0/ask_react_agent",
        json={"question": "你好", "user_id": "u", "thread_id": thread_id},
    )
    assert response.status_code == 400
    quoted = thread_id.replace("\x00", "%00").replace("\n", "%0A")
    for url in (
        f"/api/v0/react/direct/conversations/{quoted}",
        f"/api/v0/react/status/{quoted}",
        f"/api/v0/react/conversations/{quoted}",
    ):
        response = await client.get(url)
        body = await response.get_json()
        assert_envelope(response, body, 400)
        assert "PostgreSQL" not in str(body) and "0x00" not in str(body)


@pytest.mark.parametrize(
    ("method", "url", "payload"),
    [
        ("GET", "/api/v0/user/a%00b/conversations", None),
        ("GET", "/api/v0/conversation/a%00b/messages", None),
        ("GET", "/api/v0/data_pipeline/tasks/task%00x", None),
        ("GET", "/api/v0/react/direct/users/a%00b/conversations", None),
        ("GET", "/api/v0/checkpoint/direct/stats?user_id=a%00b", None),
        ("GET", "/api/v0/ask_agent_stream?question=hi&user_id=a%00b", None),
        ("POST", "/api/v0/ask_agent", {"question": "你好", "user_id": "a\x00b"}),
        ("POST", "/api/v0/ask_agent", {"question": "你好", "conversation_id": "a\x01:1"}),
        ("POST", "/api/v0/ask", {"question": "你好", "user_id": "a\x00b"}),
        ("POST", "/api/v0/conversation_cleanup", {"user_id": "a\x00b"}),
        ("POST", "/api/v0/qa_feedback/add", {"question": "q", "sql": "s", "user_id": "a\x00"}),
        ("POST", "/api/v0/ask_agent", {"question": "你好", "user_id": "u" * 129}),
    ],
)
async def test_an_id_with_a_control_character_or_over_128_chars_is_a_bad_request(
    client, method, url, payload
):
    response = await client.open(url, method=method, json=payload)
    body = await response.get_json()
    assert_envelope(response, body, 400)


async def test_a_nul_character_anywhere_in_a_body_is_a_bad_request(client):
    response = await client.post(
        "/api/v0/qa_feedback/add",
        json={"question": "q\x00", "sql": "SELECT 1", "is_thumb_up": True},
    )
    body = await response.get_json()
    assert_envelope(response, body, 400)
    # A literal backslash followed by u0000 is text, not a NUL.
    from citu import inputs

    assert inputs.loads('{"a": "\\\\u0000"}') == {"a": "\\u0000"}


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("POST", "/api/v0/ask_agent", "question"),
        ("POST", "/api/v0/ask", "question"),
        ("POST", "/api/v0/ask_cached", "question"),
        ("POST", "/api/v0/ask_react_agent", "question"),
        ("GET", "/api/v0/ask_agent_stream", "question"),
    ],
)
async def test_a_question_over_the_cap_is_refused_and_nothing_is_stored(
    client, redis, method, url, field
):
    question = "问" * 2001
    if method == "GET":
        response = await client.get(url, query_string={field: question, "user_id": "u1"})
    else:
        response = await client.post(url, json={field: question, "user_id": "u1"})
    body = await response.get_json()
    assert_envelope(response, body, 400)
    # ask_react_agent keeps its own error shape: the reason is in ``error``.
    assert "2000" in (body.get("error") or body["data"]["response"])
    assert await redis.dbsize() == 0


async def test_the_question_cap_is_a_setting(settings):
    app = create_app(settings.model_copy(update={"max_question_chars": 10}))
    async with app.test_app():
        response = await app.test_client().post("/api/v0/ask", json={"question": "x" * 11})
        assert response.status_code == 400


async def test_a_long_request_line_gets_the_envelope_until_hypercorn_refuses_it(settings):
    """Documented in docs/compatibility.md. hypercorn hands h11 what one read brings (up to
    64 KiB); h11 refuses a head that is still incomplete beyond ``h11_max_incomplete_size``
    (16 KiB) with a bare 431 the application never sees. A shorter head reaches citu, which
    answers with the envelope. If a hypercorn upgrade changes this, revisit the docs."""
    import asyncio

    from fakes.served import served

    async def head_of(question_chars: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        line = b"GET /api/v0/ask_agent_stream?question=" + b"x" * question_chars
        writer.write(line + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), 20)
        writer.close()
        return answer

    async with served(create_app(settings)) as port:
        reached = await head_of(20_000)
        refused = await head_of(200_000)
    assert reached.startswith(b"HTTP/1.1 400") and b"2000" in reached
    assert refused.startswith(b"HTTP/1.1 431")
    assert b"content-length: 0" in refused.lower()


async def test_a_training_page_whose_offset_overflows_is_a_bad_request(client):
    response = await client.post("/api/v0/training_data/query", json={"page": 2**63 - 1})
    body = await response.get_json()
    assert_envelope(response, body, 400)
    assert body["data"]["invalid_params"] == ["page"]
