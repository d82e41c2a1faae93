"""Every PostgreSQL advisory lock key citu takes, in one place so no two uses share a key.

Two start-up steps once shared one by accident: a worker in the ReAct checkpointer's setup held
it while building an index CONCURRENTLY, and another worker waited for the same key inside its
vector-store transaction. The index build waited for that transaction to end, the transaction
for the lock: a deadlock through two client connections that PostgreSQL cannot detect, and two
workers that never started serving.
"""

from __future__ import annotations

import enum
import logging

import asyncpg

log = logging.getLogger("citu.db.locks")


@enum.unique
class AdvisoryLock(enum.IntEnum):
    """Single-key (bigint) advisory locks; ``enum.unique`` refuses a duplicate at import."""

    SCHEMA = 741_852_963  # applying the schema files (transaction lock)
    VECTOR_INDEX = 741_852_964  # the vector store's dimension check and HNSW index
    REACT_SETUP = 741_852_965  # the ReAct checkpointer's migrations (session lock, polled)
    DEMO_DATABASE = 0x6369747564656D6F  # "citudemo": installing the demo business data
    READER_ROLE = 741_852_966  # creating or repairing a SELECT-only business role


# Pipeline runs lock (PIPELINE_RUN_CLASS, hashtext(task_id)): the two-key form is a separate
# key space from the single keys above.
PIPELINE_RUN_CLASS = 7301
# Evaluation runs lock (EVAL_RUN_CLASS, hashtext(run_id)), held for the whole run like the
# pipeline's: a crashed worker's run is told from a live one by its free lock.
EVAL_RUN_CLASS = 7302


class RunLocks:
    """Session locks ``(lock_class, hashtext(id))`` held on a pooled connection for a whole run.

    A run holds its lock until it ends, so a crashed worker's run is told from a live one by
    its free lock; the connection goes back to the pool when the lock is released.
    """

    def __init__(self, pool: asyncpg.Pool, lock_class: int, what: str) -> None:
        self.pool = pool
        self.lock_class = lock_class
        self.what = what  # for the log: "pipeline task", "eval run"

    async def try_lock(self, run_id: str) -> asyncpg.pool.PoolConnectionProxy | None:
        """A pooled connection holding the run's lock, or None when another holds it."""
        conn = await self.pool.acquire()
        try:
            got = await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", self.lock_class, run_id
            )
        except BaseException:
            await self.pool.release(conn)
            raise
        if not got:
            await self.pool.release(conn)
            return None
        return conn

    async def unlock(self, conn: asyncpg.pool.PoolConnectionProxy, run_id: str) -> None:
        try:
            await conn.execute(
                "SELECT pg_advisory_unlock($1, hashtext($2))", self.lock_class, run_id
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            # A lost connection already released its session locks.
            log.warning("releasing the lock of %s %s failed: %s", self.what, run_id, error)
        finally:
            await self.pool.release(conn)
