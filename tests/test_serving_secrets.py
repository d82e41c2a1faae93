"""``citu serve`` (hypercorn with ``accesslog``/``errorlog`` on the console): a key quoted by
the model provider and a password in a request header reach neither the process's
output nor a log file."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

from citu.settings import Settings
from test_serving import citu_env, free_port, stop, wait_until_serving

REPO = Path(__file__).resolve().parents[1]
LLM_KEY = "serve-canary-llm-3c7e19"
QUERY_PASSWORD = "serve-canary-pw-80d4a2"


async def test_citu_serve_output_and_logs_hold_no_secret(
    settings: Settings, tmp_path: Path, fake_llm
) -> None:
    fake_llm.reject_key(401)
    port = free_port()
    env = citu_env(settings, CITU_LLM_API_KEY=LLM_KEY, CITU_EMBEDDING_API_KEY=LLM_KEY)
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # The repository's hypercorn.toml: access and error logs on the console.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "citu.cli", "serve",
            "--config", str(REPO / "hypercorn.toml"), "--bind", f"127.0.0.1:{port}",
            cwd=tmp_path, env=env, stdout=stdout, stderr=stderr,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                await wait_until_serving(client, proc)
                react = await client.post(
                    "/api/v0/ask_react_agent", json={"question": "查询所有服务区的营业额"}
                )
                ask = await client.post("/api/v0/ask_agent", json={"question": "查询营业额"})
                # hypercorn's access line prints the Referer header.
                referer = f"http://frontend.example/?password={QUERY_PASSWORD}"
                probe = await client.get("/api/v0/agent_health", headers={"Referer": referer})
            for response in (react, ask, probe):
                assert LLM_KEY not in response.text
                assert response.json()["success"] is False
        finally:
            # SIGTERM, not stop()'s SIGKILL: `citu serve` runs hypercorn in a process group of
            # its own, which a killed `citu serve` would leave running.
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 60)
                finally:
                    await stop(proc)
    output = out.read_text(errors="replace") + err.read_text(errors="replace")
    logs = "\n".join(p.read_text(errors="replace") for p in settings.log_dir.glob("*.log*"))
    assert '"http://frontend.example/?password=***"' in output  # hypercorn's access line
    assert "Traceback" in logs  # the ReAct failure was logged with its traceback
    for text in (output, logs):
        assert LLM_KEY not in text
        assert QUERY_PASSWORD not in text
