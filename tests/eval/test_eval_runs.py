"""EvalRuns with an injected run_eval against the real PostgreSQL: background runs, one per set,
progress, cancel (cooperative, forced, from another worker), failures and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from citu.errors import Conflict, NotFound
from citu.eval.runs import EvalRuns, RunRequest
from citu.eval.store import EvalStore

QUESTIONS = ["q1", "q2", "q3"]


@pytest.fixture
async def store(citu_db_url: str) -> AsyncIterator[EvalStore]:
    pool = await asyncpg.create_pool(citu_db_url, min_size=1, max_size=8)
    yield EvalStore(pool)
    await pool.close()


class Client:
    def __init__(self, target: str) -> None:
        self.target = target
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


class ScriptedEval:
    """A run_eval stand-in: reports each question, optionally waiting on a gate in between."""

    def __init__(self, *, gate: asyncio.Event | None = None, honour_cancel: bool = True) -> None:
        self.gate = gate
        self.honour_cancel = honour_cancel
        self.calls: list[dict] = []
        self.started = asyncio.Event()

    async def __call__(
        self, questions, *, target, client, concurrency, on_progress, cancel, set_name
    ):
        self.calls.append(
            {"target": target, "client": client, "concurrency": concurrency, "set": set_name}
        )
        results = []
        for n, question in enumerate(questions, 1):
            results.append({"id": question, "correct": n % 2 == 1, "status": "ok"})
            on_progress(n, len(questions))
            self.started.set()
            if self.gate is not None:
                waiters = [asyncio.create_task(self.gate.wait())]
                if self.honour_cancel:
                    waiters.append(asyncio.create_task(cancel.wait()))
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
            if self.honour_cancel and cancel.is_set():
                break
        return {"version": 1, "summary": {"answered": len(results)}, "questions": results}


def make_runs(store, run_eval, clients=None, **options) -> EvalRuns:
    clients = clients if clients is not None else []

    def factory(target: str) -> Client:
        clients.append(Client(target))
        return clients[-1]

    options.setdefault("poll_seconds", 0.02)
    return EvalRuns(store, factory, run_eval=run_eval, **options)


def request(set_name: str = "demo", **extra) -> RunRequest:
    return RunRequest(set_name=set_name, questions=QUESTIONS, target="sql", **extra)


async def test_a_run_completes_in_the_background(store):
    clients: list[Client] = []
    fake = ScriptedEval()
    runs = make_runs(store, fake, clients)
    run_id = await runs.launch(request(concurrency=7, created_by="admin"))
    await runs.wait(run_id)
    run = await store.get(run_id)
    assert run["status"] == "completed" and run["error_message"] is None
    assert run["progress"] == {"done": 3, "total": 3, "percent": 100.0}
    assert run["summary"] == {"answered": 3} and run["created_by"] == "admin"
    assert [r["id"] for r in await store.results(run_id)] == QUESTIONS
    assert fake.calls[0]["concurrency"] == 7 and fake.calls[0]["target"] == "sql"
    assert fake.calls[0]["set"] == "demo" and fake.calls[0]["client"] is clients[0]
    assert clients[0].target == "sql" and clients[0].closed
    assert runs.running() == []


async def test_one_run_per_set_at_a_time(store):
    gate = asyncio.Event()
    runs = make_runs(store, ScriptedEval(gate=gate))
    first = await runs.launch(request())
    with pytest.raises(Conflict):
        await runs.launch(request())
    other = await runs.launch(request("other"))
    gate.set()
    await runs.wait(first)
    await runs.wait(other)
    again = await runs.launch(request())
    await runs.wait(again)
    assert (await store.get(again))["status"] == "completed"


async def test_a_second_worker_is_refused_too(store):
    gate = asyncio.Event()
    runs, elsewhere = make_runs(store, ScriptedEval(gate=gate)), make_runs(store, ScriptedEval())
    first = await runs.launch(request())
    with pytest.raises(Conflict):
        await elsewhere.launch(request())
    gate.set()
    await runs.wait(first)


async def test_progress_is_written_while_running(store):
    gate = asyncio.Event()
    fake = ScriptedEval(gate=gate)
    runs = make_runs(store, fake)
    run_id = await runs.launch(request())
    await fake.started.wait()
    for _ in range(100):
        if (await store.get(run_id))["progress"]["done"] == 1:
            break
        await asyncio.sleep(0.02)
    run = await store.get(run_id)
    assert run["status"] == "running" and run["progress"]["done"] == 1
    gate.set()
    await runs.wait(run_id)


async def test_cancel_lets_the_runner_return_a_partial_report(store):
    fake = ScriptedEval(gate=asyncio.Event())
    runs = make_runs(store, fake)
    run_id = await runs.launch(request())
    await fake.started.wait()
    await runs.cancel(run_id)
    await runs.wait(run_id)
    run = await store.get(run_id)
    assert run["status"] == "cancelled" and run["error_message"] == "评测已被用户取消"
    assert run["summary"] == {"answered": 1} and run["has_report"]
    assert run["progress"]["done"] == 1
    with pytest.raises(Conflict):
        await runs.cancel(run_id)
    with pytest.raises(NotFound):
        await runs.cancel("eval_missing")


async def test_cancel_from_another_worker_reaches_the_run(store):
    fake = ScriptedEval(gate=asyncio.Event())
    runs, elsewhere = make_runs(store, fake), make_runs(store, ScriptedEval())
    run_id = await runs.launch(request())
    await fake.started.wait()
    await elsewhere.cancel(run_id)
    await asyncio.wait_for(runs.wait(run_id), 5)
    assert (await store.get(run_id))["status"] == "cancelled"


async def test_a_runner_ignoring_cancel_is_stopped_after_the_grace(store):
    fake = ScriptedEval(gate=asyncio.Event(), honour_cancel=False)
    runs = make_runs(store, fake, cancel_grace_seconds=0.05)
    run_id = await runs.launch(request())
    await fake.started.wait()
    await runs.cancel(run_id)
    await asyncio.wait_for(runs.wait(run_id), 5)
    run = await store.get(run_id)
    assert run["status"] == "cancelled" and not run["has_report"]


async def test_a_failure_is_recorded_without_its_text(store):
    async def broken(questions, **_):
        raise RuntimeError("password=hunter2 in upstream text")

    runs = make_runs(store, broken)
    run_id = await runs.launch(request())
    await runs.wait(run_id)
    run = await store.get(run_id)
    assert run["status"] == "failed" and run["error_message"].startswith("评测执行失败")
    assert "hunter2" not in run["error_message"]
    # the set is free again
    await runs.wait(await runs.launch(request()))


async def test_shutdown_marks_running_runs_interrupted(store):
    fake = ScriptedEval(gate=asyncio.Event(), honour_cancel=False)
    runs = make_runs(store, fake)
    run_id = await runs.launch(request())
    await fake.started.wait()
    await runs.aclose()
    run = await store.get(run_id)
    assert run["status"] == "interrupted" and run["error_message"] == "评测中断：服务已停止"
    with pytest.raises(Conflict):
        await runs.launch(request("other"))


async def test_start_recovers_a_crashed_run_and_frees_its_set(store):
    crashed = await store.create(set_name="demo", target="sql", concurrency=1, total=3)
    runs = make_runs(store, ScriptedEval())
    assert await runs.start() == [crashed]
    assert (await store.get(crashed))["status"] == "interrupted"
    await store.pool.execute("UPDATE eval_runs SET status = 'running' WHERE run_id = $1", crashed)
    run_id = await runs.launch(request())  # launch recovers the set's crashed run itself
    await runs.wait(run_id)
    assert (await store.get(run_id))["status"] == "completed"


async def test_too_many_runs_at_once(store):
    gate = asyncio.Event()
    runs = make_runs(store, ScriptedEval(gate=gate), max_running=1)
    first = await runs.launch(request("a"))
    with pytest.raises(Conflict):
        await runs.launch(request("b"))
    gate.set()
    await runs.wait(first)


class ContextClient:
    """A client used as ``async with``: entered for the run, exited after it."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def __aenter__(self):
        self.events.append("enter")
        return self

    async def __aexit__(self, *exc) -> None:
        self.events.append("exit")


async def test_a_context_manager_client_is_entered_for_the_run(store):
    client = ContextClient()
    fake = ScriptedEval()
    runs = EvalRuns(store, lambda target: client, run_eval=fake, poll_seconds=0.02)
    await runs.wait(await runs.launch(request()))
    assert client.events == ["enter", "exit"] and fake.calls[0]["client"] is client


async def test_a_client_that_cannot_be_built_fails_the_launch(store):
    def factory(target: str):
        raise RuntimeError("no app")

    runs = EvalRuns(store, factory, run_eval=ScriptedEval(), poll_seconds=0.02)
    with pytest.raises(RuntimeError):
        await runs.launch(request())
    _, [run] = await store.list()
    assert run["status"] == "failed" and runs.running() == []
    working = make_runs(store, ScriptedEval())
    await working.wait(await working.launch(request()))  # the set is free
