"""The eval routes on the real app (PostgreSQL, Redis), with a scripted run_eval injected into
the running ``eval`` component: start, list, progress, one run per set, cancel, reports."""

from __future__ import annotations

import asyncio
import json

import pytest

from citu.apidoc import eval as docs
from citu.apidoc.base import envelope, error_envelope
from citu.eval.golden import GoldenQuestion, dump_set
from citu.eval.set_sources import sets_dir

QUESTIONS = [
    {"id": "q1", "question": "有多少个服务区？", "sql": "SELECT 1", "language": "zh"},
    {"id": "q2", "question": "How many companies?", "sql": "SELECT 2", "language": "en"},
]


class ScriptedEval:
    """Answers every question, q1 right and q2 wrong; waits on ``gate`` before returning."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.gate = gate
        self.seen: list[list[str]] = []

    async def __call__(
        self, questions, *, target, client, concurrency, on_progress, cancel, set_name
    ):
        self.seen.append([q.id for q in questions])
        on_progress(1, len(questions))
        if self.gate is not None:
            done = asyncio.create_task(self.gate.wait())
            stop = asyncio.create_task(cancel.wait())
            await asyncio.wait([done, stop], return_when=asyncio.FIRST_COMPLETED)
            done.cancel()
            stop.cancel()
        on_progress(len(questions), len(questions))
        results = [
            {"id": q.id, "correct": q.id == "q1", "status": "ok", "predicted_sql": q.sql}
            for q in questions
        ]
        summary = {"accuracy": 0.5, "target": target, "concurrency": concurrency}
        return {"version": 1, "summary": summary, "questions": results}


@pytest.fixture
def scripted(services):
    fake = ScriptedEval()
    component = services.eval
    component.runs._run_eval = fake
    component.runs.client_factory = lambda target: object()
    component.runs.poll_seconds = 0.02
    component.render_html = lambda report: f"<html><body>{len(report['questions'])}</body></html>"
    return fake


async def wait_until_finished(client, run_id: str) -> dict:
    for _ in range(250):
        body = await (await client.get(f"/api/v0/eval/runs/{run_id}")).get_json()
        if body["data"]["status"] != "running":
            return body["data"]
        await asyncio.sleep(0.02)
    raise AssertionError("the run did not finish")


async def start(client, **body):
    return await client.post("/api/v0/eval/runs", json=body)


async def test_inline_run_from_start_to_report(client, scripted):
    response = await start(client, questions=QUESTIONS, target="sql", concurrency=3)
    assert response.status_code == 202
    body = await response.get_json()
    assert body["success"] and body["code"] == 202
    run = body["data"]
    assert run["status"] == "running" and run["target"] == "sql"
    assert run["set_name"].startswith("inline-") and run["progress"]["total"] == 2
    finished = await wait_until_finished(client, run["run_id"])
    assert finished["status"] == "completed" and finished["progress"]["done"] == 2
    assert finished["summary"] == {"accuracy": 0.5, "target": "sql", "concurrency": 3}
    assert scripted.seen == [["q1", "q2"]]

    listed = await (await client.get("/api/v0/eval/runs")).get_json()
    assert listed["data"]["total"] == 1 and listed["data"]["runs"][0]["run_id"] == run["run_id"]

    report = await client.get(f"/api/v0/eval/runs/{run['run_id']}/report")
    payload = await report.get_json()
    assert report.status_code == 200
    assert [q["id"] for q in payload["data"]["report"]["questions"]] == ["q1", "q2"]

    page = await client.get(f"/api/v0/eval/runs/{run['run_id']}/report?format=html")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert await page.get_data(as_text=True) == "<html><body>2</body></html>"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


async def test_a_set_file_from_the_sets_folder(client, services, scripted):
    folder = sets_dir(services.settings.data_dir)
    folder.mkdir(parents=True)
    dump_set([GoldenQuestion.model_validate(q) for q in QUESTIONS], folder / "mine.jsonl")
    response = await start(client, set_name="mine.jsonl")
    assert response.status_code == 202
    run = (await response.get_json())["data"]
    assert run["set_name"] == "mine.jsonl" and run["target"] == "ask_agent"
    assert (await wait_until_finished(client, run["run_id"]))["status"] == "completed"
    only = await client.get("/api/v0/eval/runs?set_name=mine.jsonl&status=completed")
    assert (await only.get_json())["data"]["total"] == 1
    none = await client.get("/api/v0/eval/runs?set_name=other")
    assert (await none.get_json())["data"]["runs"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"set_name": "demo.jsonl", "questions": QUESTIONS}, 400),
        ({"set_name": "../../pyproject.toml"}, 400),
        ({"set_name": "/etc/passwd.json"}, 400),
        ({"set_name": "missing.jsonl"}, 404),
        ({"questions": []}, 400),
        ({"questions": [{"id": "x"}]}, 400),
        ({"questions": QUESTIONS, "target": "shell"}, 400),
        ({"questions": QUESTIONS, "concurrency": 0}, 400),
        ({"questions": QUESTIONS, "concurrency": 33}, 400),
    ],
)
async def test_refused_bodies(client, scripted, body, status):
    response = await start(client, **body)
    payload = await response.get_json()
    assert response.status_code == status, payload
    assert payload["success"] is False and payload["code"] == status
    assert scripted.seen == []


async def test_one_run_per_set_then_cancel(client, scripted):
    scripted.gate = asyncio.Event()
    first = (await (await start(client, questions=QUESTIONS)).get_json())["data"]
    second = await start(client, questions=QUESTIONS, target="react")
    assert second.status_code == 409
    assert (await second.get_json())["data"]["error_type"] == "conflict"
    other = await start(client, questions=QUESTIONS[:1])  # another inline set
    assert other.status_code == 202

    pending = await client.get(f"/api/v0/eval/runs/{first['run_id']}/report")
    assert pending.status_code == 409

    cancelled = await client.post(f"/api/v0/eval/runs/{first['run_id']}/cancel")
    assert cancelled.status_code == 200
    assert (await cancelled.get_json())["data"]["run_id"] == first["run_id"]
    run = await wait_until_finished(client, first["run_id"])
    assert run["status"] == "cancelled" and run["cancel_requested"] is True
    again = await client.post(f"/api/v0/eval/runs/{first['run_id']}/cancel")
    assert again.status_code == 409
    scripted.gate.set()
    other_id = (await other.get_json())["data"]["run_id"]
    assert (await wait_until_finished(client, other_id))["status"] == "completed"


async def test_unknown_runs_are_404(client, scripted):
    for method, path in (
        ("GET", "/api/v0/eval/runs/eval_nope"),
        ("POST", "/api/v0/eval/runs/eval_nope/cancel"),
        ("GET", "/api/v0/eval/runs/eval_nope/report"),
        ("GET", "/api/v0/eval/runs/eval_nope/report?format=html"),
    ):
        response = await client.open(path, method=method)
        assert response.status_code == 404, path
        assert (await response.get_json())["data"]["error_type"] == "resource_not_found"


async def test_bad_list_and_report_queries(client, scripted):
    for path in (
        "/api/v0/eval/runs?limit=0",
        "/api/v0/eval/runs?limit=abc",
        "/api/v0/eval/runs?status=weird",
        "/api/v0/eval/runs/eval_x/report?format=pdf",
    ):
        response = await client.get(path)
        assert response.status_code == 400, path


async def test_a_failing_run_shows_no_upstream_text(client, services, scripted):
    async def broken(questions, **_):
        raise RuntimeError("connect to postgres://u:s3cret@db failed")

    services.eval.runs._run_eval = broken
    run = (await (await start(client, questions=QUESTIONS)).get_json())["data"]
    finished = await wait_until_finished(client, run["run_id"])
    assert finished["status"] == "failed"
    assert "s3cret" not in json.dumps(finished, ensure_ascii=False)
    assert (await client.get(f"/api/v0/eval/runs/{run['run_id']}/report")).status_code == 409


async def test_answers_match_their_documentation(client, scripted):
    started = await (await start(client, questions=QUESTIONS)).get_json()
    envelope(docs.EvalRunData).model_validate(started)
    run_id = started["data"]["run_id"]
    await wait_until_finished(client, run_id)
    one = await (await client.get(f"/api/v0/eval/runs/{run_id}")).get_json()
    envelope(docs.EvalRunData).model_validate(one)
    listed = await (await client.get("/api/v0/eval/runs")).get_json()
    envelope(docs.EvalRunListData).model_validate(listed)
    report = await (await client.get(f"/api/v0/eval/runs/{run_id}/report")).get_json()
    envelope(docs.EvalReportData).model_validate(report)
    cancel = await (await client.post(f"/api/v0/eval/runs/{run_id}/cancel")).get_json()
    error_envelope(409).model_validate(cancel)


async def test_the_demo_set_name_never_fails_with_500(client, scripted):
    # Without the bundled set the name is refused as unreadable; with it, the run starts.
    response = await start(client, set_name="demo")
    assert response.status_code in (202, 400), await response.get_data(as_text=True)
