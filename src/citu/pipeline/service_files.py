"""The task directory part of the pipeline service: listing, downloads, table lists, uploads.

File work is blocking, so it runs in threads; every path comes from ``TaskPaths`` and stays
inside the task root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citu.errors import BadRequest, NotFound
from citu.pipeline.files import (
    TABLE_LIST_FILE,
    TaskPaths,
    file_type,
    format_size,
    is_safe_file_name,
    iso_mtime,
    parse_table_names,
    write_text_atomic,
)
from citu.pipeline.tablelist import decode_upload, names_from_request, table_list_text
from citu.settings import Settings

UPLOAD_EXTENSIONS = (".ddl", ".md", ".txt", ".json", ".sql", ".csv")


def _now() -> str:
    return datetime.now().isoformat()


class TaskFilesPart:
    """Mixed into ``PipelineService``, which provides the attributes below."""

    settings: Settings
    paths: TaskPaths

    if TYPE_CHECKING:

        async def require_task(self, task_id: str) -> dict[str, Any]: ...

    async def list_files(self, task_id: str) -> dict[str, Any]:
        directory = self.paths.task_dir(task_id)
        return await asyncio.to_thread(self._list_files, task_id, directory)

    def _list_files(self, task_id: str, directory: Path) -> dict[str, Any]:
        files = []
        if directory.is_dir():
            for path in directory.iterdir():
                if not path.is_file() or path.is_symlink() or path.name.startswith("."):
                    continue
                stat = path.stat()
                files.append(
                    {
                        "file_name": path.name,
                        "file_type": file_type(path.name),
                        "file_size": stat.st_size,
                        "file_size_formatted": format_size(stat.st_size),
                        "created_at": iso_mtime(stat.st_ctime),
                        "modified_at": iso_mtime(stat.st_mtime),
                        "is_readable": os.access(path, os.R_OK),
                        "_mtime": stat.st_mtime,
                    }
                )
        files.sort(key=lambda f: f.pop("_mtime"), reverse=True)
        total = sum(f["file_size"] for f in files)
        return {
            "task_id": task_id,
            "files": files,
            "directory_info": {
                "exists": directory.is_dir(),
                "directory_path": self.paths.relative(directory),
                "total_files": len(files),
                "total_size": total,
                "total_size_formatted": format_size(total),
            },
        }

    def download_path(self, task_id: str, file_name: str) -> Path:
        path = self.paths.task_file(task_id, file_name)
        if not path.exists():
            raise NotFound(f"文件不存在: {file_name}")
        if not path.is_file():
            raise BadRequest(f"路径不是有效文件: {file_name}")
        if not os.access(path, os.R_OK):
            raise BadRequest("文件不可读")
        return path

    async def upload_table_list(self, task_id: str, raw: bytes) -> dict[str, Any]:
        await self.require_task(task_id)
        text, _ = decode_upload(raw, self.settings.pipeline_table_list_max_bytes)
        path = self.paths.task_file(task_id, TABLE_LIST_FILE)
        await asyncio.to_thread(write_text_atomic, path, text)  # stored as UTF-8
        stat = path.stat()
        return {
            "task_id": task_id,
            "filename": TABLE_LIST_FILE,
            "file_size": stat.st_size,
            "file_size_formatted": format_size(stat.st_size),
            "upload_time": iso_mtime(stat.st_mtime),
        }

    async def table_list_info(self, task_id: str) -> dict[str, Any]:
        path = self.paths.task_file(task_id, TABLE_LIST_FILE)
        return await asyncio.to_thread(self._table_list_info, path)

    def _table_list_info(self, path: Path) -> dict[str, Any]:
        relative = self.paths.relative(path)
        if not path.is_file():
            return {"exists": False, "file_name": TABLE_LIST_FILE, "expected_path": relative}
        stat = path.stat()
        try:
            names = parse_table_names(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            names = []
        return {
            "exists": True,
            "file_name": TABLE_LIST_FILE,
            "file_path": relative,
            "file_size": stat.st_size,
            "file_size_formatted": format_size(stat.st_size),
            "uploaded_at": iso_mtime(stat.st_mtime),
            "created_at": iso_mtime(stat.st_ctime),
            "table_count": len(names),
            "table_names": names,
            "is_readable": os.access(path, os.R_OK),
        }

    async def create_table_list(self, task_id: str, tables: Any) -> dict[str, Any]:
        names, received = names_from_request(tables, self.settings.pipeline_table_list_max_names)
        path = self.paths.task_file(task_id, TABLE_LIST_FILE)
        await asyncio.to_thread(write_text_atomic, path, table_list_text(names))
        stat = path.stat()
        return {
            "task_id": task_id,
            "filename": TABLE_LIST_FILE,
            "table_count": len(names),
            "unique_table_count": len(names),
            "file_size": stat.st_size,
            "file_size_formatted": format_size(stat.st_size),
            "created_time": iso_mtime(stat.st_mtime),
            "original_count": received,
        }

    async def upload_file(
        self, task_id: str, file_name: str, raw: bytes, overwrite_mode: str
    ) -> dict[str, Any]:
        if not is_safe_file_name(file_name):
            raise BadRequest(f"文件名包含不安全字符: {file_name}", invalid_params=["file"])
        suffix = Path(file_name).suffix.lower()
        if suffix not in UPLOAD_EXTENSIONS:
            raise BadRequest(
                f"不支持的文件类型: {suffix or '(无)'}，允许的类型: {', '.join(UPLOAD_EXTENSIONS)}"
            )
        limit = self.settings.pipeline_upload_max_bytes
        if len(raw) > limit:
            raise BadRequest(
                f"文件大小超出限制: {format_size(len(raw))}，最大允许: {limit / 1024 / 1024:.1f} MB"
            )
        if not raw:
            raise BadRequest("文件为空")
        path = self.paths.task_file(task_id, file_name)
        return await asyncio.to_thread(self._store_upload, task_id, path, raw, overwrite_mode)

    def _store_upload(self, task_id: str, path: Path, raw: bytes, mode: str) -> dict[str, Any]:
        result: dict[str, Any] = {"success": True, "task_id": task_id}
        if path.exists():
            if mode == "skip":
                return {
                    **result,
                    "skipped": True,
                    "message": f"文件已存在，跳过上传: {path.name}",
                    "uploaded_file": {"filename": path.name, "existed": True, "action": "skipped"},
                }
            if mode == "backup":
                for version in range(1, 1001):
                    backup = path.with_name(f"{path.name}_bak{version}")
                    if not backup.exists():
                        shutil.copy2(path, backup)
                        result["backup_info"] = {
                            "had_existing_file": True,
                            "backup_filename": backup.name,
                            "backup_version": version,
                            "backup_created_at": _now(),
                        }
                        break
                else:
                    raise BadRequest("备份版本已达上限")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.upload")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
        result["uploaded_file"] = {
            "filename": path.name,
            "size": len(raw),
            "size_formatted": format_size(len(raw)),
            "uploaded_at": iso_mtime(path.stat().st_mtime),
            "overwrite_mode": mode,
        }
        return result
