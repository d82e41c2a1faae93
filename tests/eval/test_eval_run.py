"""``citu eval run --set demo`` in-process against the scripted demo model: exact scores."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from citu.eval.cli import run_command
from citu.eval.golden import load_set
from eval.demo_script import script
from fakes.demo_llm import install_demo_mode

DEMO = load_set("demo")


def args(out: Path, target: str = "ask_agent", **extra) -> argparse.Namespace:
    values = {
        "set": "demo",
        "target": target,
        "url": None,
        "concurrency": 8,
        "out": out,
        "baseline": None,
        "max_drop": None,
        "max_latency_rise": None,
        "no_progress": False,
    }
    return argparse.Namespace(**{**values, **extra})


@pytest.mark.parametrize("target", ["ask_agent", "sql", "react"])
async def test_scripted_demo_run_scores_exactly(fake_llm, settings, tmp_path: Path, target: str):
    scripted = script(DEMO, "a")
    install_demo_mode(fake_llm, scripted.overrides)
    err = io.StringIO()
    assert await run_command(args(tmp_path, target), settings, stderr=err) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    statuses = {q["id"]: q["status"] for q in report["questions"]}
    assert statuses == scripted.statuses
    summary = report["summary"]
    assert summary["correct"] == len(scripted.correct)
    assert summary["accuracy"] == round(len(scripted.correct) * 100 / len(DEMO), 2)
    assert f"{len(DEMO)}/{len(DEMO)}" in err.getvalue()


async def test_baseline_comparison_reports_exactly_the_fixed_and_broken_questions(
    fake_llm, settings, tmp_path: Path
):
    first, second = script(DEMO, "a"), script(DEMO, "b")
    install_demo_mode(fake_llm, first.overrides)
    assert await run_command(args(tmp_path / "a"), settings, stderr=io.StringIO()) == 0
    fake_llm.reset()
    install_demo_mode(fake_llm, second.overrides)
    baseline = tmp_path / "a" / "report.json"
    err = io.StringIO()
    code = await run_command(
        args(tmp_path / "b", baseline=baseline, max_drop=0.0, max_latency_rise=None),
        settings,
        stderr=err,
    )
    comparison = json.loads((tmp_path / "b" / "report.json").read_text("utf-8"))["comparison"]
    assert comparison["fixed"] == sorted(second.correct - first.correct)
    assert comparison["broken"] == sorted(first.correct - second.correct)
    accuracy = comparison["deltas"]["accuracy"]
    expected_delta = round((len(second.correct) - len(first.correct)) * 100 / len(DEMO), 3)
    assert accuracy["delta"] == pytest.approx(expected_delta, abs=0.01)
    # Variant b answers more questions right: no accuracy drop, the gate passes.
    assert code == 0 and "regression" not in err.getvalue()

    # The other way round accuracy drops, past a gate of 1 point: exit 1, with the reason.
    err = io.StringIO()
    fake_llm.reset()
    install_demo_mode(fake_llm, first.overrides)
    code = await run_command(
        args(tmp_path / "c", baseline=tmp_path / "b" / "report.json", max_drop=1.0),
        settings,
        stderr=err,
    )
    assert code == 1 and "accuracy dropped" in err.getvalue()


async def test_three_runs_give_identical_scores(fake_llm, settings, tmp_path: Path):
    install_demo_mode(fake_llm, script(DEMO, "a").overrides)
    scores = []
    for run in range(3):
        out = tmp_path / str(run)
        assert await run_command(args(out), settings, stderr=io.StringIO()) == 0
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        summary = {k: v for k, v in report["summary"].items() if not k.startswith("latency")}
        per_question = [(q["id"], q["status"], q["predicted_sql"]) for q in report["questions"]]
        scores.append((summary, report["by_tag"], report["by_language"], per_question))
    assert scores[0] == scores[1] == scores[2]


async def test_model_calls_tokens_and_retrieval_are_recorded(fake_llm, settings, tmp_path: Path):
    scripted = script(DEMO, "a")
    install_demo_mode(fake_llm, scripted.overrides)
    assert await run_command(args(tmp_path), settings, stderr=io.StringIO()) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    questions = {q["id"]: q for q in report["questions"]}
    one = questions[sorted(scripted.correct)[0]]
    # Classification (unless the dictionary decides), SQL generation, summary: at least one
    # call, each reported with the fake's usage.
    assert one["model_calls"] >= 1 and one["tokens"] > 0
    assert report["summary"]["model_calls_per_question"] > 0
    assert report["summary"]["tokens_per_question"] > 0
    assert sum(q["model_calls"] for q in questions.values()) == len(fake_llm.requests)
    assert all(q["retrieval_hit"] in (True, False) for q in questions.values())


async def test_url_mode_scores_like_in_process(fake_llm, app, tmp_path: Path):
    import httpx

    from citu.eval.clients import HttpClient
    from citu.eval.runner import run_eval

    scripted = script(DEMO, "a")
    install_demo_mode(fake_llm, scripted.overrides)
    transport = httpx.ASGITransport(app=app)
    async with HttpClient("http://citu.test", transport=transport) as client:
        report = await run_eval(DEMO, target="sql", client=client, concurrency=8)
    assert report["mode"] == "url"
    assert {q["id"]: q["status"] for q in report["questions"]} == scripted.statuses
    assert report["summary"]["model_calls_per_question"] is None  # not visible over HTTP


async def test_cancelled_run_skips_the_rest(fake_llm, app):
    import asyncio

    from citu.eval.clients import InProcessClient
    from citu.eval.runner import run_eval

    install_demo_mode(fake_llm, script(DEMO, "a").overrides)
    cancel = asyncio.Event()

    def progress(done: int, total: int) -> None:
        if done == 3:
            cancel.set()

    async with InProcessClient(app) as client:
        report = await run_eval(
            DEMO, target="sql", client=client, concurrency=1, on_progress=progress, cancel=cancel
        )
    assert report["cancelled"] is True
    assert report["summary"]["asked"] == 3
    assert report["summary"]["statuses"]["skipped"] == len(DEMO) - 3


async def test_bad_inputs_exit_2(settings, tmp_path: Path):
    err = io.StringIO()
    assert (
        await run_command(args(tmp_path, set=str(tmp_path / "none.jsonl")), settings, stderr=err)
        == 2
    )
    assert "cannot read" in err.getvalue()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}', encoding="utf-8")
    assert await run_command(args(tmp_path, baseline=bad), settings, stderr=err) == 2
    assert "not a citu-eval/1 report" in err.getvalue()


async def test_eval_statements_wait_for_a_busy_guard_instead_of_failing(app):
    import asyncio

    from citu.eval.clients import InProcessClient
    from citu.sql.guard_pool import guard_queue

    queue = guard_queue()
    taken = 0
    while queue.enter():  # every place of the guard's queue taken, as under a burst
        taken += 1
    try:
        async with InProcessClient(app) as client:
            waiting = asyncio.create_task(client.run_sql("SELECT COUNT(*) AS n FROM bss_company"))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            for _ in range(taken):
                queue.leave()
            taken = 0
            outcome = await waiting
    finally:
        for _ in range(taken):
            queue.leave()
    assert outcome.status == "ok" and outcome.rows == [[3]]


def test_the_script_uses_every_way_of_being_wrong():
    for variant in ("a", "b"):
        statuses = set(script(DEMO, variant).statuses.values())
        assert statuses == {"correct", "wrong", "no_sql", "refused", "sql_error"}
        overrides = script(DEMO, variant).overrides.values()
        assert any("pg_sleep" in sql for sql in overrides)
        assert any("service_area_name AS 名称" in sql for sql in overrides)


def test_conversations_and_their_users():
    from citu.eval.runner import conversation_user, conversations

    chains = conversations(DEMO)
    by_root = {chain[0].id: [q.id for q in chain] for chain in chains}
    assert by_root["zh-039"] == ["zh-039", "zh-040"]
    assert by_root["en-026"] == ["en-026", "en-027"]
    assert sum(len(c) for c in chains) == len(DEMO)
    user = conversation_user("abc123", "x:" * 40)
    assert len(user) <= 50 and ":" not in user and user.startswith("eval_abc123_")
