"""Headless Chromium driven by Selenium, for tests that serve citu in their own event loop.

Selenium blocks, and the server under test runs on the test's loop: every browser call goes
through a worker thread (``asyncio.to_thread``) so the server keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def chromium_paths() -> tuple[str, str] | None:
    """Chromium and its driver (Debian's ``chromium`` and ``chromium-driver``), or None."""
    binary = os.environ.get("CITU_TEST_CHROMIUM") or shutil.which("chromium")
    driver = os.environ.get("CITU_TEST_CHROMEDRIVER") or shutil.which("chromedriver")
    if binary and driver:
        return binary, driver
    return None


def start_chromium(binary: str, driver_path: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--lang=zh-CN",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


class Browser:
    """The async face of one WebDriver session."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    async def open(self, path: str) -> None:
        await asyncio.to_thread(self.driver.get, self.base_url + path)
        await self.wait_for("return document.body && document.body.dataset.ready === 'true'")

    async def run(self, script: str, *args: Any) -> Any:
        return await asyncio.to_thread(self.driver.execute_script, script, *args)

    async def run_async(self, script: str, *args: Any) -> Any:
        """A script that calls ``arguments[arguments.length - 1]`` with its result."""
        return await asyncio.to_thread(self.driver.execute_async_script, script, *args)

    async def wait_for(self, condition: str, seconds: float = 30.0, *args: Any) -> Any:
        """Polls the script ``condition`` (it returns a value) until it is truthy."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            value = await self.run(condition, *args)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for: {condition}")
            await asyncio.sleep(0.1)

    async def fill(self, selector: str, text: str) -> None:
        await self.run(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
            "el.dispatchEvent(new Event('change'));",
            selector,
            text,
        )

    async def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        element = await asyncio.to_thread(self.driver.find_element, By.CSS_SELECTOR, selector)
        await asyncio.to_thread(element.click)

    async def choose_file(self, selector: str, path: Path) -> None:
        """Puts a file in an ``<input type=file>``, as a person picking it would."""
        from selenium.webdriver.common.by import By

        element = await asyncio.to_thread(self.driver.find_element, By.CSS_SELECTOR, selector)
        await asyncio.to_thread(element.send_keys, str(path))

    async def screenshot(self, selector: str, name: str) -> Path:
        from selenium.webdriver.common.by import By

        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        element = await asyncio.to_thread(self.driver.find_element, By.CSS_SELECTOR, selector)
        await asyncio.to_thread(element.screenshot, str(path))
        return path

    async def console_errors(self) -> list[dict[str, Any]]:
        """Entries of the browser's log at level SEVERE since the last call."""
        entries = await asyncio.to_thread(self.driver.get_log, "browser")
        return [entry for entry in entries if entry.get("level") == "SEVERE"]
