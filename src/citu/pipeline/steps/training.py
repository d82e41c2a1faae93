"""Step 4, ``training_load``: the task's ``.ddl``, ``.md`` and pair files into the vector store.

Goes through the training service, whose ``add_*`` calls are idempotent, so a re-run does not
duplicate rows (the old loader inserted every item again under a new random id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

from citu.pipeline.context import StepContext, StepError
from citu.pipeline.files import VECTOR_BACKUP_DIR
from citu.pipeline.llm import LlmFailed
from citu.pipeline.steps.qa import METADATA_DOC
from citu.pipeline.vectors import backup_tables

log = logging.getLogger("citu.pipeline.training")

_SKIP = re.compile(r"(\.(ddl|md)_\d+$|_old$|\.backup)", re.IGNORECASE)
_SECTION = re.compile(r"^#{1,3}[^#]", re.MULTILINE)
_PAIR_SQL_BLOCK = re.compile(r"\n\s*\n(?=Question:)")
_DOC_WARN_CHARS = 2000


def split_ddl(text: str) -> list[str]:
    """Statements of a DDL file: split where a non-comment line ends with ``;``."""
    chunks, current = [], []
    for line in text.splitlines():
        current.append(line)
        stripped = line.strip()
        if stripped.endswith(";") and not stripped.startswith("--"):
            chunks.append("\n".join(current).strip().removesuffix(";").strip())
            current = []
    tail = "\n".join(current).strip()
    if tail and not all(line.strip().startswith("--") for line in current if line.strip()):
        chunks.append(tail)
    return [chunk for chunk in chunks if chunk]


def split_markdown(text: str) -> list[str]:
    starts = [m.start() for m in _SECTION.finditer(text)]
    if not starts:
        return [text.strip()] if text.strip() else []
    if starts[0] != 0 and text[: starts[0]].strip():
        starts.insert(0, 0)
    bounds = [*starts, len(text)]
    return [
        text[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False) if text[a:b].strip()
    ]


def read_pairs_json(text: str) -> list[tuple[str, str]]:
    data = json.loads(text)
    pairs = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict):
            continue
        lowered = {str(k).lower(): v for k, v in item.items()}
        question, sql = (
            str(lowered.get("question") or "").strip(),
            str(lowered.get("sql") or "").strip(),
        )
        if question and sql:
            pairs.append((question, sql))
    return pairs


def read_pairs_sql(text: str) -> list[tuple[str, str]]:
    pairs = []
    for block in _PAIR_SQL_BLOCK.split(text):
        match = re.search(r"Question:\s*(.+?)\s*SQL:\s*(.+)", block, re.DOTALL)
        if match and match.group(1).strip() and match.group(2).strip():
            pairs.append((match.group(1).strip(), match.group(2).strip()))
    return pairs


def training_files(task_dir: Path) -> list[Path]:
    """Top-level files worth training, in a stable order; copies and metadata docs skipped."""
    files = []
    for path in sorted(task_dir.iterdir()):
        if not path.is_file() or _SKIP.search(path.name) or path.name == METADATA_DOC:
            continue
        name = path.name.lower()
        if name.endswith((".ddl", ".md", ".markdown", ".sql")) or name.endswith(
            ("_pair.json", "_pairs.json")
        ):
            files.append(path)
    return files


async def _question_for(ctx: StepContext, sql: str) -> str | None:
    try:
        question = await ctx.llm.ask(
            "你是一个数据分析专家，擅长用一句中文业务问题描述SQL查询的含义。",
            f"请根据以下SQL生成一个对应的中文业务问题，只输出问题本身：\n{sql}",
        )
    except LlmFailed as error:
        log.warning("根据SQL生成问题失败: %s", error)
        return None
    question = question.strip().splitlines()[0].strip()
    return question if question.endswith(("?", "？")) else question + "?"


async def _train_file(ctx: StepContext, path: Path, counts: dict[str, int]) -> None:
    trainer = ctx.trainer
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    name = path.name.lower()
    if name.endswith(".ddl"):
        for chunk in split_ddl(text):
            await trainer.add_ddl(chunk)
            counts["ddl"] += 1
    elif name.endswith((".md", ".markdown")):
        for section in split_markdown(text):
            if len(section) > _DOC_WARN_CHARS:
                log.warning("文档片段较长(%d字符): %s", len(section), path.name)
            await trainer.add_documentation(section)
            counts["documentation"] += 1
    elif name.endswith(("_pair.json", "_pairs.json")):
        for question, sql in read_pairs_json(text):
            await trainer.add_question_sql(question, sql)
            counts["sql"] += 1
    elif name.endswith(("_pair.sql", "_pairs.sql")):
        for question, sql in read_pairs_sql(text):
            await trainer.add_question_sql(question, sql)
            counts["sql"] += 1
    elif name.endswith(".sql"):
        for statement in (s.strip() for s in text.split(";")):
            if not statement:
                continue
            question = await _question_for(ctx, statement + ";")
            if question:
                await trainer.add_question_sql(question, statement + ";")
                counts["sql"] += 1


async def store_counts(ctx: StepContext) -> tuple[int, dict[str, int]]:
    """Rows in the whole vector store by type, as the old step reported (zeros left out)."""
    counts = {kind: n for kind, n in (await ctx.trainer.counts()).items() if n}
    return sum(counts.values()), counts


async def run(ctx: StepContext) -> dict[str, Any]:
    started = time.monotonic()
    if ctx.backup_vector_tables or ctx.truncate_vector_tables:
        if ctx.vector_pool is None:
            raise StepError("向量数据库不可用，无法备份向量表")
        directory = ctx.task_dir / VECTOR_BACKUP_DIR
        ctx.state["vector_management"] = await backup_tables(
            ctx.vector_pool,
            directory,
            label=ctx.task_id,
            relative_dir=ctx.paths.relative(directory),
            truncate=ctx.truncate_vector_tables,
        )
        log.info("向量表备份完成: %s", ctx.state["vector_management"]["tables_backed_up"])
    if ctx.skip_training:
        log.info("跳过训练数据加载（skip_training）")
        return {
            "training_data_dir": ctx.paths.relative(ctx.task_dir),
            "load_successful": True,
            "skipped": True,
            "duration": round(time.monotonic() - started, 3),
        }
    if ctx.trainer is None:
        raise StepError("训练服务不可用，无法加载训练数据")
    files = await asyncio.to_thread(training_files, ctx.task_dir)
    if not files:
        raise StepError("训练数据加载失败：未找到可处理的训练文件")
    loaded = {"ddl": 0, "documentation": 0, "sql": 0}
    processed = []
    for path in files:
        try:
            await _train_file(ctx, path, loaded)
            processed.append(path.name)
        except (ValueError, OSError) as error:
            log.error("训练文件 %s 处理失败: %s", path.name, error)
    if not processed:
        raise StepError("训练数据加载失败：未找到可处理的训练文件")
    total, by_type = await store_counts(ctx)
    log.info("训练数据加载完成: %s，向量库共 %d 条", loaded, total)
    return {
        "training_data_dir": ctx.paths.relative(ctx.task_dir),
        "load_successful": True,
        "files_processed": processed,
        "loaded_counts": loaded,
        "total_records": total,
        "data_type_counts": by_type,
        "duration": round(time.monotonic() - started, 3),
    }
