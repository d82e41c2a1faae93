"""Bodies the fuzzing found answered with 500: now 400 envelopes."""

from __future__ import annotations

import pytest

NOT_UTF8 = b"\xfe\x13N"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v0/training_data/query",  # quart-schema reads the body
        "/api/v0/cache_cleanup",  # the conversation routes read it themselves
        "/api/v0/conversation_limit_enforcement",
    ],
)
async def test_a_body_that_is_not_utf8_is_a_bad_request(client, path):
    response = await client.post(path, data=NOT_UTF8, headers={"Content-Type": "application/json"})
    body = await response.get_json()
    assert response.status_code == 400 and body["code"] == 400 and body["success"] is False


@pytest.mark.parametrize("value", [1e300, 10**30])
async def test_a_time_condition_beyond_any_date_is_a_bad_request(client, value):
    response = await client.post("/api/v0/cache_cleanup", json={"older_than_days": value})
    body = await response.get_json()
    assert response.status_code == 400
    assert body["data"]["invalid_params"] == ["older_than_days"]


async def test_a_task_offset_beyond_bigint_is_a_bad_request(client):
    response = await client.get("/api/v0/data_pipeline/tasks?offset=30096977622288068608")
    body = await response.get_json()
    assert response.status_code == 400 and body["data"]["invalid_params"] == ["offset"]


async def test_a_task_page_beyond_bigint_is_a_bad_request(client):
    response = await client.post("/api/v0/data_pipeline/tasks/query", json={"page": 10**20})
    body = await response.get_json()
    assert response.status_code == 400 and body["data"]["invalid_params"] == ["page"]
