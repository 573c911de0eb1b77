"""Pages over many runs: compare two (the verdicts of `honed compare`, CIs drawn), a series'
trend (regressions and environment changes marked), the tune sweeps, and models x targets."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse

from honed.core.errors import HonedError
from honed.dashboard import charts, matrix, queries
from honed.dashboard.run_pages import record_or_404
from honed.store.database import Store
from honed.store.run_index import METRICS


def add_history_routes(app: FastAPI, store: Store, page: Any) -> None:
    @app.get("/compare", response_class=HTMLResponse)
    def compare(
        request: Request,
        a: str | None = Query(None, pattern=r"^[\w.-]{1,100}$"),
        b: str | None = Query(None, pattern=r"^[\w.-]{1,100}$"),
    ) -> HTMLResponse:
        from honed.records.comparison import compare as compare_runs

        result = figure = None
        if a and b:
            result = compare_runs(record_or_404(store, a), record_or_404(store, b))
            figure = charts.comparison_changes(result)
        recent, _ = queries.runs_page(store, queries.RunFilter(), 1)
        return page(request, "compare.html.j2", a=a or "", b=b or "", result=result, figure=figure, recent=recent)

    @app.get("/trends", response_class=HTMLResponse)
    def trends(
        request: Request,
        series: str | None = Query(None, pattern=r"^[0-9a-f]{64}$"),
        metric: str = Query("p50_ms"),
        batch: int = Query(1, ge=1, le=1 << 20),
    ) -> HTMLResponse:
        if metric not in METRICS:
            raise HTTPException(422, f"metric {metric!r}: one of {', '.join(METRICS)}")
        every = queries.series_list(store)
        chosen = next((s for s in every if s.key == series), every[0] if every else None)
        points = queries.trend(store, chosen.key, metric, batch) if chosen else []
        label = f"{METRICS[metric][0]} ({METRICS[metric][1]})" if METRICS[metric][1] else METRICS[metric][0]
        return page(
            request,
            "trends.html.j2",
            every=every,
            chosen=chosen,
            metric=metric,
            batch=batch,
            points=points,
            figure=charts.trend(points, label) if points else None,
        )

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

    @app.get("/matrix", response_class=HTMLResponse)
    def matrix_page(request: Request) -> HTMLResponse:
        return page(request, "matrix.html.j2", table=matrix.build(store))
