"""Embeddings through the OpenAI-compatible endpoint: batched documents, cached queries.

Every vector is checked against the configured dimension and L2-normalised (as the old
service's API embedder did), so cosine scores are comparable with existing rows. A failing or
misconfigured endpoint is an error, never a zero vector.
"""

from __future__ import annotations

import logging

import httpx
import numpy as np
import openai
from langchain_openai import OpenAIEmbeddings

from citu import failures
from citu.errors import ServiceUnavailable
from citu.llm.clients import require_embeddings
from citu.settings import Settings
from citu.training.embedding_cache import EmbeddingCache

log = logging.getLogger("citu.training.embedder")


class EmbeddingError(ServiceUnavailable):
    """The embedding endpoint failed or answered something unusable."""

    error_type = failures.EMBEDDING_UNAVAILABLE


def _call_failed(error: Exception) -> EmbeddingError:
    """citu's own text for a failed call; the provider's (which may quote the key) is logged."""
    log.warning("embedding call failed: %s", error)
    failure = failures.describe(error)
    return EmbeddingError(failure.text, can_retry=failure.can_retry, error_type=failure.error_type)


class Embedder:
    def __init__(
        self,
        embeddings: OpenAIEmbeddings | None,
        cache: EmbeddingCache | None,
        settings: Settings,
    ) -> None:
        self.embeddings = embeddings
        self.cache = cache
        self.dimension = settings.embedding_dimension
        self.batch_size = max(1, settings.embedding_batch_size)

    async def embed_query(self, text: str) -> np.ndarray:
        """The vector of a search text, through the Redis cache."""
        if self.cache is not None:
            cached = await self.cache.get(text)
            if cached is not None:
                return np.asarray(cached, dtype=np.float32)
        client = require_embeddings(self.embeddings)
        try:
            raw = await client.aembed_query(text)
        except (openai.APIError, httpx.HTTPError) as error:
            raise _call_failed(error) from error
        vector = self._checked(raw)
        if self.cache is not None:
            await self.cache.put(text, vector.tolist())
        return vector

    async def embed_documents(self, texts: list[str]) -> list[np.ndarray]:
        """Vectors of texts to store, requested in batches of ``embedding_batch_size``."""
        if not texts:
            return []
        client = require_embeddings(self.embeddings)
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                raw = await client.aembed_documents(batch, chunk_size=self.batch_size)
            except (openai.APIError, httpx.HTTPError) as error:
                raise _call_failed(error) from error
            if len(raw) != len(batch):
                raise EmbeddingError(
                    f"Embedding服务返回了 {len(raw)} 个向量，请求了 {len(batch)} 个"
                )
            vectors.extend(self._checked(v) for v in raw)
        return vectors

    def _checked(self, raw: list[float]) -> np.ndarray:
        vector = np.asarray(raw, dtype=np.float32)
        if vector.shape != (self.dimension,):
            raise EmbeddingError(
                f"Embedding维度不一致：模型返回 {vector.size} 维，"
                f"CITU_EMBEDDING_DIMENSION={self.dimension}",
                can_retry=False,
            )
        norm = float(np.linalg.norm(vector))
        if not np.isfinite(norm) or norm == 0.0:
            raise EmbeddingError("Embedding服务返回了零向量或无效向量", can_retry=False)
        return vector / norm
