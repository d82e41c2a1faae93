"""RequestMetrics (last N requests, time windows) and the system snapshot."""

from __future__ import annotations

from datetime import datetime

import pytest

from citu.ops.metrics import RequestMetrics, system_stats


def test_snapshot_over_the_last_n_requests():
    metrics = RequestMetrics(size=4)
    assert metrics.snapshot() == {
        "request_count": 0,
        "error_count": 0,
        "error_rate": 0.0,
        "avg_response_time": 0.0,
        "max_response_time": 0.0,
        "min_response_time": 0.0,
    }
    for duration, status in [(9.0, 500), (0.1, 200), (0.2, 503), (0.3, 404), (0.4, 200)]:
        metrics.record(duration, status, now=100.0)
    snap = metrics.snapshot()  # the first (9.0, 500) fell out of the last 4
    assert snap["request_count"] == 4 and snap["error_count"] == 1
    assert snap["error_rate"] == 25.0
    assert snap["avg_response_time"] == pytest.approx(0.25)
    assert snap["max_response_time"] == 0.4 and snap["min_response_time"] == 0.1


def test_window_counts_only_recent_seconds_and_forgets_past_the_horizon():
    metrics = RequestMetrics(size=10, horizon=60)
    metrics.record(1.0, 500, now=0.0)
    metrics.record(3.0, 200, now=50.5)
    metrics.record(5.0, 200, now=50.9)
    recent = metrics.window(10, now=55.0)
    assert (recent.count, recent.errors, recent.avg_duration) == (2, 0, 4.0)
    everything = metrics.window(60, now=55.0)
    assert everything.count == 3 and everything.error_rate == pytest.approx(100 / 3)
    metrics.record(1.0, 200, now=200.0)  # beyond the horizon: old buckets are dropped
    assert metrics.window(1000, now=200.0).count == 1


def test_system_stats_shape(tmp_path):
    stats = system_stats(tmp_path)
    assert set(stats) == {"cpu_percent", "memory_percent", "disk_percent", "timestamp"}
    assert 0 < stats["memory_percent"] <= 100 and 0 < stats["disk_percent"] <= 100
    assert 0 <= stats["cpu_percent"] <= 100
    datetime.fromisoformat(stats["timestamp"])
    assert system_stats(tmp_path / "missing")["disk_percent"] > 0  # falls back to the cwd
