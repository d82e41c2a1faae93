"""Services lifecycle: components are the shutdown hooks and still have the pools then."""

from __future__ import annotations

from citu.app import create_app
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
        hook = services.components["pipeline"] = MarksTasksInterrupted(services)
    assert hook.closed_with == ("interrupted", "interrupted")
    assert services.db._closed


async def test_a_failing_component_does_not_stop_shutdown(settings: Settings):
    class Broken:
        async def aclose(self) -> None:
            raise RuntimeError("cannot close")

    app = create_app(settings)
    services = app.extensions["citu"]
    async with app.test_app():
        services.components["broken"] = Broken()
    assert services.db._closed and services.ops._watcher.done()
