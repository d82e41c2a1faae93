"""The vector table part of the pipeline service: backups to CSV, their listing, restores."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from citu.errors import BadRequest, NotFound, ServiceUnavailable
from citu.pipeline.files import TaskPaths, is_valid_task_id
from citu.pipeline.requests import RestoreRequest
from citu.pipeline.vectors import backup_tables, restore_tables, scan_backups


class VectorBackupsPart:
    """Mixed into ``PipelineService``, which provides the attributes below."""

    paths: TaskPaths
    vector_pool: asyncpg.Pool | None

    def _require_vector_pool(self) -> asyncpg.Pool:
        if self.vector_pool is None:
            raise ServiceUnavailable("向量数据库不可用")
        return self.vector_pool

    async def backup_vectors(self, task_id: str | None) -> dict[str, Any]:
        directory = self.paths.backup_dir(task_id)
        if task_id and not directory.parent.is_dir():
            raise NotFound(f"指定的任务目录不存在: {task_id}")
        return await backup_tables(
            self._require_vector_pool(),
            directory,
            label=task_id or "vector_bak",
            relative_dir=self.paths.relative(directory),
        )

    async def list_backups(self, task_id: str | None, global_only: bool) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._scan_locations, task_id, global_only)

    def _scan_locations(self, task_id: str | None, global_only: bool) -> list[dict[str, Any]]:
        locations: list[tuple[str, str | None, Path]] = []
        if task_id:
            locations.append(("task", task_id, self.paths.backup_dir(task_id)))
        else:
            locations.append(("global", None, self.paths.backup_dir(None)))
            if not global_only and self.paths.root.is_dir():
                for directory in sorted(self.paths.root.iterdir()):
                    if directory.is_dir() and directory.name.startswith(("task_", "manual_")):
                        if is_valid_task_id(directory.name):
                            locations.append(("task", directory.name, directory / "vector_bak"))
        found = []
        for kind, owner, directory in locations:
            backups = scan_backups(directory)
            if not backups:
                continue
            entry: dict[str, Any] = {"type": kind, "relative_path": self.paths.relative(directory)}
            if owner:
                entry["task_id"] = owner
            entry["backups"] = backups
            found.append(entry)
        return found

    def resolve_backup_dir(self, backup_path: str) -> Path:
        """A backup directory given by a client: relative to the data directory, inside the task root."""
        candidate = Path(backup_path)
        if not candidate.is_absolute():
            candidate = self.paths.data_dir / candidate
        resolved = candidate.resolve()
        root = self.paths.root.resolve()
        if resolved != root and root not in resolved.parents:
            raise BadRequest("backup_path必须位于任务数据目录内", invalid_params=["backup_path"])
        return resolved

    async def restore_vectors(self, request: RestoreRequest) -> dict[str, Any]:
        """Restore a backup set; RestoreFailed (rolled back) when the database refuses it."""
        directory = self.resolve_backup_dir(request.backup_path)
        if not await asyncio.to_thread(directory.is_dir):
            raise NotFound(f"备份目录不存在: {request.backup_path}")
        files = [f"{table}_{request.timestamp}.csv" for table in request.tables]
        absent = [name for name in files if not (directory / name).is_file()]
        if absent:
            raise NotFound(f"备份文件不存在: {', '.join(absent)}")
        data = await restore_tables(
            self._require_vector_pool(),
            directory,
            request.timestamp,
            request.tables,
            truncate=request.truncate,
        )
        data["backup_info"] = {
            "backup_path": request.backup_path,
            "timestamp": request.timestamp,
            "backup_date": datetime.strptime(request.timestamp, "%Y%m%d_%H%M%S").strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
        }
        return data
