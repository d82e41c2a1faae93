"""Which question sets an API caller may run: the bundled demo set, a file in the server's own
sets directory (by bare file name, never a path), or questions sent inline."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from citu.errors import BadRequest, NotFound
from citu.eval.golden import GoldenQuestion, load_set

SETS_FOLDER = "eval_sets"  # under the data directory
SET_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.(jsonl|json|yaml|yml)")
MAX_QUESTIONS = 5000


def sets_dir(data_dir: Path) -> Path:
    return Path(data_dir) / SETS_FOLDER


def load_named_set(name: str, folder: Path) -> list[GoldenQuestion]:
    """``demo`` or the name of a set file inside ``folder``."""
    if name == "demo":
        return _checked(_read(name, "demo"), name)
    if not SET_FILE_NAME.fullmatch(name):
        raise BadRequest(
            "评测集名称无效：应为 demo 或评测集目录中的文件名（.jsonl/.json/.yaml）",
            invalid_params=["set_name"],
        )
    path = folder / name
    if path.is_symlink() or not path.is_file():
        raise NotFound(f"评测集不存在: {name}")
    return _checked(_read(name, path), name)


def inline_set_name(questions: Sequence[GoldenQuestion]) -> str:
    """A stable name for questions sent inline: the same questions are the same set."""
    digest = hashlib.sha256()
    for question in questions:
        digest.update(question.model_dump_json().encode())
    return f"inline-{digest.hexdigest()[:12]}"


def _read(name: str, source: str | Path) -> list[GoldenQuestion]:
    try:
        return load_set(source)
    except (ValueError, OSError):  # pydantic's ValidationError is a ValueError
        raise BadRequest(f"评测集无法读取或格式无效: {name}", invalid_params=["set_name"]) from None


def _checked(questions: list[GoldenQuestion], name: str) -> list[GoldenQuestion]:
    if not questions:
        raise BadRequest(f"评测集为空: {name}", invalid_params=["set_name"])
    if len(questions) > MAX_QUESTIONS:
        raise BadRequest(f"评测集问题数超过上限({MAX_QUESTIONS})", invalid_params=["set_name"])
    return questions
