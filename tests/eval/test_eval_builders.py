"""Set builders against the real PostgreSQL: thumbs-up feedback, a pipeline task's validated
pairs, Spider/BIRD JSON (its translated SQL run on a PostgreSQL copy), and ``citu eval build``."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from citu.eval.build_cli import add_build_parser
from citu.eval.builders import (
    BuildError,
    detect_language,
    from_feedback,
    from_spider,
    from_task,
    sqlite_to_postgres,
)
from citu.eval.golden import load_set
from citu.pipeline.files import TaskPaths
from citu.pipeline.tasks import TaskStore
from citu.stores.feedback import FeedbackStore


@pytest.fixture
async def pool(citu_db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(citu_db_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


def test_language_is_told_by_cjk_characters():
    assert detect_language("各服务区的营收是多少？") == "zh"
    assert detect_language("Top 3 areas by revenue in 2024") == "en"
    assert detect_language("2024年 revenue") == "zh"


# ---- feedback --------------------------------------------------------------------------------


async def test_from_feedback_keeps_thumbs_up_and_the_newest_sql(pool):
    store = FeedbackStore(pool)
    first = await store.add("有多少个服务区？", "SELECT 1", True, "u")
    await store.add("Which company is largest?", "SELECT 2", False, "u")
    newer = await store.add("有多少个服务区？ ", "SELECT count(*) FROM bss_service_area", True, "u")
    english = await store.add("How many cars?", "SELECT 3", True, "u")
    built = await from_feedback(pool)
    assert [(q.id, q.sql, q.language) for q in built.questions] == [
        (f"feedback-{newer}", "SELECT count(*) FROM bss_service_area", "zh"),
        (f"feedback-{english}", "SELECT 3", "en"),
    ]
    assert built.questions[0].question == "有多少个服务区？"
    assert built.questions[0].tags == ["feedback"]
    assert [entry_id for entry_id, _ in built.skipped] == [f"feedback-{first}"]


# ---- pipeline task ---------------------------------------------------------------------------

PAIRS = [
    {"question": "各服务区的营收", "sql": "SELECT 1"},
    {"question": "Broken one", "sql": "SELEC nonsense"},
    {"question": "", "sql": "SELECT 2"},
]


async def make_task(pool, tmp_path: Path, *, validated: bool, rewritten: bool) -> tuple:
    tasks, paths = TaskStore(pool), TaskPaths(tmp_path)
    task_id = await tasks.create(
        task_name="t",
        parameters={},
        business_dsn=None,
        db_name="highway_db",
        output_directory=paths.output_directory("{task_id}"),
    )
    task_dir = paths.task_dir(task_id)
    task_dir.mkdir(parents=True)
    pair_file = task_dir / "qs_highway_db_20250101_000000_pair.json"
    pair_file.write_text(json.dumps(PAIRS, ensure_ascii=False), encoding="utf-8")
    if rewritten:
        (task_dir / (pair_file.name + ".backup")).write_text("[]", encoding="utf-8")
    if validated:
        await tasks.step_finished(task_id, "sql_validation")
    return task_id, tasks, paths


async def test_from_task_rechecks_pairs_of_a_file_left_unchanged(pool, tmp_path):
    task_id, tasks, paths = await make_task(pool, tmp_path, validated=True, rewritten=False)
    checked = []

    async def validate(sql: str) -> str | None:
        checked.append(sql)
        return "syntax error" if sql.startswith("SELEC ") else None

    built = await from_task(task_id, tasks, paths, validate)
    assert [(q.id, q.question, q.sql) for q in built.questions] == [
        (f"{task_id}-0", "各服务区的营收", "SELECT 1")
    ]
    assert built.questions[0].database == "highway_db"
    assert built.questions[0].tags == ["pipeline", f"task:{task_id}"]
    assert checked == ["SELECT 1", "SELEC nonsense"]
    assert built.skipped == [
        (f"{task_id}-1", "invalid SQL: syntax error"),
        (f"{task_id}-2", "not a question/SQL pair"),
    ]
    with pytest.raises(BuildError, match="unvalidated"):
        await from_task(task_id, tasks, paths)


async def test_from_task_trusts_a_file_rewritten_by_validation(pool, tmp_path):
    task_id, tasks, paths = await make_task(pool, tmp_path, validated=True, rewritten=True)

    async def never(sql: str) -> str | None:
        raise AssertionError("a rewritten file holds only valid pairs")

    built = await from_task(task_id, tasks, paths, never)
    assert [q.sql for q in built.questions] == ["SELECT 1", "SELEC nonsense"]


async def test_from_task_needs_a_completed_validation(pool, tmp_path):
    task_id, tasks, paths = await make_task(pool, tmp_path, validated=False, rewritten=True)
    with pytest.raises(BuildError, match="sql_validation"):
        await from_task(task_id, tasks, paths)
    with pytest.raises(BuildError, match="no pipeline task"):
        await from_task("task_20990101_000000", tasks, paths)


# ---- Spider / BIRD ---------------------------------------------------------------------------

SPIDER = [
    {
        "db_id": "concert_singer",
        "question": "How many singers are from France?",
        "query": 'SELECT count(*) FROM Singer WHERE Country = "France"',
    },
    {
        "db_id": "concert_singer",
        "question": "Names of singers older than 30, oldest first.",
        "query": "SELECT Name FROM singer WHERE Age > 30 ORDER BY Age DESC",
    },
    {"db_id": "other_db", "question": "Anything?", "query": "SELECT 1"},
    {"db_id": "concert_singer", "question": "Broken", "query": "SELECT FROM WHERE ((("},
]
BIRD = [
    {
        "question_id": 7,
        "db_id": "concert_singer",
        "question": "Average age of singers named 'Joe'?",
        "evidence": "",
        "SQL": "SELECT AVG(`Age`) FROM singer WHERE `Name` = 'Joe'",
        "difficulty": "simple",
    }
]


def test_sqlite_sql_becomes_postgres_with_lower_case_names():
    assert sqlite_to_postgres('SELECT Name FROM T WHERE c = "it\'s"') == (
        "SELECT name FROM t WHERE c = 'it''s'"
    )
    assert sqlite_to_postgres("SELECT `Free Meal` FROM [My T]") == 'SELECT "free meal" FROM "my t"'


async def test_from_spider_maps_onto_a_postgres_copy(pool, tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(SPIDER + BIRD), encoding="utf-8")
    built = from_spider(path, database="concert_copy", db_id="concert_singer")
    assert [q.id for q in built.questions] == [
        "concert_singer-0",
        "concert_singer-1",
        "concert_singer-7",
    ]
    assert [entry_id for entry_id, _ in built.skipped] == ["concert_singer-3"]
    assert {q.database for q in built.questions} == {"concert_copy"}
    assert built.questions[0].tags == ["spider", "db:concert_singer"]
    assert built.questions[2].tags == ["bird", "simple", "db:concert_singer"]
    assert all(q.language == "en" for q in built.questions)
    # The translated SQL runs on a PostgreSQL copy whose names the loader lower-cased.
    await pool.execute("CREATE TABLE singer (singer_id int, name text, country text, age int)")
    await pool.execute(
        "INSERT INTO singer VALUES (1, 'Joe', 'France', 52), (2, 'Ann', 'France', 29),"
        " (3, 'Joe', 'Peru', 40)"
    )
    answers = [[tuple(row) for row in await pool.fetch(q.sql)] for q in built.questions]
    assert answers[0] == [(2,)]
    assert answers[1] == [("Joe",), ("Joe",)]
    assert float(answers[2][0][0]) == 46.0
    assert len(from_spider(path, database="c").questions) == 4  # every db_id


def test_from_spider_refuses_what_is_not_a_list(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text('{"question": "x"}', encoding="utf-8")
    with pytest.raises(BuildError):
        from_spider(path, database="c")
    with pytest.raises(BuildError):
        from_spider(tmp_path / "missing.json", database="c")


# ---- citu eval build -------------------------------------------------------------------------


def build_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="citu eval")
    add_build_parser(parser.add_subparsers(dest="eval_command", required=True))
    return parser.parse_args(argv)


def test_cli_writes_a_golden_set_from_spider(tmp_path, capsys):
    source, out = tmp_path / "dev.json", tmp_path / "sets" / "spider.jsonl"
    source.write_text(json.dumps(SPIDER), encoding="utf-8")
    args = build_args(["build", "--from-spider", str(source), "--database", "c", "--out", str(out)])
    assert args.func(args) == 0
    assert [q.id for q in load_set(out)] == ["concert_singer-0", "concert_singer-1", "other_db-2"]
    printed = capsys.readouterr().out
    assert "3 questions written" in printed and "skipped concert_singer-3" in printed
    missing_database = build_args(["build", "--from-spider", str(source), "--out", str(out)])
    assert missing_database.func(missing_database) == 2
    with pytest.raises(SystemExit):
        build_args(["build", "--from-feedback", "--from-task", "x", "--out", str(out)])


def test_cli_writes_a_golden_set_from_feedback(citu_db_url, tmp_path, monkeypatch):
    import asyncio

    async def add() -> None:
        conn = await asyncpg.connect(citu_db_url)
        try:
            await conn.execute(
                "INSERT INTO qa_feedback (question, sql, is_thumb_up, user_id)"
                " VALUES ('各公司的数量', 'SELECT count(*) FROM bss_company', TRUE, 'u')"
            )
        finally:
            await conn.close()

    asyncio.run(add())
    monkeypatch.setenv("CITU_DATABASE_URL", citu_db_url)
    monkeypatch.setenv("CITU_BUSINESS_DB_URL", citu_db_url)
    monkeypatch.setenv("CITU_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "feedback.jsonl"
    args = build_args(["build", "--from-feedback", "--out", str(out)])
    assert args.func(args) == 0
    [question] = load_set(out)
    assert question.question == "各公司的数量" and question.language == "zh"
