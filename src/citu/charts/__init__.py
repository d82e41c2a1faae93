"""Charts as data, never code: a declarative Vega-Lite subset chosen by rules for a result.

``chart_for`` profiles the columns, picks a kind, builds the spec and checks it against the
result's columns; ``add_chart`` puts it on an answer that has rows, when charts are on.
"""

from __future__ import annotations

import logging
from typing import Any

from citu.charts.profile import profile_result
from citu.charts.rules import choose
from citu.charts.spec import build_spec
from citu.charts.validate import spec_problems
from citu.settings import Settings

__all__ = ["DEFAULT_MAX_POINTS", "add_chart", "chart_for", "spec_problems"]

log = logging.getLogger("citu.charts")

DEFAULT_MAX_POINTS = 200


def _as_dicts(columns: list[str], rows: list[Any]) -> list[dict[str, Any]]:
    return [row if isinstance(row, dict) else dict(zip(columns, row, strict=False)) for row in rows]


def chart_for(
    columns: list[str],
    rows: list[dict[str, Any] | list[Any]],
    *,
    column_types: dict[str, str] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> dict[str, Any] | None:
    """The chart spec for a result, or None when no chart fits (or a spec fails its check)."""
    if not columns or not rows or max_points < 1 or len(set(columns)) != len(columns):
        return None  # duplicate column names would make every field ambiguous
    records = _as_dicts(columns, rows)
    plan = choose(profile_result(columns, records, column_types), records)
    if plan is None:
        return None
    spec = build_spec(plan, columns, records, max_points)
    problems = spec_problems(spec, columns, max_points)
    if problems:
        log.warning("chart dropped (%s): %s", plan.kind, "; ".join(problems))
        return None
    return spec


def add_chart(data: dict[str, Any], settings: Settings | None) -> dict[str, Any]:
    """``data`` with a ``chart`` key when charts are on and its rows (``records`` or
    ``query_result``) make one; unchanged otherwise. A chart never fails an answer."""
    if settings is None or not settings.enable_charts:
        return data
    records = data.get("records") or data.get("query_result")
    if not isinstance(records, dict) or not records.get("rows"):
        return data
    try:
        spec = chart_for(
            list(records.get("columns") or []),
            records["rows"],
            max_points=settings.chart_max_points,
        )
    except Exception:  # noqa: BLE001 - the answer goes out without its picture
        log.exception("chart building failed")
        return data
    if spec is not None:
        data["chart"] = spec
    return data
