"""The guard's own small thread pool with a bounded queue: parsing is CPU work, and a burst of
slow checks must wait for these threads (or be refused) instead of filling the default executor
that every other ``asyncio.to_thread`` user of the worker shares."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

GUARD_THREADS = 2  # the machine's cores are few; checks beyond these wait in the queue
GUARD_QUEUE = 16  # checks running or waiting per process; more are refused at once


class GuardQueue:
    """The guard's executor and a count of the checks running or waiting on it."""

    def __init__(self, threads: int, limit: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sql-guard")
        self.limit = limit
        self._pending = 0
        self._lock = threading.Lock()  # event loops of several threads may share the queue

    def enter(self) -> bool:
        with self._lock:
            if self._pending >= self.limit:
                return False
            self._pending += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._pending -= 1


@cache
def guard_queue() -> GuardQueue:
    """Created on first use (no threads at import)."""
    return GuardQueue(GUARD_THREADS, GUARD_QUEUE)
