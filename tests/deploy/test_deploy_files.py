"""Static checks of the deployment files (no Docker daemon is needed to run them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def hypercorn_config() -> dict:
    return tomllib.loads((DEPLOY / "hypercorn.toml").read_text(encoding="utf-8"))


def test_dockerfile_runs_hypercorn_as_a_non_root_user():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.\d+-slim\b", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert 'CMD ["citu", "serve", "--config", "/app/hypercorn.toml"]' in text
    assert "COPY deploy/hypercorn.toml /app/hypercorn.toml" in text
    assert "PROMETHEUS_MULTIPROC_DIR=" in text and "HEALTHCHECK" in text


def test_hypercorn_config_listens_on_all_interfaces_and_drains_on_sigterm():
    config = hypercorn_config()
    assert config["bind"] == ["0.0.0.0:8084"]
    assert config["workers"] >= 1 and config["graceful_timeout"] >= 30


def test_compose_has_citu_postgres_redis_with_health_checks_and_volumes():
    services = compose()["services"]
    assert set(services) == {"citu", "postgres", "redis"}
    assert all("healthcheck" in s for s in services.values())
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    citu = services["citu"]
    mounts = {v.split(":")[1] for v in citu["volumes"]}
    assert {"/app/logs", "/app/data"} <= mounts
    assert citu["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert "@postgres:5432/" in citu["environment"]["CITU_DATABASE_URL"]
    assert citu["environment"]["CITU_REDIS_URL"].startswith("redis://redis:6379/")
    grace = int(citu["stop_grace_period"].rstrip("s"))
    assert grace > hypercorn_config()["graceful_timeout"]


def test_compose_environment_names_are_real_settings():
    from citu.settings import Settings

    known = {f"CITU_{name.upper()}" for name in Settings.model_fields}
    assert set(compose()["services"]["citu"]["environment"]) <= known
