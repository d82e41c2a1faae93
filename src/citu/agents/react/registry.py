"""The ReAct agent's tools, declared once: every other list of tool names derives from here.

The tool objects (``tools.py``), the progress labels and the system prompt (``prompts.py``),
the thread-status labels (``message_shapes.py``) and the step chosen after each tool (``agent.py``)
all read this table, so adding or renaming a tool is one entry, and a test fails when a
module spells a tool's name itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

GENERATE_SQL = "generate_sql"
VALID_SQL = "valid_sql"
RUN_SQL = "run_sql"


class GenerateSqlInput(BaseModel):
    question: str = Field(description="The user's question, copied verbatim")
    history_messages: list[dict[str, str]] = Field(
        default_factory=list, description="Filled in by the system; leave empty"
    )


class SqlInput(BaseModel):
    sql: str = Field(description="The SQL query")


def _after_generate(output: str) -> str:
    failed = any(word in output.lower() for word in ("failed", "无法生成", "失败"))
    return "answer_with_common_sense" if failed else VALID_SQL


def _after_validate(output: str) -> str:
    return "analyze_validation_error" if "失败" in output else RUN_SQL


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str  # what the model reads when choosing a tool
    args: type[BaseModel]
    label: str  # progress frames: "准备<label>" while the model calls it, "<label>" while it runs
    status: str  # thread status while it runs
    icon: str
    next_step: Callable[[str], str]  # the suggested step, given the tool's text output
    returns_rows: bool = False  # also hands the rows over as the message's artifact


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        GENERATE_SQL,
        "Generate a PostgreSQL query that answers a business data question.",
        GenerateSqlInput,
        label="生成SQL语句",
        status="生成SQL中",
        icon="🔍",
        next_step=_after_generate,
    ),
    ToolSpec(
        VALID_SQL,
        "Check that a SQL query is safe, syntactically valid and uses existing tables and columns.",
        SqlInput,
        label="验证SQL语法",
        status="验证SQL中",
        icon="✅",
        next_step=_after_validate,
    ),
    ToolSpec(
        RUN_SQL,
        "Run a validated SQL query and return its rows as JSON.",
        SqlInput,
        label="执行SQL查询",
        status="执行查询中",
        icon="⚡",
        next_step=lambda _output: "summarize_final_answer",
        returns_rows=True,
    ),
)

TOOLS_BY_NAME: dict[str, ToolSpec] = {tool.name: tool for tool in TOOLS}
TOOL_NAMES: tuple[str, ...] = tuple(TOOLS_BY_NAME)
