"""The answer path's chat model against the real HTTP fake: wire format, retries, typed errors."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from citu.llm.calls import (
    LLM_GARBLED_TEXT,
    LLM_TIMEOUT_TEXT,
    LLM_UNAVAILABLE_TEXT,
    LlmTimeout,
    LlmUnavailable,
    complete,
)
from citu.llm.text_model import TextChatModel


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


def model(http, base_url: str, **overrides) -> TextChatModel:
    options = {"model": "fake-llm", "api_key": "k", "temperature": 0.2, "max_retries": 0}
    return TextChatModel(base_url=base_url, http_client=http, **{**options, **overrides})


async def test_sends_the_conversation_and_returns_the_text(http, fake_llm):
    fake_llm.reply("<think>先想想</think>\n你好！")
    llm = model(http, fake_llm.base_url)
    reply = await llm.ainvoke(
        [SystemMessage("你是助手"), HumanMessage("你好"), AIMessage("在"), HumanMessage("再见")]
    )

    assert reply.content == "<think>先想想</think>\n你好！"  # thinking is the caller's business
    sent = fake_llm.last_request
    assert sent["model"] == "fake-llm" and sent["temperature"] == 0.2
    assert sent["stream"] is False
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", "你是助手"),
        ("user", "你好"),
        ("assistant", "在"),
        ("user", "再见"),
    ]
    usage = reply.usage_metadata
    assert usage is not None and usage["input_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


async def test_a_server_error_is_retried_then_answered(http, fake_llm):
    fake_llm.fail(503)
    fake_llm.reply("第二次成功")
    llm = model(http, fake_llm.base_url, max_retries=2)
    assert await complete(llm, [HumanMessage("你好")]) == "第二次成功"
    assert len(fake_llm.requests) == 2


async def test_retries_give_up_with_a_retryable_503(http, fake_llm):
    for _ in range(2):
        fake_llm.fail(502)
    llm = model(http, fake_llm.base_url, max_retries=1)
    with pytest.raises(LlmUnavailable) as caught:
        await complete(llm, [HumanMessage("你好")])
    assert str(caught.value) == LLM_UNAVAILABLE_TEXT and caught.value.can_retry is True
    assert len(fake_llm.requests) == 2


async def test_a_client_error_is_not_retried(http, fake_llm):
    fake_llm.fail(401, "bad key")
    llm = model(http, fake_llm.base_url, max_retries=2)
    with pytest.raises(LlmUnavailable) as caught:
        await complete(llm, [HumanMessage("你好")])
    assert caught.value.can_retry is False  # a configuration problem
    assert len(fake_llm.requests) == 1


async def test_a_timeout_is_a_504(http, fake_llm):
    fake_llm.hang(5.0)
    llm = model(http, fake_llm.base_url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LlmTimeout) as caught:
        await complete(llm, [HumanMessage("你好")])
    assert str(caught.value) == LLM_TIMEOUT_TEXT
    assert time.monotonic() - started < 3


async def test_an_unreachable_server_is_a_retryable_503(http):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = model(http, f"http://127.0.0.1:{port}/v1")
    with pytest.raises(LlmUnavailable) as caught:
        await complete(llm, [HumanMessage("你好")])
    assert caught.value.can_retry is True


@pytest.mark.parametrize("body", [{"id": "x", "object": "chat.completion"}, {"choices": []}])
async def test_an_answer_that_is_not_a_completion_is_garbled(http, fake_llm, body):
    fake_llm.fail(200, body)
    llm = model(http, fake_llm.base_url)
    with pytest.raises(LlmUnavailable) as caught:
        await complete(llm, [HumanMessage("你好")])
    assert str(caught.value) == LLM_GARBLED_TEXT


async def test_tool_messages_are_refused_before_any_request(http, fake_llm):
    llm = model(http, fake_llm.base_url)
    with pytest.raises(ValueError, match="text messages only"):
        await llm.ainvoke([HumanMessage("你好"), ToolMessage("42", tool_call_id="c1")])
    assert fake_llm.requests == []


async def test_the_sync_api_is_refused(http, fake_llm):
    with pytest.raises(NotImplementedError):
        model(http, fake_llm.base_url).invoke([HumanMessage("你好")])
