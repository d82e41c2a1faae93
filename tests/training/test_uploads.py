"""Upload parsing and validation, without the web layer."""

from __future__ import annotations

import pytest

from citu.training.models import TrainingItem
from citu.training.uploads import (
    UploadRejected,
    decode,
    display_name,
    extension,
    markdown_sections,
    parse,
    parse_upload,
    split_statements,
)


def test_split_statements_respects_quotes_comments_and_dollar_bodies():
    text = """
    -- a comment; still a comment
    CREATE TABLE a (note text DEFAULT 'x;y', "odd;name" int);
    /* block; comment */ COMMENT ON TABLE a IS 'it''s; fine';
    CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
    ;
    """
    statements = split_statements(text)
    assert len(statements) == 3
    assert statements[0].startswith("-- a comment; still a comment\n")
    assert statements[1].endswith("'it''s; fine'")
    assert "$body$ SELECT 1; $body$" in statements[2]


def test_markdown_sections_cut_before_headings_up_to_level_three():
    text = "前言\n# A\na\n## B\nb\n#### not a cut\n###C\nc\n"
    assert markdown_sections(text) == ["前言", "# A\na", "## B\nb\n#### not a cut", "###C\nc"]


def test_names_and_extensions():
    assert display_name("../../etc/训练.MD") == "训练.MD"
    assert extension("C:\\docs\\训练.MD") == "md"
    assert extension("pairs") == ""


def test_decode_strips_bom_and_refuses_other_encodings():
    assert decode("\ufeffCREATE".encode()) == "CREATE"
    with pytest.raises(UploadRejected, match="UTF-8"):
        decode("服务区".encode("gbk"))
    with pytest.raises(UploadRejected):
        decode(b"CREATE\x00")


def test_sql_pairs_and_json_pairs():
    items = parse(
        "sql_pair",
        "Question: 一？\nSQL: SELECT 1\n\nquestion : 二？\nsql:\nSELECT 2\nFROM t;\n",
    )
    assert items == [
        TrainingItem("sql", "SELECT 1", "一？"),
        TrainingItem("sql", "SELECT 2\nFROM t;", "二？"),
    ]
    items = parse(
        "sql_pair_json", '[{"QUESTION": "三？", "Sql": "SELECT 3"}, {"question": 4, "sql": " "}]'
    )
    assert items == [TrainingItem("sql", "SELECT 3", "三？")]


def test_sql_file_items_need_questions_and_writes_fail():
    items = parse("sql", "SELECT 1; DELETE FROM t;")
    assert isinstance(items[0], TrainingItem) and items[0].needs_question
    assert isinstance(items[1], str) and "禁止" in items[1]


def test_parse_upload_rejects_empty_content():
    with pytest.raises(UploadRejected, match="没有可训练的内容"):
        parse_upload("sql_pair_json", "a.json", b'[{"question": "", "sql": ""}]', 1024)
