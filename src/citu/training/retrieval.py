"""Retrieval for the agents' prompts: similar question/SQL pairs, related DDL, documentation and
wrong-SQL examples, with the old service's top-k and score thresholds.

The question is embedded once (through the Redis cache) and all collections are searched in
one query; the old service embedded up to eight times per question.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from citu.settings import Settings
from citu.training.embedder import Embedder
from citu.training.vector_store import Hit, VectorStore

log = logging.getLogger("citu.training.retrieval")


@dataclass
class RetrievedContext:
    question_sql: list[dict[str, Any]] = field(default_factory=list)  # question, sql, similarity
    ddl: list[str] = field(default_factory=list)
    documentation: list[str] = field(default_factory=list)
    error_sql: list[dict[str, Any]] = field(default_factory=list)  # question, sql, similarity


def keep_by_threshold(hits: list[Hit], threshold: float, enabled: bool) -> list[Hit]:
    """The old soft filter: hits at or above ``threshold``, but never fewer than half of the
    hits (rounded up, at least one), so the prompt keeps some context."""
    if not enabled or not hits:
        return hits
    ranked = sorted(hits, key=lambda h: h.similarity, reverse=True)
    min_keep = max((len(ranked) + 1) // 2, 1)
    passed = [h for h in ranked if h.similarity >= threshold]
    return passed if len(passed) >= min_keep else ranked[:min_keep]


def _pairs(hits: list[Hit]) -> list[dict[str, Any]]:
    pairs = []
    for hit in hits:
        try:
            doc = json.loads(hit.document)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("sql"):
            pairs.append(
                {"question": doc.get("question"), "sql": doc["sql"], "similarity": hit.similarity}
            )
    return pairs


class Retriever:
    def __init__(
        self,
        pool: asyncpg.Pool,
        embedder: Embedder,
        settings: Settings,
        store: VectorStore | None = None,
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self.store = store or VectorStore(pool, settings.embedding_dimension)

    async def retrieve(self, question: str) -> RetrievedContext:
        s = self.settings
        collections = ["sql", "ddl", "documentation"]
        if s.enable_error_sql_prompt:
            collections.append("error_sql")
        vector = await self.embedder.embed_query(question)
        hits = await self.store.search(vector, collections, max(1, s.n_results))
        enabled = s.enable_result_vector_score_threshold
        sql = keep_by_threshold(hits["sql"], s.result_vector_sql_score_threshold, enabled)
        ddl = keep_by_threshold(hits["ddl"], s.result_vector_ddl_score_threshold, enabled)
        docs = keep_by_threshold(
            hits["documentation"], s.result_vector_doc_score_threshold, enabled
        )
        # Wrong-SQL examples are a hard filter: none at all is better than a loose match.
        errors = [
            h
            for h in hits.get("error_sql", [])
            if h.similarity >= s.result_vector_error_sql_score_threshold
        ]
        context = RetrievedContext(
            question_sql=_pairs(sql),
            ddl=[h.document for h in ddl],
            documentation=[h.document for h in docs],
            error_sql=_pairs(errors),
        )
        log.debug(
            "retrieved sql=%d ddl=%d doc=%d error_sql=%d",
            len(context.question_sql),
            len(context.ddl),
            len(context.documentation),
            len(context.error_sql),
        )
        return context
