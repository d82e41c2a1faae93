"""The one reader for routes that take a JSON object body and check it by hand.

The old routes read their bodies in three ways (``get_json(force=True)``, JSON only when the
Content-Type says so, or JSON-or-``{}``); the options below reproduce each, so a route states its
contract in its call. Parsing goes through ``citu.inputs.aloads`` (depth, NUL and number
limits). A refusal is a ``BodyNotJson`` or ``BodyNotObject`` (both ``BadRequest``): the app
answers it with the 400 envelope, or a route catches it to word its own.
"""

from __future__ import annotations

from typing import Any, Literal

from quart import request

from citu import inputs
from citu.errors import BodyNotJson, BodyNotObject

NOT_JSON_TEXT = "请求体必须是有效的JSON"
NOT_OBJECT_TEXT = "请求体必须是JSON对象"

# Which parsed values a route reads as ``{}``: only ``null``, any falsy value, or none.
AsEmpty = Literal["null", "falsy", "nothing"]
# A body whose Content-Type is not JSON is parsed anyway, read as ``{}``, or refused.
OtherTypes = Literal["parse", "empty", "refuse"]


async def json_object(
    *,
    other_types: OtherTypes = "parse",
    empty_body: bool = True,
    as_empty: AsEmpty = "null",
    not_json: str = NOT_JSON_TEXT,
    not_object: str = NOT_OBJECT_TEXT,
) -> dict[str, Any]:
    """The request's JSON object body.

    ``empty_body``: a body of only whitespace reads as ``{}`` (else it is not JSON).
    ``not_json`` / ``not_object``: the refusal texts.
    """
    if not request.is_json and other_types != "parse":
        if other_types == "empty":
            return {}
        raise BodyNotJson(not_json)
    raw = await request.get_data()
    if empty_body and not raw.strip():
        return {}
    try:
        data = await inputs.aloads(raw)
    except ValueError as error:  # UnicodeDecodeError included
        raise BodyNotJson(not_json, detail=str(error)) from None
    if _reads_as_empty(data, as_empty):
        return {}
    if not isinstance(data, dict):
        raise BodyNotObject(not_object)
    return data


def _reads_as_empty(data: Any, as_empty: AsEmpty) -> bool:
    if as_empty == "falsy":
        return not data
    return as_empty == "null" and data is None
