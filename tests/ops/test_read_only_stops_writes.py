"""Maintenance read-only mode stops writes that no route gate sees: pipeline runs started
before the switch, and every vector-store write whoever the caller is."""

from __future__ import annotations

import pytest

from citu.ops.maintenance import MAINTENANCE_TEXT, MaintenanceSwitch, ReadOnlyMode
from citu.pipeline.engine import RunOptions
from citu.pipeline.runner import READ_ONLY_TEXT
from pipeline.test_pipeline_runner import _hanging_run, _not_running, _ready_task, _status, _wait

BASE = "/api/v0/data_pipeline"


@pytest.fixture
def settings(settings):
    settings.pipeline_llm_retry_delay = 0.01
    settings.pipeline_cancel_poll_seconds = 0.1
    return settings


async def test_switching_on_stops_a_running_pipeline_run_and_says_so(client, fake_llm, services):
    task_id = await _hanging_run(client, fake_llm)
    response = await client.post("/api/v0/maintenance/readonly", json={"enabled": True})
    body = await response.get_json()
    assert response.status_code == 200
    stopped = body["data"]["stopped"]
    assert stopped["pipeline_tasks"] == [task_id]
    assert stopped["write_routes"] is True and stopped["training_writes"] is True
    await _wait(lambda: _not_running(client, task_id))
    status = await _status(client, task_id)
    assert status["status"] == "failed" and status["error_message"] == READ_ONLY_TEXT
    assert status["step_status"]["qa_generation"] == "failed"

    async def run_released() -> bool:  # the run's task leaves the list just after its row
        return services.pipeline.runner.running() == []

    await _wait(run_released)
    # Turning it off stops nothing and says nothing about it.
    response = await client.post("/api/v0/maintenance/readonly", json={"enabled": False})
    assert "stopped" not in (await response.get_json())["data"]


async def test_a_run_stops_when_another_worker_turns_the_switch_on(
    client, fake_llm, services, redis
):
    task_id = await _hanging_run(client, fake_llm)
    await MaintenanceSwitch(redis).set(True, "another worker")
    await _wait(lambda: _not_running(client, task_id))
    assert (await _status(client, task_id))["error_message"] == READ_ONLY_TEXT


async def test_vector_store_writes_are_refused_at_once_in_read_only_mode(services, redis):
    training = services.training
    await training.add_documentation("营业额是日营收的合计")
    before = await training.total()
    # Another worker turns it on: this worker's request cache must not let a write through.
    await services.ops.maintenance.current()
    await MaintenanceSwitch(redis).set(True, "another worker")
    with pytest.raises(ReadOnlyMode) as refused:
        await training.add_documentation("另一条说明")
    assert str(refused.value) == MAINTENANCE_TEXT
    with pytest.raises(ReadOnlyMode):
        await training.delete_many(["anything"])
    assert await training.total() == before
    await MaintenanceSwitch(redis).set(False)
    await training.add_documentation("另一条说明")
    assert await training.total() == before + 1


async def test_a_pipeline_step_does_not_start_in_read_only_mode(client, fake_llm, services, redis):
    task_id = await _ready_task(client)
    engine = services.pipeline.runner.engine
    await MaintenanceSwitch(redis).set(True, "another worker")
    with pytest.raises(ReadOnlyMode):
        await engine.run(task_id, RunOptions())
    steps = (await _status(client, task_id))["step_status"]
    assert set(steps.values()) == {"pending"}
