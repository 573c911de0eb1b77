"""``honed dashboard``: a FastAPI application over a store, pages rendered on the server with
Jinja2, charts drawn by plotly.js served from the installed plotly package (no CDN).

Read-only but for tags and arena votes; no endpoint runs a model or takes a file path. The pages
are in run_pages (runs, a run), history_pages (compare, trends, sweeps, matrix) and arena_pages."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from honed.dashboard import security
from honed.dashboard.arena_pages import add_arena_routes
from honed.dashboard.history_pages import add_history_routes
from honed.dashboard.run_pages import add_run_routes
from honed.store.database import Store
from honed.store.run_index import METRICS

STATIC = {"style.css": "text/css", "dashboard.js": "text/javascript"}
TEMPLATES = Environment(
    loader=PackageLoader("honed.dashboard", "templates"), autoescape=select_autoescape(default=True)
)
TEMPLATES.filters["tojson_compact"] = lambda value: json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


@cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def create_app(store: Store, token: str | None = None) -> FastAPI:
    app = FastAPI(title="honed dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        stopped = security.authorise(request, token)
        response = stopped or await call_next(request)
        response.headers.update(security.HEADERS)
        return response

    def page(request: Request, template: str, **context: Any) -> HTMLResponse:
        html = TEMPLATES.get_template(template).render(
            request=request, csrf=security.csrf_token(request), metrics=METRICS, **context
        )
        response = HTMLResponse(html)
        security.remember_csrf(request, response)
        return response

    @app.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/runs", status_code=303)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            return Response(_plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        text = resources.files("honed.dashboard").joinpath("static", name).read_text()
        return Response(text, media_type=STATIC[name])

    add_run_routes(app, store, page)
    add_history_routes(app, store, page)
    add_arena_routes(app, store, page)
    return app
