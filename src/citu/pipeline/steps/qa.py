"""Step 2, ``qa_generation``: business themes from the table docs, then question/SQL pairs per theme.

Writes ``qs_<db>_<ts>_pair.json``, ``metadata.txt``, ``metadata_detail.md`` and
``db_query_decision_prompt.txt`` (the prompts and those texts are in ``qa_text``). Earlier pair
files are renamed ``*_old`` so later steps see only this run's pairs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from citu.pipeline.context import StepContext, StepError
from citu.pipeline.files import table_file_base, write_json_atomic, write_text_atomic
from citu.pipeline.llm import LlmFailed
from citu.pipeline.steps.ddl import MAPPING_FILE
from citu.pipeline.steps.qa_text import (
    DECISION_HEADER,
    DECISION_SYSTEM,
    QA_SYSTEM,
    THEME_SYSTEM,
    decision_prompt,
    fallback_decision,
    metadata_doc,
    metadata_sql,
    parse_pairs,
    parse_themes,
    qa_prompt,
    theme_prompt,
)
from citu.pipeline.tablelist import read_run_tables

log = logging.getLogger("citu.pipeline.qa")

METADATA_DOC = "metadata_detail.md"


def pair_files(task_dir: Path) -> list[Path]:
    """Current pair files (not ``_old`` or ``.backup`` copies), newest first."""
    files = [p for p in task_dir.glob("*_pair.json") if p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


def retire_old_outputs(task_dir: Path) -> None:
    for path in task_dir.glob("*_pair.json"):
        path.replace(path.with_name(path.name + "_old"))
    for path in task_dir.glob("*_pair.json.backup"):
        path.replace(path.with_name(path.name + "_old"))


def read_md_docs(ctx: StepContext, tables: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """The tables' ``_detail.md`` texts joined for the prompts (never ``metadata_detail.md``)."""
    mapping = _read_mapping(ctx.task_dir)
    missing_ddl, missing_md, docs = [], [], []
    for schema, table in tables:
        md_name = mapping.get(f"{schema}.{table}") or f"{table_file_base(schema, table)}_detail.md"
        base = md_name.removesuffix("_detail.md")
        if not (ctx.task_dir / f"{base}.ddl").is_file():
            missing_ddl.append(f"{schema}.{table}")
        md_path = ctx.task_dir / md_name
        if not md_path.is_file():
            missing_md.append(f"{schema}.{table}")
        else:
            docs.append((md_name, md_path.read_text(encoding="utf-8")))
    if missing_ddl or missing_md:
        raise StepError(
            f"文件验证失败: 缺失{len(missing_ddl)}个DDL文件; 缺失{len(missing_md)}个MD文件"
        )
    parts = ["# 数据库表结构文档汇总", f"共包含 {len(docs)} 个表", ""]
    for name, text in sorted(docs):
        parts += ["=" * 80, f"# 文件: {name}", "=" * 80, text, ""]
    return "\n".join(parts), [name for name, _ in docs]


def _read_mapping(task_dir: Path) -> dict[str, str]:
    path = task_dir / MAPPING_FILE
    if not path.is_file():
        return {}
    mapping = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if " -> " in line and not line.startswith("#"):
            table, _, name = line.partition(" -> ")
            mapping[table.strip()] = name.strip()
    return mapping


async def run(ctx: StepContext) -> dict[str, Any]:
    started = time.monotonic()
    tables = await asyncio.to_thread(read_run_tables, ctx.task_dir, ctx.task_id)
    limit = ctx.settings.pipeline_max_tables
    if len(tables) > limit:
        raise StepError(
            f"表数量({len(tables)})超过限制({limit})。请分批处理或调整配置中的max_tables参数。"
        )
    md_text, md_files = await asyncio.to_thread(read_md_docs, ctx, tables)
    log.info("读取了 %d 个表文档，开始提取业务主题", len(md_files))
    themes = await _extract_themes(ctx, md_text)
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    intermediate = ctx.task_dir / f"qs_intermediate_{stamp}.json"
    results, failed = await _generate_all(ctx, themes, md_text, intermediate, stamp)
    pairs = [pair for result in results for pair in result["questions"]]
    output = await _write_outputs(ctx, pairs, themes, stamp)
    decision = await _decision_text(ctx, md_text, [f"{s}.{t}" for s, t in tables], themes)
    await asyncio.to_thread(
        write_text_atomic, ctx.task_dir / "db_query_decision_prompt.txt", decision
    )
    if not failed and intermediate.exists():
        intermediate.unlink()
    ctx.state["pair_file"] = output
    log.info("生成 %d 个问题/SQL对: %s", len(pairs), output.name)
    return {
        "output_file": ctx.paths.relative(output),
        "total_questions": len(pairs),
        "total_themes": len(themes),
        "successful_themes": len(results),
        "failed_themes": failed,
        "duration": round(time.monotonic() - started, 3),
    }


async def _extract_themes(ctx: StepContext, md_text: str) -> list[dict[str, Any]]:
    count = ctx.settings.pipeline_theme_count
    try:
        answer = await ctx.llm.ask_json(
            THEME_SYSTEM, theme_prompt(ctx.business_context, md_text, count)
        )
    except LlmFailed as error:
        raise StepError(f"主题提取失败: {error}") from error
    themes = parse_themes(answer, count)
    if not themes:
        raise StepError("主题提取失败: LLM未返回有效的主题")
    log.info("提取到 %d 个主题: %s", len(themes), "、".join(t["topic_name"] for t in themes))
    return themes


async def _generate_all(
    ctx: StepContext,
    themes: list[dict[str, Any]],
    md_text: str,
    intermediate: Path,
    stamp: str,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Pairs theme by theme, saved after each; an interrupted run leaves a recovery file."""
    results: list[dict[str, Any]] = []
    failed: list[str] = []
    try:
        for theme in themes:
            pairs, reason = await _pairs_for_theme(ctx, theme, md_text)
            if not pairs:
                failed.append(theme["topic_name"])
                log.warning("主题 %s 生成失败: %s", theme["topic_name"], reason)
                continue
            results.append(
                {
                    "theme": theme["topic_name"],
                    "timestamp": datetime.now().isoformat(),
                    "questions_count": len(pairs),
                    "questions": pairs,
                }
            )
            log.info("主题 %s 生成 %d 个问题", theme["topic_name"], len(pairs))
            await asyncio.to_thread(write_json_atomic, intermediate, results)
    except Exception:
        recovery = {
            "status": "interrupted",
            "timestamp": datetime.now().isoformat(),
            "completed_themes": [r["theme"] for r in results],
            "results": results,
        }
        await asyncio.to_thread(
            write_json_atomic, ctx.task_dir / f"qs_recovery_{stamp}.json", recovery
        )
        raise
    return results, failed


async def _pairs_for_theme(
    ctx: StepContext, theme: dict[str, Any], md_text: str
) -> tuple[list[dict[str, str]], str]:
    """The theme's pairs, and the reason to log when there are none."""
    count = ctx.settings.pipeline_questions_per_theme
    prompt = qa_prompt(theme, ctx.business_context, md_text, count)
    try:
        return parse_pairs(await ctx.llm.ask_json(QA_SYSTEM, prompt)), "LLM未返回有效的问题"
    except LlmFailed as error:
        return [], str(error)


async def _write_outputs(
    ctx: StepContext, pairs: list[dict[str, str]], themes: list[dict[str, Any]], stamp: str
) -> Path:
    """The pair file (earlier ones retired) and the theme metadata files; the pair file's path."""
    # db_name comes from the client: only word characters reach the file name.
    safe_db = re.sub(r"[^\w\-]", "_", ctx.db_name, flags=re.ASCII) or "database"
    output = ctx.task_dir / f"qs_{safe_db}_{stamp}_pair.json"
    await asyncio.to_thread(retire_old_outputs, ctx.task_dir)
    await asyncio.to_thread(write_json_atomic, output, pairs)
    await asyncio.to_thread(
        write_text_atomic,
        ctx.task_dir / "metadata.txt",
        metadata_sql(themes, ctx.business_context, ctx.db_name),
    )
    await asyncio.to_thread(write_text_atomic, ctx.task_dir / METADATA_DOC, metadata_doc(themes))
    return output


async def _decision_text(
    ctx: StepContext, md_text: str, tables: list[str], themes: list[dict[str, Any]]
) -> str:
    try:
        answer = await ctx.llm.ask(DECISION_SYSTEM, decision_prompt(ctx.business_context, md_text))
    except LlmFailed as error:
        log.warning("业务范围描述生成失败，使用默认模板: %s", error)
        return fallback_decision(ctx.business_context, tables, themes)
    start = answer.find(DECISION_HEADER)
    if start < 0:
        log.warning("业务范围描述格式不符，使用默认模板")
        return fallback_decision(ctx.business_context, tables, themes)
    return answer[start:].strip() + "\n"
