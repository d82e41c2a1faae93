"""The layers import downwards only: shared infrastructure never reaches up into the agents
or the web layer (read from the source with ``ast``, so a function-local import counts too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "citu"
LOWER_LAYERS = ("llm", "sql", "stores", "training")
UPPER_LAYERS = ("citu.agents", "citu.blueprints")


def module_name(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = SRC) -> set[str]:
    """Every module ``path`` imports, relative imports resolved, ``from a import b`` as a.b too."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def is_upward(module: str) -> bool:
    return any(module == upper or module.startswith(upper + ".") for upper in UPPER_LAYERS)


@pytest.mark.parametrize("layer", LOWER_LAYERS)
def test_lower_layers_never_import_agents_or_the_web(layer: str) -> None:
    files = sorted((SRC / layer).rglob("*.py"))
    assert files, f"no modules under citu/{layer}"
    upward = {
        f"{path.relative_to(SRC)}: {module}"
        for path in files
        for module in imported_modules(path)
        if is_upward(module)
    }
    assert not upward


def test_the_rule_sees_every_import_form(tmp_path: Path) -> None:
    source = (
        "import citu.blueprints.agents\n"
        "from citu import agents\n"
        "from ..agents import ask_graph\n"
        "def late():\n    from citu.agents.react import agent\n"
    )
    tree_path = tmp_path / "citu" / "stores" / "probe.py"
    tree_path.parent.mkdir(parents=True)
    tree_path.write_text(source, "utf-8")
    found = {m for m in imported_modules(tree_path, tmp_path / "citu") if is_upward(m)}
    assert found >= {
        "citu.blueprints.agents",
        "citu.agents",
        "citu.agents.ask_graph",
        "citu.agents.react.agent",
    }


SHARED_BASE = ("citu.errors", "citu.failures", "citu.settings", "citu.admission")


@pytest.mark.parametrize("layer", ["llm", "sql"])
def test_llm_and_sql_stand_on_the_base_modules_only(layer: str) -> None:
    allowed = (*SHARED_BASE, "citu.llm", "citu.sql")
    outside = {
        f"{path.relative_to(SRC)}: {module}"
        for path in sorted((SRC / layer).rglob("*.py"))
        for module in imported_modules(path)
        if module.startswith("citu.")  # "from citu import x" also yields "citu.x"
        and not any(module == a or module.startswith(a + ".") for a in allowed)
    }
    assert not outside
