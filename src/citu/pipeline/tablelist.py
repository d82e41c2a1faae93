"""``table_list.txt``: validating uploads (``…/upload-table-list``), writing it from names
(``…/table-list``), reading it for a run."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from citu.errors import BadRequest
from citu.pipeline.files import (
    IDENTIFIER_RE,
    TABLE_LIST_FILE,
    parse_table_names,
    split_table_name,
    unique,
)

_FORBIDDEN = re.compile(r"[;()\[\]{}*?!@#$%^&]")
_SYSTEM_SCHEMAS = {
    "information_schema",
    "pg_catalog",
    "pg_toast",
    "pg_temp_1",
    "pg_toast_temp_1",
    "pg_temp",
    "pg_toast_temp",
}
_SYSTEM_PREFIXES = (
    "pg_",
    "information_schema",
    "sql_",
    "cardinal_number",
    "character_data",
    "sql_identifier",
    "time_stamp",
    "yes_or_no",
)


def decode_upload(raw: bytes, max_bytes: int) -> tuple[str, list[str]]:
    """Check an uploaded table list; returns the UTF-8 text (GBK is transcoded) and the names."""
    if len(raw) > max_bytes:
        raise BadRequest(f"文件大小超过限制: {max_bytes // (1024 * 1024)}MB")
    if not raw:
        raise BadRequest("文件为空，请选择有效的表清单文件")
    for encoding in ("utf-8", "gbk"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise BadRequest("文件编码错误，请确保文件为UTF-8或GBK格式")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise BadRequest("表清单文件为空")
    names = parse_table_names(text)
    if not names:
        raise BadRequest("表清单文件不包含有效的表名")
    invalid = [
        name for name in names if not IDENTIFIER_RE.fullmatch(name)
    ]  # every name, not the first 10
    if invalid:
        raise BadRequest(f"表清单文件包含无效的表名格式: {', '.join(invalid[:3])}")
    return text, names


def table_list_text(names: list[str]) -> str:
    header = [
        "# 表清单文件",
        f"# 生成时间: {datetime.now():%Y-%m-%d %H:%M:%S}",
        f"# 表数量: {len(names)}",
        "",
    ]
    return "\n".join(header + names) + "\n"


def names_from_request(tables: object, max_names: int) -> tuple[list[str], int]:
    """``…/table-list``'s ``tables`` (comma string or list) → unique valid names and the count received."""
    if isinstance(tables, str):
        items = [part.strip() for part in tables.split(",") if part.strip()]
    elif isinstance(tables, list):
        items = [str(item).strip() for item in tables if str(item).strip()]
    else:
        raise BadRequest(
            "tables参数格式错误，应为字符串（逗号分隔）或数组", invalid_params=["tables"]
        )
    if not items:
        raise BadRequest("表名列表不能为空")
    names = [item for item in items if not item.startswith(("#", "--"))]
    invalid = [name for name in names if not IDENTIFIER_RE.fullmatch(name)]
    if invalid:
        raise BadRequest(f"包含无效的表名格式: {', '.join(invalid[:5])}", invalid_params=["tables"])
    names = unique(names)
    if len(names) < 1:
        raise BadRequest("表名数量不能少于 1 个")
    if len(names) > max_names:
        raise BadRequest(f"表名数量不能超过 {max_names} 个")
    return names, len(items)


def read_run_tables(task_dir: Path, task_id: str) -> list[tuple[str, str]]:
    """The tables a run processes: parsed, invalid and system names dropped, de-duplicated."""
    path = task_dir / TABLE_LIST_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"表清单文件不存在: {TABLE_LIST_FILE}。请先上传表清单文件到任务 {task_id}，然后再执行工作流。"
        )
    tables = []
    for name in unique(parse_table_names(path.read_text(encoding="utf-8"))):
        if _FORBIDDEN.search(name) or name.count(".") > 1 or "" in name.split("."):
            continue
        schema, table = split_table_name(name)
        if _is_system(schema, table):
            continue
        tables.append((schema, table))
    if not tables:
        raise ValueError("表清单文件中没有有效的表名")
    return tables


def _is_system(schema: str, table: str) -> bool:
    if schema in _SYSTEM_SCHEMAS or schema.startswith(("pg_temp", "pg_toast_temp")):
        return True
    return table.startswith(_SYSTEM_PREFIXES)
