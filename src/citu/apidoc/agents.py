"""The ``data`` of each answer of the question-answering routes, as ``/openapi.json`` shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData
from citu.apidoc.system import EndpointReport

CHART = (
    "a chart of the rows: a Vega-Lite v5 subset with its data inline (docs/charts.md); "
    "absent when no chart fits the rows or CITU_ENABLE_CHARTS is false"
)


class QueryResult(BaseModel):
    """Rows of a read-only query, capped at CITU_API_MAX_RETURN_ROWS."""

    columns: list[str] = Field(description="column names, in order")
    rows: list[dict[str, Any]] = Field(description="one object per row, keyed by column")
    row_count: int = Field(description="rows returned")
    total_row_count: int = Field(description="rows the query produced")
    is_limited: bool = Field(description="true when rows were cut at the cap")


class ClassificationInfo(BaseModel):
    confidence: float | None = Field(None, description="0..1")
    reason: str | None = Field(None, description="why the question went this way")
    method: str | None = Field(None, description="rules, llm, or the forced routing mode")


class AskAgentData(RouteData):
    type: str = Field(description="DATABASE (answered from data) | CHAT | …")
    conversation_id: str = Field(description="the conversation the turn was stored in")
    execution_path: list[str] = Field(description="the graph nodes that ran")
    classification_info: ClassificationInfo
    agent_version: str
    sql: str | None = Field(None, description="the SQL that was run (database answers)")
    records: QueryResult | None = Field(None, description="its rows (database answers)")
    summary: str | None = Field(None, description="the model's summary of the rows")
    chart: dict[str, Any] | None = Field(None, description=CHART)
    from_cache: bool = Field(description="answered from the question/answer cache")
    routing_mode_used: str | None = None
    routing_mode_source: str | None = Field(None, description="request | config")
    user_id: str
    context_used: bool = Field(description="earlier turns were given to the model")
    conversation_status: str = Field(description="new | continue | invalid_id_new")
    requested_conversation_id: str | None = Field(
        None, description="the id asked for, when a different one was used"
    )


class AgentHealthChecks(BaseModel):
    agent_creation: bool
    tools_import: bool
    llm_connection: bool = Field(description="the model answered the test question")
    classifier_ready: bool


class AgentHealthData(RouteData):
    status: str = Field(description="healthy | degraded | unhealthy")
    test_result: bool
    workflow_compiled: bool
    tools_count: int
    message: str | None = Field(None, description="present when healthy")
    checks: AgentHealthChecks
    endpoints: dict[str, EndpointReport] | None = Field(
        None, description="llm and embeddings, as probed"
    )


class AskData(RouteData):
    sql: str
    query_result: QueryResult
    conversation_id: str
    summary: str | None = Field(None, description="present when summaries are on")
    chart: dict[str, Any] | None = Field(None, description=CHART)


class AskCachedData(AskData):
    cached: bool = Field(description="answered from this user's recent identical question")


class RunSqlData(RouteData):
    sql: str
    query_result: QueryResult
    chart: dict[str, Any] | None = Field(None, description=CHART)
