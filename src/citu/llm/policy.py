"""The one failure policy of the chat model: every failed call becomes a typed 503 or 504.

Both ways of calling the model (LangChain's ``ainvoke`` in :mod:`citu.llm.calls` and the lean
:class:`~citu.llm.text_model.TextChatModel`) raise these errors, built by the same rule as
every other upstream failure (:func:`citu.failures.model_failure`): the client sees citu's own
text, never the provider's, and ``can_retry`` says whether another try may help.
"""

from __future__ import annotations

from citu import failures
from citu.errors import GatewayTimeout, ServiceUnavailable

LLM_UNAVAILABLE_TEXT = failures.LLM_UNAVAILABLE_TEXT
LLM_TIMEOUT_TEXT = failures.LLM_TIMEOUT_TEXT
LLM_GARBLED_TEXT = "AI服务返回了无法解析的结果，请稍后重试"

# langchain-openai raises these when an OpenAI-compatible API answers another JSON shape.
GARBLED_REPLY_ERRORS: tuple[type[Exception], ...] = (TypeError, ValueError, KeyError)


class LlmUnavailable(ServiceUnavailable):
    """The LLM service refused, could not be reached, or answered something unreadable."""

    error_type = failures.LLM_UNAVAILABLE


class LlmTimeout(GatewayTimeout):
    """The LLM service did not answer in time."""

    error_type = failures.LLM_TIMEOUT


LlmError = (LlmUnavailable, LlmTimeout)


def garbled_reply() -> LlmUnavailable:
    """The error for an answer that is not a chat completion (a retry may get a good one)."""
    return LlmUnavailable(LLM_GARBLED_TEXT)


def error_for_status(status: int) -> LlmUnavailable:
    """The error for an HTTP error status of the chat completions endpoint."""
    if status in (401, 403):
        return LlmUnavailable(
            failures.LLM_AUTH_TEXT, can_retry=False, error_type=failures.LLM_AUTH_FAILED
        )
    return LlmUnavailable(LLM_UNAVAILABLE_TEXT, can_retry=failures.is_retryable_status(status))


def error_for(error: BaseException) -> LlmUnavailable | LlmTimeout:
    """The typed error for any exception raised by a chat model call."""
    if isinstance(error, LlmError):
        return error
    failure = failures.model_failure(error, embeddings=False)
    if failure is None:
        return (
            garbled_reply()
            if isinstance(error, GARBLED_REPLY_ERRORS)
            else LlmUnavailable(LLM_UNAVAILABLE_TEXT)
        )
    if failure.error_type == failures.LLM_TIMEOUT:
        return LlmTimeout(failure.text)
    return LlmUnavailable(failure.text, can_retry=failure.can_retry, error_type=failure.error_type)
