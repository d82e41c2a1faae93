"""One registry of ReAct tools: the tool objects, labels, statuses and next steps all come
from it, and no other module spells a tool's name (a rename or a new tool cannot be missed)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, ToolMessage

import citu.agents.react as react_package
from citu.agents.react import prompts
from citu.agents.react.message_shapes import thread_status
from citu.agents.react.registry import TOOL_NAMES, TOOLS, TOOLS_BY_NAME
from citu.agents.react.reporting import display_name
from citu.agents.react.tools import ReactSqlTools
from citu.settings import Settings

REACT_DIR = Path(react_package.__file__).parent


def test_the_tool_objects_are_the_registry_in_order():
    tools = ReactSqlTools(None, lambda: None, Settings(_env_file=None)).tools()
    assert [tool.name for tool in tools] == list(TOOL_NAMES)
    for tool, spec in zip(tools, TOOLS, strict=True):
        assert tool.description == spec.description
        assert tool.args_schema is spec.args
        expected = "content_and_artifact" if spec.returns_rows else "content"
        assert tool.response_format == expected


def test_every_tool_has_a_method_labels_and_a_next_step():
    for spec in TOOLS:
        assert inspect.iscoroutinefunction(getattr(ReactSqlTools, spec.name))
        assert spec.label and spec.status and spec.icon and spec.description
        assert spec.next_step("ok")


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_view_knows_every_tool(name):
    spec = TOOLS_BY_NAME[name]
    assert prompts.TOOL_LABELS[name] == spec.label
    assert display_name("tools", name) == spec.label
    assert display_name("agent", name) == f"准备{spec.label}"
    running = thread_status([AIMessage("", tool_calls=[{"name": name, "args": {}, "id": "c"}])])
    assert (running["name"], running["icon"]) == (spec.status, spec.icon)
    done = thread_status([ToolMessage("ok", tool_call_id="c", name=name)])
    assert done["name"] == f"{spec.status.removesuffix('中')}完成，AI处理中"
    assert name in prompts.scope_prompt()


def test_next_steps_follow_the_old_agent():
    steps = {name: TOOLS_BY_NAME[name].next_step for name in TOOL_NAMES}
    assert steps["generate_sql"]("SELECT 1") == "valid_sql"
    assert steps["generate_sql"]("SQL generation failed: x") == "answer_with_common_sense"
    assert steps["valid_sql"]("SQL验证通过：语法正确且字段存在") == "run_sql"
    assert steps["valid_sql"]("SQL验证失败：表不存在") == "analyze_validation_error"
    assert steps["run_sql"]("[]") == "summarize_final_answer"


def _string_constants(tree: ast.AST) -> list[str]:
    """Every string literal except docstrings (prose may name a tool; code may not)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    ]  # fmt: skip


@pytest.mark.parametrize(
    "module", sorted(p.name for p in REACT_DIR.glob("*.py") if p.name != "registry.py")
)
def test_no_module_but_the_registry_spells_a_tool_name(module):
    tree = ast.parse((REACT_DIR / module).read_text(encoding="utf-8"))
    spelled = [
        (text, name) for text in _string_constants(tree) for name in TOOL_NAMES if name in text
    ]
    assert spelled == [], f"{module} names tools itself; derive from citu.agents.react.registry"
