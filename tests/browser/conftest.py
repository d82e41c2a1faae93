"""Fixtures of the browser tests: one headless Chromium for these tests, and citu served by
hypercorn on a loopback port with the fake model in demo mode and the demo's training data.

Without Chromium and its driver every test here is skipped with the reason; CI installs them
(``.ci/run``), and ``apt-get install chromium chromium-driver`` does on a Debian machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from browser.chromium import Browser, chromium_paths, start_chromium
from citu.app import create_app
from citu.db.demo_training import train_demo
from fakes.demo_llm import install_demo_mode
from fakes.served import served

NO_CHROMIUM = (
    "no Chromium for the browser tests: install Debian's chromium and chromium-driver "
    "(apt-get install chromium chromium-driver) or set CITU_TEST_CHROMIUM / CITU_TEST_CHROMEDRIVER"
)


@pytest.fixture(scope="package")  # quit once these tests are done, not at the session's end
def chromium_driver() -> Iterator[Any]:
    paths = chromium_paths()
    if paths is None:
        pytest.skip(NO_CHROMIUM)
    driver = start_chromium(*paths)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def console_app(settings, fake_llm) -> AsyncIterator[Any]:
    """citu served for real, the demo model answering, the demo trained."""
    install_demo_mode(fake_llm)
    settings.pipeline_llm_retry_delay = 0.01
    app = create_app(settings)
    async with served(app) as port:
        services = app.extensions["citu"]
        await train_demo(services.training, services.business_db)
        app.config["test.port"] = port
        yield app


@pytest.fixture
async def browser(chromium_driver, console_app) -> AsyncIterator[Browser]:
    page = Browser(chromium_driver, f"http://127.0.0.1:{console_app.config['test.port']}")
    await page.console_errors()  # drop what an earlier test left in the log
    yield page
    # Leave no page polling a server that is about to stop.
    await page.run("window.stop(); document.documentElement.innerHTML = '';")
