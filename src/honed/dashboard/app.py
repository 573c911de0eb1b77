"""``honed dashboard``: a FastAPI application over a store, pages rendered on the server with
Jinja2, charts drawn by plotly.js served from the installed plotly package (no CDN).

Read-only but for tags (and arena votes); no endpoint runs a model or takes a file path."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from honed.dashboard import charts, matrix, queries, security
from honed.dashboard.arena_pages import add_arena_routes
from honed.errors import HonedError
from honed.run_index import METRICS
from honed.store import Store

RUN_ID = Path(pattern=r"^[0-9a-f]{1,32}$", description="a run id or unique prefix")
STATIC = {"style.css": "text/css", "dashboard.js": "text/javascript"}
TEMPLATES = Environment(loader=PackageLoader("honed.dashboard", "templates"), autoescape=select_autoescape(default=True))
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
        html = TEMPLATES.get_template(template).render(request=request, csrf=security.csrf_token(request),
                                                        metrics=METRICS, **context)
        response = HTMLResponse(html)
        security.remember_csrf(request, response)
        return response

    def record_or_404(run_id: str) -> Any:
        try:
            return store.resolve(run_id)
        except HonedError as error:
            raise HTTPException(404, str(error)) from None

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

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request, page_number: int = Query(1, alias="page", ge=1, le=100_000),
             since: str | None = None, until: str | None = None) -> HTMLResponse:
        chosen = {name: value for name in queries.FILTERS if (value := request.query_params.get(name))}
        wanted = queries.RunFilter(chosen, _date(since, "since"), _date(until, "until"))
        rows, total = queries.runs_page(store, wanted, page_number)
        return page(request, "runs.html.j2", rows=rows, total=total, page=page_number, page_size=queries.PAGE_SIZE,
                    facets=queries.facets(store), chosen=chosen, since=since or "", until=until or "")

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str = RUN_ID) -> HTMLResponse:
        from honed.report import environment_rows

        record = record_or_404(run_id)
        row = store.get_row(record.id)
        tags = sorted(name for name, tagged in store.tags().items() if tagged == record.id)
        return page(request, "run.html.j2", record=record, row=row, tags=tags, environment=environment_rows(record),
                    cdf=charts.latency_cdf(record))

    @app.get("/runs/{run_id}/samples.csv")
    def samples(run_id: str = RUN_ID) -> PlainTextResponse:
        record = record_or_404(run_id)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["batch_size", "repetition", "sample", "latency_ns"])
        for m in record.measurements:
            writer.writerows([m.batch_size, m.repetition, i, ns] for i, ns in enumerate(m.samples_ns))
        return PlainTextResponse(buffer.getvalue(), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="honed-run-{record.id}-samples.csv"'})

    @app.post("/runs/{run_id}/tags")
    async def tag(request: Request, run_id: str = RUN_ID) -> RedirectResponse:
        fields = await security.checked_form(request)
        try:
            full_id = store.tag(run_id, fields.get("name", ""))
        except HonedError as error:
            raise HTTPException(422, str(error)) from None
        return RedirectResponse(f"/runs/{full_id}", status_code=303)

    @app.get("/compare", response_class=HTMLResponse)
    def compare(request: Request, a: str | None = Query(None, pattern=r"^[\w.-]{1,100}$"),
                b: str | None = Query(None, pattern=r"^[\w.-]{1,100}$")) -> HTMLResponse:
        from honed.comparison import compare as compare_runs

        result = figure = None
        if a and b:
            result = compare_runs(record_or_404(a), record_or_404(b))
            figure = charts.comparison_changes(result)
        recent, _ = queries.runs_page(store, queries.RunFilter(), 1)
        return page(request, "compare.html.j2", a=a or "", b=b or "", result=result, figure=figure, recent=recent)

    @app.get("/trends", response_class=HTMLResponse)
    def trends(request: Request, series: str | None = Query(None, pattern=r"^[0-9a-f]{64}$"),
               metric: str = Query("p50_ms"), batch: int = Query(1, ge=1, le=1 << 20)) -> HTMLResponse:
        if metric not in METRICS:
            raise HTTPException(422, f"metric {metric!r}: one of {', '.join(METRICS)}")
        every = queries.series_list(store)
        chosen = next((s for s in every if s.key == series), every[0] if every else None)
        points = queries.trend(store, chosen.key, metric, batch) if chosen else []
        label = f"{METRICS[metric][0]} ({METRICS[metric][1]})" if METRICS[metric][1] else METRICS[metric][0]
        return page(request, "trends.html.j2", every=every, chosen=chosen, metric=metric, batch=batch, points=points,
                    figure=charts.trend(points, label) if points else None)

    @app.get("/sweeps", response_class=HTMLResponse)
    def sweeps(request: Request) -> HTMLResponse:
        return page(request, "sweeps.html.j2", sweeps=store.sweeps(limit=500))

    @app.get("/sweeps/{sweep_id}", response_class=HTMLResponse)
    def sweep(sweep_id: str = Path(pattern=r"^[0-9a-f]{1,32}$")) -> HTMLResponse:
        from honed.report import render_report
        from honed.tuning.result import TuneResult

        try:
            result = TuneResult.model_validate(store.sweep(sweep_id))
        except HonedError as error:
            raise HTTPException(404, str(error)) from None
        return HTMLResponse(render_report(result, store, back_link="/sweeps"))

    add_arena_routes(app, store, page)

    @app.get("/matrix", response_class=HTMLResponse)
    def matrix_page(request: Request) -> HTMLResponse:
        return page(request, "matrix.html.j2", table=matrix.build(store))

    return app


def _date(text: str | None, field: str) -> datetime | None:
    """A date or date-time from a filter, in UTC; ``until`` of a bare date takes in that whole day."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"{field} {text!r}: a date such as 2026-11-24 or 2026-11-24T09:30") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment + timedelta(days=1) if field == "until" and len(text) == 10 else moment
