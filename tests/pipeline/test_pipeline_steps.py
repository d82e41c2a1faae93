"""Each step run alone through the engine, and re-runs that must overwrite consistently."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from citu.pipeline.engine import RunOptions
from fakes.pipeline_script import BROKEN_SQL, FIXED_SQL, HOPELESS_SQL, script_pipeline


@pytest.fixture
def settings(settings):
    settings.pipeline_llm_retry_delay = 0.01
    return settings


@pytest.fixture
def pipeline(services):
    return services.pipeline


async def make_task(pipeline, tables: list[str], **parameters) -> tuple[str, Path]:
    data = await pipeline.create_task({"business_context": "测试", **parameters})
    task_id = data["task_id"]
    await pipeline.create_table_list(task_id, tables)
    return task_id, pipeline.paths.task_dir(task_id)


async def run_step(pipeline, task_id: str, step: str) -> dict:
    run = await pipeline.runner.execute(task_id, RunOptions(mode="step", step=step))
    await run
    return await pipeline.task_status(task_id)


async def test_ddl_step_alone_and_rerun_overwrites(pipeline, business_db_url):
    conn = await asyncpg.connect(business_db_url)
    try:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS scratch")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS scratch.rerun_t (id int PRIMARY KEY, state varchar(8))"
        )
        await conn.execute("COMMENT ON TABLE scratch.rerun_t IS '第一版注释'")
        task_id, task_dir = await make_task(pipeline, ["scratch.rerun_t", "bss_company"])
        status = await run_step(pipeline, task_id, "ddl_generation")
        assert status["status"] == "partial_completed" and status["completed_at"] is not None
        assert status["step_status"]["ddl_generation"] == "completed"
        first = (task_dir / "scratch_rerun_t.ddl").read_text(encoding="utf-8")
        assert first.startswith("-- 中文名: 第一版注释\n")
        result = json.loads((task_dir / "ddl_generation_result.json").read_text(encoding="utf-8"))
        assert result["processed_successfully"] == 2 and result["files_generated"] == 4

        await conn.execute("COMMENT ON TABLE scratch.rerun_t IS '第二版注释'")
        await run_step(pipeline, task_id, "ddl_generation")
    finally:
        await conn.close()
    second = (task_dir / "scratch_rerun_t.ddl").read_text(encoding="utf-8")
    assert second.startswith("-- 中文名: 第二版注释\n")
    assert not [p.name for p in task_dir.iterdir() if p.name.endswith(("_1", ".ddl_1", ".md_1"))]
    mapping = (task_dir / "filename_mapping.txt").read_text(encoding="utf-8")
    assert "scratch.rerun_t -> scratch_rerun_t_detail.md" in mapping


async def test_ddl_step_fails_when_no_table_exists(pipeline):
    task_id, _ = await make_task(pipeline, ["no_such_table"])
    status = await run_step(pipeline, task_id, "ddl_generation")
    assert status["status"] == "failed"
    assert "所有表处理失败" in status["steps"][0]["error_message"]
    assert status["error_message"].startswith("[ddl_generation] ")


async def test_qa_step_alone_needs_docs_then_renames_old_pairs(pipeline, fake_llm):
    script_pipeline(fake_llm)
    task_id, task_dir = await make_task(pipeline, ["bss_business_day_data", "bss_car_day_count"])
    status = await run_step(pipeline, task_id, "qa_generation")
    assert status["status"] == "failed"
    assert status["steps"][1]["error_message"] == "文件验证失败: 缺失2个DDL文件; 缺失2个MD文件"

    await run_step(pipeline, task_id, "ddl_generation")
    status = await run_step(pipeline, task_id, "qa_generation")
    assert status["step_status"]["qa_generation"] == "completed"
    assert status["status"] == "partial_completed"  # the earlier failure was cleared by re-running
    assert status["error_message"] is None
    first = sorted(p.name for p in task_dir.glob("*_pair.json"))
    assert len(first) == 1
    theme_prompt = next(
        r for r in fake_llm.requests if "个不同的业务分析主题" in r["messages"][-1]["content"]
    )["messages"][-1]["content"]
    assert "# 文件: bss_business_day_data_detail.md" in theme_prompt
    assert "metadata_detail.md" not in theme_prompt

    import asyncio

    await asyncio.sleep(1.1)  # a new second, so a new pair file name
    await run_step(pipeline, task_id, "qa_generation")
    current = sorted(p.name for p in task_dir.glob("*_pair.json"))
    assert len(current) == 1 and current != first
    assert (task_dir / (first[0] + "_old")).is_file()
    theme_prompt = [
        r for r in fake_llm.requests if "个不同的业务分析主题" in r["messages"][-1]["content"]
    ][-1]["messages"][-1]["content"]
    assert "metadata_detail.md" not in theme_prompt  # not swept into the context on re-runs


async def test_qa_step_records_failed_themes(pipeline, fake_llm):
    from fakes.pipeline_script import THEMES

    fake_llm.when("个不同的业务分析主题", json.dumps(THEMES, ensure_ascii=False))
    fake_llm.when(
        "主题名称：营收分析",
        '[{"question": "总营收", "sql": "SELECT SUM(pay_sum) FROM bss_business_day_data"}]',
    )
    fake_llm.when("主题名称：车流分析", "not json at all")
    task_id, task_dir = await make_task(pipeline, ["bss_business_day_data", "bss_car_day_count"])
    await run_step(pipeline, task_id, "ddl_generation")
    status = await run_step(pipeline, task_id, "qa_generation")
    assert status["step_status"]["qa_generation"] == "completed"
    result = json.loads((task_dir / "qa_generation_result.json").read_text(encoding="utf-8"))
    assert result["failed_themes"] == ["车流分析"] and result["total_questions"] == 1
    assert list(task_dir.glob("qs_intermediate_*.json"))  # kept because a theme failed
    decision = (task_dir / "db_query_decision_prompt.txt").read_text(encoding="utf-8")
    assert decision.startswith(
        "=== 数据库业务范围 ==="
    )  # fallback template when the LLM is off-format
    pairs = json.loads(next(task_dir.glob("*_pair.json")).read_text(encoding="utf-8"))
    assert pairs == [
        {"question": "总营收", "sql": "SELECT SUM(pay_sum) FROM bss_business_day_data;"}
    ]


async def test_validation_step_alone_keeps_the_original_backup(pipeline, fake_llm):
    script_pipeline(fake_llm)
    task_id, task_dir = await make_task(pipeline, ["bss_business_day_data"])
    pairs = [
        "not a dict",
        {"question": "坏的", "sql": BROKEN_SQL},
        {"question": "无法修复", "sql": HOPELESS_SQL},
        {"question": "缺SQL"},
        {"question": "好的", "sql": "SELECT COUNT(*) AS 数量 FROM bss_business_day_data;"},
        {"question": "写操作", "sql": "DELETE FROM bss_business_day_data;"},
    ]
    (task_dir / "qs_manual_20250101_000000_pair.json").write_text(
        json.dumps(pairs, ensure_ascii=False), encoding="utf-8"
    )
    status = await run_step(pipeline, task_id, "sql_validation")
    assert status["step_status"]["sql_validation"] == "completed"
    fixed = json.loads(
        (task_dir / "qs_manual_20250101_000000_pair.json").read_text(encoding="utf-8")
    )
    # Entries skipped on load stay; invalid ones go; the repaired one is replaced in place.
    assert fixed == [
        "not a dict",
        {"question": "坏的", "sql": FIXED_SQL},
        {"question": "缺SQL"},
        {"question": "好的", "sql": "SELECT COUNT(*) AS 数量 FROM bss_business_day_data;"},
    ]
    result = json.loads((task_dir / "sql_validation_result.json").read_text(encoding="utf-8"))
    assert result["original_sql_count"] == 4 and result["valid_sql_count"] == 2
    assert result["file_modification_stats"] == {
        "modified": 1,
        "deleted": 2,
        "failed_modifications": 0,
    }
    summary = next(task_dir.glob("sql_validation_*_summary.log")).read_text(encoding="utf-8")
    assert "无效SQL: 2" in summary and "DELETE" in summary

    await run_step(pipeline, task_id, "sql_validation")
    backup = json.loads(
        (task_dir / "qs_manual_20250101_000000_pair.json.backup").read_text(encoding="utf-8")
    )
    assert backup == pairs  # still the pre-validation original after a re-run


async def test_validation_step_without_pairs_fails(pipeline):
    task_id, _ = await make_task(pipeline, ["bss_company"])
    status = await run_step(pipeline, task_id, "sql_validation")
    assert status["status"] == "failed"
    assert "找不到Question-SQL文件" in status["steps"][2]["error_message"]


async def test_complete_mode_sets_previous_outputs_aside(pipeline, fake_llm):
    script_pipeline(fake_llm)
    task_id, task_dir = await make_task(
        pipeline,
        ["bss_car_day_count"],
        enable_sql_validation=False,
        enable_training_data_load=False,
    )
    (task_dir / "old_notes.md").write_text("旧文件", encoding="utf-8")
    run = await pipeline.runner.execute(task_id, RunOptions())
    await run
    status = await pipeline.task_status(task_id)
    assert status["status"] == "completed"
    assert status["step_status"]["sql_validation"] == "pending"  # disabled steps stay pending
    backups = list(task_dir.glob("file_bak_*"))
    assert len(backups) == 1 and (backups[0] / "old_notes.md").is_file()
    info = json.loads((backups[0] / "backup_info.json").read_text(encoding="utf-8"))
    assert info["moved_files"] == ["old_notes.md"] and info["task_id"] == task_id
    assert (task_dir / "table_list.txt").is_file() and not (task_dir / "old_notes.md").exists()


async def test_validation_never_deletes_when_the_database_is_gone(
    pipeline, settings, business_db_url
):
    from citu.pipeline.context import StepContext, StepError
    from citu.pipeline.steps import validation

    task_id, task_dir = await make_task(pipeline, ["bss_company"])
    pairs = [{"question": "好的", "sql": "SELECT 1;"}]
    pair_file = task_dir / "qs_x_20250101_000000_pair.json"
    pair_file.write_text(json.dumps(pairs), encoding="utf-8")
    pool = await asyncpg.create_pool(business_db_url, min_size=1, max_size=1)
    await pool.close()
    ctx = StepContext(
        task_id=task_id,
        task_dir=task_dir,
        paths=pipeline.paths,
        settings=settings,
        business_pool=pool,
        llm=pipeline.llm,
        business_context="测试",
        db_name="x",
        parameters={},
    )
    with pytest.raises(StepError, match="无法连接到数据库"):
        await validation.run(ctx)
    assert json.loads(pair_file.read_text(encoding="utf-8")) == pairs
    assert not list(task_dir.glob("*.backup")) and not list(task_dir.glob("sql_validation_*"))
