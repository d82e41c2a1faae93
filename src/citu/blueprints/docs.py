"""``/docs``: Swagger UI over ``/openapi.json``, its files served from the installed
``swagger-ui-bundle-v2`` package, so the page works without internet access."""

from __future__ import annotations

from quart import Blueprint, Response, send_from_directory, url_for
from quart_schema import hide
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import NotFound

bp = Blueprint("docs", __name__)

# Only the files the page loads; everything else in the package stays unserved.
ASSETS = frozenset(
    {
        "swagger-ui.css",
        "index.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-16x16.png",
        "favicon-32x32.png",
        "oauth2-redirect.html",
        "oauth2-redirect.js",
    }
)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>citu API</title>
  <link rel="stylesheet" href="{css}">
  <link rel="stylesheet" href="{page_css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{bundle}"></script>
  <script src="{preset}"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "{spec}",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "BaseLayout",
      validatorUrl: null,
      oauth2RedirectUrl: new URL("{redirect}", window.location.href).href
    }});
  </script>
</body>
</html>
"""


def _asset(name: str) -> str:
    return url_for("docs.asset", name=name)


@bp.get("/docs")
@hide
async def swagger_ui() -> Response:
    """The API reference page (no external host: validator badge off, files local)."""
    page = _PAGE.format(
        css=_asset("swagger-ui.css"),
        page_css=_asset("index.css"),
        icon=_asset("favicon-32x32.png"),
        bundle=_asset("swagger-ui-bundle.js"),
        preset=_asset("swagger-ui-standalone-preset.js"),
        redirect=_asset("oauth2-redirect.html"),
        spec=url_for("openapi"),
    )
    return Response(page, content_type="text/html; charset=utf-8")


@bp.get("/docs/assets/<name>")
@hide
async def asset(name: str) -> Response:
    """One file of Swagger UI from the installed package."""
    if name not in ASSETS:
        raise NotFound()
    response = await send_from_directory(str(swagger_ui_path), name)
    response.cache_control.max_age = 86_400  # versioned with the package; safe to cache a day
    return response
