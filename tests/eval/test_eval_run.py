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
