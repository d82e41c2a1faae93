"""The ``.ddl`` and ``_detail.md`` text of a table, in the old service's layout.

Both texts feed training and the agents' prompts. The DDL is also valid SQL: each column's
comment follows its comma, and a comment never spans lines.
"""

from __future__ import annotations

import re

from citu.pipeline.inspect import FieldInfo, TableMetadata

_LENGTH_NOTE = re.compile(r"[（(]\s*\d+\s*字\s*[）)]\s*$")
_CAST = re.compile(r"::[a-zA-Z_][\w ]*(\(\d+(,\s*\d+)?\))?(\[\])?$")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_UUID_TYPES = {"uuid"}
_JSON_TYPES = {"json", "jsonb"}


def clean_comment(comment: str | None) -> str | None:
    if not comment:
        return None
    text = _LENGTH_NOTE.sub("", comment.strip()).strip()
    return text or None


def short_name(comment: str | None) -> str | None:
    """The part of a comment before the first ``，`` or ``。`` (the table's Chinese name)."""
    text = clean_comment(comment)
    if not text:
        return None
    return re.split(r"[，。]", text, maxsplit=1)[0].strip() or text


def ddl_type(info: FieldInfo) -> str:
    data_type = info.data_type.lower()
    if data_type == "character varying":
        return f"varchar({info.max_length})" if info.max_length else "varchar"
    if data_type == "character":
        return f"char({info.max_length})" if info.max_length else "char"
    if data_type == "numeric":
        if info.precision is not None and info.scale is not None:
            return f"numeric({info.precision},{info.scale})"
        if info.precision is not None:
            return f"numeric({info.precision})"
        return "numeric"
    return {
        "timestamp without time zone": "timestamp",
        "timestamp with time zone": "timestamptz",
        "time without time zone": "time",
        "time with time zone": "timetz",
        "int": "integer",
        "int4": "integer",
        "int8": "bigint",
        "int2": "smallint",
        "float8": "double precision",
        "float4": "real",
    }.get(data_type, data_type)


def doc_type(info: FieldInfo) -> str:
    data_type = info.data_type.lower()
    if data_type == "character varying" and info.max_length:
        return f"varchar({info.max_length})"
    if data_type == "numeric" and info.precision is not None:
        return f"numeric({info.precision},{info.scale or 0})"
    if data_type.startswith("timestamp"):
        precision = info.datetime_precision
        return "timestamp" if precision in (None, 6) else f"timestamp({precision})"
    return data_type


def ddl_default(value: str | None) -> str | None:
    if not value or value.strip() == "" or "nextval(" in value:
        return None
    text = value.strip()
    while _CAST.search(text):
        text = _CAST.sub("", text).strip()
    lowered = text.lower()
    if lowered in ("now()", "current_timestamp", "localtimestamp"):
        return "current_timestamp"
    if lowered == "current_date":
        return "current_date"
    if lowered in ("true", "false"):
        return lowered
    if _NUMBER.fullmatch(text) or (text.startswith("'") and text.endswith("'")):
        return text
    return "'" + text.replace("'", "''") + "'"


def _one_line(text: str) -> str:
    """A comment fit for a ``--`` line: a line break would end the comment mid-text."""
    return " ".join(text.split())


def render_ddl(meta: TableMetadata) -> str:
    """Executable ``create table`` text, with the comments the prompts read kept as ``--``."""
    lines = []
    comment = clean_comment(meta.comment)
    if comment:
        lines.append(f"-- 中文名: {_one_line(short_name(comment) or comment)}")
        lines.append(f"-- 描述: {_one_line(comment)}")
    else:
        lines.append(f"-- 中文名: {meta.name}")
    lines.append(f"create table {meta.schema}.{meta.name} (")
    primary = [f.name for f in meta.fields if f.is_primary_key]
    for index, info in enumerate(meta.fields):
        definition = f"  {info.name} {ddl_type(info)}"
        if not info.nullable:
            definition += " not null"
        default = ddl_default(info.default_value)
        if default:
            definition += f" default {default}"
        # The separator goes before the comment: after it, the comment would swallow it.
        if index < len(meta.fields) - 1 or primary:
            definition += ","
        note = clean_comment(info.comment)
        notes = [_one_line(note)] if note else []
        for tag, on in (("主键", info.is_primary_key), ("外键", info.is_foreign_key)):
            if on and not (note and tag in note):
                notes.append(tag)
        line = definition
        if notes:
            line = definition.ljust(30) if len(definition) < 30 else definition + " "
            line += "-- " + "，".join(notes)
        lines.append(line)
    if primary:
        lines.append(f"  primary key ({', '.join(primary)})")
    lines.append(");")
    return "\n".join(lines)


def render_doc(meta: TableMetadata) -> str:
    comment = clean_comment(meta.comment)
    lines = [
        f"## {meta.name}（{short_name(comment) or '数据表'}）",
        f"{meta.name} 表{comment or ''}",
        "字段列表：",
    ]
    for info in meta.fields:
        line = f"- {info.name} ({doc_type(info)}) - {clean_comment(info.comment) or info.name}"
        tags = [
            tag
            for tag, on in (
                ("主键", info.is_primary_key),
                ("外键", info.is_foreign_key),
                ("非空", not info.nullable),
            )
            if on
        ]
        if tags:
            line += f" [{', '.join(tags)}]"
        examples = (info.enum_values or [])[:10] if info.is_enum else info.samples[:2]
        if examples:
            line += f" [示例: {', '.join(examples)}]"
        lines.append(line)
    notes = _supplementary_notes(meta)
    if notes:
        lines.append("字段补充说明：")
        lines.extend(notes)
    return "\n".join(lines) + "\n"


def _supplementary_notes(meta: TableMetadata) -> list[str]:
    notes = []
    primary = [f.name for f in meta.fields if f.is_primary_key]
    if len(primary) == 1:
        notes.append(f"- {primary[0]} 为主键")
    elif primary:
        notes.append(f"- 复合主键：{', '.join(primary)}")
    for info in meta.fields:
        if info.is_foreign_key and info.references:
            notes.append(f"- {info.name} 为外键，关联 {info.references}")
    for info in meta.fields:
        if info.is_enum and info.enum_values:
            notes.append(f"- {info.name} 为枚举字段，包含取值：{'、'.join(info.enum_values)}")
        data_type = info.data_type.lower()
        if data_type in _UUID_TYPES:
            notes.append(f"- {info.name} 使用 UUID 编码")
        if (
            data_type.startswith("timestamp")
            and ddl_default(info.default_value) == "current_timestamp"
        ):
            notes.append(f"- {info.name} 自动记录当前时间")
        if data_type in _JSON_TYPES:
            notes.append(f"- {info.name} 存储JSON格式数据")
    if meta.name.endswith(("_rel", "_relation")):
        notes.append("- 本表是关联表，用于多对多关系映射")
    return notes
