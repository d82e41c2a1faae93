"""What the question-answering agent needs from the training and conversation areas.

Structural types only: ``citu.training.retrieval.Retriever`` and
``citu.stores.conversations.ConversationStore`` satisfy them without importing this module.
"""

from __future__ import annotations

from typing import Any, Protocol


class RetrievedContextLike(Protocol):
    question_sql: list[dict[str, Any]]  # {"question", "sql", "similarity"}, best first
    ddl: list[str]
    documentation: list[str]
    error_sql: list[dict[str, Any]]  # {"question", "sql", "similarity"}


class RetrieverLike(Protocol):
    async def retrieve(self, question: str) -> RetrievedContextLike: ...


class TrainingSink(Protocol):
    async def add_question_sql(self, question: str, sql: str) -> Any: ...


class ConversationStoreLike(Protocol):
    def resolve_user_id(
        self, user_id: str | None = None, conversation_id: str | None = None
    ) -> str:
        """Request user > the conversation's user > guest; BadRequest on a mismatch."""
        ...

    async def resolve_conversation_id(
        self, user_id: str, conversation_id: str | None, continue_conversation: bool
    ) -> tuple[str, dict[str, Any]]:
        """``(id, {"status": "new"|"continue"|"invalid_id_new", "message", "requested_id"?})``."""
        ...

    async def get_context(self, conversation_id: str, count: int | None = None) -> str: ...

    async def save_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        metadata: dict[str, Any] | None = None,
    ) -> Any: ...

    async def get_cached_answer(self, question: str, context: str = "") -> dict[str, Any] | None:
        """The cached agent result for ``question`` in ``context``, or None (a miss, the cache
        disabled, or Redis down)."""
        ...

    async def cache_answer(self, question: str, result: dict[str, Any], context: str = "") -> Any:
        """Store a successful agent result under (question, context): a follow-up question
        never gets a first turn's answer. A no-op when the cache is disabled."""
        ...
