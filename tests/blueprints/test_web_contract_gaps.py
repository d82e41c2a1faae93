"""Answers that differed from the old service's recorded traffic, now the same."""

from __future__ import annotations

import pytest

BASE = "/api/v0/data_pipeline"
TEXT = {"Content-Type": "text/plain"}


async def new_task(client) -> str:
    response = await client.post(f"{BASE}/tasks", json={"business_context": "测试"})
    assert response.status_code == 201
    return (await response.get_json())["data"]["task_id"]


async def test_task_query_reads_a_body_that_is_not_json_as_empty(client):
    await new_task(client)
    response = await client.post(f"{BASE}/tasks/query", data="page=2", headers=TEXT)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["data"]["pagination"]["page"] == 1 and body["data"]["tasks"]


async def test_task_query_still_refuses_malformed_json(client):
    headers = {"Content-Type": "application/json"}
    response = await client.post(f"{BASE}/tasks/query", data="{page", headers=headers)
    assert response.status_code == 400


async def test_vector_backup_reads_a_body_that_is_not_json_as_empty(client):
    response = await client.post(f"{BASE}/vector/backup", data="task_id=x", headers=TEXT)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["data"]["backup_performed"] is True
    assert body["data"]["backup_directory"] == "data_pipeline/training_data/vector_bak"


@pytest.mark.parametrize("query", ["limit=abc", "limit=1.5", "offset=abc", "limit=&offset="])
async def test_task_list_reads_a_non_number_as_the_default(client, query):
    await new_task(client)
    response = await client.get(f"{BASE}/tasks?{query}")
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["data"]["limit"] == 50 and body["data"]["offset"] == 0


@pytest.mark.parametrize("query", ["limit=0", "offset=-1"])
async def test_task_list_still_refuses_numbers_out_of_range(client, query):
    response = await client.get(f"{BASE}/tasks?{query}")
    assert response.status_code == 400


async def test_log_query_without_a_log_file_describes_an_empty_file(client):
    task_id = await new_task(client)
    response = await client.post(f"{BASE}/tasks/{task_id}/logs/query", json={})
    body = await response.get_json()
    assert response.status_code == 200, body
    info = body["data"]["log_file_info"]
    assert info["exists"] is False and info["error"] == "日志文件不存在"
    assert info["file_size"] == 0 and info["file_size_formatted"] == "0 B"
    assert info["total_lines"] == 0 and info["last_modified"] is None


async def test_redis_probe_counts_each_users_checkpoints(client, fake_llm, redis):
    # ReAct memory lives in PostgreSQL now: the probe still reports each user's checkpoints.
    fake_llm.reply("你好！")
    response = await client.post(
        "/api/v0/ask_react_agent", json={"question": "你好", "thread_id": "wang1:20250731090000000"}
    )
    assert response.status_code == 200, await response.get_json()
    await redis.set("checkpoint:li:20250101000000000:x", "1")
    body = await (await client.get("/api/test/redis")).get_json()
    data = body["data"]
    assert body["success"] is True and data["redis_connected"] is True
    assert data["user_key_counts"]["wang1"] >= 1 and data["user_key_counts"]["li"] == 1
    assert data["users_found"] == ["li", "wang1"]
    assert data["total_checkpoint_keys"] == sum(data["user_key_counts"].values())
    assert data["sample_keys"] == ["checkpoint:li:20250101000000000:x"]
