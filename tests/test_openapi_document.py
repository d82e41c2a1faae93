"""The API can be read offline: every operation documents its answers and every request field
its meaning; /docs loads nothing from another host."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from citu.app import create_app
from citu.settings import Settings

SUCCESS = {"200", "201", "202"}
ERROR_ENVELOPE_KEYS = {"code", "success", "message", "data"}


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    """Built without serving: the document needs no database."""
    import asyncio

    settings = Settings(_env_file=None, log_dir=tmp_path_factory.mktemp("logs"))
    app = create_app(settings)

    async def build() -> dict:
        async with app.app_context():
            return app.extensions["QUART_SCHEMA"].openapi_provider.schema()

    import json

    # Through JSON, as a client sees it (integer status keys become strings).
    return json.loads(json.dumps(asyncio.run(build()), default=str))


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def _resolve(document: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref:
        return document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def test_every_operation_documents_its_success_answer(document):
    missing = []
    for name, operation in _operations(document):
        codes = SUCCESS & set(operation["responses"])
        if not codes:
            missing.append(name)
            continue
        for code in codes:
            content = operation["responses"][code]["content"]
            [(media, body)] = content.items()
            schema = body["schema"]
            if media == "application/json":
                assert schema.get("properties") or schema.get("$ref"), name
    assert missing == []


def test_every_enveloped_answer_has_a_typed_data(document):
    untyped = []
    for name, operation in _operations(document):
        for code, response in operation["responses"].items():
            schema = response["content"].get("application/json", {}).get("schema")
            if not schema or set(schema.get("properties", {})) != ERROR_ENVELOPE_KEYS:
                continue
            data = schema["properties"]["data"]
            for variant in data.get("anyOf", [data]):
                target = _resolve(document, variant)
                if not (target.get("properties") or target.get("type") == "null"):
                    untyped.append(f"{name} {code}")
    assert untyped == []


def test_every_operation_documents_its_errors(document):
    lacking = []
    for name, operation in _operations(document):
        errors = {c for c in operation["responses"] if c.startswith(("4", "5"))}
        if "500" not in errors:
            lacking.append(f"{name}: 500")
        places = {p["in"] for p in operation["parameters"]}
        if "requestBody" in operation and not {"400", "413"} <= errors:
            lacking.append(f"{name}: 400/413")
        if "query" in places and "400" not in errors:
            lacking.append(f"{name}: 400")
        if "path" in places and "404" not in errors:
            lacking.append(f"{name}: 404")
        if operation.get("security") and "401" not in errors:
            lacking.append(f"{name}: 401")
        for code in errors:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            # The envelope, or a legacy route's own failure shape: both say success false.
            for variant in schema.get("anyOf", [schema]):
                assert "success" in _resolve(document, variant)["properties"], f"{name} {code}"
    assert lacking == []


def test_every_request_field_has_a_description(document):
    bare = []
    for name, operation in _operations(document):
        for parameter in operation["parameters"]:
            if not parameter.get("description"):
                bare.append(f"{name} {parameter['in']}:{parameter['name']}")
        body = operation.get("requestBody")
        if body:
            [(media, content)] = body["content"].items()
            schema = _resolve(document, content["schema"])
            for field, spec in schema.get("properties", {}).items():
                if not spec.get("description"):
                    bare.append(f"{name} body:{field}")
    assert bare == []


def test_required_fields_are_marked_and_typed(document):
    ask = document["paths"]["/api/v0/ask_agent"]["post"]
    schema = _resolve(document, ask["requestBody"]["content"]["application/json"]["schema"])
    assert "question" in schema["required"]
    assert schema["properties"]["question"]["type"] == "string"
    create = document["paths"]["/api/v0/training_data/create"]["post"]
    body = _resolve(document, create["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["data"] and body["properties"]["data"].get("anyOf")


def test_components_hold_the_data_models(document):
    assert len(document["components"]["schemas"]) >= 40


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


async def test_docs_page_is_served_locally(client):
    response = await client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = (await response.get_data()).decode()
    links = _Links()
    links.feed(page)
    assert links.urls and all(u.startswith("/") for u in links.urls), links.urls
    assert not re.search(r"https?://", page), "an external host in /docs"
    for url in links.urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(await asset.get_data()) > 100, url
    assert '"/openapi.json"' in page
    assert (await client.get("/docs/assets/index.html")).status_code == 404  # allow-list
    assert (await client.get("/docs/assets/..%2Fpyproject.toml")).status_code == 404


async def test_cdn_pages_are_gone(client):
    for path in ("/redocs", "/scalar"):
        assert (await client.get(path)).status_code == 404


async def test_index_links_to_the_docs(client):
    body = await (await client.get("/")).get_json()
    assert body["message"] == "统一API服务正在运行" and body["version"] == "1.0.0"
    assert body["links"] == {"docs": "/docs", "openapi": "/openapi.json", "health": "/health"}
    for url in body["links"].values():
        assert (await client.get(url)).status_code == 200
