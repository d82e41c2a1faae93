"""LangChain clients for the OpenAI-compatible LLM and embedding endpoints."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from citu.admission import AdmissionReleasingTransport
from citu.errors import ServiceUnavailable
from citu.llm.text_model import TextChatModel
from citu.settings import Settings


class ShardedTransport(httpx.AsyncBaseTransport):
    """Spreads requests round-robin over several connection pools.

    httpcore's pool does work proportional to (connections × idle connections) each time a
    request starts or a response finishes: one pool of 200 busy connections costs seconds of
    CPU when they all turn idle together, and 8 pools still cost about 2 ms per model call under
    200 concurrent calls. 64 pools of a few connections each keep that cost negligible.
    """

    def __init__(self, max_connections: int, shards: int = 64) -> None:
        per_shard = max(1, -(-max_connections // shards))
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        tls = httpx.create_ssl_context()  # one for all: each costs milliseconds to build
        self._transports = [
            httpx.AsyncHTTPTransport(limits=limits, verify=tls) for _ in range(shards)
        ]
        self._next = itertools.cycle(self._transports)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._next).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()


def model_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    """The transport of the HTTP client every model client shares: sharded pools, and a
    request leaving frees the asking turn's admission slot (the one place that does)."""
    return AdmissionReleasingTransport(ShardedTransport(max_connections))


def _chat_options(settings: Settings) -> dict[str, Any]:
    """The endpoint, model and limits both chat models are built with."""
    return {
        "base_url": settings.llm_base_url,
        "api_key": settings.llm_api_key or "not-needed",
        "model": settings.llm_model,
        "temperature": settings.llm_temperature,
        "timeout": settings.llm_timeout,
        "max_retries": settings.llm_max_retries,
    }


def build_chat_model(settings: Settings, http_client: httpx.AsyncClient) -> ChatOpenAI | None:
    """langchain-openai's model: tool calling (ReAct agent), training and the pipeline."""
    if not settings.llm_configured:
        return None
    return ChatOpenAI(**_chat_options(settings), http_async_client=http_client)


def build_text_model(settings: Settings, http_client: httpx.AsyncClient) -> TextChatModel | None:
    """The chat model of the answer path (ask agent, direct ask): text only, lean per call."""
    if not settings.llm_configured:
        return None
    return TextChatModel(**_chat_options(settings), http_client=http_client)


def build_embeddings(settings: Settings, http_client: httpx.AsyncClient) -> OpenAIEmbeddings | None:
    if not settings.embedding_configured:
        return None
    # check_embedding_ctx_length=False: the length check downloads tiktoken files (offline
    # here) and only fits OpenAI's own models anyway.
    return OpenAIEmbeddings(
        base_url=settings.embedding_base_url,
        api_key=settings.embedding_api_key or "not-needed",
        model=settings.embedding_model,
        dimensions=settings.embedding_dimension,
        check_embedding_ctx_length=False,
        chunk_size=settings.embedding_batch_size,
        timeout=settings.embedding_timeout,
        max_retries=settings.llm_max_retries,
        http_async_client=http_client,
    )


def require_llm(llm: ChatOpenAI | None) -> ChatOpenAI:
    """The chat model, or a 503 naming the setting that is missing."""
    if llm is None:
        raise ServiceUnavailable(
            "LLM未配置：请设置 CITU_LLM_BASE_URL（以及 CITU_LLM_API_KEY、CITU_LLM_MODEL）",
            can_retry=False,
        )
    return llm


def require_embeddings(embeddings: OpenAIEmbeddings | None) -> OpenAIEmbeddings:
    if embeddings is None:
        raise ServiceUnavailable(
            "Embedding服务未配置：请设置 CITU_EMBEDDING_BASE_URL（以及 CITU_EMBEDDING_API_KEY、CITU_EMBEDDING_MODEL）",
            can_retry=False,
        )
    return embeddings
