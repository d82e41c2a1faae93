"""A lean LangChain chat model for the answer path: plain text over ``/chat/completions``.

The ask agent (classifier fallback, SQL generation and repair, summary, chat) only sends
messages and reads text back. ``ChatOpenAI`` does that through the openai SDK, which costs about
1.5 ms of CPU per call in request building and response models and then parses the reply in a
thread pool; with 200 concurrent questions on one worker that CPU is queueing time for every
request (docs/performance.md). This model posts the JSON itself on the shared httpx client and
raises the typed 503/504 errors directly. Tool calling (the ReAct agent), training and the
pipeline keep ``ChatOpenAI``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Sequence
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, SecretStr

from citu.failures import is_retryable_status
from citu.llm.policy import error_for, error_for_status, garbled_reply

log = logging.getLogger("citu.agents.ask.llm")

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class _Retryable(Exception):
    def __init__(self, error: Exception, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


def message_json(message: BaseMessage) -> dict[str, Any]:
    role = _ROLES.get(message.type)
    if role is None:
        raise ValueError(f"TextChatModel sends text messages only, not {message.type!r}")
    return {"role": role, "content": message.content}


def reply_text(payload: Any) -> tuple[str, dict[str, Any]]:
    """``(content, usage)`` of a chat completion; ValueError when it is not one."""
    try:
        message = payload["choices"][0]["message"]
        content = message.get("content") or ""
        usage = payload.get("usage") or {}
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ValueError(f"not a chat completion: {str(payload)[:200]}") from exc
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content), usage if isinstance(usage, dict) else {}


def usage_metadata(usage: dict[str, Any]) -> dict[str, int] | None:
    try:
        prompt, completion = int(usage["prompt_tokens"]), int(usage["completion_tokens"])
    except (KeyError, TypeError, ValueError):
        return None
    total = usage.get("total_tokens")
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": total if isinstance(total, int) else prompt + completion,
    }


class TextChatModel(BaseChatModel):
    """Text in, text out, over an OpenAI-compatible ``/chat/completions`` endpoint."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_url: str
    model_name: str = Field(alias="model")
    api_key: SecretStr = SecretStr("not-needed")
    temperature: float | None = None
    timeout: float = 60.0
    max_retries: int = 2
    http_client: httpx.AsyncClient = Field(exclude=True)

    @property
    def _llm_type(self) -> str:
        return "openai-compatible-text"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "base_url": self.base_url}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # The service is async end to end; a sync call would block the event loop.
        raise NotImplementedError("TextChatModel is async only: use ainvoke")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body = self._request_body(messages, stop, kwargs)
        for attempt in range(self.max_retries + 1):
            try:
                payload = await self._post(body)
                break
            except _Retryable as retry:
                if attempt == self.max_retries:
                    raise retry.error from retry.__cause__
                await asyncio.sleep(retry.delay or _backoff(attempt))
        try:
            content, usage = reply_text(payload)
        except ValueError as exc:
            log.warning("LLM answer could not be read: %s", exc)
            raise garbled_reply() from exc
        message = AIMessage(
            content=content,
            response_metadata={"model_name": self.model_name},
            usage_metadata=usage_metadata(usage),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _request_body(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, extra: dict[str, Any]
    ) -> bytes:
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": [message_json(m) for m in messages],
            "stream": False,
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if stop:
            body["stop"] = stop
        body.update(extra)
        return json.dumps(body, ensure_ascii=False).encode()

    async def _post(self, body: bytes) -> Any:
        """The decoded JSON answer; raises typed errors, or _Retryable wrapping one."""
        try:
            response = await self.http_client.post(
                self.base_url.rstrip("/") + "/chat/completions",
                content=body,
                headers={
                    "Authorization": f"Bearer {self.api_key.get_secret_value()}",
                    "Content-Type": "application/json",
                },
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            log.warning("LLM timed out after %.1f s", self.timeout)
            raise _Retryable(error_for(exc)) from exc
        except httpx.TransportError as exc:
            log.warning("LLM unreachable: %r", exc)
            raise _Retryable(error_for(exc)) from exc
        if response.status_code >= 400:
            log.warning("LLM answered HTTP %s: %s", response.status_code, response.text[:300])
            error = error_for_status(response.status_code)
            if is_retryable_status(response.status_code):
                raise _Retryable(error, _retry_after(response))
            raise error
        try:
            return response.json()
        except ValueError as exc:
            log.warning("LLM answer is not JSON: %s", response.text[:200])
            raise garbled_reply() from exc


def _backoff(attempt: int) -> float:
    # Exponential with jitter, as the openai SDK: 0.5 s, 1 s, 2 s ... at most 8 s.
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def _retry_after(response: httpx.Response) -> float | None:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if 0 < seconds <= 60 else None
