"""Request metrics of one worker (the last N requests, per-second totals for alert windows)
and a snapshot of the machine's CPU, memory and disk use."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from citu.responses import now_iso


def is_error_status(status: int) -> bool:
    """Server-side failures only: a client's 4xx says nothing about the service's health."""
    return status >= 500


@dataclass(frozen=True)
class WindowStats:
    count: int
    errors: int
    total_duration: float

    @property
    def error_rate(self) -> float:
        return 100.0 * self.errors / self.count if self.count else 0.0

    @property
    def avg_duration(self) -> float:
        return self.total_duration / self.count if self.count else 0.0


class RequestMetrics:
    """Durations and outcomes of this worker's requests.

    ``recent`` answers GET /api/v0/metrics (the last ``size`` requests); the per-second buckets
    answer "over the last N seconds" for the alert rules, whatever the request rate. Times are
    ``time.monotonic()`` seconds unless a caller (a test) passes its own ``now``.
    """

    def __init__(self, size: int = 1000, horizon: float = 3600.0) -> None:
        self._recent: deque[tuple[float, bool]] = deque(maxlen=size)
        self._buckets: deque[list[float]] = deque()  # [second, count, errors, duration_sum]
        self._horizon = horizon

    def record(self, duration: float, status: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        error = is_error_status(status)
        self._recent.append((duration, error))
        second = float(int(now))
        if self._buckets and self._buckets[-1][0] == second:
            bucket = self._buckets[-1]
            bucket[1] += 1
            bucket[2] += error
            bucket[3] += duration
        else:
            self._buckets.append([second, 1, float(error), duration])
        while self._buckets and self._buckets[0][0] < second - self._horizon:
            self._buckets.popleft()

    def window(self, seconds: float, now: float | None = None) -> WindowStats:
        """Totals of the requests recorded in the last ``seconds``."""
        now = time.monotonic() if now is None else now
        start = now - seconds
        count = errors = 0
        total = 0.0
        for second, n, errs, duration in reversed(self._buckets):
            if second < int(start):
                break
            count += int(n)
            errors += int(errs)
            total += duration
        return WindowStats(count, errors, total)

    def snapshot(self) -> dict[str, Any]:
        """The figures of GET /api/v0/metrics over the last ``size`` requests."""
        durations = [d for d, _ in self._recent]
        count = len(durations)
        errors = sum(1 for _, e in self._recent if e)
        return {
            "request_count": count,
            "error_count": errors,
            "error_rate": round(100.0 * errors / count, 2) if count else 0.0,
            "avg_response_time": round(sum(durations) / count, 4) if count else 0.0,
            "max_response_time": round(max(durations), 4) if count else 0.0,
            "min_response_time": round(min(durations), 4) if count else 0.0,
        }


def system_stats(disk_path: Path) -> dict[str, Any]:
    """CPU, memory and disk use in percent. Non-blocking: CPU is the use since the last call."""
    path = disk_path if disk_path.exists() else Path.cwd()
    return {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory_percent": psutil.virtual_memory().percent,
        "disk_percent": psutil.disk_usage(str(path)).percent,
        "timestamp": now_iso(),
    }
