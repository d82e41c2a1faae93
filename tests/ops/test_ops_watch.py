"""The ops watcher inside a running app: real memory samples, cooldown, delivery."""

from __future__ import annotations

import asyncio

from citu.app import create_app
from citu.settings import Settings
from fakes.sinks import SmtpSink, WebhookReceiver


async def test_background_watcher_alerts_once_per_cooldown(settings: Settings):
    async with WebhookReceiver() as hook, SmtpSink() as smtp:
        settings.alert_check_interval = 0.05
        settings.alert_memory_percent = 0.0  # any machine is "above" 0 %
        settings.alert_memory_window = 0.0
        settings.alert_webhook_url = hook.url
        settings.alert_email_enabled = True
        settings.alert_email_to = "ops@example.test"
        settings.smtp_host, settings.smtp_port = "127.0.0.1", smtp.port
        app = create_app(settings)
        async with app.test_app():
            await asyncio.wait_for(hook.received.wait(), 5)
            await asyncio.wait_for(smtp.received.wait(), 5)
            await asyncio.sleep(0.5)  # ten more rounds, all inside the 30-minute cooldown
            watcher = app.extensions["citu"].ops._watcher
        assert watcher.done()  # stopped at shutdown
    assert [r["rule"] for r in hook.requests] == ["high_memory"]
    assert hook.requests[0]["value"] > 0
    assert [m["Subject"].startswith("[citu 告警] 内存使用率过高") for m in smtp.messages] == [True]


async def test_check_round_samples_the_pools(app, services):
    services.ops.prometheus.pool_connections.clear()
    await services.ops.check()
    text = (await (await app.test_client().get("/metrics")).get_data()).decode()
    assert 'citu_pool_connections{pool="database",state="max"} 10.0' in text
