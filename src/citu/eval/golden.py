"""Golden question sets: questions with a gold SQL whose result is the right answer.

A set is a JSONL file (one question per line), a JSON list, or a YAML list; ``"demo"`` names the
set bundled with citu for the demo database. The format is described in ``docs/evaluation.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml

DEMO_SET = "demo"


class GoldenQuestion(pydantic.BaseModel):
    """One question of a golden set."""

    model_config = pydantic.ConfigDict(extra="forbid")

    id: str = pydantic.Field(min_length=1)
    question: str = pydantic.Field(min_length=1)
    sql: str = pydantic.Field(min_length=1)  # the gold SQL (PostgreSQL)
    expected: list[list[Any]] | None = None  # optional rows the gold SQL must return
    tags: list[str] = []  # difficulty and skills, e.g. "easy", "join"
    language: Literal["zh", "en"]
    database: str | None = None
    follow_up_of: str | None = None  # multi-turn: the id of the previous question


class GoldenSetError(ValueError):
    """The set cannot be used; the message names the file and the problem."""


def load_set(source: str | Path) -> list[GoldenQuestion]:
    """The questions of ``source`` ("demo", or a .jsonl/.json/.yaml/.yml file), checked."""
    if str(source) == DEMO_SET:
        text = (files("citu.eval") / "sets" / "demo.jsonl").read_text(encoding="utf-8")
        return _checked(_parse(text, ".jsonl", DEMO_SET), DEMO_SET)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GoldenSetError(f"{path}: cannot read ({exc.strerror})") from None
    return _checked(_parse(text, path.suffix.lower(), str(path)), str(path))


def dump_set(questions: Sequence[GoldenQuestion], path: Path) -> None:
    """Write ``questions`` as JSONL (UTF-8, one object per line, empty fields left out)."""
    lines = [json.dumps(q.model_dump(exclude_defaults=True), ensure_ascii=False) for q in questions]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _parse(text: str, suffix: str, name: str) -> list[Any]:
    try:
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise GoldenSetError(f"{name}: unknown format (use .jsonl, .json, .yaml or .yml)")
    except (ValueError, yaml.YAMLError) as exc:
        raise GoldenSetError(f"{name}: not valid {suffix.lstrip('.')}: {exc}") from None
    if isinstance(data, dict) and "questions" in data:
        data = data["questions"]
    if not isinstance(data, list):
        raise GoldenSetError(f"{name}: expected a list of questions")
    return data


def _checked(raw: list[Any], name: str) -> list[GoldenQuestion]:
    questions = []
    for number, item in enumerate(raw, start=1):
        try:
            questions.append(GoldenQuestion.model_validate(item))
        except pydantic.ValidationError as exc:
            raise GoldenSetError(f"{name}: question {number}: {exc}") from None
    if not questions:
        raise GoldenSetError(f"{name}: no questions")
    repeated = [i for i, n in Counter(q.id for q in questions).items() if n > 1]
    if repeated:
        raise GoldenSetError(f"{name}: repeated ids: {repeated}")
    _check_follow_ups(questions, name)
    return questions


def _check_follow_ups(questions: list[GoldenQuestion], name: str) -> None:
    """A follow-up names an earlier question, so parents run first and chains end."""
    seen: set[str] = set()
    for q in questions:
        if q.follow_up_of is not None and q.follow_up_of not in seen:
            raise GoldenSetError(
                f"{name}: {q.id} follows up {q.follow_up_of!r}, which is not an earlier question"
            )
        seen.add(q.id)
