"""Takes the README's picture of the console: asks a question at ``<base>/ui`` in headless
Chromium and saves the page. Run it against ``make serve`` with the demo stand-in:

    .venv/bin/python scripts/console_screenshot.py http://127.0.0.1:8084 docs/images/console.png

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``test`` extra (selenium). Prints
the page's first contentful paint, and fails if the page logged an error.
"""

from __future__ import annotations

import argparse
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

QUESTION = "2025年3月各服务区的总营收是多少？"
FIRST_PAINT = (
    "const p = performance.getEntriesByName('first-contentful-paint')[0];"
    " return p ? p.startTime : null;"
)


def start(binary: str, driver: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--window-size=1280,900",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def take(browser: webdriver.Chrome, base: str, question: str, lang: str, out: str) -> None:
    browser.get(f"{base}/ui")
    print(f"first contentful paint: {browser.execute_script(FIRST_PAINT):.0f} ms")
    browser.execute_script(
        "const s = document.getElementById('lang'); s.value = arguments[0];"
        " s.dispatchEvent(new Event('change'));",
        lang,
    )
    browser.find_element(By.ID, "question").send_keys(question)
    browser.find_element(By.CSS_SELECTOR, "#ask-form button[type=submit]").click()
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline and state not in ("done", "failed"):
        time.sleep(0.1)
        state = browser.execute_script("return document.getElementById('ask-answer').dataset.state")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height + 100, 2000))
    time.sleep(0.3)
    browser.save_screenshot(out)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    if state != "done" or errors:
        raise SystemExit(f"the answer is {state}; errors: {errors}")
    print(f"saved {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="where citu serves, e.g. http://127.0.0.1:8084")
    parser.add_argument("out", help="the PNG to write")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    browser = start(args.chromium, args.chromedriver)
    try:
        take(browser, args.base.rstrip("/"), args.question, args.lang, args.out)
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
