"""What the eval routes call: start a run from a set name or inline questions, read runs and
their reports. Built once at start (``build_eval``) and kept as the ``eval`` component."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citu.errors import BadRequest, Conflict, NotFound
from citu.eval import set_sources
from citu.eval.golden import GoldenQuestion
from citu.eval.runs import ClientFactory, EvalRuns, RunRequest
from citu.eval.store import EvalStore

if TYPE_CHECKING:
    import asyncpg

HtmlRenderer = Callable[[dict[str, Any]], str]


def default_render_html(report: dict[str, Any]) -> str:
    # Imported on first use: the report module is only needed when a page is asked for.
    from citu.eval.html_report import render_html

    return render_html(report)


class EvalService:
    def __init__(
        self,
        store: EvalStore,
        runs: EvalRuns,
        sets_folder: Path,
        *,
        render_html: HtmlRenderer = default_render_html,
    ) -> None:
        self.store = store
        self.runs = runs
        self.sets_folder = sets_folder
        self.render_html = render_html

    async def start_run(
        self,
        *,
        target: str,
        concurrency: int,
        set_name: str | None = None,
        questions: Sequence[GoldenQuestion] | None = None,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        """Start a run in the background; the run as recorded."""
        if (set_name is None) == (questions is None):
            raise BadRequest(
                "请提供 set_name 或 questions 之一", missing_params=["set_name", "questions"]
            )
        if questions is not None:
            if not questions:
                raise BadRequest("questions 不能为空", invalid_params=["questions"])
            name = set_sources.inline_set_name(questions)
        else:
            assert set_name is not None
            questions = await asyncio.to_thread(
                set_sources.load_named_set, set_name, self.sets_folder
            )
            name = set_name
        run_id = await self.runs.launch(
            RunRequest(
                set_name=name,
                questions=list(questions),
                target=target,
                concurrency=concurrency,
                created_by=created_by,
            )
        )
        return await self.run(run_id)

    async def run(self, run_id: str) -> dict[str, Any]:
        run = await self.store.get(run_id)
        if run is None:
            raise NotFound(f"评测不存在: {run_id}")
        return run

    async def list_runs(self, **filters: Any) -> tuple[int, list[dict[str, Any]]]:
        return await self.store.list(**filters)

    async def cancel(self, run_id: str) -> None:
        await self.runs.cancel(run_id)

    async def report(self, run_id: str) -> dict[str, Any]:
        """The run's JSON report; Conflict while it has none (still running, or stopped early)."""
        run = await self.run(run_id)
        report = await self.store.report(run_id) if run["has_report"] else None
        if report is None:
            raise Conflict(f"评测报告尚未生成（状态: {run['status']}）: {run_id}")
        return report

    async def report_html(self, run_id: str) -> str:
        report = await self.report(run_id)
        return await asyncio.to_thread(self.render_html, report)

    async def aclose(self) -> None:
        await self.runs.aclose()


def in_process_clients() -> ClientFactory:
    """Clients that ask this app's own routes in-process (the running configuration).

    Called when a run is launched, inside the request that starts it, where the app is known.
    """

    def build(target: str) -> Any:
        from quart import current_app

        from citu.eval.clients import InProcessClient

        return InProcessClient(current_app._get_current_object())  # type: ignore[attr-defined]

    return build


async def build_eval(db: asyncpg.Pool, data_dir: Path) -> EvalService:
    """The ``eval`` component: its store on citu's pool, runs that recover crashed ones first."""
    store = EvalStore(db)
    runs = EvalRuns(store, in_process_clients())
    await runs.start()
    return EvalService(store, runs, set_sources.sets_dir(data_dir))
