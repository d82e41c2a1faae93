"""The eval routes with the real harness (runner, in-process client, HTML report) on the real
app: a run started over HTTP asks the app's own routes and stores the runner's report."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("citu.eval.runner", reason="needs the eval harness (citu.eval.runner)")
pytest.importorskip("citu.eval.html_report", reason="needs the eval harness's HTML report")

QUESTIONS = [
    {
        "id": "h1",
        "question": "有多少家公司？",
        "sql": "SELECT count(*) FROM bss_company",
        "language": "zh",
    },
    {
        "id": "h2",
        "question": "How many service areas are there?",
        "sql": "SELECT count(*) FROM bss_service_area",
        "language": "en",
    },
]


async def test_a_run_over_http_with_the_real_harness(client):
    started = await client.post(
        "/api/v0/eval/runs", json={"questions": QUESTIONS, "target": "sql", "concurrency": 2}
    )
    assert started.status_code == 202, await started.get_data(as_text=True)
    run_id = (await started.get_json())["data"]["run_id"]
    for _ in range(600):
        run = (await (await client.get(f"/api/v0/eval/runs/{run_id}")).get_json())["data"]
        if run["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert run["status"] == "completed", run
    assert run["progress"]["done"] == 2 and run["summary"]["questions"] == 2
    report = (await (await client.get(f"/api/v0/eval/runs/{run_id}/report")).get_json())["data"]
    questions = report["report"]["questions"]
    assert [q["id"] for q in questions] == ["h1", "h2"]
    assert report["report"]["target"] == "sql" and report["report"]["mode"] == "in-process"
    page = await client.get(f"/api/v0/eval/runs/{run_id}/report?format=html")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "h1" in await page.get_data(as_text=True)
