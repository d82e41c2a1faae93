"""The task log part of the pipeline service: the newest lines, and the filtered, paged query."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citu.pipeline.files import TASK_LOG_FILE, TaskPaths, format_size, iso_mtime
from citu.pipeline.requests import LogQuery
from citu.pipeline.tasklog import parse_detailed, parse_simple


class TaskLogsPart:
    """Mixed into ``PipelineService``, which provides the attributes below."""

    paths: TaskPaths

    if TYPE_CHECKING:

        async def require_task(self, task_id: str) -> dict[str, Any]: ...

    async def tail_logs(self, task_id: str, limit: int, level: str | None) -> dict[str, Any]:
        await self.require_task(task_id)
        path = self.paths.task_file(task_id, TASK_LOG_FILE)
        lines = await asyncio.to_thread(_tail_lines, path, limit)
        logs = parse_simple(lines, level)
        return {
            "task_id": task_id,
            "logs": logs,
            "total": len(logs),
            "source": "file",
            "log_file": self.paths.relative(path) if path.is_file() else None,
        }

    async def log_entries(self, task_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        await self.require_task(task_id)
        path = self.paths.task_file(task_id, TASK_LOG_FILE)
        if not path.is_file():
            return [], {
                "exists": False,
                "file_path": self.paths.relative(path),
                "error": "日志文件不存在",
            }
        text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
        entries = parse_detailed(text)
        stat = path.stat()
        return entries, {
            "exists": True,
            "file_path": self.paths.relative(path),
            "file_size": stat.st_size,
            "file_size_formatted": format_size(stat.st_size),
            "last_modified": iso_mtime(stat.st_mtime),
            "total_lines": len(entries),
        }

    async def query_logs(self, task_id: str, query: LogQuery) -> dict[str, Any]:
        started = time.monotonic()
        entries, file_info = await self.log_entries(task_id)
        entries = [entry for entry in entries if query.keeps(entry)]
        key = query.sort_by
        entries.sort(
            key=lambda e: (e[key] is None, e[key] or ""), reverse=query.sort_order == "desc"
        )
        total, size = len(entries), query.page_size
        pages = math.ceil(total / size) if total else 0
        return {
            "logs": entries[(query.page - 1) * size : query.page * size],
            "pagination": {
                "page": query.page,
                "page_size": size,
                "total": total,
                "total_pages": pages,
                "has_next": query.page < pages,
                "has_prev": query.page > 1,
            },
            "log_file_info": file_info,
            "query_time": f"{time.monotonic() - started:.3f}s",
        }


def _tail_lines(path: Path, limit: int) -> list[str]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", errors="replace") as handle:
        return list(deque(handle, maxlen=limit))
