"""EvalStore against the real PostgreSQL: runs, progress, results, cancel and crash recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from citu.eval.store import EvalStore, RunAlreadyActive, question_results

REPORT = {
    "version": 1,
    "summary": {"accuracy": 0.5, "total": 2},
    "questions": [
        {"id": "q1", "correct": True, "status": "ok", "latency_ms": 12.5, "predicted_sql": "S"},
        {"id": "q2", "correct": False, "status": "wrong_result", "latency_ms": 40},
    ],
}


@pytest.fixture
async def pool(citu_db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(citu_db_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> EvalStore:
    return EvalStore(pool)


async def test_create_get_progress_finish(store):
    run_id = await store.create(set_name="demo", target="sql", concurrency=3, total=2)
    run = await store.get(run_id)
    assert run["status"] == "running" and run["progress"] == {"done": 0, "total": 2, "percent": 0.0}
    assert run["has_report"] is False and run["summary"] is None
    await store.progress(run_id, 1, 2)
    assert (await store.get(run_id))["progress"]["percent"] == 50.0
    assert await store.finish(run_id, "completed", report=REPORT) is True
    # The first ending stands: a late shutdown cannot turn a completed run into another state.
    assert await store.finish(run_id, "interrupted", error="late") is False
    run = await store.get(run_id)
    assert run["status"] == "completed" and run["finished_at"] is not None
    assert run["error_message"] is None
    assert run["summary"] == {"accuracy": 0.5, "total": 2}
    assert run["progress"]["done"] == 2 and run["has_report"] is True
    assert await store.report(run_id) == REPORT
    assert await store.results(run_id) == REPORT["questions"]
    rows = await store.pool.fetch(
        "SELECT question_id, correct, status, latency_ms FROM eval_results "
        "WHERE run_id = $1 ORDER BY position",
        run_id,
    )
    assert [tuple(row) for row in rows] == [
        ("q1", True, "ok", 12.5),
        ("q2", False, "wrong_result", 40.0),
    ]


async def test_one_running_run_per_set(store):
    first = await store.create(set_name="demo", target="sql", concurrency=1, total=1)
    with pytest.raises(RunAlreadyActive):
        await store.create(set_name="demo", target="react", concurrency=1, total=1)
    other = await store.create(set_name="other", target="sql", concurrency=1, total=1)
    assert await store.active_run("demo") == first
    await store.finish(first, "failed", error="boom")
    again = await store.create(set_name="demo", target="sql", concurrency=1, total=1)
    assert again not in (first, other)
    assert (await store.get(first))["error_message"] == "boom"


async def test_list_is_newest_first_and_filtered(store):
    ids = [
        await store.create(set_name=f"set{n}", target="sql", concurrency=1, total=1)
        for n in range(3)
    ]
    await store.finish(ids[0], "completed", report={"summary": {}, "questions": []})
    total, runs = await store.list(limit=2)
    assert total == 3 and [r["run_id"] for r in runs] == [ids[2], ids[1]]
    total, runs = await store.list(limit=10, offset=2)
    assert [r["run_id"] for r in runs] == [ids[0]]
    total, runs = await store.list(status="completed")
    assert total == 1 and runs[0]["run_id"] == ids[0]
    total, runs = await store.list(set_name="set1")
    assert total == 1 and runs[0]["run_id"] == ids[1]


async def test_cancel_only_a_running_run(store):
    run_id = await store.create(set_name="demo", target="sql", concurrency=1, total=1)
    assert await store.cancel_requested(run_id) is False
    assert await store.request_cancel(run_id) is True
    assert await store.cancel_requested(run_id) is True
    await store.finish(run_id, "cancelled")
    assert await store.request_cancel(run_id) is False
    assert await store.request_cancel("eval_missing") is False


async def test_recovery_marks_only_runs_whose_lock_is_free(store):
    live = await store.create(set_name="live", target="sql", concurrency=1, total=1)
    crashed = await store.create(set_name="crashed", target="sql", concurrency=1, total=1)
    conn = await store.try_lock(live)
    assert conn is not None and await store.try_lock(live) is None
    try:
        assert await store.recover_interrupted() == [crashed]
    finally:
        await store.unlock(conn, live)
    assert (await store.get(crashed))["status"] == "interrupted"
    assert (await store.get(live))["status"] == "running"
    assert await store.recover_interrupted("other") == []
    assert await store.recover_interrupted("live") == [live]


async def test_finish_refuses_a_non_final_status(store):
    run_id = await store.create(set_name="demo", target="sql", concurrency=1, total=1)
    with pytest.raises(ValueError):
        await store.finish(run_id, "running")


def test_question_results_accepts_either_list_key():
    assert question_results({"results": [{"id": "a"}, "junk"]}) == [{"id": "a"}]
    assert question_results({}) == []
