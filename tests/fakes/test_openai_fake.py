"""The OpenAI fake, driven through the real langchain-openai / openai / httpx clients."""

# ruff: noqa: F811

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel

# The fixtures are imported so this file runs without tests/conftest.py; pytest injects them by
# name, which ruff reads as unused imports shadowed by test arguments.
from fakes.openai_fake import (  # noqa: F401
    FakeOpenAI,
    ToolCall,
    fake_embedding,
    fake_llm,
    openai_fake_server,
)

TESTS_DIR = Path(__file__).resolve().parents[1]


@tool
def run_sql(sql: str, limit: int = 100) -> str:
    """Run a read-only SQL query."""
    return sql


def chat(fake: FakeOpenAI, **kwargs: object) -> ChatOpenAI:
    return ChatOpenAI(base_url=fake.base_url, api_key="test", model="fake", max_retries=0, **kwargs)


def embeddings(fake: FakeOpenAI, dimensions: int | None = None) -> OpenAIEmbeddings:
    return OpenAIEmbeddings(
        base_url=fake.base_url,
        api_key="test",
        model="fake-emb",
        check_embedding_ctx_length=False,
        dimensions=dimensions,
        max_retries=0,
    )


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def merge(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return total


# ---- chat -----------------------------------------------------------------------------------


async def test_plain_reply_and_default(fake_llm: FakeOpenAI) -> None:
    fake_llm.reply("SELECT 1")
    llm = chat(fake_llm)
    first = await llm.ainvoke("hi")
    second = await llm.ainvoke("hi again")
    assert isinstance(first, AIMessage)
    assert first.content == "SELECT 1"
    assert second.content == "好的"  # queue drained -> default_reply
    assert first.usage_metadata and first.usage_metadata["total_tokens"] > 0


async def test_tool_call_via_bind_tools(fake_llm: FakeOpenAI) -> None:
    fake_llm.reply_tool_call("run_sql", {"sql": "SELECT * FROM 订单", "limit": 5}, call_id="c1")
    msg = await chat(fake_llm).bind_tools([run_sql]).ainvoke("orders?")
    assert msg.tool_calls == [
        {
            "name": "run_sql",
            "args": {"sql": "SELECT * FROM 订单", "limit": 5},
            "id": "c1",
            "type": "tool_call",
        }
    ]
    assert fake_llm.last_request["tools"][0]["function"]["name"] == "run_sql"


async def test_astream_merges_into_full_text(fake_llm: FakeOpenAI) -> None:
    text = "南城服务区上月营业额为 1,234,567 元。"
    fake_llm.reply(text)
    chunks = [c async for c in chat(fake_llm).astream("营业额?")]
    assert len(chunks) > 3  # really streamed in pieces
    merged = merge(chunks)
    assert merged.content == text
    assert merged.response_metadata.get("finish_reason") == "stop"
    assert fake_llm.last_request["stream"] is True


async def test_astream_tool_calls_merge(fake_llm: FakeOpenAI) -> None:
    fake_llm.push(
        {
            "tool_calls": [
                {"name": "run_sql", "arguments": {"sql": "SELECT count(*) FROM t"}, "id": "a"},
                ToolCall("run_sql", {"sql": "SELECT 2", "limit": 1}, "b"),
            ]
        }
    )
    chunks = [c async for c in chat(fake_llm).bind_tools([run_sql]).astream("go")]
    merged = merge(chunks)
    assert [(tc["id"], tc["name"], tc["args"]) for tc in merged.tool_calls] == [
        ("a", "run_sql", {"sql": "SELECT count(*) FROM t"}),
        ("b", "run_sql", {"sql": "SELECT 2", "limit": 1}),
    ]
    assert merged.response_metadata.get("finish_reason") == "tool_calls"


async def test_structured_output(fake_llm: FakeOpenAI) -> None:
    class Intent(BaseModel):
        intent: str
        confidence: float

    fake_llm.reply('{"intent": "data_query", "confidence": 0.9}')
    fake_llm.reply_tool_call("Intent", {"intent": "chitchat", "confidence": 0.5})
    llm = chat(fake_llm)
    assert await llm.with_structured_output(Intent).ainvoke("q") == Intent(
        intent="data_query", confidence=0.9
    )
    by_tool = llm.with_structured_output(Intent, method="function_calling")
    assert await by_tool.ainvoke("q") == Intent(intent="chitchat", confidence=0.5)
    assert fake_llm.requests[0]["response_format"]["type"] == "json_schema"


async def test_rules_substring_callable_and_fifo_first(fake_llm: FakeOpenAI) -> None:
    fake_llm.when("classify the question", "data_query")
    fake_llm.when(
        lambda messages: messages[-1]["content"].startswith("SQL:"),
        lambda body: {"tool_call": {"name": "run_sql", "arguments": {"sql": body["model"]}}},
    )
    fake_llm.when("SQL", "never reached: the rule above matches first")
    llm = chat(fake_llm)

    fake_llm.reply("from the queue")  # FIFO beats rules
    assert (await llm.ainvoke("classify the question: x")).content == "from the queue"

    sql_msg = await llm.bind_tools([run_sql]).ainvoke("SQL: orders")
    assert sql_msg.tool_calls[0]["args"] == {"sql": "fake"}

    classify = [SystemMessage("Please classify the question."), HumanMessage("销量?")]
    assert (await llm.ainvoke(classify)).content == "data_query"  # system prompt text matches
    assert (await llm.ainvoke("unrelated")).content == "好的"


async def test_broken_rule_callable_surfaces_as_500(fake_llm: FakeOpenAI) -> None:
    fake_llm.when("boom", lambda body: 1 / 0)
    with pytest.raises(openai.InternalServerError, match="ZeroDivisionError"):
        await chat(fake_llm).ainvoke("boom")


async def test_fail_surfaces_then_recovers(fake_llm: FakeOpenAI) -> None:
    fake_llm.fail(500)
    fake_llm.fail(429, {"error": {"message": "slow down", "type": "rate_limit", "code": None}})
    llm = chat(fake_llm)
    with pytest.raises(openai.InternalServerError):
        await llm.ainvoke("x")
    with pytest.raises(openai.RateLimitError, match="slow down"):
        await llm.ainvoke("x")
    assert (await llm.ainvoke("x")).content == "好的"


async def test_latency_is_applied(fake_llm: FakeOpenAI) -> None:
    fake_llm.latency = 0.3
    llm = chat(fake_llm)
    t0 = time.perf_counter()
    await llm.ainvoke("x")
    assert time.perf_counter() - t0 >= 0.3
    t0 = time.perf_counter()
    await embeddings(fake_llm).aembed_query("x")
    assert time.perf_counter() - t0 >= 0.3


async def test_hang_triggers_client_timeout(fake_llm: FakeOpenAI) -> None:
    fake_llm.hang(5.0)
    t0 = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        await chat(fake_llm, timeout=0.3).ainvoke("x")
    assert time.perf_counter() - t0 < 2.0
    fake_llm.hang(0.2, "late but fine")
    assert (await chat(fake_llm, timeout=5).ainvoke("x")).content == "late but fine"


async def test_requests_are_recorded_and_reset(fake_llm: FakeOpenAI) -> None:
    await chat(fake_llm, temperature=0).ainvoke([SystemMessage("sys"), HumanMessage("问题")])
    (body,) = fake_llm.requests
    assert body["model"] == "fake"
    assert body["temperature"] == 0
    assert [m["content"] for m in body["messages"]] == ["sys", "问题"]

    fake_llm.reply("queued")
    fake_llm.when("x", "rule")
    fake_llm.latency = 1.0
    fake_llm.default_reply = "changed"
    fake_llm.reset()
    assert fake_llm.requests == [] and fake_llm.latency == 0.0
    assert (await chat(fake_llm).ainvoke("x")).content == "好的"


# ---- embeddings -----------------------------------------------------------------------------


async def test_embeddings_dimension_and_similarity(fake_llm: FakeOpenAI) -> None:
    texts = ["南城服务区的营业额是多少", "南城服务区营业额是多少？", "今天天气怎么样"]
    vecs = await embeddings(fake_llm).aembed_documents(texts)
    assert [len(v) for v in vecs] == [1024] * 3
    assert cosine(vecs[0], vecs[1]) > 0.8
    assert cosine(vecs[0], vecs[2]) < 0.3
    # Same numbers as the in-process function (base64 float32 round trip is exact enough).
    assert np.allclose(vecs[0], fake_embedding(texts[0], 1024), atol=1e-6)
    assert fake_llm.embedding_requests[0]["input"] == texts

    fake_llm.embedding_dim = 64
    assert len(await embeddings(fake_llm).aembed_query("x")) == 64
    assert len(await embeddings(fake_llm, dimensions=128).aembed_query("x")) == 128
    assert fake_llm.embedding_requests[-1]["dimensions"] == 128


async def test_embeddings_failure(fake_llm: FakeOpenAI) -> None:
    fake_llm.fail(503, endpoint="embeddings")
    with pytest.raises(openai.APIStatusError) as info:
        await embeddings(fake_llm).aembed_query("x")
    assert info.value.status_code == 503
    assert len(await embeddings(fake_llm).aembed_query("x")) == 1024


def test_fake_embedding_properties() -> None:
    a = fake_embedding("How many orders last month?", 256)
    assert fake_embedding("how  many ORDERS last month", 256) == a  # case/space/punct folded
    assert abs(np.linalg.norm(a) - 1.0) < 1e-9
    assert cosine(a, fake_embedding("list all employees in sales", 256)) < 0.3
    assert cosine(a, fake_embedding("How many orders were placed last month?", 256)) > 0.8
    assert abs(np.linalg.norm(fake_embedding("", 8)) - 1.0) < 1e-9  # never a zero vector
    # Stable across processes (no PYTHONHASHSEED dependence).
    code = "from fakes.openai_fake import fake_embedding as f; print(f('南城服务区', 16))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(TESTS_DIR)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == fake_embedding("南城服务区", 16)


# ---- wire format (raw httpx) ----------------------------------------------------------------


async def test_sse_wire_format(fake_llm: FakeOpenAI) -> None:
    fake_llm.reply("abcdefgh")
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{fake_llm.base_url}/chat/completions", json=body)
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in resp.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "m" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == "abcdefgh"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


async def test_raw_endpoints(fake_llm: FakeOpenAI) -> None:
    async with httpx.AsyncClient(base_url=fake_llm.base_url) as client:
        resp = await client.get("/models")
        # No keep-alive by default: see FakeOpenAI.keep_alive (cross-event-loop pooled clients).
        assert resp.headers["connection"] == "close"
        models = resp.json()
        assert {m["id"] for m in models["data"]} >= {"fake", "fake-emb"}

        emb = await client.post(
            "/embeddings", json={"model": "e", "input": [[1, 2, 3], [4, 5]], "dimensions": 8}
        )
        data = emb.json()["data"]
        assert [(d["index"], len(d["embedding"])) for d in data] == [(0, 8), (1, 8)]

        single = (await client.post("/embeddings", json={"input": "单个", "dimensions": 4})).json()
        assert len(single["data"]) == 1 and single["usage"]["total_tokens"] > 0

        assert (await client.post("/embeddings", json={"input": 3})).status_code == 400
        assert (await client.post("/chat/completions", content=b"{not json")).status_code == 400
        missing = await client.get("/nope")
        assert missing.status_code == 404 and "error" in missing.json()


# ---- lifecycle ------------------------------------------------------------------------------


def test_standalone_start_stop() -> None:
    with FakeOpenAI(default_reply="hello") as fake:
        port = fake.port
        resp = httpx.post(
            f"{fake.base_url}/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
        )
        assert resp.json()["choices"][0]["message"]["content"] == "hello"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models")


def test_script_entry_point() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = Path(__file__).with_name("openai_fake.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port), "--latency", "0.1", "--reply", "bench"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{url}/models")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "script server did not come up"
                time.sleep(0.1)
        llm = ChatOpenAI(base_url=url, api_key="test", model="fake", max_retries=0)
        t0 = time.perf_counter()
        assert llm.invoke("x").content == "bench"
        assert time.perf_counter() - t0 >= 0.1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
