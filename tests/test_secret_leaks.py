"""No secret anywhere: a model provider that rejects the key and quotes it in its error text
must not get the key to an anonymous client or into any log file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from citu.app import create_app

LLM_KEY = "leak-canary-llm-7f3a9c21"
EMBEDDING_KEY = "leak-canary-emb-2b8d4e60"
ADMIN_KEY = "leak-canary-admin-91c0f5"
SECRETS = (LLM_KEY, EMBEDDING_KEY, ADMIN_KEY)
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture
async def leaky(settings, fake_llm):
    """The app with distinctive keys, against a provider that rejects them and quotes them."""
    settings = settings.model_copy(
        update={
            "llm_api_key": LLM_KEY,
            "embedding_api_key": EMBEDDING_KEY,
            "admin_api_key": ADMIN_KEY,
        }
    )
    app = create_app(settings)
    async with app.test_app():
        fake_llm.reject_key(401)
        yield app.test_client(), Path(settings.log_dir)


def log_text(log_dir: Path) -> str:
    for logger in [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.FileHandler):
                handler.flush()
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(log_dir.glob("*.log*")))


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def sse_frames(body: bytes) -> list[dict]:
    return [
        json.loads(line[len("data: ") :])
        for line in body.decode().splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def error_data(body: dict) -> dict:
    """The error envelope's ``data`` (the ReAct routes keep the old top-level ``error``)."""
    return body.get("data") or {}


async def test_the_fake_quotes_the_key(leaky, fake_llm) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        reply = await http.post(
            f"{fake_llm.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {LLM_KEY}"},
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert reply.status_code == 401
    assert LLM_KEY in reply.text


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "/api/v0/ask_agent", {"question": "查询所有服务区的营业额"}),
        ("POST", "/api/v0/ask", {"question": "查询所有服务区的营业额"}),
        ("POST", "/api/v0/ask_cached", {"question": "查询所有服务区的营业额"}),
        ("POST", "/api/v0/ask_react_agent", {"question": "查询所有服务区的营业额"}),
        ("GET", "/api/v0/agent_health", None),
        ("POST", "/api/v0/citu_train_question_sql", {"sql": "SELECT 1 AS one"}),
        (
            "POST",
            "/api/v0/citu_train_question_sql",
            {"question": "一共几个", "sql": "SELECT 1 AS one"},
        ),
        (
            "POST",
            "/api/v0/training_data/create",
            {"data": [{"training_data_type": "sql", "sql": "SELECT 1 AS one"}]},
        ),
        (
            "POST",
            "/api/v0/training_error_question_sql",
            {"question": "一共几个", "sql": "SELECT 1 AS one"},
        ),
    ],
)
async def test_rejected_key_reaches_neither_client_nor_log(leaky, method, path, body) -> None:
    client, log_dir = leaky
    if method == "POST":
        response = await client.post(path, json=body, headers=ADMIN)
    else:
        response = await client.get(path, headers=ADMIN)
    raw = await response.get_data(as_text=True)
    assert_no_secret(raw)
    assert_no_secret(log_text(log_dir))
    assert "Incorrect API key" not in raw
    payload = json.loads(raw)
    assert payload["success"] is False or payload.get("data", {}).get("status") != "healthy"


@pytest.mark.parametrize(
    "path",
    ["/api/v0/ask_agent_stream", "/api/v0/ask_react_agent_stream"],
)
async def test_rejected_key_never_reaches_a_stream(leaky, path) -> None:
    client, log_dir = leaky
    response = await client.get(path, query_string={"question": "查询所有服务区的营业额"})
    raw = await response.get_data()
    frames = sse_frames(raw)
    assert frames and frames[-1]["success"] is False
    assert_no_secret(raw.decode())
    assert "Incorrect API key" not in raw.decode()
    assert_no_secret(log_text(log_dir))


# ---- the envelope: citu's text, a stable error_type, the request id ---------------------------


@pytest.mark.parametrize(
    "method,path,body,error_type",
    [
        ("POST", "/api/v0/ask_agent", {"question": "查询营业额"}, "embedding_auth_failed"),
        ("POST", "/api/v0/ask_react_agent", {"question": "查询营业额"}, "llm_auth_failed"),
        ("POST", "/api/v0/citu_train_question_sql", {"sql": "SELECT 1"}, "llm_auth_failed"),
    ],
)
async def test_upstream_failure_has_error_type_and_request_id(
    leaky, method, path, body, error_type
) -> None:
    client, _ = leaky
    response = await client.post(path, json=body, headers=ADMIN)
    payload = await response.get_json()
    assert response.status_code in (500, 503)
    assert payload["success"] is False
    assert payload["data"]["error_type"] == error_type
    assert payload["data"]["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "path,error_type",
    [
        ("/api/v0/ask_agent_stream", "embedding_auth_failed"),
        ("/api/v0/ask_react_agent_stream", "llm_auth_failed"),
    ],
)
async def test_stream_error_frame_has_error_type_and_request_id(leaky, path, error_type) -> None:
    client, _ = leaky
    response = await client.get(path, query_string={"question": "查询营业额"})
    last = sse_frames(await response.get_data())[-1]
    assert last["data"]["type"] == "error"
    assert last["data"]["error_type"] == error_type
    assert last["data"]["request_id"] == response.headers["X-Request-ID"]


# ---- database error texts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql,quoted,expected",
    [
        ("SELECT 'canary-value-77'::int AS x", "canary-value-77", "数据格式无效"),
        ("SELECT 1/0 AS x", "division", "除数为零"),
        ("SELECT * FROM canary_missing_table_77", "canary_missing_table_77", "不存在的表"),
        ("SELECT canary_col_77 FROM bss_company", "canary_col_77", "不存在的列"),
        ("SELECT FROM WHERE canary_77", "canary_77", "语法错误"),
    ],
)
async def test_postgresql_text_never_reaches_the_client(client, settings, sql, quoted, expected):
    response = await client.post("/api/v0/citu_run_sql", json={"sql": sql})
    raw = await response.get_data(as_text=True)
    assert response.status_code in (422, 500)
    assert quoted not in raw
    payload = json.loads(raw)
    if response.status_code == 500:  # refused by the guard (422) needs no database text
        assert expected in payload["data"]["response"]
        assert payload["data"]["error_type"] == "sql_error"
    assert payload["data"]["request_id"] == response.headers["X-Request-ID"]
    # The detail is in the log, for the operator.
    if response.status_code == 500:
        assert quoted in log_text(Path(settings.log_dir)) or quoted == "division"


async def test_postgresql_text_of_a_generated_query_never_reaches_the_client(client, fake_llm):
    from fakes.ask_script import script

    # EXPLAIN accepts it; the cast fails only on the data ('H01' is a value in the table).
    script(fake_llm, sql="SELECT company_no::int AS 编号 FROM bss_company;")
    for path in ("/api/v0/ask", "/api/v0/ask_agent"):
        response = await client.post(
            path, json={"question": "公司编号", "routing_mode": "database_direct"}
        )
        raw = await response.get_data(as_text=True)
        assert response.status_code >= 400
        assert "H01" not in raw and "invalid input syntax" not in raw


@pytest.mark.parametrize("path", ["/api/v0/ask_react_agent", "/api/v0/ask_agent", "/api/v0/ask"])
async def test_a_500_quoting_the_key_is_llm_unavailable(leaky, fake_llm, path) -> None:
    client, log_dir = leaky
    fake_llm.reject_key(500)
    response = await client.post(path, json={"question": "查询所有服务区的营业额"})
    raw = await response.get_data(as_text=True)
    assert_no_secret(raw)
    assert_no_secret(log_text(log_dir))
    payload = json.loads(raw)
    if path == "/api/v0/ask_react_agent":  # a 5xx is retried, then answered with an apology
        assert "网络连接问题" in payload["data"]["response"]
    else:
        assert payload["data"]["error_type"] in ("llm_unavailable", "embedding_unavailable")
