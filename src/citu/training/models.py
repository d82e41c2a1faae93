"""Training items: the four kinds, their row format in the vector store, and their validation.

Row formats (ids, documents, metadata) are those of the old service, so rows
written by either service are read by both. Ids are derived from the normalised content instead
of a random uuid4: the same content always maps to the same id, which makes training idempotent.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from citu.errors import BadRequest
from citu.sql.guard import SqlGuard, default_guard

Kind = Literal["sql", "error_sql", "ddl", "documentation"]

# Order of the keys in stats and create summaries (the old service's order).
KINDS: tuple[Kind, ...] = ("sql", "documentation", "ddl", "error_sql")
COLLECTIONS: dict[Kind, str] = {
    "sql": "sql",
    "error_sql": "error_sql",
    "ddl": "ddl",
    "documentation": "documentation",
}
SUFFIXES: dict[Kind, str] = {
    "sql": "-sql",
    "error_sql": "-error_sql",
    "ddl": "-ddl",
    "documentation": "-doc",
}

# Fixed namespace for the content-derived ids (changing it would break idempotency).
_ID_NAMESPACE = uuid.UUID("6f1d7c3e-2b7a-4f3e-9a51-8c1e0d4b7a20")
_SPACES = re.compile(r"\s+")
_WRITE_KEYWORDS = ("UPDATE", "DELETE", "DROP", "ALTER")
MSG_WRITE_FORBIDDEN = '在训练集中禁止使用"UPDATE,DELETE,ALERT,DROP"'


class InvalidTrainingData(BadRequest):
    """A training item that cannot be stored as given (400, naming the field)."""


def _normalise(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _normalise_sql(sql: str) -> str:
    return _normalise(sql).rstrip("; ").strip()


@dataclass(frozen=True)
class TrainingItem:
    """One piece of training data. ``question`` is None for ddl/documentation, and for a SQL
    example whose question still has to be generated."""

    kind: Kind
    content: str
    question: str | None = None

    @property
    def collection(self) -> str:
        return COLLECTIONS[self.kind]

    @property
    def needs_question(self) -> bool:
        return self.kind in ("sql", "error_sql") and not self.question

    def with_question(self, question: str) -> TrainingItem:
        return TrainingItem(self.kind, self.content, question)

    def document(self) -> str:
        """The text stored (and embedded) in ``langchain_pg_embedding.document``."""
        if self.kind == "sql":
            return json.dumps({"question": self.question, "sql": self.content}, ensure_ascii=False)
        if self.kind == "error_sql":
            payload = {"question": self.question, "sql": self.content, "type": "error_sql"}
            return json.dumps(payload, ensure_ascii=False)
        return self.content

    def row_id(self) -> str:
        """``<uuid>-<suffix>``; the uuid is a hash of the normalised content."""
        if self.kind in ("sql", "error_sql"):
            key = f"{_normalise(self.question or '')}\x00{_normalise_sql(self.content)}"
        else:
            key = _normalise(self.content)
        name = "\x00".join((self.kind, key))
        return f"{uuid.uuid5(_ID_NAMESPACE, name)}{SUFFIXES[self.kind]}"

    def metadata(self, row_id: str, created_at: datetime) -> dict[str, Any]:
        if self.kind in ("sql", "error_sql"):
            # The old service always wrote createdat null; filling it makes combine's
            # by_metadata_time strategy meaningful and stays readable by old readers.
            return {"id": row_id, "createdat": created_at.isoformat()}
        return {"id": row_id}


@dataclass(frozen=True)
class StoredItem:
    """What training really did with one item."""

    id: str
    kind: Kind
    created: bool  # False: the same content was already stored under ``id``
    question: str | None = None


def kind_of_id(row_id: str) -> Kind | None:
    """Classify a stored id by suffix, in the old service's order."""
    for kind in ("documentation", "error_sql", "sql", "ddl"):
        if row_id.endswith(SUFFIXES[kind]):
            return kind
    return None


def training_sql_problem(sql: str, guard: SqlGuard | None = None) -> str | None:
    """Why ``sql`` may not be a training example, or None. Examples are replayed to the LLM,
    whose SQL is executed, so only queries the SQL guard accepts are. CPU work: call it off the
    event loop (``TrainingService.parse``)."""
    check = (guard or default_guard()).check_now(sql)
    if check.ok:
        return None
    first = sql.strip().split(maxsplit=1)[0].upper() if sql.strip() else ""
    if first in _WRITE_KEYWORDS:
        return f"{MSG_WRITE_FORBIDDEN}：{check.reason}"
    return f"SQL语法错误：{check.reason}"


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if isinstance(value, str):
        # NUL cannot be stored as text by PostgreSQL, nor its JSON escape as jsonb.
        value = value.replace("\x00", "").strip()
        return value or None
    return None


def parse_item(raw: Any, guard: SqlGuard | None = None) -> TrainingItem:
    """Build an item from a create/update payload; raise ``InvalidTrainingData`` with the old
    service's messages. A ``sql`` item without question comes back with ``question=None``."""
    if not isinstance(raw, Mapping):
        raise InvalidTrainingData("训练数据项必须是对象", invalid_params=["data"])
    kind = raw.get("training_data_type")
    if kind == "sql":
        sql = _text(raw, "sql")
        if sql is None:
            raise InvalidTrainingData("SQL字段是必需的", missing_params=["sql"])
        problem = training_sql_problem(sql, guard)
        if problem:
            raise InvalidTrainingData(problem, invalid_params=["sql"])
        return TrainingItem("sql", sql, _text(raw, "question"))
    if kind == "error_sql":
        question, sql = _text(raw, "question"), _text(raw, "sql")
        if question is None or sql is None:
            raise InvalidTrainingData(
                "question和sql字段都是必需的", missing_params=["question", "sql"]
            )
        return TrainingItem("error_sql", sql, question)
    if kind == "documentation":
        content = _text(raw, "content")
        if content is None:
            raise InvalidTrainingData("content字段是必需的", missing_params=["content"])
        return TrainingItem("documentation", content)
    if kind == "ddl":
        ddl = _text(raw, "ddl")
        if ddl is None:
            raise InvalidTrainingData("ddl字段是必需的", missing_params=["ddl"])
        return TrainingItem("ddl", ddl)
    raise InvalidTrainingData(
        f"不支持的训练数据类型: {kind}", invalid_params=["training_data_type"]
    )


def question_sql_item(
    question: str | None, sql: str, kind: Kind = "sql", guard: SqlGuard | None = None
) -> TrainingItem:
    """A validated question/SQL item for the service's ``add_*`` methods."""
    payload = {"training_data_type": kind, "question": question, "sql": sql}
    return parse_item(payload, guard)
