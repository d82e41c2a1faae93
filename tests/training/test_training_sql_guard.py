"""Training examples are checked by the same SQL guard as every other path."""

from __future__ import annotations

import threading

import pytest

from citu.sql.guard import SqlGuard
from citu.training.models import InvalidTrainingData, parse_item


def _sql_item(sql: str) -> dict[str, str]:
    return {"training_data_type": "sql", "question": "q", "sql": sql}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT U&\"pg\\005fread\\005ffile\"('/etc/hostname')",
        "SELECT * FROM pg_hba_file_rules()",
        "SELECT lo_from_bytea(0, 'x')",
    ],
)
def test_examples_that_slipped_past_the_deny_list_are_refused(sql: str) -> None:
    with pytest.raises(InvalidTrainingData) as info:
        parse_item(_sql_item(sql))
    assert str(info.value).startswith("SQL语法错误：")


def test_the_deployment_guard_decides() -> None:
    with pytest.raises(InvalidTrainingData):
        parse_item(_sql_item("SELECT my_fn(1)"))
    item = parse_item(_sql_item("SELECT my_fn(1)"), SqlGuard(extra_functions=["my_fn"]))
    assert item.content == "SELECT my_fn(1)"  # the example keeps the author's text


async def test_service_parses_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    from citu.settings import Settings
    from citu.training.service import TrainingService

    service = TrainingService.__new__(TrainingService)  # parsing needs no pool or embedder
    service.guard = SqlGuard.from_settings(Settings())
    threads: list[int] = []
    original = SqlGuard.check_now

    def record(self: SqlGuard, sql: str):
        threads.append(threading.get_ident())
        return original(self, sql)

    monkeypatch.setattr(SqlGuard, "check_now", record)
    entries = await service.parse_many([_sql_item("SELECT 1"), _sql_item("DELETE FROM t")])
    assert entries[0].content == "SELECT 1"
    assert isinstance(entries[1], str)
    assert threads and threading.get_ident() not in threads
