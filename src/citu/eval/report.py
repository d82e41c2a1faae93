"""The run's report: versioned JSON, its metrics, a console summary, and the baseline comparison.

Rates are percentages of the questions asked (skipped ones left out), rounded to 2 decimals;
latencies are milliseconds. ``render_html`` (the self-contained page) lives in ``html_report``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from citu.eval.html_report import format_number, render_html

__all__ = ["REPORT_FORMAT", "build_report", "compare", "console_summary", "gate", "render_html"]

REPORT_FORMAT = "citu-eval/1"
STATUSES = ("correct", "wrong", "no_sql", "refused", "sql_error", "error", "gold_error", "skipped")
# Metrics compared with a baseline; for the first two, higher is better.
COMPARED_METRICS = (
    "accuracy",
    "valid_sql_rate",
    "refused_rate",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "model_calls_per_question",
    "tokens_per_question",
)


def build_report(
    records: list[dict[str, Any]],
    *,
    set_name: str | None,
    target: str,
    mode: str,
    concurrency: int,
    started_at: datetime,
    duration_s: float,
    cancelled: bool = False,
) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "set": set_name,
        "target": target,
        "mode": mode,
        "concurrency": concurrency,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 3),
        "cancelled": cancelled,
        "summary": summarize(records),
        "by_tag": breakdown(records, lambda r: r["tags"]),
        "by_language": breakdown(records, lambda r: [r["language"]]),
        "questions": records,
    }


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    asked = [r for r in records if r["status"] != "skipped"]
    counts = {s: sum(r["status"] == s for r in records) for s in STATUSES}
    n = len(asked)
    latencies = sorted(r["latency_ms"] for r in asked if r.get("latency_ms") is not None)
    hits = [r["retrieval_hit"] for r in asked if r.get("retrieval_hit") is not None]
    return {
        "questions": len(records),
        "asked": n,
        "correct": counts["correct"],
        "accuracy": _pct(counts["correct"], n),
        "valid_sql_rate": _pct(counts["correct"] + counts["wrong"], n),
        "refused_rate": _pct(counts["refused"], n),
        "error_rate": _pct(counts["error"] + counts["sql_error"], n),
        "no_sql_rate": _pct(counts["no_sql"], n),
        "latency_p50_ms": _percentile(latencies, 0.50),
        "latency_p95_ms": _percentile(latencies, 0.95),
        "model_calls_per_question": _mean(r.get("model_calls") for r in asked),
        "tokens_per_question": _mean(r.get("tokens") for r in asked),
        "retrieval_hit_rate": _pct(sum(hits), len(hits)) if hits else None,
        "statuses": counts,
    }


def breakdown(records: list[dict[str, Any]], keys: Any) -> dict[str, dict[str, Any]]:
    """Questions, correct answers and accuracy per key (a question may carry several)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record["status"] != "skipped":
            for key in keys(record):
                groups.setdefault(key, []).append(record)
    return {
        key: {
            "questions": len(group),
            "correct": sum(r["correct"] for r in group),
            "accuracy": _pct(sum(r["correct"] for r in group), len(group)),
        }
        for key, group in sorted(groups.items())
    }


def compare(report: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Delta per metric, and the questions (present in both) fixed and broken since."""
    now, before = report["summary"], baseline["summary"]
    deltas = {}
    for metric in COMPARED_METRICS:
        current, previous = now.get(metric), before.get(metric)
        delta = None if current is None or previous is None else round(current - previous, 3)
        deltas[metric] = {"baseline": previous, "current": current, "delta": delta}
    was_correct = {q["id"]: q["correct"] for q in baseline.get("questions", [])}
    is_correct = {q["id"]: q["correct"] for q in report.get("questions", [])}
    common = sorted(was_correct.keys() & is_correct.keys())
    p95_now, p95_before = now.get("latency_p95_ms"), before.get("latency_p95_ms")
    rise = None
    if p95_now is not None and p95_before:
        rise = round((p95_now - p95_before) * 100 / p95_before, 2)
    return {
        "baseline": {k: baseline.get(k) for k in ("set", "target", "mode", "started_at")},
        "deltas": deltas,
        "fixed": [i for i in common if is_correct[i] and not was_correct[i]],
        "broken": [i for i in common if was_correct[i] and not is_correct[i]],
        "accuracy_drop_points": round(max(0.0, before["accuracy"] - now["accuracy"]), 2),
        "p95_rise_percent": rise,
    }


def gate(
    comparison: dict[str, Any], max_drop: float | None, max_latency_rise: float | None
) -> list[str]:
    """Why the run fails its regression gate (empty: it passes)."""
    failures = []
    drop = comparison["accuracy_drop_points"]
    if max_drop is not None and drop > max_drop:
        failures.append(f"accuracy dropped {drop:g} points (allowed {max_drop:g})")
    rise = comparison["p95_rise_percent"]
    if max_latency_rise is not None and rise is not None and rise > max_latency_rise:
        failures.append(f"p95 latency rose {rise:g}% (allowed {max_latency_rise:g}%)")
    return failures


def console_summary(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"citu eval: set {report['set']} · target {report['target']} · {report['mode']}"
        f" · {s['asked']}/{s['questions']} questions in {format_number(report['duration_s'])} s",
        f"  accuracy        {s['accuracy']:6.2f} %  ({s['correct']} correct)",
        f"  valid SQL       {s['valid_sql_rate']:6.2f} %",
        f"  refused (guard) {s['refused_rate']:6.2f} %",
        f"  errors          {s['error_rate']:6.2f} %",
        f"  latency p50/p95 {_num(s['latency_p50_ms'])} / {_num(s['latency_p95_ms'])} ms",
        f"  model calls/q   {_num(s['model_calls_per_question'])}"
        f"   tokens/q {_num(s['tokens_per_question'])}",
    ]
    for title, table in (("language", report["by_language"]), ("tag", report["by_tag"])):
        parts = [
            f"{k} {v['accuracy']:.1f}% ({v['correct']}/{v['questions']})" for k, v in table.items()
        ]
        lines.append(f"  by {title}: " + ", ".join(parts))
    comparison = report.get("comparison")
    if comparison:
        delta = comparison["deltas"]["accuracy"]["delta"]
        lines.append(
            f"  vs baseline: accuracy {'+' if delta > 0 else ''}{format_number(delta)} points;"
            f" fixed {len(comparison['fixed'])} {_ids(comparison['fixed'])};"
            f" broken {len(comparison['broken'])} {_ids(comparison['broken'])}"
        )
    return "\n".join(lines)


def _ids(ids: list[str], shown: int = 12) -> str:
    """A list of ids for one console line (the reports have them all)."""
    more = f", … {len(ids) - shown} more" if len(ids) > shown else ""
    return "[" + ", ".join(ids[:shown]) + more + "]"


def _pct(part: int, whole: int) -> float:
    return round(part * 100 / whole, 2) if whole else 0.0


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return round(sorted_values[rank - 1], 1)


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 2) if known else None


def _num(value: float | None) -> str:
    return "n/a" if value is None else format_number(value)
