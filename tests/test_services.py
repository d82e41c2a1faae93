"""Services lifecycle: components close first, in a fixed order, and still have the pools then."""

from __future__ import annotations

import asyncio
import time

from citu.app import create_app
from citu.services import Services
from citu.settings import Settings


class MarksTasksInterrupted:
    """Stands in for the pipeline engine: at shutdown it writes its final state."""

    def __init__(self, services) -> None:
        self.services = services
        self.closed_with: tuple | None = None

    async def aclose(self) -> None:
        async with self.services.db.acquire() as conn:
            value = await conn.fetchval("SELECT 'interrupted'")
        await self.services.redis.set("shutdown-hook", value)
        self.closed_with = (value, await self.services.redis.get("shutdown-hook"))


async def test_components_close_before_pools_and_redis(settings: Settings):
    app = create_app(settings)
    services = app.extensions["citu"]
    async with app.test_app():
        hook = services.pipeline = MarksTasksInterrupted(services)
    assert hook.closed_with == ("interrupted", "interrupted")
    assert services.db._closed


async def test_a_failing_component_does_not_stop_shutdown(settings: Settings):
    class Broken:
        def __init__(self, inner) -> None:
            self.inner = inner

        async def aclose(self) -> None:
            await self.inner.aclose()
            raise RuntimeError("cannot close")

    app = create_app(settings)
    services = app.extensions["citu"]
    async with app.test_app():
        services.react = Broken(services.react)  # closes before the pipeline and the pools
        hook = services.pipeline = MarksTasksInterrupted(services)
    assert hook.closed_with == ("interrupted", "interrupted")
    assert services.db._closed and services.ops._watcher.done()


async def test_every_component_that_can_close_is_in_the_shutdown_order(services):
    closing = [component for _, component in services._shutdown_order()]
    assert closing[0] is services.ops  # metrics first
    for name in Services.__annotations__:
        component = getattr(services, name)
        if hasattr(component, "aclose"):
            assert any(component is item for item in closing), name


async def test_close_does_not_wait_forever_for_a_connection_still_held(settings, monkeypatch):
    """asyncpg's Pool.close() waits for every connection to come back: a task still holding
    one would keep the worker (and Ctrl-C of citu serve) hanging. Close is bounded."""
    import citu.services as services_module

    monkeypatch.setattr(services_module, "CLOSE_TIMEOUT_SECONDS", 0.5)
    svc = Services(settings)
    await svc.start()
    held = await svc.db.acquire()  # never released, like a stuck background task's
    started = time.monotonic()
    await asyncio.wait_for(svc.close(), 15)
    assert time.monotonic() - started < 5
    assert svc.db.is_closing()
    del held
