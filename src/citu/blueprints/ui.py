"""``/ui``: the browser console, plain HTML, CSS and JavaScript modules shipped in the package.

Nothing is built and nothing comes from another host: the page and every file it loads are
served from ``citu/ui/static``. Only the files listed there are served, by name.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from quart import Blueprint, Response, send_from_directory
from quart_schema import hide
from werkzeug.exceptions import NotFound

bp = Blueprint("ui", __name__)

# Types of the files the console is made of; anything else in the folder stays unserved.
_SERVED_SUFFIXES = frozenset({".html", ".css", ".js", ".svg"})

# The browser itself refuses anything from another host, inline scripts and framing: a value
# from the database that slipped into the page as markup could not run or call out.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def static_dir() -> Path:
    """The folder of the console's files inside the installed package."""
    return Path(str(resources.files("citu.ui") / "static"))


@bp.get("/ui")
@hide
async def console() -> Response:
    """The console page."""
    response = await send_from_directory(str(static_dir()), "index.html")
    response.cache_control.no_cache = True  # always the page of the running version
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@bp.get("/ui/static/<name>")
@hide
async def console_file(name: str) -> Response:
    """One file of the console (flat folder: a name with a slash never matches this route)."""
    if Path(name).suffix not in _SERVED_SUFFIXES or name.startswith("."):
        raise NotFound()
    response = await send_from_directory(str(static_dir()), name)
    response.cache_control.no_cache = True  # revalidated: a new version shows at once
    return response
