"""The command line's preparation steps."""

from __future__ import annotations

from citu.cli import prepare_metrics_dir


def test_serve_prepares_an_empty_prometheus_directory(tmp_path, monkeypatch):
    shared = tmp_path / "prom"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    prepare_metrics_dir()
    assert shared.is_dir()
    (shared / "counter_123.db").write_bytes(b"stale")
    (shared / "keep.txt").write_text("not ours")
    prepare_metrics_dir()
    assert sorted(p.name for p in shared.iterdir()) == ["keep.txt"]


def test_no_prometheus_directory_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    prepare_metrics_dir()
    assert list(tmp_path.iterdir()) == []
