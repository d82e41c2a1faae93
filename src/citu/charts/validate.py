"""The last check before a chart leaves citu: every field it names is a column of the result.

Other services bind charts to columns the result does not have; a spec that fails here is
dropped (and logged), never sent.
"""

from __future__ import annotations

import json
from typing import Any

from citu.charts.rules import KINDS

MARKS = ("line", "bar", "arc", "point", "text")
CHANNELS = ("x", "y", "theta", "color", "xOffset", "text")


def _fold_outputs(spec: dict[str, Any], columns: set[str]) -> tuple[set[str], list[str]]:
    """Names the spec's transforms add, and the problems found in them."""
    problems: list[str] = []
    derived: set[str] = set()
    for step in spec.get("transform", []):
        if set(step) != {"fold", "as"}:
            problems.append(f"unsupported transform {sorted(step)}")
            continue
        problems += [f"fold of unknown column {f!r}" for f in step["fold"] if f not in columns]
        derived |= set(step["as"])
    listed = set(spec.get("usermeta", {}).get("citu", {}).get("derived", []))
    if derived != listed:
        problems.append("fold outputs are not the derived fields listed in usermeta")
    problems += [f"derived field {n!r} shadows a column" for n in derived & columns]
    return derived, problems


def spec_problems(spec: dict[str, Any], columns: list[str], max_points: int) -> list[str]:
    """Why ``spec`` may not be returned for a result with ``columns`` (empty: it may)."""
    known = set(columns)
    derived, problems = _fold_outputs(spec, known)
    if spec.get("mark", {}).get("type") not in MARKS:
        problems.append("unknown mark")
    meta = spec.get("usermeta", {}).get("citu", {})
    if meta.get("kind") not in KINDS:
        problems.append("unknown kind")
    problems += [
        f"usermeta field {f!r} is not a column" for f in meta.get("fields", []) if f not in known
    ]
    for channel, encoding in spec.get("encoding", {}).items():
        if channel not in CHANNELS:
            problems.append(f"unsupported channel {channel!r}")
        elif encoding.get("field") not in known | derived:
            problems.append(f"{channel} field {encoding.get('field')!r} is not a column")
    values = spec.get("data", {}).get("values", [])
    if len(values) > max_points:
        problems.append(f"{len(values)} data points, more than {max_points}")
    strays = {key for row in values for key in row} - known
    problems += [f"data key {k!r} is not a column" for k in sorted(strays)]
    try:
        json.dumps(spec, allow_nan=False)
    except (TypeError, ValueError) as exc:
        problems.append(f"not JSON-safe: {exc}")
    return problems
