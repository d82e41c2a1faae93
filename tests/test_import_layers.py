"""The import graph of ``src/citu`` has no cycle, and lower layers never reach the container.

A cycle forces imports into function bodies and makes "what may use what" unreadable. The graph
is read with ``ast`` (nothing is imported): every ``import`` and ``from … import``, at module
level or inside a function, except those under ``if TYPE_CHECKING:`` (annotations only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import citu

SOURCE_ROOT = Path(citu.__file__).parent

# Cycles that existed before this test and belong to other work; remove an entry once it is gone.
KNOWN_CYCLES: list[set[str]] = []

# Only the app, the CLI, the wiring and the web layer may know the service container: the
# components below it receive what they use, so the container can import them all.
CONTAINER = {"citu.services", "citu.wiring"}
LOWER_LAYERS = (
    "citu.agents",
    "citu.db",
    "citu.llm",
    "citu.ops",
    "citu.pipeline",
    "citu.sql",
    "citu.stores",
    "citu.training",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in SOURCE_ROOT.rglob("*.py")}


def is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def imported_names(tree: ast.AST, importer: str, is_package: bool) -> list[str]:
    """Dotted names each import statement loads, TYPE_CHECKING blocks left out.

    ``from a import b`` gives ``a.b`` (a submodule when one exists, else a name in ``a``).
    """
    names: list[str] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if is_type_checking_block(child):
                pending.extend(child.orelse)  # the ``else:`` branch runs at import time
                continue
            if isinstance(child, ast.Import):
                names.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = resolve_relative(child, importer, is_package)
                names.extend(f"{base}.{alias.name}" for alias in child.names)
            pending.append(child)
    return names


def resolve_relative(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".")
    drop = node.level - 1 if is_package else node.level
    base = package[: len(package) - drop]
    return ".".join(base + ([node.module] if node.module else []))


def deepest_module(name: str, modules: dict[str, Path]) -> str | None:
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(*, type_checking: bool = False) -> dict[str, set[str]]:
    """Module -> the citu modules it imports (with ``type_checking``, annotation imports too)."""
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if type_checking:
            targets = [
                f"{resolve_relative(node, name, path.name == '__init__.py')}.{alias.name}"
                if isinstance(node, ast.ImportFrom)
                else alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names
            ]
        else:
            targets = imported_names(tree, name, path.name == "__init__.py")
        edges = {deepest_module(target, modules) for target in targets}
        graph[name] = {edge for edge in edges if edge is not None and edge != name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of two or more modules that import each other, directly or not."""
    reach = {node: reachable(graph, node) for node in graph}
    groups: list[set[str]] = []
    for node in sorted(graph):
        group = {other for other in reach[node] if node in reach[other]} | {node}
        if len(group) > 1 and group not in groups:
            groups.append(group)
    return groups


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    pending = list(graph.get(start, ()))
    while pending:
        node = pending.pop()
        if node not in seen:
            seen.add(node)
            pending.extend(graph.get(node, ()))
    return seen


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_graph_sees_the_imports_it_must():
    graph = import_graph()
    assert "citu.settings" in graph["citu.app"]  # module level
    assert "citu.services" in graph["citu.app"]


def test_type_checking_imports_are_left_out():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import citu.app\n"
    assert imported_names(ast.parse(source), "citu.x", False) == ["typing.TYPE_CHECKING"]


def test_a_cycle_is_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_known_cycles_are_found_as_groups():
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": set(), "d": {"d"}}
    assert strongly_connected(graph) == [{"a", "b"}]


def test_src_has_no_import_cycle():
    graph = import_graph()
    for group in strongly_connected(graph):
        if group in KNOWN_CYCLES:
            continue
        members = {node: graph[node] & group for node in group}
        cycle = find_cycle(members)
        raise AssertionError("import cycle: " + " -> ".join(cycle or sorted(group)))


def test_lower_layers_do_not_import_the_container():
    graph = import_graph(type_checking=True)
    offenders = {
        module: sorted(graph[module] & CONTAINER)
        for module in graph
        if module.startswith(LOWER_LAYERS) and graph[module] & CONTAINER
    }
    assert offenders == {}


# The layer table of docs/architecture.md: a package imports its own layer and the ones below.
LAYERS = [
    {
        "settings",
        "redaction",
        "logging",
        "errors",
        "failures",
        "responses",
        "inputs",
        "admission",
        "conversation_ids",
    },  # base
    {"llm", "sql", "db", "ops", "local_servers", "embedded_redis"},  # infrastructure
    {"training", "stores"},  # areas
    {"agents", "pipeline", "eval", "charts"},  # features
    {"services", "wiring", "cli"},  # wiring
    {"blueprints", "web", "apidoc", "ui", "security", "app"},  # web
]
# Upward imports that are deliberate, each with its reason.
UPWARD = {
    ("agents", "apidoc"): "the ReAct request models derive the documented RequestModel base",
    ("pipeline", "apidoc"): "the pipeline request models derive the documented RequestModel base",
    ("db", "training"): "the demo database is trained at first start (db/demo_training.py)",
    ("eval", "app"): "an in-process evaluation drives the whole app through its routes",
}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_of(package: str) -> int:
    ranks = [rank for rank, packages in enumerate(LAYERS) if package in packages]
    assert ranks, f"citu.{package} is in no layer of the table: add it"
    return ranks[0]


def test_every_package_imports_only_its_layer_and_below():
    upward = set()
    for module, targets in import_graph().items():
        source = package_of(module)
        for target in targets:
            destination = package_of(target)
            if layer_of(destination) > layer_of(source):
                upward.add((source, destination))
    assert upward - set(UPWARD) == set(), "upward imports: add a reason or invert them"
    assert set(UPWARD) - upward == set(), "an allowed upward import is gone: drop its entry"
