"""A Vega-Lite v5 subset built from a plan: the data inline, bounded, JSON-safe.

Only the result's own columns appear in ``data.values`` and in every ``field``; the grouped bar
adds two derived names through its one ``fold`` transform, listed in ``usermeta.citu.derived``.
"""

from __future__ import annotations

from typing import Any

from citu.charts.profile import number_of, temporal_text
from citu.charts.rules import BAR, GROUPED_BAR, KPI, LINE, PIE, SCATTER, Plan

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # a name only, never fetched
BAR_TOP_N = 20  # categories beyond these are counted in usermeta, not drawn
_MARKS = {LINE: "line", BAR: "bar", PIE: "arc", SCATTER: "point", GROUPED_BAR: "bar", KPI: "text"}


def label_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_spec(
    plan: Plan, columns: list[str], rows: list[dict[str, Any]], max_points: int
) -> dict[str, Any]:
    builders = {
        LINE: _line,
        BAR: _bar,
        PIE: _pie,
        SCATTER: _scatter,
        GROUPED_BAR: _grouped_bar,
        KPI: _kpi,
    }
    values, encoding, extra = builders[plan.kind](plan, rows, max_points)
    fields = [name for name in columns if name in _used(plan)]
    meta = {"kind": plan.kind, "rows": len(rows), "truncated": False, "fields": fields}
    meta |= extra.pop("meta", {})
    spec: dict[str, Any] = {
        "$schema": SCHEMA,
        "title": _title(plan),
        "mark": {"type": _MARKS[plan.kind]},
        "data": {"values": values},
        "encoding": encoding,
        **extra,
        "usermeta": {"citu": meta},
    }
    return spec


def _used(plan: Plan) -> set[str]:
    return {*plan.measures, *(n for n in (plan.dimension, plan.series) if n)}


def _title(plan: Plan) -> str:
    measures = "、".join(plan.measures)
    if plan.kind == KPI:
        return measures
    if plan.kind == SCATTER:
        return f"{plan.measures[1]} / {plan.measures[0]}"
    return f"{measures} · {plan.dimension}"


def _sample_evenly(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` rows spread over the whole range, first and last kept (a trend keeps
    its shape where a head would cut it off)."""
    if len(rows) <= limit:
        return rows
    if limit == 1:
        return rows[:1]
    step = (len(rows) - 1) / (limit - 1)
    return [rows[round(i * step)] for i in range(limit)]


def _bounded(points: list[dict[str, Any]], max_points: int, encoding: dict[str, Any]):
    shown = _sample_evenly(points, max_points)
    return shown, encoding, {"meta": {"truncated": len(shown) < len(points)}}


def _totals_by_label(
    rows: list[dict[str, Any]], label: str, measures: list[str]
) -> list[dict[str, Any]]:
    """One entry per label, measures summed (a repeated label would draw overlapping bars);
    rows without a label or a first measure are left out."""
    totals: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        numbers = [number_of(row.get(m)) for m in measures]
        if numbers[0] is None or row.get(label) is None:
            continue
        key = label_text(row.get(label))
        entry = totals.setdefault(key, {label: key, **{m: None for m in measures}})
        for measure, number in zip(measures, numbers, strict=True):
            if number is not None:
                # Rounded so 0.1 + 0.2 reads 0.3 on an axis.
                entry[measure] = round((entry[measure] or 0) + number, 9)
    return sorted(totals.values(), key=lambda e: e[measures[0]], reverse=True)


def _line(plan: Plan, rows: list[dict[str, Any]], max_points: int):
    time, measure = plan.dimension, plan.measures[0]
    points = [
        {
            time: temporal_text(row.get(time)),
            measure: number_of(row.get(measure)),
            **({plan.series: label_text(row.get(plan.series))} if plan.series else {}),
        }
        for row in rows
        if row.get(time) is not None
    ]
    points.sort(key=lambda p: p[time])
    encoding = {
        "x": {"field": time, "type": "temporal"},
        "y": {"field": measure, "type": "quantitative"},
    }
    if plan.series:
        encoding["color"] = {"field": plan.series, "type": "nominal"}
    return _bounded(points, max_points, encoding)


def _bar(plan: Plan, rows: list[dict[str, Any]], max_points: int):
    label, measure = plan.dimension, plan.measures[0]
    totals = _totals_by_label(rows, label, plan.measures)  # type: ignore[arg-type]
    shown = totals[: min(BAR_TOP_N, max_points)]
    encoding = {
        "x": {"field": label, "type": "nominal", "sort": "-y"},
        "y": {"field": measure, "type": "quantitative"},
    }
    omitted = len(totals) - len(shown)
    return shown, encoding, {"meta": {"truncated": omitted > 0, "omitted_categories": omitted}}


def _pie(plan: Plan, rows: list[dict[str, Any]], max_points: int):
    label, measure = plan.dimension, plan.measures[0]
    totals = _totals_by_label(rows, label, plan.measures)  # type: ignore[arg-type]
    slices = totals[:max_points]
    encoding = {
        "theta": {"field": measure, "type": "quantitative"},
        "color": {"field": label, "type": "nominal"},
    }
    return slices, encoding, {"meta": {"truncated": len(slices) < len(totals)}}


def _scatter(plan: Plan, rows: list[dict[str, Any]], max_points: int):
    x, y = plan.measures[0], plan.measures[1]
    points = [{x: number_of(row.get(x)), y: number_of(row.get(y))} for row in rows]
    points = [p for p in points if p[x] is not None and p[y] is not None]
    encoding = {
        "x": {"field": x, "type": "quantitative"},
        "y": {"field": y, "type": "quantitative"},
    }
    return _bounded(points, max_points, encoding)


def _derived_names(columns: list[str]) -> tuple[str, str]:
    series, value = "series", "value"
    while series in columns:
        series = f"_{series}"
    while value in columns:
        value = f"_{value}"
    return series, value


def _grouped_bar(plan: Plan, rows: list[dict[str, Any]], max_points: int):
    label = plan.dimension
    totals = _totals_by_label(rows, label, plan.measures)  # type: ignore[arg-type]
    # max_points bounds the drawn bars: each category draws one per measure.
    shown = totals[: min(BAR_TOP_N, max(1, max_points // len(plan.measures)))]
    series, value = _derived_names(list(rows[0]))
    encoding = {
        "x": {"field": label, "type": "nominal"},
        "y": {"field": value, "type": "quantitative"},
        "xOffset": {"field": series},
        "color": {"field": series, "type": "nominal"},
    }
    extra = {
        "transform": [{"fold": list(plan.measures), "as": [series, value]}],
        "meta": {
            "truncated": len(shown) < len(totals),
            "omitted_categories": len(totals) - len(shown),
            "derived": [series, value],
        },
    }
    return shown, encoding, extra


def _kpi(plan: Plan, rows: list[dict[str, Any]], max_points: int):
    measure = plan.measures[0]
    values = [{measure: number_of(rows[0].get(measure))}]
    return values, {"text": {"field": measure, "type": "quantitative"}}, {}
