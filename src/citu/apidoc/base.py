"""The building blocks of citu's OpenAPI document (see the package docstring)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model
from quart_schema import document_response
from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing import Rule

from citu.ops.maintenance import is_write_request

F = TypeVar("F", bound=Callable[..., Any])

_MEDIA_ATTRIBUTE = "_citu_non_json_responses"

# Path parameters are plain strings in the URL map: their meaning, by name.
PATH_PARAMETERS = {
    "user_id": "the user's id (the prefix of their conversation ids)",
    "conversation_id": "a conversation id, ``<user_id>:<YYYYMMDDHHMMSSmmm>``",
    "thread_id": "a ReAct thread id, ``<user_id>:<YYYYMMDDHHMMSSmmm>``",
    "feedback_id": "the feedback record's id",
    "task_id": "a pipeline task id, ``task_YYYYMMDD_HHMMSS`` (or ``manual_…``)",
    "file_name": "a file name inside the task's directory",
    "run_id": "an evaluation run id, ``eval_YYYYMMDD_HHMMSS_<hex>``",
}


def _documented_schema(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    required = getattr(cls, "documented_required", ())
    if not required:
        return
    schema["required"] = sorted({*schema.get("required", []), *required})
    for name in required:
        prop = schema["properties"][_alias(cls, name)]
        variants = prop.get("anyOf")
        if variants:  # ``str | None`` at run time; the docs say what a client must send
            kept = [v for v in variants if v.get("type") != "null"]
            prop.pop("anyOf")
            prop.pop("default", None)
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
        elif prop.get("default", 0) is None:
            prop.pop("default")


def _alias(cls: type[BaseModel], name: str) -> str:
    field = cls.model_fields[name]
    return field.alias or name


class RequestModel(BaseModel):
    """A request body or query string: field docstrings become descriptions."""

    model_config = ConfigDict(use_attribute_docstrings=True, json_schema_extra=_documented_schema)
    documented_required: ClassVar[tuple[str, ...]] = ()


class RouteData(BaseModel):
    """The keys every successful answer's ``data`` carries besides the route's own."""

    response: str = Field(description="a sentence for the user, in Chinese")
    timestamp: str = Field(description="server local time, ISO 8601 without zone")


class ErrorData(BaseModel):
    """``data`` of a failed answer. Other keys may appear, per route."""

    model_config = ConfigDict(extra="allow")

    response: str = Field(description="why it failed, in Chinese; shown to the user")
    error_type: str | None = Field(
        None, description="stable machine-readable reason, e.g. missing_required_params"
    )
    timestamp: str = Field(description="server local time, ISO 8601 without zone")
    can_retry: bool | None = Field(None, description="whether the same request may succeed later")
    missing_params: list[str] | None = Field(None, description="required fields that were absent")
    invalid_params: list[str] | None = Field(None, description="fields whose value was refused")


_ERRORS = {
    400: "Bad request: a field is missing or invalid (the envelope names it).",
    401: "Administrative route: the admin key is missing or wrong.",
    403: "Refused: the request is not allowed in the current mode.",
    404: "Not found: the resource named in the path does not exist.",
    409: "Conflict: the resource is busy (e.g. a turn already running on the thread).",
    413: "Payload too large: the body exceeds the configured limit.",
    422: "Validation failed: the value is well-formed but not acceptable.",
    500: "Internal error: the envelope says whether retrying may help.",
    503: "Service unavailable: a dependency (model, database, Redis) is down or not configured.",
    504: "Timeout: the model did not answer in time.",
}


def _envelope_fields(data: Any, data_doc: str) -> dict[str, Any]:
    return {
        "code": (int, Field(description="the status; the HTTP status unless the route says so")),
        "success": (bool, Field(description="true on success")),
        "message": (str, Field(description="short status text (操作成功, 请求参数错误, …)")),
        "data": (data, Field(description=data_doc)),
    }


@functools.cache
def envelope(
    data: type[BaseModel] | None, name: str | None = None, doc: str = "Success."
) -> type[BaseModel]:
    """The envelope ``{code, success, message, data}`` around ``data``'s model."""
    title = name or (f"{data.__name__}Envelope" if data is not None else "EmptyEnvelope")
    return create_model(
        title,
        __doc__=doc,
        **_envelope_fields(data if data is not None else None, "the route's result"),
    )


@functools.cache
def error_envelope(status: int) -> type[BaseModel]:
    return create_model(
        f"Error{status}Envelope",
        __doc__=_ERRORS[status],
        **_envelope_fields(ErrorData, "what went wrong"),
    )


def responds(
    data: type[BaseModel] | None,
    *,
    status: int = 200,
    errors: Iterable[int] = (),
    raw: bool = False,
    other: Mapping[int, type[BaseModel]] | None = None,
) -> Callable[[F], F]:
    """Document a route's success answer (``data`` inside the envelope, or ``data`` itself
    with ``raw=True``), the error envelope for each of ``errors`` beyond the ones the provider
    adds for every route of its kind, and ``other`` answers as they are. Documentation only."""

    def decorator(func: F) -> F:
        model = data if raw else envelope(data)
        assert model is not None
        func = document_response(model, status)(func)
        for code in errors:
            func = document_response(error_envelope(code), code)(func)
        for code, answer in (other or {}).items():
            func = document_response(answer, code)(func)
        return func

    return decorator


def document_stream(
    media_type: str, description: str, *, status: int = 200, errors: Iterable[int] = ()
) -> Callable[[F], F]:
    """Document a route whose success answer is not JSON (SSE, a file, metrics text)."""

    def decorator(func: F) -> F:
        media = dict(getattr(func, _MEDIA_ATTRIBUTE, {}))
        media[status] = (media_type, description)
        setattr(func, _MEDIA_ATTRIBUTE, media)
        for code in errors:
            func = document_response(error_envelope(code), code)(func)
        return func

    return decorator


class CituOpenAPIProvider(OpenAPIProvider):
    """quart-schema's provider plus: non-JSON answers, path parameter descriptions, required
    query parameters, and the error answers every route of a kind can give (the central error
    handlers): 500 always, 400 with input, 413 with a body, 404 with a path parameter, 401 on
    admin routes, 503 on writes (maintenance read-only mode)."""

    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        media = getattr(func, _MEDIA_ATTRIBUTE, {})
        for path_item in paths.values():
            for method, operation in path_item.items():
                responses = dict(operation["responses"])
                for status, (media_type, description) in media.items():
                    content = {media_type: {"schema": {"type": "string"}}}
                    responses[status] = {"description": description, "content": content}
                for status in self._generic_errors(method, rule, operation):
                    if status not in responses:
                        answer, defs = self.build_response_object(error_envelope(status), None)
                        responses[status] = answer
                        components.update(defs)
                operation["responses"] = dict(sorted(responses.items()))
                for parameter in operation["parameters"]:
                    if parameter["in"] == "path" and parameter["name"] in PATH_PARAMETERS:
                        parameter.setdefault("description", PATH_PARAMETERS[parameter["name"]])
        return paths, components

    @staticmethod
    def _generic_errors(method: str, rule: Rule, operation: dict[str, Any]) -> set[int]:
        places = {parameter["in"] for parameter in operation["parameters"]}
        errors = {500}
        if "requestBody" in operation:
            errors |= {400, 413}
        if "query" in places:
            errors.add(400)
        if "path" in places:
            errors.add(404)
        if operation.get("security"):
            errors.add(401)
        if is_write_request(method, rule.rule):
            errors.add(503)
        return errors

    def build_querystring_parameters(self, model: type) -> tuple[list[dict], dict]:
        parameters, components = super().build_querystring_parameters(model)
        schema = model.model_json_schema() if issubclass(model, BaseModel) else {}
        required = set(schema.get("required", []))
        for parameter in parameters:
            if parameter["name"] in required:
                parameter["required"] = True
        return parameters, components
