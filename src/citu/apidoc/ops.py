"""The ``data`` of each answer of the operations routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData


class SystemStats(BaseModel):
    cpu_percent: float
    memory_percent: float
    disk_percent: float
    timestamp: str


class MetricsData(RouteData):
    """This worker's figures over its last CITU_METRICS_WINDOW_SIZE requests."""

    request_count: int
    error_count: int
    error_rate: float = Field(description="percent of requests answered 5xx")
    avg_response_time: float = Field(description="seconds")
    max_response_time: float = Field(description="seconds")
    min_response_time: float = Field(description="seconds")
    system_stats: SystemStats
    worker_pid: int


class MaintenanceData(RouteData):
    enabled: bool = Field(description="true: writes are refused with 503 on every worker")
    since: str | None = Field(description="when the switch last changed")
    reason: str | None
