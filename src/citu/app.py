"""The app factory: assembles settings, logging, extensions, blueprints and error handlers."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import signal
import uuid

from quart import Quart, Request, Response, request
from quart_schema import Info, QuartSchema

from citu import inputs
from citu.apidoc import CituOpenAPIProvider
from citu.errors import register_error_handlers
from citu.logging.setup import configure_logging, request_id_var
from citu.ops import install_ops
from citu.security import OPENAPI_SECURITY_SCHEMES
from citu.services import Services
from citu.settings import Settings

log = logging.getLogger("citu.app")


class JsonBodyRequest(Request):
    """Reads a JSON body whatever its Content-Type, as the old service did (``force=True``):
    the unchanged frontend may post JSON as ``text/plain``."""

    async def get_json(self, force: bool = True, silent: bool = False, cache: bool = True):
        return await inputs.read_json(self, force=force, silent=silent, cache=cache)


def create_app(settings: Settings | None = None) -> Quart:
    settings = settings or Settings()
    configure_logging(settings)

    app = Quart("citu")
    app.request_class = JsonBodyRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.config["citu.settings"] = settings
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        info=Info(
            title="citu",
            version="1.0.0",
            description="Async text-to-SQL service (问数): agents, conversations, training, pipeline",
        ),
        security_schemes=OPENAPI_SECURITY_SCHEMES,
        openapi_provider_class=CituOpenAPIProvider,
        # quart-schema's pages load their scripts from a CDN: /docs serves local files instead.
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
    )
    app.json.ensure_ascii = False  # QuartSchema's provider escapes non-ASCII by default
    app.json.sort_keys = False

    services = Services(settings)
    app.extensions["citu"] = services

    @app.before_serving
    async def _start_services() -> None:
        await services.start()
        _finish_shutdown_on_sigterm()
        _freeze_startup_objects()

    @app.after_serving
    async def _close_services() -> None:
        await services.close()

    _install_request_id(app)
    inputs.install_input_checks(app)
    install_ops(app, services.ops)
    register_error_handlers(app)
    _register_blueprints(app)
    return app


def _finish_shutdown_on_sigterm() -> None:
    """Let a worker of a multi-worker hypercorn finish its own shutdown.

    The arbiter tells every worker to stop, and as soon as the first one has exited it SIGTERMs
    the others; by default that kills a worker halfway through ``after_serving`` (its live
    gauges stay in the shared Prometheus directory, its running tasks stay marked running).
    The signal only ever comes after the stop request, so the worker ignores it and finishes;
    ``citu serve`` kills a server that has not stopped in time. A single-worker server is not
    a child process and keeps hypercorn's own handler.
    """
    if multiprocessing.parent_process() is None:
        return
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, log.info, "SIGTERM received; finishing the shutdown under way"
    )


def _freeze_startup_objects() -> None:
    """Keep the long-lived objects of imports and start-up out of the garbage collector.

    LangChain, the openai SDK and pydantic leave about a million objects that live as long as
    the worker; every full collection used to walk them all, about a third of the CPU under a
    burst of questions (docs/performance.md).
    """
    gc.collect()
    gc.freeze()


def _register_blueprints(app: Quart) -> None:
    from citu.blueprints import (
        agents,
        cache,
        conversation,
        database,
        docs,
        eval,
        feedback,
        ops,
        pipeline,
        react,
        react_conversations,
        system,
        training,
        training_bulk,
        ui,
    )

    for blueprint in (
        system.bp,
        ops.bp,
        conversation.bp,
        cache.bp,
        training.bp,
        training_bulk.bp,
        feedback.bp,
        pipeline.bp,
        database.bp,
        agents.bp,
        react.bp,
        react_conversations.bp,
        docs.bp,
        eval.bp,
        ui.bp,
    ):
        app.register_blueprint(blueprint)


def _install_request_id(app: Quart) -> None:
    @app.before_request
    async def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        # Accept a caller's id only if it is short and plain, so it is safe in logs.
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        request_id_var.set(rid)
        request.request_id = rid  # type: ignore[attr-defined]

    @app.after_request
    async def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = getattr(request, "request_id", request_id_var.get())
        return response
