"""``citu pipeline run``: the same engine without the server, as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg

import citu
from fakes.pipeline_script import script_pipeline


async def run_cli(env: dict, *args: str, cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "citu.cli",
        "pipeline",
        "run",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode()


def cli_env(settings, tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "CITU_DATABASE_URL": settings.database_url,
        "CITU_BUSINESS_DB_URL": settings.business_db_url,
        "CITU_REDIS_URL": settings.redis_url,
        "CITU_LLM_BASE_URL": settings.llm_base_url,
        "CITU_LLM_API_KEY": "k",
        "CITU_LLM_MAX_RETRIES": "0",
        "CITU_PIPELINE_LLM_RETRY_DELAY": "0.01",
        "CITU_EMBEDDING_BASE_URL": settings.embedding_base_url,
        "CITU_DATA_DIR": str(tmp_path / "cli-data"),
        "CITU_LOG_DIR": str(tmp_path / "cli-logs"),
        # The subprocess must import this checkout's code, not an installed copy.
        "PYTHONPATH": os.pathsep.join(
            [str(Path(citu.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    return env


async def test_cli_runs_one_step_and_then_the_rest(settings, fake_llm, tmp_path):
    env = cli_env(settings, tmp_path)
    code, out = await run_cli(
        env, "--tables", "bss_company,bss_branch", "--step", "ddl_generation", cwd=tmp_path
    )
    assert code == 0, out
    summary = json.loads(out[out.index("{") :])
    task_id = summary["task_id"]
    assert task_id.startswith("manual_") and summary["status"] == "partial_completed"
    task_dir = tmp_path / "cli-data" / "data_pipeline" / "training_data" / task_id
    assert (task_dir / "bss_company.ddl").is_file() and (
        task_dir / "bss_branch_detail.md"
    ).is_file()

    script_pipeline(fake_llm)
    code, out = await run_cli(env, "--task-id", task_id, "--step", "qa_generation", cwd=tmp_path)
    assert code == 0, out
    assert list(task_dir.glob("qs_*_pair.json"))

    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT created_type, status FROM data_pipeline_tasks WHERE task_id = $1", task_id
        )
    finally:
        await conn.close()
    assert row["created_type"] == "manual"


async def test_cli_rejects_bad_arguments(settings, tmp_path):
    env = cli_env(settings, tmp_path)
    code, _ = await run_cli(env, "--tables", "x", "--step", "everything", cwd=tmp_path)
    assert code == 2
    code, _ = await run_cli(env, cwd=tmp_path)
    assert code == 2
