"""The old in-process cache routes (``cache_overview``, ``cache_stats``, ``cache_export``,
``cache_preview_cleanup``, ``cache_cleanup``) over citu's real cache.

The old service's ``ConversationAwareMemoryCache`` no longer exists; its routes now describe
the Redis question-answer cache, one cached answer per "conversation" (id = its cache key,
start time = ``cached_at``). There are no sessions, so every session figure is 0 or empty.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from citu.errors import BadRequest, ValidationFailed
from citu.stores.caches import QAEntry, QuestionAnswerCache

CACHE_TYPE = "RedisQuestionAnswerCache"
RECENT_LIMIT = 10
PREVIEW_LENGTH = 80
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_FIELDS = ["older_than_hours", "older_than_days", "before_timestamp"]


def started_at(entry: QAEntry, ttl_total: int) -> datetime | None:
    """When the answer was cached: ``cached_at``, else inferred from the remaining TTL."""
    if entry.cached_time is not None:
        return entry.cached_time
    if entry.ttl > 0:
        return datetime.now() - timedelta(seconds=max(ttl_total - entry.ttl, 0))
    return None


def _duration(start: datetime | None, now: datetime) -> float | None:
    return round((now - start).total_seconds(), 2) if start else None


def _preview(text: str | None, length: int) -> str:
    text = text or ""
    return text[:length] + "..." if len(text) > length else text


def overview(entries: list[QAEntry], ttl_total: int) -> dict[str, Any]:
    """``cache_overview`` data: totals and the 10 newest cached answers."""
    now = datetime.now()
    recent = []
    for entry in entries[:RECENT_LIMIT]:
        start = started_at(entry, ttl_total)
        item = {
            "conversation_id": entry.key,
            "conversation_start_time": start.isoformat() if start else None,
            "session_id": None,
            "has_question": bool(entry.question),
            "has_sql": bool(entry.payload.get("sql")),
            "has_data": bool(entry.rows),
            "question_preview": _preview(entry.question, PREVIEW_LENGTH),
        }
        if start:
            item["conversation_duration_seconds"] = _duration(start, now)
        recent.append(item)
    return {
        "overview_summary": {
            "total_conversations": len(entries),
            "total_sessions": 0,
            "query_time": now.isoformat(),
        },
        "recent_conversations": recent,
        "session_summary": [],
    }


def _empty_buckets() -> dict[str, int]:
    return {"last_1_hour": 0, "last_6_hours": 0, "last_24_hours": 0, "last_7_days": 0, "older": 0}


def _bucket(age_hours: float) -> str:
    if age_hours <= 1:
        return "last_1_hour"
    if age_hours <= 6:
        return "last_6_hours"
    if age_hours <= 24:
        return "last_24_hours"
    if age_hours <= 168:
        return "last_7_days"
    return "older"


def statistics(entries: list[QAEntry], ttl_total: int) -> dict[str, Any]:
    """``cache_stats`` data: counts, age buckets and the time range of the cached answers."""
    now = datetime.now()
    buckets = _empty_buckets()
    starts = [start for entry in entries if (start := started_at(entry, ttl_total))]
    for start in starts:
        buckets[_bucket((now - start).total_seconds() / 3600)] += 1
    return {
        "basic_stats": {
            "total_sessions": 0,
            "total_conversations": len(entries),
            "active_sessions": 0,
            "average_conversations_per_session": 0,
        },
        "time_distribution": {"sessions": _empty_buckets(), "conversations": buckets},
        "session_details": [],
        "time_ranges": {
            "oldest_session": None,
            "newest_session": None,
            "oldest_conversation": min(starts).isoformat() if starts else None,
            "newest_conversation": max(starts).isoformat() if starts else None,
        },
    }


def _text_field(name: str, value: Any) -> dict[str, Any]:
    field: dict[str, Any] = {"field_name": name, "data_type": type(value).__name__}
    field["is_none"] = value is None
    if value is None:
        field["value"] = None
    elif isinstance(value, str):
        field["text_length"] = len(value)
        field["content"] = value
    else:
        field["value"] = value
    return field


def _records_field(query_result: Any) -> dict[str, Any]:
    """The cached ``query_result`` described like the old DataFrame export."""
    field: dict[str, Any] = {"field_name": "df", "data_type": "DataFrame", "is_none": False}
    if not isinstance(query_result, dict):
        return {**field, "value": str(query_result), "note": "not_standard_dataframe"}
    rows = query_result.get("rows") or []
    columns = query_result.get("columns") or (list(rows[0]) if rows else [])
    dtypes = {}
    for column in columns:
        kinds = {type(row.get(column)).__name__ for row in rows if isinstance(row, dict)}
        kinds.discard("NoneType")
        dtypes[column] = kinds.pop() if len(kinds) == 1 else "object"
    field["dataframe_info"] = {
        "shape": [len(rows), len(columns)],
        "columns": columns,
        "dtypes": dtypes,
        "index_info": {"type": "RangeIndex", "length": len(rows)},
    }
    field["data"] = rows
    field["memory_usage"] = {
        column: sum(len(str(row.get(column, ""))) for row in rows if isinstance(row, dict))
        for column in columns
    }
    return field


def _export_fields(entry: QAEntry, start: datetime | None) -> dict[str, dict[str, Any]]:
    payload = entry.payload
    fields: dict[str, dict[str, Any]] = {
        "question": _text_field("question", entry.question),
        "sql": _text_field("sql", payload.get("sql")),
        "summary": _text_field("summary", payload.get("summary")),
    }
    if payload.get("query_result") is not None:
        fields["df"] = _records_field(payload["query_result"])
    for name, value in payload.items():
        if name in {"original_question", "sql", "summary", "query_result", "cached_at"}:
            continue
        fields[name] = {
            "field_name": name,
            "data_type": type(value).__name__,
            "is_none": value is None,
            "content": value,
        }
    fields["conversation_start_time"] = {
        "field_name": "conversation_start_time",
        "data_type": "datetime",
        "is_none": start is None,
        "content": start.isoformat() if start else None,
    }
    return fields


def export(entries: list[QAEntry], ttl_total: int) -> dict[str, Any]:
    """``cache_export`` data: every cached answer with its fields described."""
    now = datetime.now()
    conversations: dict[str, Any] = {}
    times: dict[str, str] = {}
    frequency: dict[str, int] = {}
    types: set[str] = set()
    for entry in entries:
        start = started_at(entry, ttl_total)
        fields = _export_fields(entry, start)
        for name, field in fields.items():
            frequency[name] = frequency.get(name, 0) + 1
            types.add(field["data_type"])
        item: dict[str, Any] = {
            "conversation_id": entry.key,
            "conversation_start_time": start.isoformat() if start else None,
            "session_id": None,
            "session_start_time": None,
            "field_count": len(fields),
            "fields": fields,
        }
        if start:
            times[entry.key] = start.isoformat()
            seconds = (now - start).total_seconds()
            item["conversation_duration_seconds"] = round(seconds, 2)
            item["conversation_duration_formatted"] = str(timedelta(seconds=int(seconds)))
        conversations[entry.key] = item
    return {
        "export_metadata": {
            "export_time": now.isoformat(),
            "total_conversations": len(entries),
            "total_sessions": 0,
            "cache_type": CACHE_TYPE,
            "cache_object_info": f"<{CACHE_TYPE} redis pattern qa_cache:*>",
            "has_session_times": False,
            "has_conversation_times": bool(times),
        },
        "session_info": {},
        "conversation_times": times,
        "conversation_to_session_mapping": {},
        "conversations": conversations,
        "cache_statistics": {
            "field_frequency": frequency,
            "data_types_found": sorted(types),
            "total_dataframes": frequency.get("df", 0),
            "total_questions": sum(1 for entry in entries if entry.question),
            "has_session_timing": False,
            "has_conversation_timing": bool(times),
        },
    }


def parse_time_condition(body: Any) -> tuple[str, datetime]:
    """``(time_condition, cutoff)`` from the first truthy time field of a cleanup body."""
    body = body if isinstance(body, dict) else {}
    now = datetime.now()
    for name, unit in (("older_than_hours", "hours"), ("older_than_days", "days")):
        value = body.get(name)
        if not value:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(f"{name} 必须是数字", invalid_params=[name])
        try:
            return f"{name}: {value}", now - timedelta(**{unit: value})
        except (OverflowError, ValueError):  # huge, infinite or NaN: no date is that far back
            raise BadRequest(f"{name} 超出有效范围", invalid_params=[name]) from None
    stamp = body.get("before_timestamp")
    if stamp:
        try:
            cutoff = datetime.strptime(str(stamp), TIMESTAMP_FORMAT)
        except ValueError:
            raise ValidationFailed(
                "before_timestamp格式错误，请使用 YYYY-MM-DD HH:MM:SS 格式"
            ) from None
        return f"before_timestamp: {stamp}", cutoff
    raise BadRequest(
        "必须提供时间条件：older_than_hours, older_than_days 或 before_timestamp (YYYY-MM-DD HH:MM:SS)",
        missing_params=list(TIME_FIELDS),
    )


def split_by_cutoff(
    entries: list[QAEntry], cutoff: datetime, ttl_total: int
) -> tuple[list[QAEntry], list[QAEntry]]:
    """(older than the cutoff, the rest); entries of unknown age are kept."""
    older, kept = [], []
    for entry in entries:
        start = started_at(entry, ttl_total)
        (older if start is not None and start < cutoff else kept).append(entry)
    return older, kept


def preview(
    condition: str, cutoff: datetime, older: list[QAEntry], kept: list[QAEntry], ttl_total: int
) -> dict[str, Any]:
    """``cache_preview_cleanup`` data: what a cleanup with this cutoff would remove."""
    removed = []
    for entry in older:
        start = started_at(entry, ttl_total)
        removed.append(
            {
                "conversation_id": entry.key,
                "question": _preview(entry.question, 50),
                "start_time": start.isoformat() if start else None,
            }
        )
    return {
        "time_condition": condition,
        "cutoff_time": cutoff.isoformat(),
        "will_be_removed": {"sessions": [], "conversations": removed},
        "will_be_kept": {"sessions_count": 0, "conversations_count": len(kept)},
        "summary": {
            "sessions_to_remove": 0,
            "conversations_to_remove": len(older),
            "sessions_to_keep": 0,
            "conversations_to_keep": len(kept),
        },
    }


async def cleanup(
    cache: QuestionAnswerCache, condition: str, cutoff: datetime, ttl_total: int
) -> dict[str, Any]:
    """``cache_cleanup``: delete the cached answers older than the cutoff."""
    older, kept = split_by_cutoff(await cache.entries(), cutoff, ttl_total)
    deleted = await cache.delete_entries(older)
    return {
        "time_condition": condition,
        "cutoff_time": cutoff.isoformat(),
        "sessions_removed": 0,
        "conversations_removed": len(deleted),
        "sessions_kept": 0,
        "conversations_kept": len(kept) + len(older) - len(deleted),
        "removed_session_ids": [],
        "removed_conversation_ids": deleted,
    }
