"""``json_object``: each old route's way of reading its JSON body, stated by options."""

from __future__ import annotations

import pytest
from quart import Quart, request

from citu import responses as r
from citu.errors import BodyNotJson, BodyNotObject, register_error_handlers
from citu.web.bodies import json_object

JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}

OPTIONS = {
    "default": {},
    "json-only": {"other_types": "refuse", "empty_body": False, "as_empty": "falsy"},
    "lenient": {"other_types": "empty"},
    "strict": {"empty_body": False, "as_empty": "nothing"},
}


@pytest.fixture
async def client():
    app = Quart(__name__)
    register_error_handlers(app)

    @app.post("/<mode>")
    async def read(mode: str):
        try:
            body = await json_object(**OPTIONS[mode], not_object="不是对象")
        except BodyNotJson as error:
            return {"refused": "not_json", "text": str(error), "detail": error.detail}
        except BodyNotObject as error:
            return {"refused": "not_object", "text": str(error)}
        return r.reply(r.success_response("ok", {"body": body, "ct": request.content_type}))

    async with app.test_app():
        yield app.test_client()


async def read(client, mode: str, data: bytes | str, headers: dict) -> dict:
    response = await client.post(f"/{mode}", data=data, headers=headers)
    assert response.status_code == 200
    body = await response.get_json()
    return body["data"]["body"] if "data" in body else body


@pytest.mark.parametrize(
    ("mode", "data", "headers", "expected"),
    [
        ("default", '{"a": 1}', TEXT, {"a": 1}),  # any Content-Type is parsed
        ("default", "  ", JSON, {}),
        ("default", "null", JSON, {}),
        ("json-only", "[]", JSON, {}),  # falsy values count as {}
        ("json-only", "0", JSON, {}),
        ("lenient", "a=1", TEXT, {}),  # not JSON by its type: {}
        ("lenient", '{"a": 1}', JSON, {"a": 1}),
        ("strict", '{"a": 1}', JSON, {"a": 1}),
    ],
)
async def test_bodies_read_as_objects(client, mode, data, headers, expected):
    assert await read(client, mode, data, headers) == expected


@pytest.mark.parametrize(
    ("mode", "data", "headers", "refused"),
    [
        ("default", "{a", JSON, "not_json"),
        ("default", b"\xfe\x13N", JSON, "not_json"),  # not UTF-8
        ("default", "[1]", JSON, "not_object"),
        ("json-only", '{"a": 1}', TEXT, "not_json"),  # the type must say JSON
        ("json-only", "", JSON, "not_json"),  # and the body must not be empty
        ("lenient", "{a", JSON, "not_json"),
        ("strict", "", JSON, "not_json"),
        ("strict", "null", JSON, "not_object"),
        ("strict", "[]", JSON, "not_object"),
    ],
)
async def test_bodies_refused(client, mode, data, headers, refused):
    body = await read(client, mode, data, headers)
    assert body["refused"] == refused
    if refused == "not_object":
        assert body["text"] == "不是对象"
    else:
        assert body["text"] == "请求体必须是有效的JSON"


async def test_a_refusal_the_route_does_not_catch_is_a_400_envelope():
    app = Quart(__name__)
    register_error_handlers(app)

    @app.post("/")
    async def plain():
        return await json_object()

    async with app.test_app():
        response = await app.test_client().post("/", data="[1]", headers=JSON)
    body = await response.get_json()
    assert response.status_code == 400 and body["data"]["response"] == "请求体必须是JSON对象"


async def test_the_input_limits_still_apply(client):
    response = await client.post("/default", data='{"a": "\\u0000"}', headers=JSON)
    assert response.status_code == 400
