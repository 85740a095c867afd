"""``/api/docs``: Swagger UI served by the hub itself (works offline, strict CSP).

FastAPI's default docs page loads Swagger UI from a CDN and starts it with an inline
script; behind the hub's Content-Security-Policy (no inline script) and on a machine
without internet access that page stays blank. Here the assets come from the pinned
PyPI package ``swagger-ui-py`` (Swagger UI 5, which renders OpenAPI 3.1), served under
``/api/docs/assets/``, and ``docs-init.js`` (ours) starts it with the spec URL it reads
from the page.
"""

from __future__ import annotations

import importlib.util
from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles

OWN_STATIC = Path(__file__).resolve().parent / "static"
# Only what the page uses is served (the package also ships an editor and source maps).
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def swagger_ui_dir() -> Path:
    """The static directory of the installed ``swagger_ui`` package (not imported: its
    ``__init__`` pulls in framework handlers we do not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (see pyproject.toml)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class _Assets(StaticFiles):
    """StaticFiles limited to an allow-list of file names."""

    def __init__(self, directory: Path, names: tuple[str, ...]) -> None:
        super().__init__(directory=directory)
        self.names = frozenset(names)

    def lookup_path(self, path: str) -> tuple[str, object]:  # type: ignore[override]
        if path.lstrip("/") not in self.names:
            return "", None
        return super().lookup_path(path)


PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} - API docs</title>
  <link rel="icon" type="image/png" href="{base}/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="{base}/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{base}/openapi.json"></div>
  <script src="{base}/docs/assets/swagger-ui-bundle.js"></script>
  <script src="{base}/docs/init.js"></script>
</body>
</html>
"""


def install_docs(api: FastAPI) -> None:
    """Serve the docs page and its assets on ``api`` (created with ``docs_url=None``)."""

    async def docs(request: Request) -> HTMLResponse:
        base = escape(request.scope.get("root_path", "").rstrip("/"), quote=True)
        return HTMLResponse(PAGE.format(title=escape(api.title), base=base))

    async def init_script() -> FileResponse:
        return FileResponse(OWN_STATIC / "docs-init.js", media_type="text/javascript")

    api.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    api.add_api_route("/docs/init.js", init_script, methods=["GET"], include_in_schema=False)
    api.mount("/docs/assets", _Assets(swagger_ui_dir(), SWAGGER_FILES), name="docs-assets")
