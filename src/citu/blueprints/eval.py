"""Evaluation routes (``/api/v0/eval/...``): start a run on a golden set in the background,
follow its progress, cancel it, and read its report as JSON or as an HTML page."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from quart import Blueprint, Response
from quart_schema import validate_querystring, validate_request

from citu.apidoc import RequestModel, responds
from citu.apidoc import eval as docs
from citu.eval.golden import GoldenQuestion
from citu.eval.set_sources import MAX_QUESTIONS
from citu.responses import reply, success_response
from citu.security import require_admin
from citu.services import services

bp = Blueprint("eval", __name__)

MAX_CONCURRENCY = 32
# The page shows model-written SQL and business rows: nothing on it may load or send anything.
REPORT_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
)


class EvalRunIn(RequestModel):
    set_name: str | None = Field(None, max_length=200)
    """``demo``, or the file name of a set in the server's ``eval_sets`` folder (not with
    ``questions``)."""
    questions: list[GoldenQuestion] | None = Field(None, max_length=MAX_QUESTIONS)
    """Golden questions sent inline (not with ``set_name``)."""
    target: Literal["ask_agent", "react", "sql"] = "ask_agent"
    """What answers the questions: the ask agent, the ReAct agent, or SQL generation only."""
    concurrency: int = Field(4, ge=1, le=MAX_CONCURRENCY)
    """Questions asked at the same time, 1..32."""


class EvalRunsQuery(RequestModel):
    limit: int = Field(20, ge=1, le=100)
    """Runs per page, 1..100."""
    offset: int = Field(0, ge=0, le=2**31 - 1)
    """Runs to skip (newest first)."""
    set_name: str | None = None
    """Only the runs of this set."""
    status: Literal["running", "completed", "failed", "cancelled", "interrupted"] | None = None
    """Only the runs in this status."""


class EvalReportQuery(RequestModel):
    format: Literal["json", "html"] = "json"
    """``json``: the report inside the envelope; ``html``: a self-contained page."""


@bp.post("/api/v0/eval/runs")
@responds(docs.EvalRunData, status=202, errors=(404, 409))
@require_admin
@validate_request(EvalRunIn)
async def start_eval_run(data: EvalRunIn):
    """Start an evaluation run in the background (202); one run per set at a time (409)."""
    run = await services().eval.start_run(
        target=data.target,
        concurrency=data.concurrency,
        set_name=data.set_name,
        questions=data.questions,
    )
    return reply(success_response("评测已在后台启动，请通过状态接口查询进度", run, code=202))


@bp.get("/api/v0/eval/runs")
@responds(docs.EvalRunListData)
@validate_querystring(EvalRunsQuery)
async def list_eval_runs(query_args: EvalRunsQuery):
    """Evaluation runs, newest first, with their progress and summary."""
    total, runs = await services().eval.list_runs(
        limit=query_args.limit,
        offset=query_args.offset,
        set_name=query_args.set_name,
        status=query_args.status,
    )
    data = {"runs": runs, "total": total, "limit": query_args.limit, "offset": query_args.offset}
    return reply(success_response(f"共 {total} 次评测", data))


@bp.get("/api/v0/eval/runs/<run_id>")
@responds(docs.EvalRunData)
async def get_eval_run(run_id: str):
    """One run: status, progress and, once finished, the report's summary."""
    return reply(success_response("查询成功", await services().eval.run(run_id)))


@bp.post("/api/v0/eval/runs/<run_id>/cancel")
@responds(docs.EvalCancelData, errors=(409,))
@require_admin
async def cancel_eval_run(run_id: str):
    """Ask a running run to stop; it ends ``cancelled`` (409 when it is not running)."""
    await services().eval.cancel(run_id)
    return reply(success_response("已请求取消评测", {"run_id": run_id}))


@bp.get("/api/v0/eval/runs/<run_id>/report")
@responds(docs.EvalReportData, errors=(409,))
@validate_querystring(EvalReportQuery)
async def get_eval_report(run_id: str, query_args: EvalReportQuery):
    """The run's report: JSON in the envelope, or with ``format=html`` a self-contained page
    (``text/html``). 409 while the run has no report yet."""
    if query_args.format == "html":
        page = await services().eval.report_html(run_id)
        response = Response(page, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = REPORT_PAGE_POLICY
        return response
    report = await services().eval.report(run_id)
    return reply(success_response("查询成功", {"run_id": run_id, "report": report}))
