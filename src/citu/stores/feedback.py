"""QA feedback rows (table ``qa_feedback`` in citu's database): query, add, update, delete, stats.

A plain async class over the asyncpg pool, so it can be tested without the web layer. The
promotion of feedback into the vector store lives in ``citu.stores.feedback_promotion``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

SORT_COLUMNS = ("id", "create_time", "update_time", "user_id")
DEFAULT_SORT = "create_time"
# The order in which updated fields are reported back, as the old service did.
UPDATABLE_FIELDS = ("question", "sql", "is_thumb_up", "user_id", "is_in_training_data")
COLUMNS = "id, question, sql, is_thumb_up, user_id, create_time, is_in_training_data, update_time"
MAX_ID = 2**31 - 1  # SERIAL is int4: larger ids cannot exist, and asyncpg refuses to bind them


class InvalidTimestamp(ValueError):
    """A filter value PostgreSQL cannot read as a timestamp."""


@dataclass(frozen=True)
class FeedbackFilter:
    """ANDed filters of ``query``; ``None`` means "any"."""

    is_thumb_up: bool | None = None
    is_in_training_data: bool | None = None
    create_time_start: datetime | None = None
    create_time_end: datetime | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, op, value in (
            ("is_thumb_up", "=", self.is_thumb_up),
            ("is_in_training_data", "=", self.is_in_training_data),
            ("create_time", ">=", self.create_time_start),
            ("create_time", "<=", self.create_time_end),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


@dataclass(frozen=True)
class FeedbackStats:
    total: int
    positive: int
    negative: int
    trained: int
    untrained: int


def valid_id(feedback_id: int) -> bool:
    return 0 <= feedback_id <= MAX_ID


class FeedbackStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def parse_timestamp(self, text: str) -> datetime:
        """Read ``text`` the way PostgreSQL casts it to ``timestamp`` (what the old filter did)."""
        try:
            async with self.pool.acquire() as conn:
                return await conn.fetchval("SELECT $1::text::timestamp", text)
        except asyncpg.DataError as error:
            raise InvalidTimestamp(str(error)) from error

    async def query(
        self,
        filters: FeedbackFilter,
        *,
        page: int,
        page_size: int,
        sort_by: str = DEFAULT_SORT,
        sort_order: str = "desc",
    ) -> tuple[list[asyncpg.Record], int]:
        """One page of rows and the total matching ``filters``.

        ``sort_by`` must be one of ``SORT_COLUMNS`` (it is interpolated); ``id`` breaks ties so
        pages do not overlap when many rows share a timestamp.
        """
        if sort_by not in SORT_COLUMNS:
            raise ValueError(f"unsupported sort column {sort_by!r}")
        direction = "ASC" if sort_order.lower() == "asc" else "DESC"
        where, args = filters.where()
        order = f"{sort_by} {direction}" + ("" if sort_by == "id" else f", id {direction}")
        n = len(args)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM qa_feedback{where} ORDER BY {order}"
                f" LIMIT ${n + 1} OFFSET ${n + 2}",
                *args,
                page_size,
                (page - 1) * page_size,
            )
            total = await conn.fetchval(f"SELECT count(*) FROM qa_feedback{where}", *args)
        return rows, total

    async def add(self, question: str, sql: str, is_thumb_up: bool, user_id: str) -> int:
        # create_time is the app's local clock, as the old service wrote it.
        return await self.pool.fetchval(
            "INSERT INTO qa_feedback (question, sql, is_thumb_up, user_id, create_time)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            question,
            sql,
            is_thumb_up,
            user_id,
            datetime.now(),
        )

    async def get(self, feedback_id: int) -> asyncpg.Record | None:
        if not valid_id(feedback_id):
            return None
        return await self.pool.fetchrow(
            f"SELECT {COLUMNS} FROM qa_feedback WHERE id = $1", feedback_id
        )

    async def delete(self, feedback_id: int) -> bool:
        if not valid_id(feedback_id):
            return False
        status = await self.pool.execute("DELETE FROM qa_feedback WHERE id = $1", feedback_id)
        return status != "DELETE 0"

    async def update(self, feedback_id: int, fields: dict[str, Any]) -> bool:
        """Set ``fields`` (a subset of ``UPDATABLE_FIELDS``) and ``update_time``; False if no row."""
        unknown = set(fields) - set(UPDATABLE_FIELDS)
        if unknown or not fields:
            raise ValueError(f"not updatable: {sorted(unknown) or 'nothing given'}")
        if not valid_id(feedback_id):
            return False
        names = [name for name in UPDATABLE_FIELDS if name in fields]
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=1))
        status = await self.pool.execute(
            f"UPDATE qa_feedback SET {assignments}, update_time = ${len(names) + 1}"
            f" WHERE id = ${len(names) + 2}",
            *(fields[name] for name in names),
            datetime.now(),
            feedback_id,
        )
        return status != "UPDATE 0"

    async def stats(self) -> FeedbackStats:
        row = await self.pool.fetchrow(
            "SELECT count(*) AS total,"
            " count(*) FILTER (WHERE is_thumb_up) AS positive,"
            " count(*) FILTER (WHERE NOT is_thumb_up) AS negative,"
            " count(*) FILTER (WHERE is_in_training_data) AS trained,"
            " count(*) FILTER (WHERE NOT is_in_training_data) AS untrained"
            " FROM qa_feedback"
        )
        return FeedbackStats(**dict(row))
