"""The optional admin API key: off by default (the frontend keeps working), and when configured
every administrative route refuses a caller without it before touching anything."""

from __future__ import annotations

import pytest

from citu.app import create_app
from citu.settings import Settings

KEY = "admin-k3y-for-tests"
TASK = "task_20250101_000000"
RUN = "eval_20250101_000000_abcdef"

# Administrative routes: deletes, cleanups, training writes, the maintenance switch.
ADMIN_ROUTES = [
    ("POST", "/api/v0/conversation_cleanup", {"user_id": "wang1"}),
    ("POST", "/api/v0/conversation_limit_enforcement", {"dry_run": True}),
    ("POST", "/api/v0/embedding_cache_cleanup", None),
    ("POST", "/api/v0/qa_cache_cleanup", None),
    ("POST", "/api/v0/cache_cleanup", {"older_than_hours": 1}),
    (
        "POST",
        "/api/v0/training_data/create",
        {"data": {"training_data_type": "documentation", "content": "营业额说明"}},
    ),
    ("POST", "/api/v0/training_data/delete", {"ids": ["1-documentation"], "confirm": True}),
    (
        "POST",
        "/api/v0/training_data/update",
        {"id": "1-documentation", "training_data_type": "documentation", "content": "x"},
    ),
    ("POST", "/api/v0/training_data/upload", None),
    ("POST", "/api/v0/training_data/combine", {"collection_names": ["sql"]}),
    ("POST", "/api/v0/citu_train_question_sql", {"question": "q", "sql": "SELECT 1"}),
    ("POST", "/api/v0/training_error_question_sql", {"question": "q", "sql": "SELECT 1"}),
    ("POST", "/api/v0/maintenance/readonly", {"enabled": False}),
    ("DELETE", "/api/v0/qa_feedback/delete/1", None),
    ("POST", "/api/v0/qa_feedback/add_to_training", {"feedback_ids": [1]}),
    ("POST", "/api/v0/data_pipeline/tasks", {"task_name": "t"}),
    ("POST", f"/api/v0/data_pipeline/tasks/{TASK}/execute", {"execution_mode": "complete"}),
    ("POST", f"/api/v0/data_pipeline/tasks/{TASK}/cancel", None),
    ("DELETE", "/api/v0/data_pipeline/tasks", {"task_ids": [TASK], "confirm": True}),
    ("POST", f"/api/v0/data_pipeline/tasks/{TASK}/upload-table-list", None),
    ("POST", f"/api/v0/data_pipeline/tasks/{TASK}/table-list", {"tables": ["bss_company"]}),
    ("POST", f"/api/v0/data_pipeline/tasks/{TASK}/files", None),
    ("POST", "/api/v0/database/tables", {}),
    ("POST", "/api/v0/database/table/ddl", {"table": "bss_company"}),
    ("POST", "/api/v0/data_pipeline/vector/backup", {}),
    ("POST", "/api/v0/data_pipeline/vector/restore", {"backup_path": "x", "timestamp": "y"}),
    ("POST", "/api/v0/checkpoint/direct/cleanup", {"dry_run": True}),
    ("POST", "/api/v0/eval/runs", {"set_name": "missing.jsonl"}),
    ("POST", f"/api/v0/eval/runs/{RUN}/cancel", None),
]
# Sample values for the path parameters in /openapi.json.
PATH_SAMPLES = {"{task_id}": TASK, "{feedback_id}": "1", "{run_id}": RUN}


@pytest.fixture
async def keyed_client(settings: Settings):
    settings.admin_api_key = KEY
    app = create_app(settings)
    async with app.test_app():
        yield app.test_client()


async def call(client, method: str, path: str, body, headers=None):
    return await client.open(path, method=method, json=body, headers=headers or {})


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_route_refuses_a_caller_without_the_key(keyed_client, method, path, body):
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": f"Basic {KEY}"}):
        response = await call(keyed_client, method, path, body, headers)
        payload = await response.get_json()
        assert response.status_code == 401, (path, headers)
        assert payload["code"] == 401 and payload["data"]["error_type"] == "unauthorized"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_route_accepts_the_key(keyed_client, method, path, body):
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        response = await call(keyed_client, method, path, body, headers)
        assert response.status_code != 401, (path, await response.get_data(as_text=True))


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_route_is_open_while_no_key_is_configured(client, method, path, body):
    response = await call(client, method, path, body)
    assert response.status_code != 401


async def test_refused_training_write_stores_nothing(keyed_client):
    body = {"data": {"training_data_type": "documentation", "content": "营业额是日营收的合计"}}
    refused = await keyed_client.post("/api/v0/training_data/create", json=body)
    assert refused.status_code == 401
    stats = await (await keyed_client.get("/api/v0/training_data/stats")).get_json()
    assert stats["data"]["total_count"] == 0
    accepted = await keyed_client.post(
        "/api/v0/training_data/create", json=body, headers={"X-API-Key": KEY}
    )
    assert accepted.status_code == 200
    stats = await (await keyed_client.get("/api/v0/training_data/stats")).get_json()
    assert stats["data"]["total_count"] == 1


async def test_openapi_marks_exactly_the_admin_routes(client):
    spec = await (await client.get("/openapi.json")).get_json()
    assert spec["components"]["securitySchemes"]["AdminApiKey"]["name"] == "X-API-Key"
    secured = set()
    for path, operations in spec["paths"].items():
        for placeholder, sample in PATH_SAMPLES.items():
            path = path.replace(placeholder, sample)
        for method, operation in operations.items():
            if operation.get("security"):
                secured.add((method.upper(), path))
    assert secured == {(method, path) for method, path, _ in ADMIN_ROUTES}
