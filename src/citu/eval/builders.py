"""Golden sets from what a deployment already has: thumbs-up QA feedback, a pipeline task's
validated question/SQL pairs, and Spider/BIRD-style JSON mapped onto a PostgreSQL copy.

Every builder returns ``GoldenQuestion`` entries (``dump_set`` writes them as JSONL) plus the
entries it left out and why, so a user sees what a set lost on the way.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import sqlglot
from sqlglot import exp

from citu.eval.golden import GoldenQuestion
from citu.pipeline.files import TaskPaths
from citu.pipeline.steps.qa import pair_files
from citu.pipeline.tasks import TaskStore

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# sql -> None when it is valid on the target database, else the problem (EXPLAIN, guarded).
SqlValidator = Callable[[str], Awaitable[str | None]]


class BuildError(Exception):
    """The source cannot give a set (missing task, unvalidated pairs, unreadable file)."""


@dataclass
class BuiltSet:
    questions: list[GoldenQuestion] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry id, why)


def detect_language(text: str) -> str:
    """``zh`` when the text holds any CJK character, else ``en``."""
    return "zh" if _CJK.search(text) else "en"


def _question_key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


# ---- QA feedback -----------------------------------------------------------------------------


async def from_feedback(pool: asyncpg.Pool) -> BuiltSet:
    """Every thumbs-up answer; a question answered several times keeps its newest SQL."""
    rows = await pool.fetch(
        "SELECT id, question, sql FROM qa_feedback WHERE is_thumb_up ORDER BY id DESC"
    )
    built, seen = BuiltSet(), set()
    for row in rows:
        entry_id = f"feedback-{row['id']}"
        key = _question_key(row["question"])
        if not key or not row["sql"].strip():
            built.skipped.append((entry_id, "empty question or SQL"))
        elif key in seen:
            built.skipped.append((entry_id, "an earlier answer to the same question"))
        else:
            seen.add(key)
            built.questions.append(
                GoldenQuestion(
                    id=entry_id,
                    question=row["question"].strip(),
                    sql=row["sql"].strip(),
                    tags=["feedback"],
                    language=detect_language(row["question"]),
                )
            )
    built.questions.reverse()  # oldest first, as the records were made
    return built


# ---- a pipeline task's validated pairs -------------------------------------------------------


async def from_task(
    task_id: str,
    tasks: TaskStore,
    paths: TaskPaths,
    validate: SqlValidator | None = None,
) -> BuiltSet:
    """The pairs of the task's current pair file once its ``sql_validation`` step completed.

    When validation rewrote the file (``modify_original_file``, leaving a ``.backup``), every
    pair in it passed; otherwise the file still holds the failures too, and each pair is checked
    again with ``validate`` (required then).
    """
    task = await tasks.get(task_id)
    if task is None:
        raise BuildError(f"no pipeline task {task_id}")
    steps = {step["step_name"]: step["step_status"] for step in await tasks.steps(task_id)}
    if steps.get("sql_validation") != "completed":
        raise BuildError(f"task {task_id}: its sql_validation step has not completed")
    task_dir = paths.task_dir(task_id)
    candidates = await asyncio.to_thread(pair_files, task_dir)
    if not candidates:
        raise BuildError(f"task {task_id}: no question/SQL pair file")
    pair_file = candidates[0]
    rewritten = pair_file.with_name(pair_file.name + ".backup").is_file()
    if not rewritten and validate is None:
        raise BuildError(f"task {task_id}: its pair file also holds unvalidated pairs")
    pairs = json.loads(await asyncio.to_thread(pair_file.read_text, encoding="utf-8"))
    built = BuiltSet()
    tags = ["pipeline", f"task:{task_id}"]
    for index, pair in enumerate(pairs if isinstance(pairs, list) else []):
        entry_id = f"{task_id}-{index}"
        question, sql = _pair_fields(pair)
        if not question or not sql:
            built.skipped.append((entry_id, "not a question/SQL pair"))
            continue
        problem = None if rewritten else await validate(sql)  # type: ignore[misc]
        if problem is not None:
            built.skipped.append((entry_id, f"invalid SQL: {problem}"))
            continue
        built.questions.append(
            GoldenQuestion(
                id=entry_id,
                question=question,
                sql=sql,
                tags=list(tags),
                language=detect_language(question),
                database=task.get("db_name"),
            )
        )
    return built


def _pair_fields(pair: Any) -> tuple[str, str]:
    if not isinstance(pair, dict):
        return "", ""
    question, sql = pair.get("question"), pair.get("sql")
    if not isinstance(question, str) or not isinstance(sql, str):
        return "", ""
    return question.strip(), sql.strip()


# ---- Spider / BIRD ---------------------------------------------------------------------------


def from_spider(path: Path, *, database: str, db_id: str | None = None) -> BuiltSet:
    """Spider/BIRD entries (``question``, ``query`` or BIRD's ``SQL``, ``db_id``), their SQLite
    SQL rewritten for a PostgreSQL copy named ``database``.

    The copy is assumed to use lower-case names (as loaders such as pgloader create them), so
    every identifier is lower-cased; double-quoted text is a string, as SQLite reads it there.
    """
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BuildError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(entries, list):
        raise BuildError(f"{path}: expected a JSON list of questions")
    built = BuiltSet()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or (db_id and entry.get("db_id") != db_id):
            continue
        entry_id = f"{entry.get('db_id', 'db')}-{entry.get('question_id', index)}"
        question = str(entry.get("question") or "").strip()
        source_sql = str(entry.get("query") or entry.get("SQL") or "").strip()
        if not question or not source_sql:
            built.skipped.append((entry_id, "no question or SQL"))
            continue
        try:
            sql = sqlite_to_postgres(source_sql)
        except sqlglot.errors.SqlglotError as error:
            built.skipped.append((entry_id, f"SQL not translated: {str(error)[:200]}"))
            continue
        built.questions.append(
            GoldenQuestion(
                id=entry_id,
                question=question,
                sql=sql,
                tags=_spider_tags(entry),
                language=detect_language(question),
                database=database,
            )
        )
    return built


def _spider_tags(entry: dict[str, Any]) -> list[str]:
    tags = ["bird" if "SQL" in entry else "spider"]
    if isinstance(entry.get("difficulty"), str):  # BIRD: simple | moderate | challenging
        tags.append(entry["difficulty"])
    if entry.get("db_id"):
        tags.append(f"db:{entry['db_id']}")
    return tags


def sqlite_to_postgres(sql: str) -> str:
    """One SQLite query as PostgreSQL, identifiers lower-cased."""
    tree = sqlglot.parse_one(_double_quotes_to_strings(sql), read="sqlite")
    for identifier in tree.find_all(exp.Identifier):
        identifier.set("this", identifier.this.lower())
    return tree.sql(dialect="postgres")


def _double_quotes_to_strings(sql: str) -> str:
    """``"text"`` → ``'text'`` outside single-quoted strings, backticks and brackets."""
    out, i, closers = [], 0, {"'": "'", "`": "`", "[": "]"}
    while i < len(sql):
        char = sql[i]
        if char in closers:
            end = sql.find(closers[char], i + 1)
            while char == "'" and end != -1 and sql[end + 1 : end + 2] == "'":
                end = sql.find("'", end + 2)  # '' is a quote inside the string
            end = len(sql) - 1 if end == -1 else end
            out.append(sql[i : end + 1])
            i = end + 1
        elif char == '"':
            end = i + 1
            while end < len(sql) and not (sql[end] == '"' and sql[end + 1 : end + 2] != '"'):
                end += 2 if sql[end] == '"' else 1
            text = sql[i + 1 : end].replace('""', '"').replace("'", "''")
            out.append(f"'{text}'")
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)
