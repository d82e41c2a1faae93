"""Vector table backup to CSV and restore from CSV, on citu's own database.

Backups stream through ``COPY ... TO STDOUT`` (nothing held in memory) and write real JSON in
``cmetadata``. A restore runs in one transaction: staging tables, optional truncate, upserts —
either everything is restored or nothing changed. Old backups (Python-repr ``cmetadata``, CRLF)
stay restorable.
"""

from __future__ import annotations

import ast
import asyncio
import csv
import json
import logging
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from citu.failures import public_text
from citu.pipeline.files import format_size

log = logging.getLogger("citu.pipeline.vectors")

COLLECTION = "langchain_pg_collection"
EMBEDDING = "langchain_pg_embedding"
SUPPORTED_TABLES = (COLLECTION, EMBEDDING)
TRUNCATE_TABLES = (EMBEDDING,)
COLUMNS = {
    COLLECTION: ("uuid", "name", "cmetadata"),
    EMBEDDING: ("id", "collection_id", "embedding", "document", "cmetadata"),
}
TIMESTAMP_RE = re.compile(r"\d{8}_\d{6}")
BACKUP_LOG = "vector_backup_log.txt"


class RestoreFailed(Exception):
    def __init__(self, message: str, results: dict[str, Any]) -> None:
        super().__init__(message)
        self.results = results


def backup_file(table: str, stamp: str) -> str:
    return f"{table}_{stamp}.csv"


async def backup_tables(
    pool: asyncpg.Pool,
    directory: Path,
    *,
    label: str,
    relative_dir: str,
    truncate: bool = False,
) -> dict[str, Any]:
    """Back up both vector tables into ``directory``; then truncate embeddings if asked and safe."""
    started = time.monotonic()
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    stamp = await _unused_stamp(directory)
    errors: list[str] = []
    truncate_results: dict[str, Any] = {}
    truncated = False
    async with pool.acquire() as conn:
        results = {
            table: await _copy_out(conn, table, directory, stamp) for table in SUPPORTED_TABLES
        }
        if any(not r["success"] for r in results.values()):
            errors.append("部分表备份失败")
        if truncate and not errors:
            truncate_results = await _truncate_after_backup(conn)
            failed = [table for table, r in truncate_results.items() if "error" in r]
            errors += [f"{table}表清空失败" for table in failed]
            truncated = not failed
    duration = round(time.monotonic() - started, 3)
    await asyncio.to_thread(
        _write_backup_log, directory, label, duration, results, truncate_results
    )
    return {
        "backup_performed": True,
        "truncate_performed": truncated,
        "tables_backed_up": results,
        "truncate_results": truncate_results,
        "errors": errors,
        "backup_directory": relative_dir,
        "duration": duration,
    }


async def _unused_stamp(directory: Path) -> str:
    """A timestamp no backup set in ``directory`` uses yet."""
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    while await asyncio.to_thread((directory / backup_file(COLLECTION, stamp)).exists):
        # One set per second: the file names carry the timestamp.
        await asyncio.sleep(0.2)
        stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    return stamp


async def _copy_out(
    conn: asyncpg.Connection, table: str, directory: Path, stamp: str
) -> dict[str, Any]:
    """Stream one table into its CSV (renamed into place when complete); the table's result."""
    started = time.monotonic()
    target = directory / backup_file(table, stamp)
    tmp = target.with_name(target.name + ".tmp")
    try:
        status = await conn.copy_from_query(
            f"SELECT {', '.join(COLUMNS[table])} FROM {table}",
            output=str(tmp),
            format="csv",
            header=True,
        )
        await asyncio.to_thread(tmp.replace, target)
        size = (await asyncio.to_thread(target.stat)).st_size
    except (asyncpg.PostgresError, OSError) as error:
        tmp.unlink(missing_ok=True)
        log.error("备份 %s 失败: %s", table, error)
        return {"success": False, "error": public_text(error)}
    return {
        "success": True,
        "row_count": int(status.split()[-1]),
        "file_size": format_size(size),
        "backup_file": target.name,
        "duration": round(time.monotonic() - started, 3),
    }


async def _truncate_after_backup(conn: asyncpg.Connection) -> dict[str, Any]:
    """Empty the tables a load replaces; a failed table's result carries an ``error``."""
    truncate_results: dict[str, Any] = {}
    for table in TRUNCATE_TABLES:
        started = time.monotonic()
        try:
            async with conn.transaction():
                before = await conn.fetchval(f"SELECT COUNT(*) FROM {table}")
                await conn.execute(f"TRUNCATE TABLE {table}")
                after = await conn.fetchval(f"SELECT COUNT(*) FROM {table}")
        except asyncpg.PostgresError as error:
            log.error("清空 %s 失败: %s", table, error)
            truncate_results[table] = {"success": False, "error": public_text(error)}
            continue
        truncate_results[table] = {
            "success": after == 0,
            "rows_before": before,
            "rows_after": after,
            "duration": round(time.monotonic() - started, 3),
        }
    return truncate_results


def _write_backup_log(
    directory: Path,
    label: str,
    duration: float,
    results: dict[str, Any],
    truncate_results: dict[str, Any],
) -> None:
    lines = [
        "=== Vector Table Backup Log ===",
        f"Backup Time: {datetime.now():%Y-%m-%d %H:%M:%S}",
        f"Task ID: {label}",
        f"Duration: {duration:.2f}s",
        "",
        "Tables Backup Status:",
    ]
    for table, result in results.items():
        if result["success"]:
            lines.append(
                f"✓ {table}: {result['row_count']} rows -> {result['backup_file']} ({result['file_size']})"
            )
        else:
            lines.append(f"✗ {table}: FAILED - {result['error']}")
    lines += ["", "Truncate Status:"]
    if not truncate_results:
        lines.append("- Not performed")
    for table, result in truncate_results.items():
        if result["success"]:
            lines.append(f"✓ {table}: TRUNCATED ({result['rows_before']} rows removed)")
        else:
            lines.append(f"✗ {table}: FAILED - {result.get('error', 'rows remain')}")
    (directory / BACKUP_LOG).write_text("\n".join(lines) + "\n", encoding="utf-8")


def scan_backups(directory: Path) -> list[dict[str, Any]]:
    """Complete backup sets (both CSVs present) in ``directory``, newest first."""
    if not directory.is_dir():
        return []
    sets = []
    has_log = (directory / BACKUP_LOG).is_file()
    for path in directory.glob(f"{COLLECTION}_*.csv"):
        stamp = path.name[len(COLLECTION) + 1 : -4]
        embedding = directory / backup_file(EMBEDDING, stamp)
        if not TIMESTAMP_RE.fullmatch(stamp) or not embedding.is_file():
            continue
        sets.append(
            {
                "timestamp": stamp,
                "collection_file": path.name,
                "embedding_file": embedding.name,
                "collection_size": format_size(path.stat().st_size),
                "embedding_size": format_size(embedding.stat().st_size),
                "backup_date": datetime.strptime(stamp, "%Y%m%d_%H%M%S").strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "has_log": has_log,
                "log_file": BACKUP_LOG if has_log else None,
            }
        )
    return sorted(sets, key=lambda s: s["timestamp"], reverse=True)


def _json_metadata(text: str | None) -> str | None:
    """``cmetadata`` as JSON text; old backups wrote a Python repr such as ``{'id': 'x'}``."""
    if text is None or text == "":
        return None
    stripped = text.strip()
    try:
        json.loads(stripped)
        return stripped
    except ValueError:
        pass
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            return json.dumps(ast.literal_eval(stripped), ensure_ascii=False)
        except (ValueError, SyntaxError):
            return None
    return None


def _read_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Rows of a backup CSV in the table's column order, empty fields as NULL."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS[table]) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path.name} 缺少列: {', '.join(sorted(missing))}")
        rows = []
        for record in reader:
            values = [record[column] if record[column] != "" else None for column in COLUMNS[table]]
            if table in (COLLECTION, EMBEDDING):
                values[-1] = _json_metadata(values[-1])
            rows.append(tuple(values))
    return rows


async def restore_tables(
    pool: asyncpg.Pool,
    directory: Path,
    stamp: str,
    tables: list[str],
    *,
    truncate: bool,
) -> dict[str, Any]:
    """Restore ``tables`` from the set ``stamp`` in one transaction; RestoreFailed rolls back."""
    started = time.monotonic()
    staged, restore_results = await _read_backup_set(directory, stamp, tables)
    truncate_results: dict[str, Any] = {}
    current = ""  # the stage under way, named in the error when the database refuses it
    try:
        async with pool.acquire() as conn, conn.transaction():
            await _create_staging_tables(conn)
            if truncate:
                current = "truncate"
                truncate_results = await _truncate_for_restore(conn, tables)
            for table in (t for t in SUPPORTED_TABLES if t in tables):
                current = table
                table_started = time.monotonic()
                await _restore_table(conn, table, staged[table])
                restore_results[table].update(
                    success=True,
                    rows_restored=await conn.fetchval(f"SELECT COUNT(*) FROM {table}"),
                    duration=round(time.monotonic() - table_started, 3),
                )
    except (asyncpg.PostgresError, ValueError) as error:
        log.error("向量表恢复失败（已回滚）: %s: %s", current, error)
        for result in restore_results.values():
            result.update(success=False, error="已回滚")
        if current in restore_results:
            restore_results[current]["error"] = public_text(error)
        raise RestoreFailed(f"{current}: {error}", restore_results) from error
    return {
        "restore_performed": True,
        "truncate_performed": truncate,
        "truncate_results": truncate_results,
        "restore_results": restore_results,
        "errors": [],
        "duration": round(time.monotonic() - started, 3),
    }


async def _read_backup_set(
    directory: Path, stamp: str, tables: list[str]
) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, Any]]:
    """Each table's rows from its CSV, and its result entry (not yet restored)."""
    staged: dict[str, list[tuple[Any, ...]]] = {}
    restore_results: dict[str, Any] = {}
    for table in tables:
        path = directory / backup_file(table, stamp)
        staged[table] = await asyncio.to_thread(_read_rows, path, table)
        restore_results[table] = {
            "success": False,
            "source_file": path.name,
            "file_size": format_size(path.stat().st_size),
        }
    return staged, restore_results


async def _create_staging_tables(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "CREATE TEMP TABLE restore_collection (uuid uuid, name text, cmetadata text) ON COMMIT DROP"
    )
    await conn.execute(
        "CREATE TEMP TABLE restore_embedding (id text, collection_id uuid, embedding text, "
        "document text, cmetadata text) ON COMMIT DROP"
    )


async def _truncate_for_restore(conn: asyncpg.Connection, tables: list[str]) -> dict[str, Any]:
    before = {t: await conn.fetchval(f"SELECT COUNT(*) FROM {t}") for t in tables}
    started = time.monotonic()
    # One statement: the embedding table's foreign key forbids truncating the
    # collection table alone (the old restore failed half-way on exactly this).
    await conn.execute(f"TRUNCATE TABLE {', '.join(tables)}")
    return {
        table: {
            "success": True,
            "rows_before": before[table],
            "rows_after": 0,
            "duration": round(time.monotonic() - started, 3),
        }
        for table in tables
    }


async def _restore_table(conn: asyncpg.Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Copy the rows into the table's staging table, then upsert them into the live table."""
    stage = "restore_collection" if table == COLLECTION else "restore_embedding"
    await conn.copy_records_to_table(stage, records=rows, columns=list(COLUMNS[table]))
    if table == COLLECTION:
        await conn.execute(
            "INSERT INTO langchain_pg_collection (uuid, name, cmetadata) "
            "SELECT uuid, name, cmetadata::json FROM restore_collection "
            "ON CONFLICT DO NOTHING"
        )
        return
    # A collection restored under another uuid (same name) keeps its rows.
    await conn.execute(
        """
        INSERT INTO langchain_pg_embedding (id, collection_id, embedding, document, cmetadata)
        SELECT e.id, COALESCE(live.uuid, e.collection_id), e.embedding::vector,
               e.document, e.cmetadata::jsonb
        FROM restore_embedding e
        LEFT JOIN restore_collection rc ON rc.uuid = e.collection_id
        LEFT JOIN langchain_pg_collection live ON live.name = rc.name
        ON CONFLICT (id) DO UPDATE SET collection_id = EXCLUDED.collection_id,
            embedding = EXCLUDED.embedding, document = EXCLUDED.document,
            cmetadata = EXCLUDED.cmetadata
        """
    )
