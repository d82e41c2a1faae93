"""Golden question sets: one question, its gold SQL and its tags per entry; JSONL on disk.

A minimal version of the golden-set format (no bundled demo set): the eval harness's own
module of this name replaces it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pydantic


class GoldenQuestion(pydantic.BaseModel):
    id: str
    question: str
    sql: str
    expected: list[list[Any]] | None = None
    tags: list[str] = []
    language: Literal["zh", "en"]
    database: str | None = None
    follow_up_of: str | None = None


def load_set(source: str | Path) -> list[GoldenQuestion]:
    """A set from a ``.jsonl`` file (one question a line) or a ``.json`` list."""
    path = Path(source)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [GoldenQuestion.model_validate(entry) for entry in json.loads(text)]
    return [GoldenQuestion.model_validate_json(line) for line in text.splitlines() if line.strip()]


def dump_set(questions: Sequence[GoldenQuestion], path: Path) -> None:
    lines = [question.model_dump_json(exclude_none=True) for question in questions]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
