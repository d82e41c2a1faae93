"""``/ui``: the console page and its files come from the package, by name only, and the page
refers to nothing outside citu (the browser tests in tests/browser drive it for real)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from citu.blueprints.ui import static_dir


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


async def test_console_page_and_its_files(client):
    response = await client.get("/ui")
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy
    page = (await response.get_data()).decode()
    parser = _Urls()
    parser.feed(page)
    assert "/ui/static/main.js" in parser.urls and "/ui/static/console.css" in parser.urls
    for url in parser.urls:
        assert url.startswith("/ui/static/"), url
        assert (await client.get(url)).status_code == 200, url


async def test_every_module_the_console_imports_is_served(client):
    importer = re.compile(r'from "\./([\w.-]+)"')
    scripts = sorted(p.name for p in static_dir().glob("*.js"))
    assert {"main.js", "chart.js", "chart-svg.js", "i18n.js", "api.js"} <= set(scripts)
    imports = 0
    for name in scripts:
        response = await client.get(f"/ui/static/{name}")
        assert response.status_code == 200 and response.mimetype in (
            "text/javascript",
            "application/javascript",
        ), name
        source = (await response.get_data()).decode()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", source), name
        for imported in importer.findall(source):
            assert imported in scripts, (name, imported)
            imports += 1
    assert imports >= 15  # the pattern does find the modules' imports


async def test_only_console_files_are_served(client):
    for path in (
        "/ui/static/__init__.py",
        "/ui/static/..%2F__init__.py",
        "/ui/static/../__init__.py",
        "/ui/static/.hidden.js",
        "/ui/static/missing.js",
    ):
        assert (await client.get(path)).status_code == 404, path


async def test_index_keeps_its_json(client):
    body = await (await client.get("/")).get_json()
    assert body["message"] == "统一API服务正在运行" and body["version"] == "1.0.0"
