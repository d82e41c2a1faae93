"""Background execution: one run per task, cancellation, shutdown, crash recovery across restarts."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from citu.app import create_app
from citu.pipeline.runner import CANCELLED_TEXT, SHUTDOWN_TEXT
from fakes.pipeline_script import BUSINESS_CONTEXT, THEMES, script_pipeline

BASE = "/api/v0/data_pipeline"


@pytest.fixture
def settings(settings):
    settings.pipeline_llm_retry_delay = 0.01
    settings.pipeline_cancel_poll_seconds = 0.1
    return settings


async def _ready_task(client, tables=("bss_company",)) -> str:
    response = await client.post(f"{BASE}/tasks", json={"business_context": BUSINESS_CONTEXT})
    task_id = (await response.get_json())["data"]["task_id"]
    await client.post(f"{BASE}/tasks/{task_id}/table-list", json={"tables": list(tables)})
    return task_id


async def _status(client, task_id: str) -> dict:
    return (await (await client.get(f"{BASE}/tasks/{task_id}")).get_json())["data"]


async def _wait(predicate, limit: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


def _hang_themes(fake_llm, seconds: float = 30.0) -> None:
    fake_llm.when(
        "个不同的业务分析主题",
        {"content": json.dumps(THEMES, ensure_ascii=False), "delay": seconds},
    )


async def _hanging_run(client, fake_llm) -> str:
    """A complete run that stays in qa_generation (the theme call hangs)."""
    _hang_themes(fake_llm)
    task_id = await _ready_task(client)
    response = await client.post(f"{BASE}/tasks/{task_id}/execute", json={})
    assert response.status_code == 202

    async def in_qa() -> bool:
        return (await _status(client, task_id))["step_status"]["qa_generation"] == "running"

    await _wait(in_qa)
    return task_id


async def test_second_execute_is_refused_while_running(client, fake_llm, services):
    task_id = await _hanging_run(client, fake_llm)
    response = await client.post(
        f"{BASE}/tasks/{task_id}/execute",
        json={"execution_mode": "step", "step_name": "ddl_generation"},
    )
    assert response.status_code == 409
    body = await response.get_json()
    assert body["success"] is False and task_id in body["data"]["response"]
    # Deleting a running task is refused too, and the directory stays.
    response = await client.delete(f"{BASE}/tasks", json={"task_ids": [task_id], "confirm": True})
    data = (await response.get_json())["data"]
    assert data["failed_tasks"][0]["error"] == "任务正在执行中，无法删除"
    assert services.pipeline.paths.task_dir(task_id).is_dir()


async def test_cancel_stops_the_run_and_marks_it_failed(client, fake_llm, services):
    task_id = await _hanging_run(client, fake_llm)
    response = await client.post(f"{BASE}/tasks/{task_id}/cancel")
    assert response.status_code == 200

    async def stopped() -> bool:
        return (await _status(client, task_id))["status"] == "failed"

    await _wait(stopped)
    status = await _status(client, task_id)
    assert status["error_message"] == CANCELLED_TEXT
    assert status["step_status"]["ddl_generation"] == "completed"
    assert status["step_status"]["qa_generation"] == "failed"
    assert services.pipeline.runner.running() == []
    log_text = (services.pipeline.paths.task_dir(task_id) / "data_pipeline.log").read_text(
        encoding="utf-8"
    )
    assert "执行被中止" in log_text
    # The lock is free again: the task can run once more.
    script_pipeline(fake_llm)
    response = await client.post(
        f"{BASE}/tasks/{task_id}/execute",
        json={"execution_mode": "step", "step_name": "ddl_generation"},
    )
    assert response.status_code == 202
    # Cancelling a task that is not running is a 400.
    await _wait(lambda: _not_running(client, task_id))
    response = await client.post(f"{BASE}/tasks/{task_id}/cancel")
    assert response.status_code == 400


async def _not_running(client, task_id: str) -> bool:
    return (await _status(client, task_id))["status"] != "in_progress"


async def test_cancel_flag_reaches_a_run_of_another_worker(client, fake_llm, services):
    """A cancel written to the database (by any worker) stops the run within a poll."""
    task_id = await _hanging_run(client, fake_llm)
    await services.pipeline.store.request_cancel(task_id)
    await _wait(lambda: _not_running(client, task_id))
    assert (await _status(client, task_id))["error_message"] == CANCELLED_TEXT


async def test_shutdown_cancels_and_records_running_tasks(settings, fake_llm):
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        task_id = await _hanging_run(client, fake_llm)
        store = app.extensions["citu"].pipeline.store
    # After shutdown (aclose awaited), the run is recorded as interrupted.
    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT status, error_message FROM data_pipeline_tasks WHERE task_id = $1", task_id
        )
    finally:
        await conn.close()
    assert (row["status"], row["error_message"]) == ("failed", SHUTDOWN_TEXT)
    assert store is not None


async def test_crash_then_restart_marks_the_task_failed(client, fake_llm, settings):
    task_id = await _hanging_run(client, fake_llm)

    # A second worker starting now must leave the task alone: its lock is held.
    second = create_app(settings)
    async with second.test_app():
        assert (await _status(second.test_client(), task_id))["status"] == "in_progress"

    # The first worker "crashes": its database session (holding the run lock) dies.
    conn = await asyncpg.connect(settings.database_url)
    try:
        killed = await conn.fetchval(
            "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_locks "
            "WHERE locktype = 'advisory' AND classid = 7301 AND granted"
        )
        assert killed
    finally:
        await conn.close()

    async def lock_free() -> bool:
        c = await asyncpg.connect(settings.database_url)
        try:
            return not await c.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7301"
            )
        finally:
            await c.close()

    await _wait(lock_free)
    restarted = create_app(settings)
    async with restarted.test_app():
        status = await _status(restarted.test_client(), task_id)
    assert status["status"] == "failed"
    assert "中断" in status["error_message"]
    assert status["step_status"]["qa_generation"] == "failed"


async def _kill_run_locks(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND classid = 7301 AND granted"
        )
    finally:
        await conn.close()


async def test_a_living_worker_sweeps_up_a_dead_workers_run(client, fake_llm, settings, services):
    """The periodic sweep fails a run whose worker died, without any restart."""
    runner = services.pipeline.runner
    task_id = await _hanging_run(client, fake_llm)
    runner.recovery_interval = 0.2
    sweeper = asyncio.create_task(runner._sweep())
    try:
        await asyncio.sleep(0.5)
        assert (await _status(client, task_id))["status"] == "in_progress"  # lock held: alive
        await _kill_run_locks(settings.database_url)

        async def failed() -> bool:
            return (await _status(client, task_id))["status"] == "failed"

        await _wait(failed)
        assert "中断" in (await _status(client, task_id))["error_message"]
    finally:
        sweeper.cancel()


async def test_running_tasks_per_process_are_bounded(client, fake_llm, services):
    runner = services.pipeline.runner
    runner.max_running = 1
    await _hanging_run(client, fake_llm)
    other = await _ready_task(client)
    response = await client.post(f"{BASE}/tasks/{other}/execute", json={})
    assert response.status_code == 409
    assert "上限" in (await response.get_json())["data"]["response"]
