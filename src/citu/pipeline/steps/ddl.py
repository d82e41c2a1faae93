"""Step 1, ``ddl_generation``: one ``.ddl`` and one ``_detail.md`` per table, plus the name map.

Re-running overwrites each table's files in place (the old step wrote ignored ``.ddl_1`` copies).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg

from citu.failures import public_text
from citu.pipeline.comments import fill_missing_comments, needs_comments
from citu.pipeline.context import StepContext, StepError
from citu.pipeline.files import table_file_base, write_text_atomic
from citu.pipeline.inspect import TableMetadata, detect_enums, inspect_table, sample_rows
from citu.pipeline.llm import PipelineLlm
from citu.pipeline.render import render_ddl, render_doc
from citu.pipeline.tablelist import read_run_tables
from citu.settings import Settings

log = logging.getLogger("citu.pipeline.ddl")

MAPPING_FILE = "filename_mapping.txt"


async def describe_table(
    pool: asyncpg.Pool,
    llm: PipelineLlm | None,
    schema: str,
    table: str,
    business_context: str,
    settings: Settings,
) -> tuple[TableMetadata, bool]:
    """Catalog, samples and enums of a table, with LLM comments where the catalog has none."""
    async with pool.acquire() as conn:
        meta = await inspect_table(conn, schema, table)
        await sample_rows(
            conn, meta, settings.pipeline_sample_rows, settings.pipeline_large_table_threshold
        )
        await detect_enums(
            conn,
            meta,
            settings.pipeline_enum_max_distinct,
            settings.pipeline_large_table_threshold,
        )
    used_llm = False
    if llm is not None and llm.available and business_context and needs_comments(meta):
        used_llm = await fill_missing_comments(llm, meta, business_context)
    return meta, used_llm


def _claim_base(base: str, taken: set[str]) -> str:
    """A base name unused in this run (``a.b`` and ``a_b`` would otherwise share files)."""
    name, number = base, 0
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    taken.add(name)
    return name


async def run(ctx: StepContext) -> dict[str, Any]:
    started = time.monotonic()
    tables = await asyncio.to_thread(read_run_tables, ctx.task_dir, ctx.task_id)
    log.info("开始生成DDL和文档: %d 个表", len(tables))
    semaphore = asyncio.Semaphore(max(1, ctx.settings.pipeline_max_concurrent_tables))
    taken: set[str] = set()
    bases = {t: _claim_base(table_file_base(*t), taken) for t in tables}
    failures: dict[str, str] = {}

    async def process(schema: str, table: str) -> None:
        async with semaphore:
            full = f"{schema}.{table}"
            try:
                meta, _ = await describe_table(
                    ctx.business_pool, ctx.llm, schema, table, ctx.business_context, ctx.settings
                )
            except Exception as error:  # noqa: BLE001 - one table never stops the others
                failures[full] = public_text(error)
                log.error("表 %s 处理失败: %s", full, error)
                return
            base = bases[(schema, table)]
            await asyncio.to_thread(
                write_text_atomic, ctx.task_dir / f"{base}.ddl", render_ddl(meta)
            )
            await asyncio.to_thread(
                write_text_atomic, ctx.task_dir / f"{base}_detail.md", render_doc(meta)
            )
            log.info("表 %s 处理完成: %s.ddl, %s_detail.md", full, base, base)

    await asyncio.gather(*(process(schema, table) for schema, table in tables))
    succeeded = [t for t in tables if f"{t[0]}.{t[1]}" not in failures]
    mapping = ["# 文件名映射报告", "# 格式: 原始表名 -> 实际文件名", ""]
    mapping += sorted(f"{s}.{t} -> {bases[(s, t)]}_detail.md" for s, t in succeeded)
    await asyncio.to_thread(
        write_text_atomic, ctx.task_dir / MAPPING_FILE, "\n".join(mapping) + "\n"
    )
    ctx.state["tables"] = tables
    ctx.state["file_bases"] = {f"{s}.{t}": bases[(s, t)] for s, t in succeeded}
    if not succeeded:
        raise StepError(f"所有表处理失败: {'; '.join(f'{k}: {v}' for k, v in failures.items())}")
    return {
        "total_tables": len(tables),
        "processed_successfully": len(succeeded),
        "failed": len(failures),
        "failed_tables": sorted(failures),
        "files_generated": len(succeeded) * 2,
        "duration": round(time.monotonic() - started, 3),
    }
