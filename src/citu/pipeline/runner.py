"""Background execution of pipeline runs inside the serving process (asyncio tasks, no children).

``execute`` takes the task's database lock before answering, so a second execute — from this
worker or another — is refused at once. Each run polls its ``cancel_requested`` flag, so a
cancel reaches it whichever worker received the request. ``aclose`` cancels and awaits every
run at shutdown; an interrupted run is recorded as failed before its lock is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from citu import failures
from citu.errors import Conflict, NotFound
from citu.ops.maintenance import ReadOnlyMode
from citu.pipeline.engine import PipelineEngine, RunOptions, StepFailed
from citu.pipeline.tasks import TaskStore

log = logging.getLogger("citu.pipeline.runner")

CANCELLED_TEXT = "任务已被用户取消"
SHUTDOWN_TEXT = "任务执行中断：服务已停止"
READ_ONLY_TEXT = "任务已停止：系统进入只读维护模式，维护结束后请重新执行"


class PipelineRunner:
    def __init__(
        self,
        store: TaskStore,
        engine: PipelineEngine,
        *,
        poll_seconds: float = 1.0,
        recovery_interval: float = 60.0,
        max_running: int = 3,
        read_only: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.recovery_interval = recovery_interval
        self.max_running = max_running
        self.read_only = read_only  # polled with the cancel flag: read-only mode stops runs
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._stop_reasons: dict[str, str] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> list[str]:
        """Fail the runs a crash left ``in_progress`` (their lock is free), then keep sweeping:
        another worker may die while this one lives on."""
        recovered = await self.store.recover_interrupted()
        if self.recovery_interval > 0:
            self._sweeper = asyncio.create_task(self._sweep(), name="pipeline:recovery")
        return recovered

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.recovery_interval)
            try:
                await self.store.recover_interrupted()
            except Exception:  # noqa: BLE001 - the next sweep retries
                log.exception("pipeline recovery sweep failed")

    def running(self) -> list[str]:
        return list(self._runs)

    async def execute(self, task_id: str, options: RunOptions) -> asyncio.Task[None]:
        if self._closing:
            raise Conflict("服务正在关闭，无法启动任务")
        if not await self.store.exists(task_id):
            raise NotFound(f"任务不存在: {task_id}")
        if len(self._runs) >= self.max_running:
            raise Conflict(f"同时执行的任务数已达上限({self.max_running})，请稍后再试")
        conn = await self.store.try_lock(task_id)
        if conn is None:
            raise Conflict(f"任务正在执行中，请等待当前执行完成: {task_id}")
        try:
            await self.store.start_run(task_id)
        except BaseException:
            await self.store.unlock(conn, task_id)
            raise
        run = asyncio.create_task(self._run(task_id, options, conn), name=f"pipeline:{task_id}")
        self._runs[task_id] = run
        return run

    async def _run(self, task_id: str, options: RunOptions, conn) -> None:
        watcher = asyncio.create_task(self._watch_cancel(task_id, asyncio.current_task()))
        try:
            await self.engine.run(task_id, options)
        except asyncio.CancelledError:
            reason = (
                SHUTDOWN_TEXT if self._closing else self._stop_reasons.get(task_id, CANCELLED_TEXT)
            )
            log.warning("pipeline task %s stopped: %s", task_id, reason)
            await asyncio.shield(self.store.fail_interrupted(task_id, reason))
        except StepFailed:
            pass  # recorded by the engine
        except ReadOnlyMode:
            log.warning("pipeline task %s stopped: maintenance read-only mode", task_id)
            await self.store.fail_interrupted(task_id, READ_ONLY_TEXT)
        except Exception as error:  # noqa: BLE001 - a background run must record, not vanish
            log.exception("pipeline task %s failed", task_id)
            await self.store.fail_interrupted(
                task_id, f"任务执行失败: {failures.public_text(error)}"
            )
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await asyncio.shield(self.store.unlock(conn, task_id))
            self._runs.pop(task_id, None)
            self._stop_reasons.pop(task_id, None)

    async def _watch_cancel(self, task_id: str, run: asyncio.Task | None) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                requested = await self.store.cancel_requested(task_id)
            except Exception:  # noqa: BLE001 - a failed poll is retried on the next tick
                continue
            if requested and run is not None:
                run.cancel()
                return
            if self.read_only is not None and run is not None and await self._read_only():
                self.stop(task_id, READ_ONLY_TEXT)
                return

    async def _read_only(self) -> bool:
        try:
            return await self.read_only()  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - an unreadable switch must not stop a run
            return False

    def stop(self, task_id: str, reason: str) -> bool:
        """Stop this worker's run of ``task_id``, recording ``reason`` as its failure."""
        run = self._runs.get(task_id)
        if run is None:
            return False
        self._stop_reasons[task_id] = reason
        run.cancel()
        return True

    def stop_all_for_read_only(self) -> list[str]:
        """Stop every run of this worker at once (other workers' runs stop at their next poll
        or write); the ids stopped."""
        return [task_id for task_id in list(self._runs) if self.stop(task_id, READ_ONLY_TEXT)]

    async def cancel(self, task_id: str) -> bool:
        """Ask the run of ``task_id`` to stop; False when it is not running anywhere."""
        if not await self.store.exists(task_id):
            raise NotFound(f"任务不存在: {task_id}")
        local = self._runs.get(task_id)
        if local is None and not await self.store.is_running(task_id):
            return False
        await self.store.request_cancel(task_id)
        if local is not None:
            local.cancel()
        return True

    async def aclose(self) -> None:
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        runs = list(self._runs.values())
        for run in runs:
            run.cancel()
        if runs:
            await asyncio.gather(*runs, return_exceptions=True)
