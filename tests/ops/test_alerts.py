"""Alert rules driven by a test clock: each fires once, stays quiet within its cooldown, fires
again after it, and reaches a real SMTP sink and webhook receiver."""

from __future__ import annotations

import logging

import pytest

from citu.ops.alerts import AlertEvaluator, SampleWindow, dispatch, notifiers_from
from citu.ops.metrics import RequestMetrics
from citu.settings import Settings
from fakes.sinks import SmtpSink, WebhookReceiver

T0 = 10_000.0  # an arbitrary monotonic start


def make_settings(**overrides) -> Settings:
    return Settings(_env_file=None, **overrides)


def evaluator(**overrides) -> tuple[AlertEvaluator, RequestMetrics]:
    requests = RequestMetrics(1000, horizon=600)
    return AlertEvaluator(make_settings(**overrides), requests, host="test-host"), requests


def fired(alerts) -> list[str]:
    return [a.rule for a in alerts]


def test_error_rate_fires_once_then_waits_for_its_cooldown():
    alerts, requests = evaluator()
    for i in range(60):  # 6 of 60 fail: 10 % over 5 minutes
        requests.record(0.1, 500 if i < 6 else 200, now=T0 + i)
    assert fired(alerts.evaluate(T0 + 60)) == ["high_error_rate"]
    assert fired(alerts.evaluate(T0 + 61)) == []
    for i in range(60):  # still failing ten minutes later: inside the 15-minute cooldown
        requests.record(0.1, 500, now=T0 + 600 + i)
    assert fired(alerts.evaluate(T0 + 660)) == []
    for i in range(60):
        requests.record(0.1, 500, now=T0 + 60 + 900 + i)
    assert fired(alerts.evaluate(T0 + 60 + 900 + 60)) == ["high_error_rate"]


def test_error_rate_ignores_old_failures_client_errors_and_tiny_samples():
    alerts, requests = evaluator()
    for i in range(20):
        requests.record(0.1, 500, now=T0 + i)  # all failed, but more than 5 minutes ago
    for i in range(20):
        requests.record(0.1, 404 if i % 2 else 200, now=T0 + 400 + i)  # 4xx is the client's
    assert fired(alerts.evaluate(T0 + 420)) == []
    alerts, requests = evaluator()
    for i in range(3):
        requests.record(0.1, 500, now=T0 + i)  # 100 % of 3 requests: below alert_min_requests
    assert fired(alerts.evaluate(T0 + 3)) == []


def test_a_new_users_first_503s_fire_nothing():
    alerts, requests = evaluator()
    for i in range(5):  # the banner, /health, the docs: all fine
        requests.record(0.01, 200, now=T0 + i)
    for i in range(5):  # then every question fails: no model configured yet
        requests.record(0.01, 503, now=T0 + 10 + i)
    assert fired(alerts.evaluate(T0 + 20)) == []
    for i in range(40):  # with enough traffic the same failure is worth an alert
        requests.record(0.01, 503, now=T0 + 30 + i)
    assert fired(alerts.evaluate(T0 + 80)) == ["high_error_rate"]


def test_exactly_at_threshold_does_not_fire():
    alerts, requests = evaluator()
    for i in range(20):
        requests.record(0.1, 500 if i == 0 else 200, now=T0 + i)  # 5 % is not above 5 %
    assert fired(alerts.evaluate(T0 + 20)) == []


def test_slow_responses_fire_over_three_minutes_with_a_ten_minute_cooldown():
    alerts, requests = evaluator()
    requests.record(12.0, 200, now=T0)
    requests.record(11.0, 200, now=T0 + 60)
    alert = alerts.evaluate(T0 + 61)
    assert fired(alert) == ["slow_responses"] and alert[0].value == pytest.approx(11.5)
    requests.record(30.0, 200, now=T0 + 500)
    assert fired(alerts.evaluate(T0 + 500)) == []  # 439 s after firing: cooling down
    requests.record(30.0, 200, now=T0 + 662)
    assert fired(alerts.evaluate(T0 + 662)) == ["slow_responses"]


def test_slow_responses_only_count_the_window():
    alerts, requests = evaluator()
    requests.record(60.0, 200, now=T0)  # slow, but older than 3 minutes at evaluation time
    for i in range(10):
        requests.record(0.2, 200, now=T0 + 200 + i)
    assert fired(alerts.evaluate(T0 + 210)) == []


def test_memory_must_stay_high_for_the_whole_two_minutes():
    alerts, _ = evaluator()
    alerts.observe_memory(T0, 90.0)
    assert fired(alerts.evaluate(T0 + 60)) == []  # high for one minute only
    alerts.observe_memory(T0 + 60, 80.0)  # a dip resets the streak
    alerts.observe_memory(T0 + 90, 92.0)
    assert fired(alerts.evaluate(T0 + 150)) == []
    alerts.observe_memory(T0 + 180, 95.0)
    alerts.observe_memory(T0 + 210, 91.0)
    assert fired(alerts.evaluate(T0 + 210)) == ["high_memory"]  # above 85 % since T0+90
    alerts.observe_memory(T0 + 1800, 99.0)
    assert fired(alerts.evaluate(T0 + 1800)) == []  # 30-minute cooldown not over yet
    alerts.observe_memory(T0 + 2011, 99.0)
    assert fired(alerts.evaluate(T0 + 2011)) == ["high_memory"]


def test_sample_window_keeps_the_value_at_the_window_start():
    window = SampleWindow(120)
    window.add(0, 90)
    window.add(100, 95)
    window.add(200, 99)
    assert window.minimum(200) == 90  # the value 90 (sampled at 0) held until 100: in [80, 200]
    window.add(300, 99)
    assert window.minimum(300) == 95  # window [180, 300] starts under the sample taken at 100
    assert window.minimum(100) is None  # the window [-20, 100] starts before the first sample


def test_thresholds_windows_and_cooldowns_come_from_settings():
    alerts, requests = evaluator(
        alert_response_time_seconds=1.0,
        alert_response_time_window=10,
        alert_response_time_cooldown=5,
    )
    requests.record(2.0, 200, now=T0)
    assert fired(alerts.evaluate(T0)) == ["slow_responses"]
    assert fired(alerts.evaluate(T0 + 4)) == []
    assert fired(alerts.evaluate(T0 + 5)) == ["slow_responses"]
    assert fired(alerts.evaluate(T0 + 30)) == []  # the slow request left the 10 s window


async def test_every_rule_reaches_the_smtp_sink_and_the_webhook(caplog):
    async with SmtpSink() as smtp, WebhookReceiver() as hook:
        settings = make_settings(
            alert_email_enabled=True,
            alert_email_from="citu@example.test",
            alert_email_to="ops@example.test, dba@example.test",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            alert_webhook_url=hook.url,
            alert_min_requests=10,
        )
        requests = RequestMetrics(1000, horizon=600)
        alerts = AlertEvaluator(settings, requests, host="test-host")
        notifiers = notifiers_from(settings)
        for i in range(20):
            requests.record(15.0, 500, now=T0 + i)  # failing and slow
        alerts.observe_memory(T0 - 200, 97.0)
        alerts.observe_memory(T0 + 20, 96.0)
        caplog.set_level(logging.WARNING, logger="citu.ops.alerts")
        for now in (T0 + 20, T0 + 30, T0 + 40):  # later rounds fall inside every cooldown
            for alert in alerts.evaluate(now):
                await dispatch(alert, notifiers)

    rules = {"high_error_rate", "slow_responses", "high_memory"}
    assert sorted(m["Subject"] for m in smtp.messages) == sorted(
        f"[citu 告警] {t} (test-host)" for t in ("错误率过高", "平均响应时间过长", "内存使用率过高")
    )
    assert all(e["to"] == ["<ops@example.test>", "<dba@example.test>"] for e in smtp.envelopes)
    error_mail = next(m for m in smtp.messages if "错误率过高" in m["Subject"])
    assert "最近 5 分钟 100.00%，超过阈值 5%" in error_mail.get_content()
    assert {r["rule"] for r in hook.requests} == rules and len(hook.requests) == 3
    error_alert = next(r for r in hook.requests if r["rule"] == "high_error_rate")
    assert error_alert["value"] == 100.0 and error_alert["threshold"] == 5.0
    assert error_alert["window_seconds"] == 300.0 and error_alert["host"] == "test-host"
    assert sum("ALERT" in r.getMessage() for r in caplog.records) == 3


async def test_a_dead_channel_is_logged_and_the_other_still_delivers(caplog):
    async with WebhookReceiver() as hook:
        settings = make_settings(
            alert_email_enabled=True,
            alert_email_to="ops@example.test",
            smtp_host="127.0.0.1",
            smtp_port=1,  # nothing listens there
            alert_notify_timeout=2,
            alert_webhook_url=hook.url,
        )
        alerts = AlertEvaluator(settings, RequestMetrics())
        alerts.requests.record(20.0, 200, now=T0)
        (alert,) = alerts.evaluate(T0)
        await dispatch(alert, notifiers_from(settings))
    assert [r["rule"] for r in hook.requests] == ["slow_responses"]
    assert any("not delivered by EmailNotifier" in r.getMessage() for r in caplog.records)


def test_notifications_are_off_by_default():
    assert notifiers_from(make_settings()) == []
