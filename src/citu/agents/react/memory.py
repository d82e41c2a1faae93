"""The ReAct agent's memory: LangGraph's PostgreSQL checkpointer and the reads the API needs.

Checkpoints live in the saver's own tables (``checkpoints``, ``checkpoint_blobs``,
``checkpoint_writes``) in citu's database. Writing goes through the saver only; this module
reads them for the conversation/stats routes, prunes old checkpoints (with their blobs and
writes), and holds the per-thread turn lease (``react_turn_locks``, schema 040).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from citu.db.locks import AdvisoryLock
from citu.settings import Settings

log = logging.getLogger("citu.agents.react.memory")

_TRY_LOCK = "SELECT pg_try_advisory_lock(%s) AS ok"


@dataclass
class ThreadSummary:
    thread_id: str
    checkpoint_count: int
    last_ts: str | None  # ISO-8601 UTC of the newest checkpoint


@dataclass
class ThreadCleanup:
    original_count: int
    deleted_count: int
    deleted_blobs: int
    deleted_writes: int

    @property
    def remaining_count(self) -> int:
        return self.original_count - self.deleted_count


@dataclass
class LatestCheckpoint:
    checkpoint_id: str
    ts: str
    channel_values: dict[str, Any]

    @property
    def messages(self) -> list[BaseMessage]:
        return list(self.channel_values.get("messages") or [])


async def _setup_once(pool: AsyncConnectionPool, saver: AsyncPostgresSaver) -> None:
    """The saver's migrations and our index, one worker at a time.

    The lock is polled, not awaited: they build indexes CONCURRENTLY, which waits for every
    open statement in the database, so a worker blocked inside ``pg_advisory_lock`` would wait
    on the builder while the builder waits on it (an undetectable deadlock via our pool).
    """
    key = (int(AdvisoryLock.REACT_SETUP),)
    async with pool.connection() as conn:
        while True:
            if (await (await conn.execute(_TRY_LOCK, key)).fetchone())["ok"]:
                break
            await asyncio.sleep(0.1)
        try:
            await saver.setup()
            # Listing a user's threads filters on the thread id's prefix.
            await conn.execute(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoints_user_idx "
                "ON checkpoints (split_part(thread_id, ':', 1))"
            )
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", key)


def user_of(thread_id: str) -> str:
    return thread_id.split(":", 1)[0]


class ReactMemory:
    """The checkpointer pool and saver, built once at start (``open``) and closed at stop."""

    def __init__(self, pool: AsyncConnectionPool, saver: AsyncPostgresSaver, settings: Settings):
        self.pool = pool
        self.saver = saver
        self.settings = settings

    @classmethod
    async def open(cls, database_url: str, settings: Settings) -> ReactMemory:
        pool = AsyncConnectionPool(
            database_url,
            min_size=1,
            # The setup below holds one connection while the saver takes another.
            max_size=max(2, settings.react_pool_max),
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=False,
        )
        await pool.open(wait=True)
        saver = AsyncPostgresSaver(pool)
        try:
            await _setup_once(pool, saver)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, saver, settings)

    async def aclose(self) -> None:
        await self.pool.close()

    # ---- reads ---------------------------------------------------------------------------

    async def latest(self, thread_id: str) -> LatestCheckpoint | None:
        found = await self.saver.aget_tuple({"configurable": {"thread_id": thread_id}})
        if found is None:
            return None
        checkpoint = found.checkpoint
        return LatestCheckpoint(
            checkpoint_id=checkpoint["id"],
            ts=checkpoint["ts"],
            channel_values=dict(checkpoint.get("channel_values") or {}),
        )

    async def threads(self, user_id: str | None = None) -> list[ThreadSummary]:
        """Every thread (of one user) with its checkpoint count and newest checkpoint time."""
        query = (
            "SELECT thread_id, count(*) AS n, max(checkpoint->>'ts') AS last_ts "
            "FROM checkpoints WHERE checkpoint_ns = ''"
        )
        params: tuple[Any, ...] = ()
        if user_id is not None:
            query += " AND split_part(thread_id, ':', 1) = %s"
            params = (user_id,)
        query += " GROUP BY thread_id"
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        return [ThreadSummary(r["thread_id"], int(r["n"]), r["last_ts"]) for r in rows]

    async def checkpoint_count(self, thread_id: str) -> int:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = ''",
                    (thread_id,),
                )
            ).fetchone()
        return int(row["n"])

    async def first_seen(self, thread_id: str) -> tuple[dict[str, str], str | None]:
        """When each message id first appeared (ISO ts), and the oldest checkpoint's ts.

        Reads the ``messages`` writes of the thread (each holds only the new messages of one
        step) joined to the checkpoint they produced, so the cost grows linearly with history.
        """
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT w.type, w.blob, c.checkpoint->>'ts' AS ts "
                    "FROM checkpoint_writes w JOIN checkpoints c "
                    "  ON c.thread_id = w.thread_id AND c.checkpoint_ns = w.checkpoint_ns "
                    " AND c.parent_checkpoint_id = w.checkpoint_id "
                    "WHERE w.thread_id = %s AND w.checkpoint_ns = '' AND w.channel = 'messages' "
                    "ORDER BY c.checkpoint_id, w.task_id, w.idx",
                    (thread_id,),
                )
            ).fetchall()
            oldest = await (
                await conn.execute(
                    "SELECT min(checkpoint->>'ts') AS ts FROM checkpoints "
                    "WHERE thread_id = %s AND checkpoint_ns = ''",
                    (thread_id,),
                )
            ).fetchone()
        seen: dict[str, str] = {}
        for row in rows:
            value = self.saver.serde.loads_typed((row["type"], row["blob"]))
            for message in value if isinstance(value, list) else [value]:
                message_id = getattr(message, "id", None)
                if message_id and message_id not in seen:
                    seen[message_id] = row["ts"]
        return seen, oldest["ts"] if oldest else None

    # ---- maintenance ---------------------------------------------------------------------

    async def prune_thread(self, thread_id: str, keep: int, *, dry_run: bool) -> ThreadCleanup:
        """Keep the newest ``keep`` checkpoints of a thread; drop the rest with the blobs and
        writes nothing kept refers to. One transaction, so a failure deletes nothing."""
        async with self.pool.connection() as conn, conn.transaction():
            original = await self._scalar(
                conn,
                "SELECT count(*) FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = ''",
                thread_id,
            )
            if dry_run:
                return ThreadCleanup(original, max(original - keep, 0), 0, 0)
            deleted = await self._rowcount(
                conn,
                "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
                "AND checkpoint_id IN (SELECT checkpoint_id FROM checkpoints "
                "  WHERE thread_id = %s AND checkpoint_ns = '' "
                "  ORDER BY checkpoint_id DESC OFFSET %s)",
                thread_id,
                thread_id,
                keep,
            )
            writes = await self._rowcount(
                conn,
                "DELETE FROM checkpoint_writes w WHERE w.thread_id = %s AND NOT EXISTS ("
                "  SELECT 1 FROM checkpoints c WHERE c.thread_id = w.thread_id "
                "  AND c.checkpoint_ns = w.checkpoint_ns AND c.checkpoint_id = w.checkpoint_id)",
                thread_id,
            )
            blobs = await self._rowcount(
                conn,
                "DELETE FROM checkpoint_blobs b WHERE b.thread_id = %s AND NOT EXISTS ("
                "  SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
                "  AND c.checkpoint_ns = b.checkpoint_ns "
                "  AND c.checkpoint->'channel_versions'->>b.channel = b.version)",
                thread_id,
            )
        return ThreadCleanup(original, deleted, blobs, writes)

    @staticmethod
    async def _scalar(conn: Any, query: str, *params: Any) -> int:
        row = await (await conn.execute(query, params)).fetchone()
        return int(next(iter(row.values())))

    @staticmethod
    async def _rowcount(conn: Any, query: str, *params: Any) -> int:
        cursor = await conn.execute(query, params)
        return max(cursor.rowcount, 0)

    # ---- one turn per thread -------------------------------------------------------------

    async def lock_thread(self, thread_id: str) -> str | None:
        """Take the thread's turn lease; the token to release it, or None when it is taken."""
        token = uuid.uuid4().hex
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO react_turn_locks (thread_id, token, expires_at) "
                    "VALUES (%s, %s, now() + make_interval(secs => %s)) "
                    "ON CONFLICT (thread_id) DO UPDATE "
                    "SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at "
                    "WHERE react_turn_locks.expires_at < now() RETURNING token",
                    (thread_id, token, self.settings.react_turn_lease_seconds),
                )
            ).fetchone()
        return token if row else None

    async def unlock_thread(self, thread_id: str, token: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "DELETE FROM react_turn_locks WHERE thread_id = %s AND token = %s",
                (thread_id, token),
            )
