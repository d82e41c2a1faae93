"""The ``data`` of each answer of the evaluation routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData


class EvalProgress(BaseModel):
    done: int = Field(description="questions answered so far")
    total: int = Field(description="questions in the run")
    percent: float


class EvalRun(BaseModel):
    run_id: str
    set_name: str = Field(description="demo, a set file's name, or inline-<hash>")
    target: str = Field(description="ask_agent | react | sql")
    concurrency: int
    status: str = Field(description="running | completed | failed | cancelled | interrupted")
    progress: EvalProgress
    summary: dict[str, Any] | None = Field(description="the report's summary, once finished")
    error_message: str | None
    cancel_requested: bool
    created_by: str | None
    created_at: str
    finished_at: str | None
    updated_at: str
    has_report: bool = Field(description="whether /report has something to show")


class EvalRunData(RouteData, EvalRun):
    pass


class EvalRunListData(RouteData):
    runs: list[EvalRun]
    total: int = Field(description="runs matching the filters, before paging")
    limit: int
    offset: int


class EvalCancelData(RouteData):
    run_id: str


class EvalReportData(RouteData):
    run_id: str
    report: dict[str, Any] = Field(description="the versioned JSON report of the run")
