"""Alert rules over the request metrics and memory samples, with cooldowns and notifiers.

``AlertEvaluator`` is a plain class driven by its caller's clock (``now``, monotonic seconds),
so tests feed it conditions and times directly; ``Ops`` calls it from a background loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx

from citu.ops.metrics import RequestMetrics
from citu.responses import now_iso
from citu.settings import Settings

log = logging.getLogger("citu.ops.alerts")


@dataclass(frozen=True)
class AlertRule:
    name: str
    title: str
    threshold: float
    window: float  # seconds the value is measured over
    cooldown: float  # seconds before the same rule may fire again
    unit: str


@dataclass(frozen=True)
class Alert:
    rule: str
    title: str
    message: str
    value: float
    threshold: float
    window_seconds: float
    fired_at: str
    host: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class SampleWindow:
    """Timed samples of one gauge, enough to tell whether it stayed above a level."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, now: float, value: float) -> None:
        self._samples.append((now, value))
        # Keep the newest sample from before the window: it is the value at the window's start.
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def minimum(self, now: float) -> float | None:
        """Lowest value over the whole window, or None while the samples do not cover it."""
        if not self._samples or self._samples[0][0] > now - self.window:
            return None
        return min(value for _, value in self._samples)


def rules_from(settings: Settings) -> list[AlertRule]:
    s = settings
    return [
        AlertRule(
            "high_error_rate",
            "错误率过高",
            s.alert_error_rate_percent,
            s.alert_error_rate_window,
            s.alert_error_rate_cooldown,
            "%",
        ),
        AlertRule(
            "slow_responses",
            "平均响应时间过长",
            s.alert_response_time_seconds,
            s.alert_response_time_window,
            s.alert_response_time_cooldown,
            "s",
        ),
        AlertRule(
            "high_memory",
            "内存使用率过高",
            s.alert_memory_percent,
            s.alert_memory_window,
            s.alert_memory_cooldown,
            "%",
        ),
    ]


class AlertEvaluator:
    def __init__(
        self, settings: Settings, requests: RequestMetrics, host: str | None = None
    ) -> None:
        self.rules = rules_from(settings)
        self.requests = requests
        self.min_requests = settings.alert_min_requests
        self.host = host or socket.gethostname()
        memory_rule = next(r for r in self.rules if r.name == "high_memory")
        self.memory = SampleWindow(memory_rule.window)
        self._measures: dict[str, Callable[[AlertRule, float], float | None]] = {
            "high_error_rate": self._error_rate,
            "slow_responses": self._avg_response_time,
            "high_memory": self._memory_floor,
        }
        self._last_fired: dict[str, float] = {}

    def observe_memory(self, now: float, percent: float) -> None:
        self.memory.add(now, percent)

    def evaluate(self, now: float) -> list[Alert]:
        """The alerts due at ``now``: rules over their threshold and out of their cooldown."""
        due: list[Alert] = []
        for rule in self.rules:
            value = self._measures[rule.name](rule, now)
            if value is None or value <= rule.threshold:
                continue
            last = self._last_fired.get(rule.name)
            if last is not None and now - last < rule.cooldown:
                continue
            self._last_fired[rule.name] = now
            due.append(self._alert(rule, value))
        return due

    def _error_rate(self, rule: AlertRule, now: float) -> float | None:
        stats = self.requests.window(rule.window, now)
        # A handful of requests makes any percentage meaningless.
        return stats.error_rate if stats.count >= self.min_requests else None

    def _avg_response_time(self, rule: AlertRule, now: float) -> float | None:
        stats = self.requests.window(rule.window, now)
        return stats.avg_duration if stats.count else None

    def _memory_floor(self, rule: AlertRule, now: float) -> float | None:
        return self.memory.minimum(now)

    def _alert(self, rule: AlertRule, value: float) -> Alert:
        minutes = rule.window / 60
        message = (
            f"{rule.title}: 最近 {minutes:g} 分钟 {value:.2f}{rule.unit}，"
            f"超过阈值 {rule.threshold:g}{rule.unit}"
        )
        return Alert(
            rule.name,
            rule.title,
            message,
            round(value, 4),
            rule.threshold,
            rule.window,
            now_iso(),
            self.host,
        )


# ---- notifiers -------------------------------------------------------------------------------


class Notifier(Protocol):
    async def send(self, alert: Alert) -> None: ...


class EmailNotifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, alert: Alert) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.alert_email_from
        message["To"] = ", ".join(s.alert_email_recipients)
        message["Subject"] = f"[citu 告警] {alert.title} ({alert.host})"
        message.set_content(
            f"{alert.message}\n\n规则: {alert.rule}\n当前值: {alert.value}\n"
            f"阈值: {alert.threshold}\n统计窗口: {alert.window_seconds:g} 秒\n"
            f"主机: {alert.host}\n时间: {alert.fired_at}\n"
        )
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            use_tls=s.smtp_use_tls,
            timeout=s.alert_notify_timeout,
        )


class WebhookNotifier:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout

    async def send(self, alert: Alert) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, json=alert.as_dict())
            response.raise_for_status()


def notifiers_from(settings: Settings) -> list[Notifier]:
    notifiers: list[Notifier] = []
    if settings.alert_email_enabled and settings.alert_email_recipients:
        notifiers.append(EmailNotifier(settings))
    if settings.alert_webhook_url:
        notifiers.append(WebhookNotifier(settings.alert_webhook_url, settings.alert_notify_timeout))
    return notifiers


async def dispatch(alert: Alert, notifiers: Sequence[Notifier]) -> None:
    """Log the alert and hand it to every notifier; one failing channel does not stop others."""
    log.warning("ALERT %s: %s", alert.rule, alert.message)
    results = await asyncio.gather(*(n.send(alert) for n in notifiers), return_exceptions=True)
    for notifier, result in zip(notifiers, results, strict=True):
        if isinstance(result, BaseException):
            log.error(
                "alert %s not delivered by %s: %s", alert.rule, type(notifier).__name__, result
            )
