"""The golden-set format and the bundled demo set: loadable, held out, and every gold SQL right."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from citu.db.demo_training import curated_pairs
from citu.eval.golden import GoldenQuestion, GoldenSetError, dump_set, load_set
from citu.eval.scoring import result_rows, rows_equivalent
from citu.settings import Settings
from citu.sql.guard import SqlGuard
from citu.sql.runner import run_read_only
from fakes.demo_llm import normalise_question

DEMO = load_set("demo")
SKILLS = {"aggregation", "join", "time_filter", "ranking", "follow_up"}


def test_demo_set_size_languages_and_tags():
    assert len(DEMO) >= 60
    languages = Counter(q.language for q in DEMO)
    assert languages["zh"] >= 20 and languages["en"] >= 20
    for q in DEMO:
        assert len([t for t in q.tags if t in ("easy", "medium", "hard")]) == 1, q.id
    used = {t for q in DEMO for t in q.tags}
    assert SKILLS <= used
    assert all(("follow_up" in q.tags) == (q.follow_up_of is not None) for q in DEMO)


def test_demo_set_is_held_out_from_the_curated_training_pairs():
    def sql_key(sql: str) -> str:
        return " ".join(sql.lower().rstrip("; ").split())

    trained_questions = {normalise_question(p.question) for p in curated_pairs()}
    trained_sql = {sql_key(p.sql) for p in curated_pairs()}
    for q in DEMO:
        assert normalise_question(q.question) not in trained_questions, q.id
        assert sql_key(q.sql) not in trained_sql, q.id


@pytest.mark.parametrize("question", DEMO, ids=[q.id for q in DEMO])
async def test_every_gold_sql_runs_through_the_guard_and_returns_its_rows(
    question: GoldenQuestion, business_reader_url: str
):
    guard = SqlGuard.from_settings(Settings(_env_file=None))
    conn = await asyncpg.connect(business_reader_url)
    try:
        result = await run_read_only(conn, question.sql, guard=guard)
    finally:
        await conn.close()
    assert result.row_count > 0 and not result.is_limited
    if question.expected is not None:
        assert rows_equivalent(question.expected, result_rows(result.columns, result.rows))


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".yaml"])
def test_sets_load_from_each_format_and_round_trip(tmp_path: Path, suffix: str):
    items = [q.model_dump(exclude_defaults=True) for q in DEMO[:3]]
    path = tmp_path / f"set{suffix}"
    if suffix == ".jsonl":
        dump_set(DEMO[:3], path)
    elif suffix == ".json":
        path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    else:
        import yaml

        path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    assert load_set(path) == DEMO[:3]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "question": "q", "sql": "SELECT 1", "language": "fr"}\n', "question 1"),
        ('{"id": "a", "question": "q", "sql": "SELECT 1", "language": "en"}\n' * 2, "repeated"),
        ('{"id": "b", "question": "q", "sql": "SELECT 1", "language": "en", '
         '"follow_up_of": "a"}\n', "not an earlier question"),
        ("", "no questions"),
        ("{not json\n", "not valid"),
    ],
)  # fmt: skip
def test_bad_sets_are_refused_with_a_reason(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(GoldenSetError, match=message):
        load_set(path)
