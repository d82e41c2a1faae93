"""The task root on disk: validated task ids and file names, safe paths, sizes, table lists.

Every path the pipeline touches is built here, from a configured absolute root, and checked to
stay inside it: the old service deleted whole trees for ``task_ids: [""]``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from citu.errors import BadRequest

TASK_ID_RE = re.compile(r"[A-Za-z0-9_]{1,32}")
IDENTIFIER_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)?")
_UNSAFE_NAME_CHARS = re.compile(r'[/\\<>:"|?*\x00-\x1f\x7f]')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)
}

TABLE_LIST_FILE = "table_list.txt"
TASK_LOG_FILE = "data_pipeline.log"
TASK_CONFIG_FILE = "task_config.json"
VECTOR_BACKUP_DIR = "vector_bak"
# The layout below CITU_DATA_DIR mirrors the old project's, so relative paths read the same.
RELATIVE_ROOT = "data_pipeline/training_data"

TASK_ID_TEXT = "无效的task_id格式，只能包含字母、数字和下划线"


def is_valid_task_id(task_id: Any) -> bool:
    return isinstance(task_id, str) and bool(TASK_ID_RE.fullmatch(task_id))


def validate_task_id(task_id: Any) -> str:
    if not is_valid_task_id(task_id):
        raise BadRequest(TASK_ID_TEXT, invalid_params=["task_id"])
    return task_id


def is_safe_file_name(name: Any) -> bool:
    """A plain file name: no directories, no parent references, no hidden or device names."""
    if not isinstance(name, str) or not name or len(name) > 255:
        return False
    if name in (".", "..") or name.startswith(".") or ".." in name:
        return False
    if _UNSAFE_NAME_CHARS.search(name):
        return False
    stem = name.split(".", 1)[0].upper()
    return stem not in _WINDOWS_DEVICES


class TaskPaths:
    """Absolute paths of the task root, task directories and the files inside them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.root = self.data_dir / RELATIVE_ROOT

    def task_dir(self, task_id: str) -> Path:
        validate_task_id(task_id)
        path = (self.root / task_id).resolve()
        if path.parent != self.root.resolve():
            raise BadRequest(TASK_ID_TEXT, invalid_params=["task_id"])
        return path

    def task_file(self, task_id: str, name: str) -> Path:
        """A top-level file of a task directory; refuses anything that could leave it."""
        if not is_safe_file_name(name):
            raise BadRequest("非法的文件路径", invalid_params=["file_name"])
        directory = self.task_dir(task_id)
        path = directory / name
        if path.is_symlink() or path.resolve().parent != directory:
            raise BadRequest("非法的文件路径", invalid_params=["file_name"])
        return path

    def relative(self, path: Path) -> str:
        """A path as shown to clients: relative to the data directory, never absolute."""
        try:
            return Path(path).resolve().relative_to(self.data_dir).as_posix()
        except ValueError:
            return Path(path).name

    def output_directory(self, task_id: str) -> str:
        return f"{RELATIVE_ROOT}/{task_id}"

    def backup_dir(self, task_id: str | None) -> Path:
        base = self.task_dir(task_id) if task_id else self.root
        return base / VECTOR_BACKUP_DIR


def format_size(size: int) -> str:
    """``"0 B"`` or ``"%.1f <unit>"`` on a 1024 base (file listings, uploads, backups)."""
    if size <= 0:
        return "0 B"
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def format_deleted_size(size: int) -> str:
    """The task deletion answer's variant: whole bytes below 1 KiB."""
    if size < 1024:
        return f"{size} B"
    return format_size(size)


_FILE_TYPES = {
    "ddl": "ddl",
    "sql": "sql",
    "md": "markdown",
    "markdown": "markdown",
    "json": "json",
    "txt": "text",
    "log": "log",
}


def file_type(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    return _FILE_TYPES.get(suffix, "other")


def iso_mtime(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).isoformat()


def parse_table_names(text: str) -> list[str]:
    """Table list text → names in order: ``#``/``--`` comments skipped, commas split."""
    names: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("--"):
            continue
        names.extend(part.strip() for part in line.split(",") if part.strip())
    return names


def unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def table_file_base(schema: str, table: str) -> str:
    """File base name of a table (FileNameManager): ``t`` or ``schema_t`` with unsafe chars replaced."""
    name = table if schema == "public" else f"{schema}__{table}"
    for char in '.- /\\:*?"<>|':
        name = name.replace(char, "__" if char == "." else "_")
    while "__" in name:
        name = name.replace("__", "_")
    return name


def split_table_name(name: str) -> tuple[str, str]:
    schema, _, table = name.rpartition(".")
    return (schema or "public"), table


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2, default=str))
