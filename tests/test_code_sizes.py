"""Size limits of the source tree: no module over 400 lines, no function over 60 lines.

A module or function that cannot be split goes into ``ALLOWED`` with the reason; an entry
that is no longer needed fails too, so the list only ever shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "citu"
MODULE_LIMIT = 400
FUNCTION_LIMIT = 60

# "path/relative/to/src/citu.py" or "path.py:function_name" -> why it stays over the limit.
ALLOWED: dict[str, str] = {}


def oversized(path: Path, text: str) -> dict[str, int]:
    """Names (``path`` or ``path:function``) over their limit in one module, with their length."""
    found: dict[str, int] = {}
    module_lines = len(text.splitlines())
    if module_lines > MODULE_LIMIT:
        found[str(path)] = module_lines
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # From the ``def`` line to the last line of the body; decorators do not count.
            length = node.end_lineno - node.lineno + 1
            if length > FUNCTION_LIMIT:
                found[f"{path}:{node.name}"] = length
    return found


def scan_source() -> dict[str, int]:
    found: dict[str, int] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        found.update(oversized(path.relative_to(SOURCE), path.read_text(encoding="utf-8")))
    return found


def test_no_module_or_function_over_its_limit():
    over = {name: length for name, length in scan_source().items() if name not in ALLOWED}
    assert over == {}, (
        f"split these (limit {MODULE_LIMIT} lines per module, {FUNCTION_LIMIT} per function)"
    )


def test_every_allowed_entry_is_still_over_its_limit():
    stale = set(ALLOWED) - set(scan_source())
    assert stale == set(), "remove these from ALLOWED: they are within the limits now"


def test_the_scan_finds_a_long_module_and_a_long_function():
    body = "\n".join(f"    x = {n}" for n in range(FUNCTION_LIMIT))
    long_function = f"def long():\n{body}\n"
    short_function = "@decorated\ndef short():\n" + "\n".join(["    pass"] * 59) + "\n"
    padding = "\n" * MODULE_LIMIT
    found = oversized(Path("m.py"), long_function + short_function + padding)
    assert found == {
        "m.py": len((long_function + short_function + padding).splitlines()),
        "m.py:long": FUNCTION_LIMIT + 1,
    }
    assert oversized(Path("m.py"), short_function) == {}
