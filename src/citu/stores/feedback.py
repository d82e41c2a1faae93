"""QA feedback rows (table ``qa_feedback`` in citu's database): query, add, update, delete,
stats, and promotion into the vector store.

A plain async class over the asyncpg pool, so it can be tested without the web layer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from citu.training.models import InvalidTrainingData, TrainingItem, question_sql_item

if TYPE_CHECKING:
    from citu.training.service import TrainingService

log = logging.getLogger("citu.feedback")

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


@dataclass
class Promotion:
    """What ``promote_to_training`` did with the requested ids (unknown ids appear nowhere)."""

    found: int = 0
    positive: list[int] = field(default_factory=list)  # written to collection ``sql``
    negative: list[int] = field(default_factory=list)  # written to collection ``error_sql``
    already_trained: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)  # not promotable, or changed meanwhile

    @property
    def trained_ids(self) -> list[int]:
        return sorted(self.positive + self.negative)


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

    async def promote_to_training(self, ids: Sequence[int], training: TrainingService) -> Promotion:
        """Write untrained feedback into the vector store (thumbs up → ``sql``, thumbs down →
        ``error_sql``) and mark it trained, all or nothing.

        Embeddings are requested before the transaction opens; then the rows are locked (in id
        order, so concurrent promotions cannot deadlock), re-checked, and the vectors and the
        ``is_in_training_data`` flags are written in one transaction. Any failure there leaves
        no vector written and no row marked.
        """
        wanted = sorted({i for i in ids if valid_id(i)})
        rows = await self.pool.fetch(
            f"SELECT {COLUMNS} FROM qa_feedback WHERE id = ANY($1::int[]) ORDER BY id", wanted
        )
        result = Promotion(found=len(rows))
        candidates = _promotion_candidates(rows, result)
        if not candidates:
            return result
        items = [item for _, item in candidates.values()]
        prepared = dict(zip(candidates, await training.prepare(items), strict=True))
        async with self.pool.acquire() as conn, conn.transaction():
            ready = await _lock_unchanged(conn, candidates, result)
            if ready:
                ready_ids = [row["id"] for row in ready]
                await training.store_prepared([prepared[i] for i in ready_ids], conn=conn)
                await conn.execute(
                    "UPDATE qa_feedback SET is_in_training_data = TRUE, update_time = $2"
                    " WHERE id = ANY($1::int[])",
                    ready_ids,
                    datetime.now(),
                )
        for row in ready:
            (result.positive if row["is_thumb_up"] else result.negative).append(row["id"])
        result.already_trained.sort()
        result.errors.sort()
        log.info(
            "promoted feedback: %d to sql, %d to error_sql, %d already trained, %d errors",
            len(result.positive),
            len(result.negative),
            len(result.already_trained),
            len(result.errors),
        )
        return result


_Candidates = dict[int, tuple[asyncpg.Record, TrainingItem]]


def _promotion_candidates(rows: list[asyncpg.Record], result: Promotion) -> _Candidates:
    """The untrained rows as training items; trained and unusable rows are noted in ``result``."""
    candidates: _Candidates = {}
    for row in rows:
        if row["is_in_training_data"]:
            result.already_trained.append(row["id"])
            continue
        kind = "sql" if row["is_thumb_up"] else "error_sql"
        try:
            item = question_sql_item(row["question"], row["sql"], kind)
            if item.needs_question:
                raise InvalidTrainingData("question字段是必需的", missing_params=["question"])
        except InvalidTrainingData as error:
            log.warning("feedback %s not promotable: %s", row["id"], error)
            result.errors.append(row["id"])
        else:
            candidates[row["id"]] = (row, item)
    return candidates


async def _lock_unchanged(
    conn: asyncpg.Connection, candidates: _Candidates, result: Promotion
) -> list[asyncpg.Record]:
    """Lock the candidates' rows; those still untrained and unedited since they were read."""
    locked = await conn.fetch(
        f"SELECT {COLUMNS} FROM qa_feedback WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE",
        list(candidates),
    )
    current = {row["id"]: row for row in locked}
    ready: list[asyncpg.Record] = []
    for feedback_id, (snapshot, _) in candidates.items():
        row = current.get(feedback_id)
        if row is not None and row["is_in_training_data"]:
            result.already_trained.append(feedback_id)  # a concurrent call won
        elif row is None or _content(row) != _content(snapshot):
            log.warning("feedback %s deleted or edited during promotion", feedback_id)
            result.errors.append(feedback_id)
        else:
            ready.append(row)
    return ready


def _content(row: asyncpg.Record) -> tuple[str, str, bool]:
    return row["question"], row["sql"], row["is_thumb_up"]
