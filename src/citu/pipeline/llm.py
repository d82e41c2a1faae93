"""LLM calls of the pipeline: bounded retries, refusal detection, and JSON out of free text.

The old ``chat_with_llm`` turned failures into an apology sentence that then became a table
comment; here an empty or apologising answer is a failure and the caller falls back. Each
attempt goes through the one call path (:func:`citu.llm.calls.complete`), so a failure is
already citu's typed error; one that says another try cannot help (a refused key) ends the
retries at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from citu import failures
from citu.llm.calls import complete
from citu.llm.text import drop_thinking

log = logging.getLogger("citu.pipeline.llm")

_APOLOGIES = ("抱歉，我暂时无法回答", "抱歉，我无法", "I'm sorry, I can", "I cannot help")
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class LlmFailed(Exception):
    pass


class _Refused(Exception):
    """An empty or apologising answer: worth another try, never worth a table comment."""


class PipelineLlm:
    """One chat model with the pipeline's retry policy."""

    def __init__(self, model: BaseChatModel | None, attempts: int = 3, retry_delay: float = 1.0):
        self.model = model
        self.attempts = max(1, attempts)
        self.retry_delay = retry_delay

    @property
    def available(self) -> bool:
        return self.model is not None

    async def ask(self, system: str, user: str) -> str:
        """The answer text; LlmFailed after the attempts are used up."""
        if self.model is None:
            raise LlmFailed("LLM未配置")
        last_error = "empty answer"
        for attempt in range(1, self.attempts + 1):
            try:
                return await self._answer(self.model, system, user)
            except asyncio.CancelledError:
                raise
            except _Refused:
                last_error = "empty or refused answer"
                log.warning("LLM attempt %d/%d failed: %s", attempt, self.attempts, last_error)
            except Exception as error:  # noqa: BLE001 - any client error may pass on another try
                # The task record shows citu's text; a provider's may quote the key.
                last_error = failures.public_text(error)
                log.warning("LLM attempt %d/%d failed: %s", attempt, self.attempts, error)
                if not getattr(error, "can_retry", True):
                    break
            if attempt < self.attempts:
                await asyncio.sleep(self.retry_delay)
        raise LlmFailed(last_error)

    @staticmethod
    async def _answer(model: BaseChatModel, system: str, user: str) -> str:
        reply = await complete(model, [SystemMessage(content=system), HumanMessage(content=user)])
        text = drop_thinking(reply).strip()
        if not text or any(marker in text[:60] for marker in _APOLOGIES):
            raise _Refused
        return text

    async def ask_json(self, system: str, user: str) -> Any:
        """The answer parsed as JSON; LlmFailed if no attempt yields parsable JSON."""
        last = ""
        for _ in range(self.attempts):
            last = await self.ask(system, user)
            parsed = extract_json(last)
            if parsed is not None:
                return parsed
            log.warning("LLM answer is not JSON: %.200s", last)
        raise LlmFailed(f"LLM返回内容无法解析为JSON: {last[:200]}")


def extract_json(text: str) -> Any | None:
    """JSON from a fenced block, the whole text, or the outermost ``{...}`` / ``[...]`` span."""
    candidates = [m.group(1).strip() for m in _FENCE.finditer(text)]
    candidates.append(text.strip())
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
    return None
