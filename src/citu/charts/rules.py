"""Which chart a result gets, decided from its column profiles alone.

time + measure → line; category + measure → bar (or pie for a share of a whole); two measures
→ scatter; category + 2-3 measures → grouped bar; one row with one measure → KPI; anything
else (no rows, text only, too wide, several categories per measure) → no chart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from citu.charts.profile import NOMINAL, QUANTITATIVE, TEMPORAL, ColumnProfile, number_of

LINE, BAR, PIE, SCATTER, GROUPED_BAR, KPI = "line", "bar", "pie", "scatter", "grouped_bar", "kpi"
KINDS = (LINE, BAR, PIE, SCATTER, GROUPED_BAR, KPI)

MAX_COLUMNS = 8  # a wider result is a table to read, not a picture
PIE_MAX_SLICES = 8
GROUPED_MAX_MEASURES = 3
LINE_MAX_SERIES = 10  # more lines than this is a tangle: one line, no colour

_SHARE_NAME = re.compile(r"(占比|比例|比重|份额|百分比|share|percent|pct|ratio|proportion|%)", re.I)


@dataclass(frozen=True)
class Plan:
    kind: str
    measures: list[str]
    dimension: str | None = None  # x axis / slices / categories
    series: str | None = None  # colour of a multi-line chart


def choose(profiles: list[ColumnProfile], rows: list[dict[str, Any]]) -> Plan | None:
    if not rows or not profiles or len(profiles) > MAX_COLUMNS:
        return None
    measures = [p for p in profiles if p.role == QUANTITATIVE]
    times = [p for p in profiles if p.role == TEMPORAL]
    labels = [p for p in profiles if p.role == NOMINAL]
    if not measures:
        return None
    if len(rows) == 1:
        return Plan(KPI, [measures[0].name]) if len(measures) == 1 else None
    if times:
        return _time_plan(times, labels, measures)
    if not labels:
        return Plan(SCATTER, [m.name for m in measures]) if len(measures) == 2 else None
    return _category_plan(labels, measures, rows)


def _time_plan(
    times: list[ColumnProfile], labels: list[ColumnProfile], measures: list[ColumnProfile]
) -> Plan | None:
    if len(times) != 1 or len(labels) > 1:
        return None
    series = labels[0] if labels else None
    if series is not None and (series.distinct > LINE_MAX_SERIES or len(measures) > 1):
        return None
    return Plan(
        LINE,
        [measures[0].name],
        dimension=times[0].name,
        series=series.name if series else None,
    )


def _category_plan(
    labels: list[ColumnProfile], measures: list[ColumnProfile], rows: list[dict[str, Any]]
) -> Plan | None:
    # With several label columns (area and stall), the most specific one names the bars.
    category = max(labels, key=lambda p: p.distinct)
    if len(measures) == 1:
        measure = measures[0]
        if _is_share(measure, category, rows):
            return Plan(PIE, [measure.name], dimension=category.name)
        return Plan(BAR, [measure.name], dimension=category.name)
    if len(measures) <= GROUPED_MAX_MEASURES and len(labels) == 1:
        return Plan(GROUPED_BAR, [m.name for m in measures], dimension=category.name)
    return None


def _is_share(measure: ColumnProfile, category: ColumnProfile, rows: list[dict[str, Any]]) -> bool:
    """A few non-negative parts of one whole: they add up to 100 % (or 1), or the measure is
    named as a share and does not add up to more than the whole."""
    if not measure.non_negative or not 2 <= category.distinct <= PIE_MAX_SLICES:
        return False
    if category.distinct != len(rows):  # repeated slices would not be parts of one whole
        return False
    values = [number_of(row.get(measure.name)) for row in rows]
    numbers = [v for v in values if v is not None]
    total = sum(numbers)
    if abs(total - 100) <= 0.5 or abs(total - 1) <= 0.005:
        return True
    if not _SHARE_NAME.search(measure.name):
        return False
    fractions = all(n <= 1 for n in numbers)
    return total <= (1.005 if fractions else 100.5)
