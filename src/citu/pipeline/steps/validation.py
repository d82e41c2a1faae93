"""Step 3, ``sql_validation``: EXPLAIN every pair's SQL read-only, repair failures with the LLM.

Items are tracked by their index in the original file, so the corrected file drops and
replaces exactly the right entries (the old step used positions in a filtered list). The
``.backup`` copy is written once and never overwritten by a re-run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from citu.pipeline.context import StepContext, StepError
from citu.pipeline.files import write_json_atomic, write_text_atomic
from citu.pipeline.llm import LlmFailed
from citu.pipeline.steps.qa import pair_files
from citu.sql.runner import explain_sql

log = logging.getLogger("citu.pipeline.validation")

_QUEUE_WAIT_SECONDS = 300.0

REPAIR_SYSTEM = (
    "你是一个PostgreSQL专家，擅长修复SQL中的语法错误和表结构引用错误。请严格按照JSON格式输出。"
)


@dataclass
class Item:
    index: int
    question: str
    sql: str
    error: str | None = None
    seconds: float = 0.0
    repaired_sql: str | None = None
    repair_attempted: bool = False

    @property
    def valid(self) -> bool:
        return self.error is None


def repair_prompt(items: list[Item]) -> str:
    lines = [f"请修复以下SQL语句中的错误（共{len(items)}条）。", ""]
    for number, item in enumerate(items, 1):
        lines += [
            f"### SQL {number}",
            f"问题: {item.question}",
            f"错误: {item.error}",
            f"SQL: {item.sql}",
            "",
        ]
    lines += [
        "要求：",
        "1. 只做最小修改，保持原有查询逻辑和中文别名；",
        f"2. 必须按顺序返回{len(items)}条SQL；无法修复时原样返回；",
        "3. 每条SQL以分号结尾，写在一行内。",
        '输出JSON格式：{"repaired_sqls": ["SQL 1", "SQL 2"]}',
    ]
    return "\n".join(lines)


def load_items(path: Path) -> tuple[list[Any], list[Item]]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise StepError(f"Question-SQL文件格式错误（应为JSON数组）: {path.name}")
    items = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            continue
        question, sql = entry.get("question"), entry.get("sql")
        if isinstance(question, str) and isinstance(sql, str) and question.strip() and sql.strip():
            items.append(Item(index=index, question=question, sql=sql.strip()))
    return raw, items


async def _validate(ctx: StepContext, items: list[Item]) -> None:
    semaphore = asyncio.Semaphore(max(1, ctx.settings.pipeline_validation_concurrency))
    timeout_ms = ctx.settings.pipeline_validation_timeout_ms
    # A run waits for one of the worker's business-query slots rather than fail on a busy moment.
    queue_wait = _QUEUE_WAIT_SECONDS

    async def check(item: Item) -> None:
        async with semaphore:
            started = time.monotonic()
            try:
                item.error = await explain_sql(
                    ctx.business_pool,
                    item.sql,
                    timeout_ms=timeout_ms,
                    queue_timeout=queue_wait,
                    guard=ctx.guard(),
                )
            except (OSError, asyncpg.InterfaceError) as error:
                raise StepError(f"数据库连接异常，无法继续验证: {error}") from error
            item.seconds = time.monotonic() - started

    try:
        async with asyncio.TaskGroup() as group:  # the first connection failure stops the rest
            for item in items:
                group.create_task(check(item))
    except* StepError as errors:
        raise errors.exceptions[0] from None


async def _require_connection(ctx: StepContext) -> None:
    """A failed EXPLAIN must mean a bad statement, never a database that went away."""
    try:
        async with ctx.business_pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
    except Exception as error:  # noqa: BLE001 - reported as the step's failure
        raise StepError(f"无法连接到数据库，SQL验证中止: {error}") from error


async def _repair(ctx: StepContext, failed: list[Item]) -> None:
    size = max(1, ctx.settings.pipeline_repair_batch_size)
    timeout_ms = ctx.settings.pipeline_validation_timeout_ms
    # A run waits for one of the worker's business-query slots rather than fail on a busy moment.
    queue_wait = _QUEUE_WAIT_SECONDS
    for start in range(0, len(failed), size):
        batch = failed[start : start + size]
        for item in batch:
            item.repair_attempted = True
        try:
            answer = await ctx.llm.ask_json(REPAIR_SYSTEM, repair_prompt(batch))
        except LlmFailed as error:
            log.warning("SQL修复调用失败: %s", error)
            continue
        repaired = answer.get("repaired_sqls") if isinstance(answer, dict) else None
        if not isinstance(repaired, list) or len(repaired) != len(batch):
            log.warning("SQL修复结果数量不匹配，跳过该批次")
            continue
        for item, candidate in zip(batch, repaired, strict=True):
            if not isinstance(candidate, str) or not candidate.strip():
                continue
            candidate = " ".join(candidate.split())
            if not candidate.endswith(";"):
                candidate += ";"
            if candidate == item.sql:
                continue
            error = await explain_sql(
                ctx.business_pool,
                candidate,
                timeout_ms=timeout_ms,
                queue_timeout=queue_wait,
                guard=ctx.guard(),
            )
            if error is None:
                item.repaired_sql, item.sql, item.error = candidate, candidate, None
                log.info("SQL修复成功: %s", item.question)
            else:
                item.error = error


def _modify_file(path: Path, raw: list[Any], items: list[Item], stamp: str) -> dict[str, int]:
    backup = path.with_name(path.name + ".backup")
    if not backup.exists():  # keep the pre-validation original across re-runs
        shutil.copy2(path, backup)
    by_index = {item.index: item for item in items}
    kept, modified, deleted = [], [], []
    for index, entry in enumerate(raw):
        item = by_index.get(index)
        if item is None:
            kept.append(entry)
        elif not item.valid:
            deleted.append(item)
        elif item.repaired_sql:
            kept.append({**entry, "sql": item.repaired_sql})
            modified.append(item)
        else:
            kept.append(entry)
    write_json_atomic(path, kept)
    lines = [f"文件修改日志 - {datetime.now():%Y-%m-%d %H:%M:%S}", f"文件: {path.name}", ""]
    lines.append(f"修改的SQL ({len(modified)}):")
    for item in modified:
        lines += [f"  [{item.index}] {item.question}", f"    新SQL: {item.repaired_sql}"]
    lines.append(f"删除的无效项 ({len(deleted)}):")
    for item in deleted:
        lines += [f"  [{item.index}] {item.question}", f"    错误: {item.error}"]
    write_text_atomic(path.parent / f"file_modifications_{stamp}.log", "\n".join(lines) + "\n")
    return {"modified": len(modified), "deleted": len(deleted), "failed_modifications": 0}


def _summary(path: Path, items: list[Item], artifact: dict[str, Any]) -> str:
    lines = [
        "SQL验证报告",
        "=" * 60,
        f"输入文件: {path.name}",
        f"验证时间: {datetime.now():%Y-%m-%d %H:%M:%S}",
        f"总SQL数量: {artifact['original_sql_count']}",
        f"有效SQL: {artifact['valid_sql_count']}",
        f"无效SQL: {artifact['invalid_sql_count']}",
        f"成功率: {artifact['success_rate']:.2%}",
        f"平均耗时: {artifact['average_execution_time']:.3f}秒",
        "",
        "SQL修复统计:",
        f"  尝试修复: {artifact['repair_stats']['attempted']}",
        f"  修复成功: {artifact['repair_stats']['successful']}",
        f"  修复失败: {artifact['repair_stats']['failed']}",
    ]
    mods = artifact.get("file_modification_stats")
    if mods:
        lines += [
            "",
            "文件修改统计:",
            f"  修改SQL: {mods['modified']}",
            f"  删除无效项: {mods['deleted']}",
        ]
    invalid = [item for item in items if not item.valid]
    if invalid:
        lines += ["", "错误详情:"]
        for item in invalid:
            lines += [
                f"  [{item.index}] {item.question}",
                f"    错误: {item.error}",
                f"    SQL: {item.sql}",
            ]
    repaired = [item for item in items if item.repaired_sql]
    if repaired:
        lines += ["", "修复的SQL:"]
        for item in repaired:
            lines += [f"  [{item.index}] {item.question}", f"    {item.repaired_sql}"]
    return "\n".join(lines) + "\n"


async def run(ctx: StepContext) -> dict[str, Any]:
    started = time.monotonic()
    pair_file = await _find_pair_file(ctx)
    raw, items = await asyncio.to_thread(load_items, pair_file)
    if not items:
        raise StepError("输入文件中没有找到有效的Question-SQL对")
    await _require_connection(ctx)
    log.info("开始验证 %d 条SQL: %s", len(items), pair_file.name)
    await _validate_and_repair(ctx, items)
    artifact = _artifact(ctx, pair_file, items)
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    await _require_connection(ctx)
    if ctx.flag("modify_original_file"):
        artifact["file_modification_stats"] = await asyncio.to_thread(
            _modify_file, pair_file, raw, items, stamp
        )
    else:
        artifact["file_modification_stats"] = {
            "modified": 0,
            "deleted": 0,
            "failed_modifications": 0,
        }
    summary = _summary(pair_file, items, artifact)
    await asyncio.to_thread(
        write_text_atomic, ctx.task_dir / f"sql_validation_{stamp}_summary.log", summary
    )
    artifact["duration"] = round(time.monotonic() - started, 3)
    log.info(
        "SQL验证完成: %d/%d 有效, 修复成功 %d",
        artifact["valid_sql_count"],
        len(items),
        artifact["repair_stats"]["successful"],
    )
    return artifact


async def _find_pair_file(ctx: StepContext) -> Path:
    """The pair file this run's qa step wrote, else the newest one in the task directory."""
    pair_file = ctx.state.get("pair_file")
    if pair_file is None or not await asyncio.to_thread(Path(pair_file).is_file):
        candidates = await asyncio.to_thread(pair_files, ctx.task_dir)
        if not candidates:
            raise StepError(
                f"在任务目录 {ctx.paths.relative(ctx.task_dir)} 中找不到Question-SQL文件（*_pair.json），请先执行qa_generation步骤"
            )
        pair_file = candidates[0]
    return Path(pair_file)


async def _validate_and_repair(ctx: StepContext, items: list[Item]) -> None:
    await _validate(ctx, items)
    failed_first = [item for item in items if not item.valid]
    if failed_first:
        # Check the failures once more after confirming the database is there: a connection
        # lost mid-run comes back as an error text, and must not get statements deleted.
        await _require_connection(ctx)
        await _validate(ctx, failed_first)
        failed_first = [item for item in items if not item.valid]
    log.info("首轮验证: %d 条有效, %d 条无效", len(items) - len(failed_first), len(failed_first))
    if failed_first and ctx.flag("enable_llm_repair") and ctx.llm.available:
        for _ in range(max(0, ctx.settings.pipeline_repair_rounds)):
            still = [item for item in items if not item.valid]
            if not still:
                break
            await _repair(ctx, still)


def _artifact(ctx: StepContext, pair_file: Path, items: list[Item]) -> dict[str, Any]:
    attempted = sum(1 for item in items if item.repair_attempted)
    successful = sum(1 for item in items if item.repaired_sql)
    valid = sum(1 for item in items if item.valid)
    return {
        "input_file": ctx.paths.relative(pair_file),
        "original_sql_count": len(items),
        "valid_sql_count": valid,
        "invalid_sql_count": len(items) - valid,
        "success_rate": round(valid / len(items), 4),
        "repair_stats": {
            "attempted": attempted,
            "successful": successful,
            "failed": attempted - successful,
        },
        "average_execution_time": round(sum(i.seconds for i in items) / len(items), 4),
        "total_retries": 0,
    }
