"""A DSN password given in the query string (``?password=``, ``sslpassword``…) is masked in
every task read and in the ``task_config.json`` download, as the userinfo password is."""

from __future__ import annotations

import asyncio
import json

import pytest

BASE = "/api/v0/data_pipeline"
PASSWORD = "pw-canary-51f0"
SSL_PASSWORD = "sslpw-canary-9a3e"
DSN = (
    f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/nowhere"
    f"?sslmode=disable&password={PASSWORD}&sslpassword={SSL_PASSWORD}&sslkey=/keys/client.key"
)
MASKED = (
    "postgresql://postgres:***@127.0.0.1:1/nowhere"
    "?sslmode=disable&password=***&sslpassword=***&sslkey=***"
)


@pytest.fixture
def settings(settings):
    settings.pipeline_llm_retry_delay = 0.01
    settings.pipeline_cancel_poll_seconds = 0.1
    return settings


def assert_masked(text: str) -> None:
    assert PASSWORD not in text
    assert SSL_PASSWORD not in text
    assert "/keys/client.key" not in text


async def test_query_string_passwords_are_masked_in_reads_and_download(client, settings):
    created = await client.post(f"{BASE}/tasks", json={"db_connection": DSN})
    assert created.status_code == 201
    assert_masked(await created.get_data(as_text=True))
    task_id = (await created.get_json())["data"]["task_id"]
    await client.post(f"{BASE}/tasks/{task_id}/table-list", json={"tables": ["bss_company"]})
    started = await client.post(f"{BASE}/tasks/{task_id}/execute", json={})
    assert started.status_code == 202
    for _ in range(600):
        status = (await (await client.get(f"{BASE}/tasks/{task_id}")).get_json())["data"]
        if status["status"] != "in_progress":
            break
        await asyncio.sleep(0.05)
    assert status["status"] == "failed"
    assert status["parameters"]["db_connection"] == MASKED

    reads = [
        await client.get(f"{BASE}/tasks/{task_id}"),
        await client.get(f"{BASE}/tasks"),
        await client.post(f"{BASE}/tasks/query", json={}),
        await client.get(f"{BASE}/tasks/{task_id}/logs"),
        await client.get(f"{BASE}/tasks/{task_id}/files"),
    ]
    for response in reads:
        assert response.status_code == 200, await response.get_data()
        assert_masked(await response.get_data(as_text=True))

    download = await client.get(f"{BASE}/tasks/{task_id}/files/task_config.json")
    assert download.status_code == 200
    text = await download.get_data(as_text=True)
    assert_masked(text)
    assert json.loads(text)["parameters"]["db_connection"] == MASKED

    logs = "\n".join(p.read_text(encoding="utf-8") for p in settings.log_dir.glob("*.log"))
    assert_masked(logs)


async def test_rejected_llm_key_is_not_in_task_reads_logs_or_files(client, settings, fake_llm):
    key = settings.llm_api_key
    created = await client.post(f"{BASE}/tasks", json={})
    task_id = (await created.get_json())["data"]["task_id"]
    await client.post(f"{BASE}/tasks/{task_id}/table-list", json={"tables": ["bss_company"]})
    fake_llm.reject_key(401)
    started = await client.post(f"{BASE}/tasks/{task_id}/execute", json={})
    assert started.status_code == 202
    for _ in range(600):
        status = (await (await client.get(f"{BASE}/tasks/{task_id}")).get_json())["data"]
        if status["status"] != "in_progress":
            break
        await asyncio.sleep(0.05)
    assert status["status"] == "failed"
    seen = [json.dumps(status, ensure_ascii=False)]
    for path in ("", "/logs", "/files"):
        seen.append(
            await (await client.get(f"{BASE}/tasks/{task_id}{path}")).get_data(as_text=True)
        )
    task_dir = settings.data_dir / "data_pipeline" / "training_data" / task_id
    seen += [
        p.read_text(encoding="utf-8", errors="replace") for p in task_dir.rglob("*") if p.is_file()
    ]
    seen += [p.read_text(encoding="utf-8") for p in settings.log_dir.glob("*.log")]
    for text in seen:
        assert key not in text
        assert "Incorrect API key" not in text or "provided: ***" in text
    assert "AI服务认证失败" in seen[0]


async def test_a_task_config_written_by_an_older_version_is_masked_on_download(client, settings):
    created = await client.post(f"{BASE}/tasks", json={})
    task_id = (await created.get_json())["data"]["task_id"]
    task_dir = settings.data_dir / "data_pipeline" / "training_data" / task_id
    task_dir.mkdir(parents=True, exist_ok=True)
    (task_dir / "task_config.json").write_text(
        json.dumps({"task_id": task_id, "parameters": {"db_connection": DSN}}), encoding="utf-8"
    )
    download = await client.get(f"{BASE}/tasks/{task_id}/files/task_config.json")
    assert download.status_code == 200
    text = await download.get_data(as_text=True)
    assert_masked(text)
    assert json.loads(text)["parameters"]["db_connection"] == MASKED
    assert "attachment" in download.headers["Content-Disposition"]
