"""Path traversal attempts against every route that takes a task id, a file name or a path.

Each attempt must be refused (400/404/405) and must leave the file system untouched: a canary
file outside the task root and the task root itself must survive.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

from citu.errors import BadRequest
from citu.pipeline.files import TaskPaths, is_safe_file_name, is_valid_task_id

BASE = "/api/v0/data_pipeline"

BAD_TASK_IDS = [
    "",
    ".",
    "..",
    "../..",
    "/etc",
    "a/b",
    "..\\..",
    "task_1/../..",
    "x" * 33,
    "task 1",
    "t\x00",
]


@pytest.fixture
async def task_id(client) -> str:
    response = await client.post(f"{BASE}/tasks", json={})
    return (await response.get_json())["data"]["task_id"]


@pytest.fixture
def canary(settings) -> Path:
    path = Path(settings.data_dir) / "data_pipeline" / "canary.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("alive")
    return path


def files_holding(base: Path, content: bytes, pattern: str = "*") -> list[Path]:
    return [p for p in base.rglob(pattern) if p.is_file() and p.read_bytes() == content]


def holds(path: Path, content: bytes) -> bool:
    return path.is_file() and path.read_bytes() == content


def files_named(base: Path, pattern: str) -> list[Path]:
    return list(base.glob(pattern))


def root(settings) -> Path:
    return Path(settings.data_dir) / "data_pipeline" / "training_data"


@pytest.mark.parametrize("bad", BAD_TASK_IDS)
async def test_delete_refuses_bad_task_ids(client, settings, canary, task_id, bad):
    response = await client.delete(f"{BASE}/tasks", json={"task_ids": [bad], "confirm": True})
    assert response.status_code == 400
    assert canary.read_text() == "alive"
    assert (root(settings) / task_id).is_dir()


@pytest.mark.parametrize(
    "path",
    [
        f"{BASE}/tasks/../files",
        f"{BASE}/tasks/..%2F..%2Fetc/files",
        f"{BASE}/tasks/%2E%2E/files",
        f"{BASE}/tasks/%2E%2E/table-list-info",
        f"{BASE}/tasks/%2E%2E/files/canary.txt",
        f"{BASE}/tasks/%2E%2E%2F%2E%2E/logs",
    ],
)
async def test_task_id_in_path_is_refused(client, canary, path):
    response = await client.get(path)
    assert response.status_code in (400, 404)
    assert b"alive" not in await response.get_data()


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "..%2Ftask_config.json",
        "%2E%2E%2F%2E%2E%2Fcanary.txt",
        ".hidden",
        "..%5C..%5Ccanary.txt",
        "%2Fetc%2Fpasswd",
    ],
)
async def test_download_refuses_escaping_names(client, task_id, canary, name):
    response = await client.get(f"{BASE}/tasks/{task_id}/files/{name}")
    assert response.status_code in (400, 404)
    body = await response.get_data()
    assert b"alive" not in body and b"root:" not in body


async def test_download_refuses_symlink_escape(client, settings, task_id, canary):
    (root(settings) / task_id / "link.txt").symlink_to(canary)
    response = await client.get(f"{BASE}/tasks/{task_id}/files/link.txt")
    assert response.status_code == 400
    assert (await response.get_json())["data"]["response"] == "非法的文件路径"
    listing = (await (await client.get(f"{BASE}/tasks/{task_id}/files")).get_json())["data"]
    assert listing["files"] == []


@pytest.mark.parametrize(
    "name",
    [
        "../escape.txt",
        "/tmp/abs.txt",
        "..\\escape.txt",
        "sub/dir.txt",
        "CON.txt",
        ".env.txt",
        "a\x01.txt",
        "x" * 252 + ".txt",
    ],
)
async def test_upload_refuses_unsafe_names(client, settings, task_id, name):
    files = {"file": FileStorage(io.BytesIO(b"payload"), filename=name)}
    response = await client.post(f"{BASE}/tasks/{task_id}/files", files=files)
    assert response.status_code == 400
    assert (await response.get_json())["data"]["response"].startswith("文件名包含不安全字符")
    # Only the absolute-path case could land outside; walking all of /tmp races other processes.
    assert not holds(Path("/tmp/abs.txt"), b"payload")
    assert files_holding(Path(settings.data_dir), b"payload") == []


@pytest.mark.parametrize("backup_path", ["/etc", "../..", "data_pipeline/training_data/../..", "/"])
async def test_restore_refuses_paths_outside_the_task_root(client, backup_path):
    body = {"backup_path": backup_path, "timestamp": "20250101_000000"}
    response = await client.post(f"{BASE}/vector/restore", json=body)
    assert response.status_code == 400
    assert (await response.get_json())["data"]["invalid_params"] == ["backup_path"]


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", ""])
async def test_vector_routes_refuse_bad_task_ids(client, bad):
    response = await client.post(f"{BASE}/vector/backup", json={"task_id": bad})
    assert response.status_code == 400
    response = await client.get(f"{BASE}/vector/restore/list", query_string={"task_id": bad})
    assert response.status_code == 400


async def test_db_name_cannot_steer_file_names(client, settings, fake_llm, task_id):
    """db_name ends up in the pair file name: it is reduced to word characters."""
    from fakes.pipeline_script import script_pipeline

    script_pipeline(fake_llm)
    response = await client.post(f"{BASE}/tasks", json={"db_name": "../../evil"})
    evil = (await response.get_json())["data"]["task_id"]
    await client.post(f"{BASE}/tasks/{evil}/table-list", json={"tables": ["bss_company"]})
    await client.post(
        f"{BASE}/tasks/{evil}/execute",
        json={"execution_mode": "step", "step_name": "ddl_generation"},
    )
    import asyncio

    for _ in range(200):
        status = (await (await client.get(f"{BASE}/tasks/{evil}")).get_json())["data"]
        if status["status"] != "in_progress":
            break
        await asyncio.sleep(0.05)
    await client.post(
        f"{BASE}/tasks/{evil}/execute",
        json={"execution_mode": "step", "step_name": "qa_generation"},
    )
    for _ in range(200):
        status = (await (await client.get(f"{BASE}/tasks/{evil}")).get_json())["data"]
        if status["status"] != "in_progress":
            break
        await asyncio.sleep(0.05)
    assert status["step_status"]["qa_generation"] == "completed", status
    pairs = list((root(settings) / evil).glob("*_pair.json"))
    assert len(pairs) == 1 and pairs[0].name.startswith("qs_______evil_")
    assert files_named(Path(settings.data_dir), "**/evil*") == []


def test_validators_table():
    assert all(not is_valid_task_id(bad) for bad in BAD_TASK_IDS)
    assert is_valid_task_id("task_20250721_213627") and is_valid_task_id("manual_20250721_213627_3")
    for bad in ["..", "a/b", "a\\b", ".x", "x\x00", "NUL.txt", "com1.md", "", "a" * 256, 5]:
        assert not is_safe_file_name(bad), bad
    assert is_safe_file_name("qs_highway_db_20250721_234914_pair.json.backup")
    paths = TaskPaths(Path("/srv/citu"))
    with pytest.raises(BadRequest):
        paths.task_file("task_1", "../x")
    with pytest.raises(BadRequest):
        paths.task_dir("..")
