"""Training data of the demo database: its DDL, column documentation and curated question/SQL
pairs (``demo_training.yaml``), loaded into the vector store idempotently.

Ids in the vector store are derived from the content, so loading twice stores nothing new and
embeds nothing (existing rows are found before the embedding service is asked). The curated
pairs keep stable ids of their own (``demo-001`` …) so evaluation sets can hold them out and the
demo fake LLM can answer them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Literal

import asyncpg
import yaml

from citu.db.demo import DEMO_TABLES
from citu.training.live_schema import read_schema
from citu.training.models import TrainingItem, question_sql_item

if TYPE_CHECKING:
    from citu.training.service import TrainingService

log = logging.getLogger("citu.db.demo_training")

START_TIMEOUT_SECONDS = 60.0  # loading at start; the first load embeds ~70 texts


@dataclass(frozen=True)
class CuratedPair:
    id: str
    lang: Literal["zh", "en"]
    topic: str
    question: str
    sql: str
    rows: Literal["some", "any"] = "some"  # "some": the SQL must return at least one row


@dataclass(frozen=True)
class CuratedDemo:
    pairs: tuple[CuratedPair, ...]
    documentation: tuple[str, ...]


@cache
def curated_demo() -> CuratedDemo:
    """The packaged curated data, checked once (unique ids and questions)."""
    text = (files("citu.db") / "demo_training.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    pairs = tuple(
        CuratedPair(
            id=str(p["id"]),
            lang=p["lang"],
            topic=str(p["topic"]),
            question=str(p["question"]).strip(),
            sql=" ".join(str(p["sql"]).split()),
            rows=p.get("rows", "some"),
        )
        for p in raw["pairs"]
    )
    for name, values in (("id", [p.id for p in pairs]), ("question", [p.question for p in pairs])):
        repeated = [v for v, n in Counter(values).items() if n > 1]
        if repeated:
            raise ValueError(f"demo_training.yaml: repeated {name}: {repeated}")
    docs = tuple(" ".join(str(d["text"]).split()) for d in raw.get("documentation", []))
    return CuratedDemo(pairs, docs)


def curated_pairs() -> tuple[CuratedPair, ...]:
    return curated_demo().pairs


async def demo_training_items(business: asyncpg.Pool | asyncpg.Connection) -> list[TrainingItem]:
    """DDL and documentation of each demo table (read from the catalog), the curated notes and
    the curated pairs, in a stable order."""
    tables = {t.name: t for t in await read_schema(business, DEMO_TABLES)}
    missing = [name for name in DEMO_TABLES if name not in tables]
    if missing:
        raise LookupError(f"demo tables missing from the business database: {missing}")
    ordered = [tables[name] for name in DEMO_TABLES]
    items = [TrainingItem("ddl", t.ddl()) for t in ordered]
    items += [TrainingItem("documentation", t.documentation()) for t in ordered]
    items += [TrainingItem("documentation", text) for text in curated_demo().documentation]
    items += [question_sql_item(p.question, p.sql, "sql") for p in curated_pairs()]
    return items


async def train_demo(
    training: TrainingService, business: asyncpg.Pool | asyncpg.Connection
) -> dict[str, int]:
    """Load the demo training data; counts per kind and how many rows were new."""
    items = await demo_training_items(business)
    stored = await training.add_items(items)
    counts = Counter(item.kind for item in items)
    result = {kind: counts.get(kind, 0) for kind in ("ddl", "documentation", "sql")}
    result["new"] = sum(1 for s in stored if s.created)
    log.info("demo training data loaded: %s", result)
    return result


async def train_demo_at_start(
    training: TrainingService, business: asyncpg.Pool | None, embedding_configured: bool
) -> dict[str, int] | None:
    """Load the demo training data when citu starts on its demo database.

    Never fails the start: without an embedding endpoint (or with a failing one) the service
    still runs, and the SQL prompt falls back to the schema read from the catalog."""
    if not embedding_configured:
        log.warning(
            "demo training data not loaded: no embedding endpoint (CITU_EMBEDDING_BASE_URL);"
            " the SQL prompt uses the live schema instead"
        )
        return None
    if business is None:
        log.warning("demo training data not loaded: the demo database is unreachable")
        return None
    try:
        # A black-holed endpoint must not hold the start for retries × timeouts.
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            return await train_demo(training, business)
    except Exception as error:  # noqa: BLE001 - start degraded rather than not at all
        log.warning("demo training data not loaded: %s", type(error).__name__)
        log.debug("demo training failure", exc_info=True)
        return None
