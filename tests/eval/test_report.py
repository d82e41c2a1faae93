"""Reports: metrics, baseline comparison and gate, console summary, the self-contained page."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citu.eval.report import (
    REPORT_FORMAT,
    build_report,
    compare,
    console_summary,
    gate,
    render_html,
)
from citu.eval.usage import usage_in


def record(qid: str, status: str, latency: float, **extra) -> dict:
    base = {
        "id": qid,
        "question": f"问题 {qid} <b>?</b>",
        "language": "zh" if qid.startswith("zh") else "en",
        "tags": ["easy", "join"] if qid.endswith("1") else ["hard"],
        "follow_up_of": None,
        "status": status,
        "correct": status == "correct",
        "reason": "different values" if status == "wrong" else None,
        "gold_sql": "SELECT 1 AS a -- </pre><script>alert(1)</script>",
        "ordered": False,
        "predicted_sql": None if status in ("no_sql", "error") else "SELECT 2 AS a",
        "latency_ms": latency,
        "model_calls": 2,
        "tokens": 100,
        "retrieval_hit": True,
        "error": None,
        "gold": {"status": "ok", "columns": ["a"], "rows": [[1]], "row_count": 1, "error": None},
        "predicted": None,
    }
    return {**base, **extra}


def report(records: list[dict]) -> dict:
    return build_report(
        records,
        set_name="demo",
        target="ask_agent",
        mode="in-process",
        concurrency=4,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_s=1.5,
    )


RECORDS = [
    record("zh-1", "correct", 100),
    record("zh-2", "wrong", 200, diff={"missing": [[1]], "missing_count": 1, "unexpected": [[2]], "unexpected_count": 1}),
    record("en-1", "refused", 300),
    record("en-2", "error", 400, model_calls=None, tokens=None),
    record("en-3", "no_sql", 500),
    record("en-4", "skipped", None),
]  # fmt: skip


def test_metrics():
    r = report(RECORDS)
    assert r["format"] == REPORT_FORMAT
    s = r["summary"]
    assert (s["questions"], s["asked"], s["correct"]) == (6, 5, 1)
    assert s["accuracy"] == 20.0
    assert s["valid_sql_rate"] == 40.0
    assert s["refused_rate"] == 20.0
    assert s["error_rate"] == 20.0
    assert s["no_sql_rate"] == 20.0
    assert s["latency_p50_ms"] == 300 and s["latency_p95_ms"] == 500
    assert s["model_calls_per_question"] == 2 and s["tokens_per_question"] == 100
    assert r["by_language"] == {
        "en": {"questions": 3, "correct": 0, "accuracy": 0.0},
        "zh": {"questions": 2, "correct": 1, "accuracy": 50.0},
    }
    assert r["by_tag"]["join"] == {"questions": 2, "correct": 1, "accuracy": 50.0}


def test_compare_and_gate():
    before = report(RECORDS)
    after_records = [dict(r) for r in RECORDS]
    after_records[0] = record("zh-1", "wrong", 150)
    after_records[2] = record("en-1", "correct", 900)
    after = report(after_records)
    comparison = compare(after, before)
    assert comparison["fixed"] == ["en-1"] and comparison["broken"] == ["zh-1"]
    assert comparison["deltas"]["accuracy"] == {"baseline": 20.0, "current": 20.0, "delta": 0.0}
    assert comparison["p95_rise_percent"] == 80.0  # p95 500 -> 900 ms
    assert gate(comparison, max_drop=0, max_latency_rise=100) == []
    assert gate(comparison, max_drop=0, max_latency_rise=50) == [
        "p95 latency rose 80% (allowed 50%)"
    ]
    worse = compare(
        report([record("zh-1", "wrong", 100)]), report([record("zh-1", "correct", 100)])
    )
    assert worse["accuracy_drop_points"] == 100.0
    assert gate(worse, max_drop=5, max_latency_rise=None) == [
        "accuracy dropped 100 points (allowed 5)"
    ]


def test_console_summary():
    r = report(RECORDS)
    r["comparison"] = compare(r, r)
    text = console_summary(r)
    assert "accuracy         20.00 %" in text
    assert "by language: en 0.0% (0/3), zh 50.0% (1/2)" in text
    assert "fixed 0 []; broken 0 []" in text
    r["comparison"]["fixed"] = [f"q{i:02d}" for i in range(14)]
    assert (
        "fixed 14 [q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, … 2 more]"
        in console_summary(r)
    )


def test_html_is_self_contained_and_lists_every_failure():
    r = report(RECORDS)
    r["comparison"] = compare(r, r)
    page = render_html(r)
    assert "<script" not in page  # the hostile gold SQL is escaped, and no script of ours
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page)
    for qid in ("zh-2", "en-1", "en-2", "en-3"):
        assert f'id="{qid}"' in page
    assert 'id="zh-1"' not in page and 'id="en-4"' not in page  # correct, skipped
    assert "SELECT 2 AS a" in page and "&lt;/pre&gt;&lt;script&gt;" in page
    assert "1 gold rows missing" in page
    assert "Against the baseline" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_html_renders_in_chromium_without_console_errors(tmp_path: Path):
    page = tmp_path / "report.html"
    page.write_text(render_html(report(RECORDS)), encoding="utf-8")
    result = subprocess.run(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
            "--dump-dom", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Execution accuracy" in result.stdout and 'id="zh-2"' in result.stdout
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert "Failed to load resource" not in result.stderr


def test_usage_is_read_from_json_and_streamed_bodies():
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert usage_in(b'{"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}') == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
    }
    stream = (
        b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n'
        b'data: {"choices": [], "usage": ' + str(usage).replace("'", '"').encode() + b"}\n\n"
        b"data: [DONE]\n\n"
    )
    assert usage_in(stream) == usage
    assert usage_in(b"data: [DONE]\n\n") is None
    assert usage_in(b"not json") is None


def test_numbers_are_shown_without_exponents():
    from citu.eval.html_report import format_number

    assert [format_number(v) for v in (1234567.891, 12, 0.5, 3525.1, -0.001, 100.0)] == [
        "1234567.89",
        "12",
        "0.5",
        "3525.1",
        "0",
        "100",
    ]


def test_counting_hook_is_installed_once_per_client():
    import httpx

    from citu.eval.usage import install

    client = httpx.AsyncClient()
    first, second = install(client), install(client)
    assert len(client.event_hooks["response"]) == 1
    first()
    first()  # twice is once
    assert len(client.event_hooks["response"]) == 1  # the second run still counts
    second()
    assert client.event_hooks["response"] == []
