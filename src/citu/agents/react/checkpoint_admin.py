"""Checkpoint housekeeping behind the ``/checkpoint/direct`` routes: counts per thread and
user, and pruning old checkpoints of threads that are not running a turn.
"""

from __future__ import annotations

import logging
from typing import Any

from citu import failures
from citu.agents.react.memory import ReactMemory, ThreadSummary, user_of

log = logging.getLogger("citu.agents.react.checkpoint_admin")


async def checkpoint_stats(memory: ReactMemory, user_id: str | None) -> dict[str, Any]:
    """Checkpoints per thread, grouped by user (one user's, or every user's), largest first."""
    threads = await memory.threads(user_id)
    by_user: dict[str, list[dict[str, Any]]] = {}
    for thread in threads:
        by_user.setdefault(user_of(thread.thread_id), []).append(
            {"thread_id": thread.thread_id, "checkpoint_count": thread.checkpoint_count}
        )
    for items in by_user.values():
        items.sort(key=lambda t: t["checkpoint_count"], reverse=True)
    if user_id is not None:
        items = by_user.get(user_id, [])
        return {
            "operation_type": "user_stats",
            "user_id": user_id,
            "thread_count": len(items),
            "total_checkpoints": sum(t["checkpoint_count"] for t in items),
            "threads": items,
        }
    users = [
        {
            "user_id": user,
            "thread_count": len(items),
            "total_checkpoints": sum(t["checkpoint_count"] for t in items),
            "threads": items,
        }
        for user, items in by_user.items()
    ]
    users.sort(key=lambda u: u["total_checkpoints"], reverse=True)
    return {
        "operation_type": "system_stats",
        "total_users": len(users),
        "total_threads": sum(u["thread_count"] for u in users),
        "total_checkpoints": sum(u["total_checkpoints"] for u in users),
        "users": users,
    }


async def prune_checkpoints(
    memory: ReactMemory,
    keep_count: int,
    *,
    thread_id: str | None,
    user_id: str | None,
    dry_run: bool,
) -> dict[str, Any]:
    """Keep the newest ``keep_count`` checkpoints of each chosen thread: one thread, one
    user's, or all; ``dry_run`` only counts."""
    if thread_id:
        operation, target = "cleanup_thread", thread_id
        threads = [t for t in await memory.threads(user_of(thread_id)) if t.thread_id == thread_id]
    elif user_id:
        operation, target = "cleanup_user", user_id
        threads = await memory.threads(user_id)
    else:
        operation, target = "cleanup_all", "all"
        threads = await memory.threads()
    details: dict[str, Any] = {}
    total_deleted = 0
    for thread in sorted(threads, key=lambda t: t.thread_id):
        details[thread.thread_id] = await _prune_thread(memory, thread, keep_count, dry_run)
        total_deleted += details[thread.thread_id]["deleted_count"]
    return {
        "operation_type": operation,
        "target": target,
        "keep_count": keep_count,
        "dry_run": dry_run,
        "total_processed": len(threads),
        "total_deleted": total_deleted,
        "details": details,
    }


async def _prune_thread(
    memory: ReactMemory, thread: ThreadSummary, keep_count: int, dry_run: bool
) -> dict[str, Any]:
    count = thread.checkpoint_count
    if count <= keep_count:
        return {
            "original_count": count,
            "deleted_count": 0,
            "remaining_count": count,
            "status": "no_cleanup_needed",
        }
    # A running turn writes checkpoints and blobs: prune only between turns.
    token = None if dry_run else await memory.lock_thread(thread.thread_id)
    if not dry_run and token is None:
        return {
            "original_count": count,
            "deleted_count": 0,
            "remaining_count": count,
            "status": "failed",
            "error": "会话正在处理中，稍后再清理",
        }
    try:
        result = await memory.prune_thread(thread.thread_id, keep_count, dry_run=dry_run)
    except Exception as error:  # noqa: BLE001 - one thread's failure is reported, not fatal
        log.warning("pruning %s failed: %s", thread.thread_id, error)
        return {
            "original_count": count,
            "deleted_count": 0,
            "remaining_count": count,
            "status": "failed",
            "error": failures.public_text(error),
        }
    finally:
        if token is not None:
            await memory.unlock_thread(thread.thread_id, token)
    return {
        "original_count": result.original_count,
        "deleted_count": result.deleted_count,
        "remaining_count": result.remaining_count,
        "status": "success",
        "deleted_blobs": result.deleted_blobs,
        "deleted_writes": result.deleted_writes,
    }
