"""``CITU_PROTECT_RUN_SQL``: ``citu_run_sql`` requires the admin key when the operator says so."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from citu.app import create_app
from citu.settings import Settings

KEY = "run-sql-admin-key"


@pytest.fixture
async def protected(settings):
    app = create_app(settings.model_copy(update={"protect_run_sql": True, "admin_api_key": KEY}))
    async with app.test_app():
        yield app.test_client()


async def test_a_protected_run_sql_refuses_a_caller_without_the_key(protected):
    for headers in ({}, {"X-API-Key": "wrong"}):
        response = await protected.post(
            "/api/v0/citu_run_sql", json={"sql": "SELECT 1"}, headers=headers
        )
        body = await response.get_json()
        assert response.status_code == 401 and body["data"]["error_type"] == "unauthorized"


async def test_a_protected_run_sql_runs_for_the_admin(protected):
    response = await protected.post(
        "/api/v0/citu_run_sql", json={"sql": "SELECT 1 AS one"}, headers={"X-API-Key": KEY}
    )
    assert response.status_code == 200, await response.get_data()


async def test_run_sql_stays_open_by_default_even_with_an_admin_key(settings):
    app = create_app(settings.model_copy(update={"admin_api_key": KEY}))
    async with app.test_app():
        response = await app.test_client().post(
            "/api/v0/citu_run_sql", json={"sql": "SELECT 1 AS one"}
        )
    assert response.status_code == 200


def test_protection_without_an_admin_key_fails_at_start():
    with pytest.raises(ValidationError, match="CITU_ADMIN_API_KEY"):
        Settings(_env_file=None, protect_run_sql=True)
