"""The dashboard, served by the API: its own routes, and the built bundle at `/`.

`frontend/dist` (from `make frontend`, or `TERRITORY_API__DASHBOARD_DIR`) is served with a
single-page-app fallback: a path with no file behind it gets `index.html`, so a deep link
like `/clients/abc` opens the app, which routes it. `/api/…`, `/docs` and `/metrics` are
never answered with the page. Hashed assets are cached for a
year; `index.html` never is, so a new build is seen on the next load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from territory.api.routes import data_quality, dev_auth
from territory.api.settings import ApiSettings

# services/api/src/territory/api/dashboard.py → the repository root, five levels up.
REPO_DIST = Path(__file__).resolve().parents[5] / "frontend" / "dist"

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Territory Engine</title></head><body style="font-family:sans-serif;margin:3rem">
<h1>The dashboard is not built</h1><p>Run <code>make frontend</code> (or <code>make run</code>,
which builds it when missing), then reload. The API itself is at <a href="/docs">/docs</a>.</p>
</body></html>"""


class SinglePageApp(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        first = path.split("/", 1)[0]
        if first in {"api", "docs", "metrics", "openapi.json"}:
            raise HTTPException(404)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or "." in path.rsplit("/", 1)[-1]:
                raise
            response = await super().get_response("index.html", scope)
        if response.status_code == 404 and "." not in path.rsplit("/", 1)[-1]:
            response = await super().get_response("index.html", scope)
        if path.startswith("assets/"):
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["cache-control"] = "no-cache"
        return response


def dist_dir(settings: ApiSettings) -> Path:
    return settings.api.dashboard_dir or REPO_DIST


def install(app: FastAPI, settings: ApiSettings) -> None:
    """The dashboard's routes, and the bundle for every path no route claims."""
    for module in (dev_auth, data_quality):
        app.include_router(module.router)
    dist = dist_dir(settings)
    if (dist / "index.html").is_file():
        # The router's fallback rather than a mount at "/": a route added later (or by a
        # test) still wins, and only a path no route claims reaches the bundle.
        app.router.default = SinglePageApp(directory=dist, html=True)
        return

    @app.get("/", include_in_schema=False)
    def not_built() -> Any:
        return HTMLResponse(NOT_BUILT, status_code=503)
