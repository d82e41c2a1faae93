"""The answers of the service-level routes (no envelope), as ``/openapi.json`` shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IndexLinks(BaseModel):
    docs: str = Field(description="the API reference page")
    openapi: str = Field(description="this API's OpenAPI document")
    health: str = Field(description="component health")


class IndexOut(BaseModel):
    """The service banner."""

    message: str
    version: str
    links: IndexLinks


class HealthServices(BaseModel):
    redis: bool
    vanna: bool = Field(description="database and model both up (the old service's name)")
    database: bool = Field(description="citu's own PostgreSQL")
    business_database: bool = Field(description="the database questions are answered from")
    llm: bool = Field(description="configured and answering")
    embeddings: bool = Field(description="configured and answering")


class EndpointReport(BaseModel):
    """What the model or embedding endpoint answered to a probe (cached)."""

    status: str = Field(description="ok | unreachable | not_configured")
    url: str | None = Field(description="the base URL probed, without credentials")
    http_status: int | None = Field(description="the endpoint's HTTP status, if it answered")
    hint: str | None = Field(description="what to check, e.g. whether the base URL ends in /v1")
    detail: str | None = Field(description="one line naming the endpoint and the hint")


class HealthOut(BaseModel):
    """Always 200: ``degraded`` names what is down while the service keeps serving."""

    status: str = Field(description="healthy | degraded")
    react_agent_initialized: bool
    timestamp: str
    services: HealthServices
    endpoints: dict[str, EndpointReport] = Field(description="llm and embeddings, as probed")
    degraded_components: list[str] | None = Field(None, description="present when degraded")
    problems: list[str] | None = Field(
        None, description="one line per unreachable or unconfigured endpoint"
    )


class RedisProbeData(BaseModel):
    redis_connected: bool
    total_checkpoint_keys: int
    users_found: list[str]
    user_key_counts: dict[str, int]
    sample_keys: list[str]


class RedisProbeOut(BaseModel):
    """The debug probe's own shape (no envelope)."""

    success: bool
    data: RedisProbeData
    timestamp: str


class RedisProbeFailure(BaseModel):
    """Redis could not be reached."""

    success: bool
    error: str
    timestamp: str
