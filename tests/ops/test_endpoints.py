"""The endpoint probe behind /health and agent_health: real HTTP against the fake server and
a closed port; an in-process transport only where a status the fake never sends is needed."""

from __future__ import annotations

import socket

import httpx

from citu.ops.endpoints import EndpointProbe, public_url
from citu.settings import Settings


def _settings(**overrides) -> Settings:
    base = {
        "_env_file": None,
        "llm_api_key": "sk-secret-llm-key-123",
        "embedding_api_key": "sk-secret-emb-key-456",
        "endpoint_probe_timeout": 2.0,
    }
    return Settings(**{**base, **overrides})


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    return port


async def test_ok_against_the_fake(fake_llm):
    probe = EndpointProbe(_settings(llm_base_url=fake_llm.base_url))
    try:
        status = await probe.status("llm")
    finally:
        await probe.aclose()
    assert status.ok and status.http_status == 200 and status.detail is None


async def test_base_url_without_v1_is_unreachable_with_a_hint(fake_llm):
    wrong = fake_llm.base_url.removesuffix("/v1")
    probe = EndpointProbe(_settings(llm_base_url=wrong, embedding_base_url=wrong))
    try:
        found = await probe.all()
    finally:
        await probe.aclose()
    for name, status in found.items():
        assert status.state == "unreachable" and status.http_status == 404, name
        assert "does the base URL end in /v1?" in status.hint
        assert status.url == wrong and wrong in status.detail
    # No listing at /models: the cheapest real call was tried before giving up.
    assert found["llm"].checked_path == "/chat/completions"
    assert found["embeddings"].checked_path == "/embeddings"


async def test_nothing_listening_is_named():
    port = _closed_port()
    probe = EndpointProbe(_settings(llm_base_url=f"http://127.0.0.1:{port}/v1"))
    try:
        status = await probe.status("llm")
    finally:
        await probe.aclose()
    assert status.state == "unreachable" and status.http_status is None
    assert status.hint == f"connection refused: nothing listens at 127.0.0.1:{port}"


async def test_not_configured_is_distinct_from_unreachable():
    probe = EndpointProbe(_settings())
    try:
        status = await probe.status("embeddings")
    finally:
        await probe.aclose()
    assert status.state == "not_configured" and "CITU_EMBEDDING_BASE_URL" in status.hint


async def test_rejected_key_is_cached_and_never_echoed():
    calls: list[httpx.Request] = []

    def reject(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"error": {"message": "bad key sk-secret-llm-key-123"}})

    settings = _settings(llm_base_url="https://llm.example/v1?x=1")
    probe = EndpointProbe(settings, transport=httpx.MockTransport(reject))
    try:
        first = await probe.status("llm")
        second = await probe.status("llm")
    finally:
        await probe.aclose()
    assert first == second and len(calls) == 1  # cached: one probe per period
    assert calls[0].headers["Authorization"] == "Bearer sk-secret-llm-key-123"
    assert first.http_status == 401 and "key was rejected" in first.hint
    text = str(first.as_dict())
    assert "sk-secret" not in text and "bad key" not in text
    assert first.url == "https://llm.example/v1"


async def test_cache_expires():
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"object": "list", "data": []})

    settings = _settings(llm_base_url="http://llm.example/v1", endpoint_probe_cache_seconds=0)
    probe = EndpointProbe(settings, transport=httpx.MockTransport(answer))
    try:
        assert (await probe.status("llm")).ok and (await probe.status("llm")).ok
    finally:
        await probe.aclose()
    assert [c.url.path for c in calls] == ["/v1/models", "/v1/models"]


def test_public_url_drops_credentials_and_query():
    assert public_url("http://a:b@h:8080/v1/?key=z#f") == "http://h:8080/v1"
