"""Step 2, ``qa_generation``: business themes from the table docs, then question/SQL pairs per theme.

Writes ``qs_<db>_<ts>_pair.json``, ``metadata.txt``, ``metadata_detail.md`` and
``db_query_decision_prompt.txt`` (spec §6.2). Earlier pair files are renamed ``*_old`` so later
steps see only this run's pairs.
"""

from __future__ import annotations

import asyncio
import json
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
from citu.pipeline.tablelist import read_run_tables

log = logging.getLogger("citu.pipeline.qa")

DECISION_HEADER = "=== 数据库业务范围 ==="
METADATA_DOC = "metadata_detail.md"

THEME_SYSTEM = "你是一个专业的业务数据分析师，擅长从数据库结构中识别有价值的业务分析主题。请严格按照JSON格式输出。"
QA_SYSTEM = (
    "你是一个精通PostgreSQL的业务数据分析师，擅长把业务问题写成正确的SQL。"
    "请严格按照JSON格式输出，每条SQL必须写在一行内。"
)
DECISION_SYSTEM = "你是一个数据库业务分析专家，擅长概括数据库所覆盖的业务范围。"


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


def theme_prompt(business_context: str, md_text: str, count: int) -> str:
    example = {
        "themes": [
            {
                "topic_name": "日营业数据分析",
                "description": "基于每日营业数据，分析各服务区的收入、订单数量和支付方式结构",
                "related_tables": ["bss_business_day_data", "bss_service_area"],
                "biz_entities": ["服务区", "档口", "支付方式"],
                "biz_metrics": ["收入趋势", "订单数量", "支付方式占比"],
            }
        ]
    }
    return "\n".join(
        [
            f"请从以下数据库文档中提取{count}个不同的业务分析主题。",
            f"业务背景：{business_context}",
            "",
            md_text,
            "",
            "要求：",
            "1. 每个主题聚焦一个业务分析方向，主题之间不要重复；",
            "2. 忽略技术字段（id、create_ts、update_ts、delete_ts、version、created_by、updated_by、deleted_by 等）；",
            "3. topic_name 不超过10个字，description 约50字，biz_entities 与 biz_metrics 各3-5个；",
            "4. related_tables 只能使用文档中出现的表名。",
            "输出JSON格式（示例只含一个主题）：",
            json.dumps(example, ensure_ascii=False),
        ]
    )


def qa_prompt(theme: dict[str, Any], business_context: str, md_text: str, count: int) -> str:
    return "\n".join(
        [
            f"请为以下业务主题生成{count}个业务问题和对应的SQL查询。",
            f"主题名称：{theme['topic_name']}",
            f"主题描述：{theme['description']}",
            f"业务实体：{'、'.join(theme['biz_entities'])}",
            f"业务指标：{'、'.join(theme['biz_metrics'])}",
            f"涉及的表：{'、'.join(theme['related_tables'])}",
            f"业务背景：{business_context}",
            "",
            md_text,
            "",
            "要求：",
            "1. 使用PostgreSQL语法；",
            "2. 含 delete_ts 字段的表必须加条件 delete_ts IS NULL（软删除）；",
            "3. 查询字段使用中文别名（AS）；",
            "4. 查询类型多样：趋势、对比、排行（Top N）、汇总统计、明细；",
            "5. 每条SQL以分号结尾，且写在一行内。",
            '输出JSON数组：[{"question": "业务问题", "sql": "SELECT ...;"}]',
        ]
    )


def decision_prompt(business_context: str, md_text: str) -> str:
    return "\n".join(
        [
            "请根据以下业务背景和数据库表结构文档，归纳该数据库的业务范围（不依赖任何分析主题），忽略技术字段。",
            f"业务背景：{business_context}",
            "",
            md_text,
            "",
            "请严格按照以下模板输出，列出关键业务指标后即结束：",
            DECISION_HEADER,
            "当前数据库存储的是…的相关数据，主要涉及…，包含以下业务数据：",
            "核心业务实体：",
            "- 实体：描述，主要字段：a、b、c",
            "关键业务指标：",
            "- 指标：描述",
        ]
    )


def parse_themes(answer: Any, limit: int) -> list[dict[str, Any]]:
    items = answer.get("themes") if isinstance(answer, dict) else answer
    themes = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        name = item.get("topic_name") or item.get("name")
        description = item.get("description")
        tables = item.get("related_tables")
        if not (isinstance(name, str) and name.strip() and isinstance(description, str)):
            continue
        if not isinstance(tables, list) or not tables:
            continue
        tables = [str(t) for t in tables if str(t).strip()]
        themes.append(
            {
                "topic_name": name.strip(),
                "description": description.strip(),
                "related_tables": tables,
                "biz_entities": _strings(item.get("biz_entities")) or tables[:3],
                "biz_metrics": _strings(item.get("biz_metrics")) or ["数据统计", "趋势分析"],
            }
        )
    return themes[:limit]


def parse_pairs(answer: Any) -> list[dict[str, str]]:
    items = answer.get("questions") if isinstance(answer, dict) else answer
    pairs = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        question, sql = item.get("question"), item.get("sql")
        if not (isinstance(question, str) and isinstance(sql, str)):
            continue
        question = question.strip()
        sql = re.sub(r"\s+", " ", sql).strip()
        if not question or not sql:
            continue
        if not sql.endswith(";"):
            sql += ";"
        pairs.append({"question": question, "sql": sql})
    return pairs


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v).strip() for v in value if str(v).strip()]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(_sql_text(v) for v in values) + "]::text[]"


def metadata_sql(themes: list[dict[str, Any]], business_context: str, db_name: str) -> str:
    lines = [
        "-- Schema Tools生成的主题元数据",
        f"-- 业务背景: {business_context}",
        f"-- 生成时间: {datetime.now():%Y-%m-%d %H:%M:%S}",
        f"-- 数据库: {db_name}",
        "",
        "-- 创建表（如果不存在）",
        "CREATE TABLE IF NOT EXISTS metadata (",
        "    id SERIAL PRIMARY KEY,",
        "    topic_name VARCHAR(100) NOT NULL,",
        "    description TEXT,",
        "    related_tables TEXT[],",
        "    biz_entities TEXT[],",
        "    biz_metrics TEXT[],",
        "    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP",
        ");",
        "",
        "-- 插入主题数据",
    ]
    for theme in themes:
        lines.append(
            "INSERT INTO metadata(topic_name, description, related_tables, biz_entities, biz_metrics) "
            f"VALUES ({_sql_text(theme['topic_name'])}, {_sql_text(theme['description'])}, "
            f"{_sql_array(theme['related_tables'])}, {_sql_array(theme['biz_entities'])}, "
            f"{_sql_array(theme['biz_metrics'])});"
        )
    return "\n".join(lines) + "\n"


def metadata_doc(themes: list[dict[str, Any]]) -> str:
    def examples(key: str) -> str:
        seen = list(dict.fromkeys(v for t in themes for v in t[key]))
        return ", ".join(seen[:3])

    return (
        "\n".join(
            [
                "## metadata（存储分析主题元数据）",
                "`metadata` 主要描述了当前数据库包含了哪些数据内容，哪些分析主题，哪些指标等等。",
                "字段列表：",
                "- `id` (serial) - 主键ID [主键, 非空]",
                "- `topic_name` (varchar(100)) - 业务主题名称 [非空]",
                "- `description` (text) - 业务主题说明",
                f"- `related_tables` (text[]) - 涉及的数据表 [示例: {examples('related_tables')}]",
                f"- `biz_entities` (text[]) - 主要业务实体名称 [示例: {examples('biz_entities')}]",
                f"- `biz_metrics` (text[]) - 主要业务指标名称 [示例: {examples('biz_metrics')}]",
                "- `created_at` (timestamp) - 插入时间 [默认值: `CURRENT_TIMESTAMP`]",
                "字段补充说明：",
                "- `id` 为主键，自增；",
                "- `related_tables` 用于建立主题与具体明细表的依赖关系；",
                "- `biz_entities` 表示主题关注的核心对象；",
                "- `biz_metrics` 表示该主题关注的业务分析指标。",
            ]
        )
        + "\n"
    )


def fallback_decision(
    business_context: str, tables: list[str], themes: list[dict[str, Any]]
) -> str:
    entities = list(dict.fromkeys(v for t in themes for v in t["biz_entities"]))[:8]
    metrics = list(dict.fromkeys(v for t in themes for v in t["biz_metrics"]))[:8]
    lines = [
        DECISION_HEADER,
        f"当前数据库存储的是{business_context}的相关数据，主要涉及{'、'.join(tables)}，包含以下业务数据：",
        "核心业务实体：",
        *(f"- {e}" for e in entities),
        "关键业务指标：",
        *(f"- {m}" for m in metrics),
    ]
    return "\n".join(lines) + "\n"


async def run(ctx: StepContext) -> dict[str, Any]:
    started = time.monotonic()
    settings = ctx.settings
    tables = await asyncio.to_thread(read_run_tables, ctx.task_dir, ctx.task_id)
    if len(tables) > settings.pipeline_max_tables:
        raise StepError(
            f"表数量({len(tables)})超过限制({settings.pipeline_max_tables})。请分批处理或调整配置中的max_tables参数。"
        )
    md_text, md_files = await asyncio.to_thread(read_md_docs, ctx, tables)
    log.info("读取了 %d 个表文档，开始提取业务主题", len(md_files))

    try:
        answer = await ctx.llm.ask_json(
            THEME_SYSTEM, theme_prompt(ctx.business_context, md_text, settings.pipeline_theme_count)
        )
    except LlmFailed as error:
        raise StepError(f"主题提取失败: {error}") from error
    themes = parse_themes(answer, settings.pipeline_theme_count)
    if not themes:
        raise StepError("主题提取失败: LLM未返回有效的主题")
    log.info("提取到 %d 个主题: %s", len(themes), "、".join(t["topic_name"] for t in themes))

    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    intermediate = ctx.task_dir / f"qs_intermediate_{stamp}.json"
    results: list[dict[str, Any]] = []
    failed: list[str] = []
    try:
        for theme in themes:
            prompt = qa_prompt(
                theme, ctx.business_context, md_text, settings.pipeline_questions_per_theme
            )
            try:
                pairs = parse_pairs(await ctx.llm.ask_json(QA_SYSTEM, prompt))
            except LlmFailed as error:
                pairs, reason = [], str(error)
            else:
                reason = "LLM未返回有效的问题"
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

    pairs = [pair for result in results for pair in result["questions"]]
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
