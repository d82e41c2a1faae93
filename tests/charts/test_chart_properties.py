"""Over many random result shapes (fixed seed): a returned spec never references a column that
is not in the result, its data is bounded, and it is plain JSON."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

from citu.charts import chart_for
from citu.charts.shapes import SHAPES

NAMES = ["a", "日期", "服务区名称", "revenue", "占比", "series", "value", "year", "id", "x y"]


def _value(kind: str, rng: random.Random) -> Any:
    if rng.random() < 0.1:
        return None
    choices = {
        "int": lambda: rng.randint(-1000, 1000),
        "float": lambda: rng.choice([rng.uniform(-1e6, 1e6), float("nan"), float("inf")]),
        "decimal": lambda: Decimal(rng.randint(-(10**6), 10**6)) / 100,
        "numeric_text": lambda: f"{rng.uniform(0, 1e5):.2f}",
        "date": lambda: dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 400)),
        "iso_text": lambda: f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "datetime": lambda: dt.datetime(2025, 1, 1, rng.randint(0, 23), tzinfo=dt.UTC),
        "label": lambda: rng.choice(["庐山", "宜春", "A", "B" * 80, "", "南昌"]),
        "many_labels": lambda: f"c{rng.randint(0, 500)}",
        "bool": lambda: rng.random() < 0.5,
        "year": lambda: rng.randint(2000, 2030),
        "mixed": lambda: rng.choice([1, "x", 2.5, dt.date(2025, 1, 1), [1, 2]]),
        "fraction": lambda: rng.uniform(0, 0.3),
    }
    return choices[kind]()


def perturbed_sample(rng: random.Random) -> tuple[list[str], list[Any]]:
    """A named sample shape with rows dropped and cells blanked at random."""
    sample = rng.choice(SHAPES)
    rows = [dict(row) for row in sample.rows if rng.random() < 0.8]
    for row in rows:
        for name in row:
            if rng.random() < 0.05:
                row[name] = None
    return list(sample.columns), rows


def random_result(rng: random.Random) -> tuple[list[str], list[Any]]:
    if rng.random() < 0.2:
        return perturbed_sample(rng)
    width = rng.randint(1, 10)
    columns = rng.sample(NAMES, k=min(width, len(NAMES)))
    kinds = [rng.choice(list(_KINDS)) for _ in columns]
    count = rng.choice([0, 1, 2, 3, 5, 8, 30, 250, 600])
    rows = [[_value(kind, rng) for kind in kinds] for _ in range(count)]
    if rng.random() < 0.5:
        rows = [dict(zip(columns, row, strict=True)) for row in rows]
    return columns, rows


_KINDS = (
    "int float decimal numeric_text date iso_text datetime label many_labels bool year mixed "
    "fraction"
).split()


def referenced_fields(node: Any) -> set[str]:
    """Every ``field`` anywhere in the spec, and every name a fold reads."""
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("field"), str):
            found.add(node["field"])
        if "fold" in node:
            found |= set(node["fold"])
        for key, child in node.items():
            if key != "data":
                found |= referenced_fields(child)
    elif isinstance(node, list):
        for child in node:
            found |= referenced_fields(child)
    return found


def test_random_results_never_get_a_chart_naming_a_missing_column():
    rng = random.Random(20261207)
    kinds_seen: set[str] = set()
    for _ in range(1500):
        columns, rows = random_result(rng)
        max_points = rng.choice([1, 2, 7, 50, 200])
        spec = chart_for(columns, rows, max_points=max_points)
        if spec is None:
            continue
        meta = spec["usermeta"]["citu"]
        kinds_seen.add(meta["kind"])
        derived = set(meta.get("derived", []))
        assert not derived & set(columns)
        assert referenced_fields(spec) <= set(columns) | derived, (columns, spec)
        assert set(meta["fields"]) <= set(columns)
        values = spec["data"]["values"]
        assert len(values) <= max_points
        assert {key for row in values for key in row} <= set(columns)
        assert meta["rows"] == len(rows)
        json.dumps(spec, allow_nan=False)
    # the generator reaches every kind, so the property is checked on each
    assert kinds_seen == {"line", "bar", "pie", "scatter", "grouped_bar", "kpi"}
