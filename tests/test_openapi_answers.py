"""The documented answers are the real ones: responses of a sample of routes, successes and
failures, validate against the model ``/openapi.json`` shows for their status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

import pytest
from pydantic import BaseModel
from quart_schema.validation import QUART_SCHEMA_RESPONSE_ATTRIBUTE

import citu.apidoc
from citu.apidoc.base import error_envelope

REQUESTS = [
    ("GET", "/", None, 200),
    ("GET", "/health", None, 200),
    ("GET", "/api/v0/agent_health", None, 200),
    (
        "POST",
        "/api/v0/qa_feedback/add",
        {"question": "q", "sql": "SELECT 1", "is_thumb_up": True},
        200,
    ),
    ("POST", "/api/v0/qa_feedback/add", {}, 400),
    ("POST", "/api/v0/qa_feedback/query", {}, 200),
    ("GET", "/api/v0/qa_feedback/stats", None, 200),
    ("DELETE", "/api/v0/qa_feedback/delete/987654", None, 404),
    ("GET", "/api/v0/training_data/stats", None, 200),
    ("POST", "/api/v0/training_data/query", {"page": 1}, 200),
    (
        "POST",
        "/api/v0/training_data/create",
        {"data": {"training_data_type": "ddl", "ddl": "CREATE TABLE t (id int)"}},
        200,
    ),
    ("GET", "/api/v0/data_pipeline/tasks", None, 200),
    ("GET", "/api/v0/data_pipeline/tasks/task_20990101_000000", None, 404),
    ("GET", "/api/v0/user/wang1/conversations", None, 200),
    ("GET", "/api/v0/conversation_stats", None, 200),
    ("GET", "/api/v0/metrics", None, 200),
    ("GET", "/api/v0/maintenance/readonly", None, 200),
    ("POST", "/api/v0/citu_run_sql", {"sql": "SELECT 1 AS one"}, 200),
    ("POST", "/api/v0/citu_run_sql", {}, 400),
    ("GET", "/api/v0/react/users/wang1/conversations", None, 200),
    ("GET", "/api/v0/checkpoint/direct/stats", None, 200),
]


def documented_model(app, method: str, path: str, status: int) -> type[BaseModel]:
    endpoint, _ = app.url_map.bind("localhost").match(path, method=method)
    documented = getattr(app.view_functions[endpoint], QUART_SCHEMA_RESPONSE_ATTRIBUTE, {})
    if status in documented:
        return documented[status][0]
    return error_envelope(status)  # added for every route of its kind by the provider


@pytest.mark.parametrize(("method", "path", "body", "status"), REQUESTS)
async def test_answer_matches_its_documentation(client, app, method, path, body, status):
    response = await client.open(path, method=method, json=body)
    assert response.status_code == status, await response.get_data()
    model = documented_model(app, method, path, status)
    model.model_validate(await response.get_json())


def test_component_names_are_unique():
    """Components are keyed by class name: two models of one name would overwrite each other."""
    modules = defaultdict(set)
    for info in pkgutil.iter_modules(citu.apidoc.__path__):
        module = importlib.import_module(f"citu.apidoc.{info.name}")
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseModel):
                if obj.__module__ == module.__name__:
                    modules[obj.__name__].add(module.__name__)
    assert {name: found for name, found in modules.items() if len(found) > 1} == {}
