"""The report as one self-contained HTML page: inline CSS, no script, nothing fetched."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .6rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right}
.good{color:#1a7f37}.bad{color:#cf222e}pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;
white-space:pre-wrap;word-break:break-word;margin:.25rem 0}
section.failure{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.tag{display:inline-block;background:#ddf4ff;border-radius:1rem;padding:0 .5rem;margin-right:.25rem;
font-size:.85em}.muted{color:#656d76}
"""

_SUMMARY_ROWS = (
    ("accuracy", "Execution accuracy", "%"),
    ("valid_sql_rate", "Valid SQL", "%"),
    ("refused_rate", "Refused by the guard", "%"),
    ("error_rate", "Errors", "%"),
    ("no_sql_rate", "No SQL", "%"),
    ("latency_p50_ms", "Latency p50", "ms"),
    ("latency_p95_ms", "Latency p95", "ms"),
    ("model_calls_per_question", "Model calls per question", ""),
    ("tokens_per_question", "Tokens per question", ""),
    ("retrieval_hit_rate", "Retrieval found the gold tables", "%"),
)


def render_html(report: dict[str, Any]) -> str:
    """The whole page for ``report`` (a ``citu-eval/1`` document)."""
    title = f"citu eval · {report.get('set')} · {report.get('target')}"
    failures = [q for q in report["questions"] if not q["correct"] and q["status"] != "skipped"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{escape(str(report.get("started_at")))} · {escape(report["mode"])}'
        f" · concurrency {report['concurrency']} · {report['duration_s']} s"
        f"{' · cancelled' if report.get('cancelled') else ''}</p>",
        "<h2>Summary</h2>",
        _summary(report["summary"]),
        _comparison(report.get("comparison")),
        "<h2>By tag</h2>",
        _breakdown(report["by_tag"], "Tag"),
        "<h2>By language</h2>",
        _breakdown(report["by_language"], "Language"),
        f"<h2>Failures ({len(failures)})</h2>",
        *(_failure(q) for q in failures),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _summary(summary: dict[str, Any]) -> str:
    rows = [
        f"<tr><th>{label}</th><td class=n>{_value(summary.get(key), unit)}</td></tr>"
        for key, label, unit in _SUMMARY_ROWS
    ]
    statuses = ", ".join(f"{escape(k)} {v}" for k, v in summary["statuses"].items() if v)
    rows.append(f"<tr><th>Questions</th><td>{summary['asked']} asked: {statuses}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _comparison(comparison: dict[str, Any] | None) -> str:
    if not comparison:
        return ""
    rows = []
    for metric, d in comparison["deltas"].items():
        delta = d["delta"]
        shown = "" if delta is None else ("+" if delta > 0 else "") + format_number(delta)
        rows.append(
            f"<tr><th>{escape(metric)}</th><td class=n>{_value(d['baseline'], '')}</td>"
            f"<td class=n>{_value(d['current'], '')}</td><td class=n>{shown}</td></tr>"
        )
    base = comparison["baseline"]
    return (
        f"<h2>Against the baseline</h2><p class=muted>baseline: {escape(str(base.get('set')))}"
        f" · {escape(str(base.get('target')))} · {escape(str(base.get('started_at')))}</p>"
        "<table><tr><th>metric</th><th>baseline</th><th>now</th><th>delta</th></tr>"
        + "".join(rows)
        + "</table>"
        + f'<p><span class="good">Fixed ({len(comparison["fixed"])})</span>: '
        + escape(", ".join(comparison["fixed"]) or "none")
        + f'<br><span class="bad">Broken ({len(comparison["broken"])})</span>: '
        + escape(", ".join(comparison["broken"]) or "none")
        + "</p>"
    )


def _breakdown(table: dict[str, dict[str, Any]], label: str) -> str:
    rows = [
        f"<tr><td>{escape(key)}</td><td class=n>{v['questions']}</td>"
        f"<td class=n>{v['correct']}</td><td class=n>{v['accuracy']:.2f} %</td></tr>"
        for key, v in table.items()
    ]
    head = f"<tr><th>{label}</th><th>questions</th><th>correct</th><th>accuracy</th></tr>"
    return "<table>" + head + "".join(rows) + "</table>"


def _failure(q: dict[str, Any]) -> str:
    tags = "".join(f'<span class="tag">{escape(t)}</span>' for t in q["tags"])
    why = q.get("reason") or (q.get("predicted") or {}).get("error") or q.get("error") or ""
    parts = [
        f'<section class="failure" id="{escape(q["id"])}">',
        f"<h3>{escape(q['id'])} · <span class=bad>{escape(q['status'])}</span> {tags}</h3>",
        f"<p>{escape(q['question'])}</p>",
        f"<p class=muted>{escape(str(why))}</p>" if why else "",
        "<b>Gold SQL</b>",
        f"<pre>{escape(q['gold_sql'])}</pre>",
        "<b>Predicted SQL</b>",
        f"<pre>{escape(q.get('predicted_sql') or '(none)')}</pre>",
        _diff(q.get("diff")),
        _result("Gold result", q.get("gold")),
        _result("Predicted result", q.get("predicted")),
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def _diff(diff: dict[str, Any] | None) -> str:
    if not diff:
        return ""
    return (
        f"<b>Result diff</b>: {diff['missing_count']} gold rows missing,"
        f" {diff['unexpected_count']} unexpected rows"
        + _rows_table("missing (in gold only)", diff["missing"], "bad")
        + _rows_table("unexpected (in the prediction only)", diff["unexpected"], "bad")
    )


def _result(label: str, result: dict[str, Any] | None) -> str:
    if not result or result.get("status") != "ok":
        return ""
    shown = len(result["rows"])
    caption = f"{label}: {result['row_count']} rows" + (
        f" (first {shown})" if shown < result["row_count"] else ""
    )
    return _rows_table(caption, result["rows"], "", result["columns"])


def _rows_table(
    caption: str, rows: list[list[Any]], css: str, columns: list[str] | None = None
) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns or [])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return (
        f'<table><caption class="{css}">{escape(caption)}</caption>'
        + (f"<tr>{head}</tr>" if head else "")
        + body
        + "</table>"
    )


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _value(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)):
        return f"{format_number(value)} {unit}".strip()
    return escape(str(value))


def format_number(value: float) -> str:
    """At most two decimals, no exponent, no trailing zeros: 3525.1, 12, 1234567.5."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
