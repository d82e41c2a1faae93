"""SQL generation: every hostile statement an LLM could answer is stopped before the database."""

from __future__ import annotations

import httpx
import pytest
from test_sql_guard import HOSTILE

from citu.agents.sql_generation import SqlGenerator
from citu.llm.clients import build_text_model
from citu.llm.text import looks_like_sql
from citu.settings import Settings
from fakes.ask_script import SQL_PROMPT
from fakes.memory_stores import MemoryRetriever


def no_database():
    raise AssertionError("the business database must not be reached")


@pytest.fixture
async def generator(fake_llm):
    settings = Settings(
        _env_file=None, llm_base_url=fake_llm.base_url, llm_api_key="k", llm_max_retries=0
    )
    async with httpx.AsyncClient() as http:
        yield SqlGenerator(
            build_text_model(settings, http), MemoryRetriever(), no_database, settings
        )


@pytest.mark.parametrize("sql", HOSTILE)
async def test_hostile_sql_from_the_llm_never_reaches_the_database(generator, fake_llm, sql):
    fake_llm.when(SQL_PROMPT, f"```sql\n{sql}\n```")
    result = await generator.generate("给我看看数据")
    assert not result.ok
    if result.failure is not None:  # recognised as SQL: refused with the guard's reason
        assert result.failure.startswith("不允许的操作: ")
        assert result.error_type == "forbidden_keywords"
    else:  # not SQL at all (empty, a bare comment, garbage): shown as an explanation
        assert result.explanation is not None and result.error_type == "llm_explanation"


def test_only_non_statements_are_taken_for_explanations():
    not_statements = {"", "   \n\t ", "-- just a comment", ";", "SELEC 1"}
    assert [s for s in HOSTILE if not looks_like_sql(s.strip())] == [
        s for s in HOSTILE if s in not_statements
    ]


async def test_a_huge_model_reply_is_refused_without_searching_it(generator, fake_llm, caplog):
    # 6.9 MB: 1.3 s of extraction regexes and 6.2 s of log redaction on the event loop.
    sql = "SELECT 1 WHERE 1 IN (" + ",".join(str(i) for i in range(1_000_000)) + ")"
    fake_llm.when(SQL_PROMPT, f"```sql\n{sql}\n```")
    import time

    from citu.agents import sql_generation

    def searched(reply: str) -> str:
        raise AssertionError("a reply over the cap must not be searched for SQL")

    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sql_generation, "extract_sql", searched)
        result = await generator.generate("给我看看数据")
    assert time.perf_counter() - started < 2.0
    assert not result.ok and result.error_type == "forbidden_keywords"
    assert result.failure.startswith("不允许的操作: 模型回复过长")
    assert all(len(r.getMessage()) < 10_000 for r in caplog.records)


async def test_a_refused_statement_is_logged_by_its_head(generator, fake_llm, caplog):
    sql = "DELETE FROM t WHERE a IN (" + ",".join(["1"] * 20_000) + ")"
    fake_llm.when(SQL_PROMPT, f"```sql\n{sql}\n```")
    result = await generator.generate("给我看看数据")
    assert result.error_type == "forbidden_keywords"
    refused = [r for r in caplog.records if "generated SQL refused" in r.getMessage()]
    assert refused and len(refused[0].getMessage()) < 2_300
