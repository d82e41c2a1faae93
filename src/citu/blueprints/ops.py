"""Operations routes: metrics (JSON and Prometheus) and the maintenance read-only switch."""

from __future__ import annotations

import os

from pydantic import Field, StrictBool
from quart import Blueprint, Response
from quart_schema import validate_request

from citu import responses as r
from citu.apidoc import RequestModel, document_stream, responds
from citu.apidoc import ops as docs
from citu.ops.metrics import system_stats
from citu.security import require_admin
from citu.services import Services, services

bp = Blueprint("ops", __name__)


class ReadOnlyIn(RequestModel):
    enabled: StrictBool
    """true: refuse writes on every worker; false: back to normal."""
    reason: str | None = Field(default=None, max_length=500)
    """Shown to clients whose writes are refused."""


@bp.get("/api/v0/metrics")
@responds(docs.MetricsData)
async def get_metrics():
    """This worker's request figures (last 1,000 requests) and the machine's CPU, memory, disk."""
    svc = services()
    data = svc.ops.requests.snapshot()
    data["system_stats"] = system_stats(svc.settings.data_dir)
    data["worker_pid"] = os.getpid()  # figures are per worker; /metrics aggregates them all
    return r.reply(r.success_response("获取系统指标成功", data))


@bp.get("/metrics")
@document_stream("text/plain", "Prometheus text exposition format.")
async def prometheus_metrics():
    """Prometheus exposition: requests, LLM/embedding calls, pools, pipeline tasks."""
    text, content_type = await services().ops.exposition()
    return Response(text, status=200, content_type=content_type)


@bp.get("/api/v0/maintenance/readonly")
@responds(docs.MaintenanceData, errors=(503,))
async def get_read_only():
    """Whether the maintenance read-only mode is on."""
    state = await services().ops.maintenance.read()
    text = "系统处于只读维护模式" if state.enabled else "系统未处于只读维护模式"
    return r.reply(r.success_response(text, state.as_dict()))


@bp.post("/api/v0/maintenance/readonly")
@responds(docs.MaintenanceData)
@require_admin
@validate_request(ReadOnlyIn)
async def set_read_only(data: ReadOnlyIn):
    """Turn the maintenance read-only mode on or off for every worker (admin key)."""
    svc = services()
    state = await svc.ops.maintenance.set(data.enabled, data.reason)
    text = "只读维护模式已开启" if state.enabled else "只读维护模式已关闭"
    body = state.as_dict()
    if state.enabled:
        body["stopped"] = await _stop_writers(svc)
    return r.reply(r.success_response(text, body))


async def _stop_writers(svc: Services) -> dict[str, object]:
    """What turning read-only mode on stopped: pipeline runs, auto-training, write routes."""
    tasks = await svc.pipeline.stop_for_read_only()
    return {
        "pipeline_tasks": tasks,
        "auto_training": svc.settings.ask_auto_train,
        "training_writes": True,
        "write_routes": True,
    }
