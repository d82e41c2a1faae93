"""Evaluation runs in the background of the serving process (asyncio tasks, like pipeline runs).

``launch`` records the run and takes its lock before answering, so a second run of the same set
— from this worker or another — is refused at once (409). A watcher per run writes progress to
the database and polls the cancel flag, so a cancel reaches the run whichever worker received
it; cancelling first asks the runner to stop (its ``cancel`` event, so it can return a partial
report) and stops the task itself after a grace period. ``aclose`` stops every run at shutdown
and marks it ``interrupted``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from citu import failures
from citu.errors import Conflict, NotFound
from citu.eval.store import EvalStore, RunAlreadyActive, new_run_id

log = logging.getLogger("citu.eval.runs")

TARGETS = ("ask_agent", "react", "sql")
SHUTDOWN_TEXT = "评测中断：服务已停止"
CANCELLED_TEXT = "评测已被用户取消"

# run_eval(questions, *, target, client, concurrency, on_progress, cancel) -> report
RunEval = Callable[..., Awaitable[dict[str, Any]]]
# target -> the client the runner asks; entered for the run when it is an async context
# manager, else its ``aclose`` (if any) is awaited after the run
ClientFactory = Callable[[str], Any]


def default_run_eval() -> RunEval:
    # Imported when a run starts: the runner pulls in the scorer and the report code.
    from citu.eval.runner import run_eval

    return run_eval


@dataclass
class RunRequest:
    set_name: str
    questions: Sequence[Any]  # GoldenQuestion
    target: str
    concurrency: int = 4
    created_by: str | None = None


@dataclass
class _Run:
    run_id: str
    task: asyncio.Task[None] | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    progress: tuple[int, int] = (0, 0)
    written: tuple[int, int] = (0, 0)


class EvalRuns:
    def __init__(
        self,
        store: EvalStore,
        client_factory: ClientFactory,
        *,
        run_eval: RunEval | None = None,
        poll_seconds: float = 1.0,
        cancel_grace_seconds: float = 10.0,
        max_running: int = 2,
    ) -> None:
        self.store = store
        self.client_factory = client_factory
        self._run_eval = run_eval
        self.poll_seconds = poll_seconds
        self.cancel_grace_seconds = cancel_grace_seconds
        self.max_running = max_running  # runs are CPU and model heavy: a few at a time
        self._runs: dict[str, _Run] = {}
        self._closing = False

    async def start(self) -> list[str]:
        """Mark the runs a crash left ``running`` (their lock is free) as interrupted."""
        return await self.store.recover_interrupted()

    def running(self) -> list[str]:
        return list(self._runs)

    async def launch(self, request: RunRequest) -> str:
        """Record and start a run in the background; its id."""
        if self._closing:
            raise Conflict("服务正在关闭，无法启动评测")
        if len(self._runs) >= self.max_running:
            raise Conflict(f"同时执行的评测数已达上限({self.max_running})，请稍后再试")
        await self.store.recover_interrupted(request.set_name)  # a crashed run must not block
        run = _Run(run_id=new_run_id())
        conn = await self.store.try_lock(run.run_id)
        if conn is None:  # a fresh random id: only a collision gets here
            raise Conflict("评测编号冲突，请重试")
        try:
            await self.store.create(
                set_name=request.set_name,
                target=request.target,
                concurrency=request.concurrency,
                total=len(request.questions),
                created_by=request.created_by,
                run_id=run.run_id,
            )
        except RunAlreadyActive:
            await self.store.unlock(conn, run.run_id)
            raise Conflict(f"评测集正在评测中，请等待当前评测完成: {request.set_name}") from None
        except BaseException:
            await self.store.unlock(conn, run.run_id)
            raise
        try:
            # Built here, in the caller's context: an in-process client needs the running app.
            client = self.client_factory(request.target)
        except BaseException:
            await self.store.finish(run.run_id, "failed", error="评测客户端创建失败")
            await self.store.unlock(conn, run.run_id)
            raise
        run.progress = run.written = (0, len(request.questions))
        self._runs[run.run_id] = run
        run.task = asyncio.create_task(
            self._run(run, request, conn, client), name=f"eval:{run.run_id}"
        )
        return run.run_id

    async def wait(self, run_id: str) -> None:
        """Until this worker's run of ``run_id`` has ended (tests, the CLI)."""
        run = self._runs.get(run_id)
        if run is not None and run.task is not None:
            await asyncio.shield(run.task)

    async def _run(self, run: _Run, request: RunRequest, conn: Any, client: Any) -> None:
        watcher = asyncio.create_task(self._watch(run), name=f"eval-watch:{run.run_id}")
        try:
            report = await self._execute(run, request, client)
            status = "cancelled" if run.cancel.is_set() else "completed"
            await self._write_progress(run)
            await self.store.finish(run.run_id, status, report=report, error=_cancel_text(status))
        except asyncio.CancelledError:
            status = "cancelled" if run.cancel.is_set() and not self._closing else "interrupted"
            text = CANCELLED_TEXT if status == "cancelled" else SHUTDOWN_TEXT
            log.warning("eval run %s stopped: %s", run.run_id, text)
            await asyncio.shield(self._finish_quietly(run, status, text))
        except Exception as error:  # noqa: BLE001 - a background run must record, not vanish
            log.exception("eval run %s failed", run.run_id)
            text = f"评测执行失败: {failures.public_text(error)}"
            await asyncio.shield(self._finish_quietly(run, "failed", text))
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await asyncio.shield(self.store.unlock(conn, run.run_id))
            self._runs.pop(run.run_id, None)

    async def _execute(self, run: _Run, request: RunRequest, client: Any) -> dict[str, Any]:
        run_eval = self._run_eval or default_run_eval()

        def on_progress(done: int, total: int) -> None:
            run.progress = (done, total)

        async with _opened(client) as ready:
            return await run_eval(
                list(request.questions),
                target=request.target,
                client=ready,
                concurrency=request.concurrency,
                on_progress=on_progress,
                cancel=run.cancel,
                set_name=request.set_name,
            )

    async def _finish_quietly(self, run: _Run, status: str, text: str) -> None:
        try:
            await self._write_progress(run)
            await self.store.finish(run.run_id, status, error=text)
        except Exception:  # noqa: BLE001 - recovery marks it interrupted later
            log.exception("recording the end of eval run %s failed", run.run_id)

    async def _watch(self, run: _Run) -> None:
        """Write progress and poll the cancel flag; past the grace period, stop the task."""
        cancelled_at: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_seconds)
            with contextlib.suppress(Exception):  # a failed write or poll retries next tick
                await self._write_progress(run)
                if not run.cancel.is_set() and await self.store.cancel_requested(run.run_id):
                    run.cancel.set()
            if run.cancel.is_set():
                cancelled_at = cancelled_at if cancelled_at is not None else loop.time()
                if loop.time() - cancelled_at >= self.cancel_grace_seconds and run.task:
                    run.task.cancel()
                    return

    async def _write_progress(self, run: _Run) -> None:
        if run.progress != run.written:
            done, total = run.progress
            await self.store.progress(run.run_id, done, total)
            run.written = (done, total)

    async def cancel(self, run_id: str) -> None:
        """Ask the run to stop; NotFound when there is no such run, Conflict when it has ended."""
        if await self.store.get(run_id) is None:
            raise NotFound(f"评测不存在: {run_id}")
        if not await self.store.request_cancel(run_id):
            raise Conflict(f"评测未在执行中: {run_id}")
        local = self._runs.get(run_id)
        if local is not None:
            local.cancel.set()

    async def aclose(self) -> None:
        self._closing = True
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def _opened(client: Any) -> AsyncIterator[Any]:
    if hasattr(client, "__aenter__"):
        async with client as entered:
            yield entered if entered is not None else client
        return
    try:
        yield client
    finally:
        closer = getattr(client, "aclose", None)
        if closer is not None:
            result = closer()
            if inspect.isawaitable(result):
                await result


def _cancel_text(status: str) -> str | None:
    return CANCELLED_TEXT if status == "cancelled" else None
