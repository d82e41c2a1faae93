"""SQL generation: every hostile statement an LLM could answer is stopped before the database."""

from __future__ import annotations

import httpx
import pytest
from test_sql_guard import HOSTILE

from citu.agents.llm_text import looks_like_sql
from citu.agents.sql_generation import SqlGenerator
from citu.llm import build_text_model
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
