"""Id, name and timestamp patterns match the whole value: a trailing newline is not accepted
(``$`` matches before a final newline; ``fullmatch`` does not)."""

from __future__ import annotations

import pytest

from citu.errors import BadRequest
from citu.pipeline.files import is_valid_task_id
from citu.pipeline.render import ddl_default
from citu.pipeline.requests import parse_restore


@pytest.mark.parametrize("task_id", ["task_20250101_000000\n", "task_1\n", "\ntask_1"])
def test_a_task_id_with_a_newline_is_invalid(task_id):
    assert not is_valid_task_id(task_id)
    assert is_valid_task_id(task_id.strip())


def test_a_restore_timestamp_with_a_trailing_newline_is_refused():
    body = {"backup_path": "vector_bak", "timestamp": "20250101_000000\n"}
    with pytest.raises(BadRequest) as refused:
        parse_restore(body)
    assert refused.value.invalid_params == ["timestamp"]


def test_a_default_that_is_a_number_then_a_newline_is_quoted():
    assert ddl_default("42") == "42"
    assert ddl_default("42\n") != "42\n"
