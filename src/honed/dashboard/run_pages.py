"""The runs list (filters, pages) and a run's page (its numbers with CIs, CDF, quality, load,
environment, verdict against the previous run, tags, raw samples as CSV)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from honed.core.errors import HonedError
from honed.dashboard import charts, queries, security
from honed.records.record import RunRecord
from honed.store.database import Store

RUN_ID = Path(pattern=r"^[0-9a-f]{1,32}$", description="a run id or unique prefix")


def record_or_404(store: Store, run_id: str) -> RunRecord:
    try:
        return store.resolve(run_id)
    except HonedError as error:
        raise HTTPException(404, str(error)) from None


def add_run_routes(app: FastAPI, store: Store, page: Any) -> None:
    @app.get("/runs", response_class=HTMLResponse)
    def runs(
        request: Request,
        page_number: int = Query(1, alias="page", ge=1, le=100_000),
        since: str | None = None,
        until: str | None = None,
    ) -> HTMLResponse:
        chosen = {name: value for name in queries.FILTERS if (value := request.query_params.get(name))}
        wanted = queries.RunFilter(chosen, _date(since, "since"), _date(until, "until"))
        rows, total = queries.runs_page(store, wanted, page_number)
        return page(
            request,
            "runs.html.j2",
            rows=rows,
            total=total,
            page=page_number,
            page_size=queries.PAGE_SIZE,
            facets=queries.facets(store),
            chosen=chosen,
            since=since or "",
            until=until or "",
        )

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str = RUN_ID) -> HTMLResponse:
        from honed.report import environment_rows

        record = record_or_404(store, run_id)
        row = store.get_row(record.id)
        tags = sorted(name for name, tagged in store.tags().items() if tagged == record.id)
        return page(
            request,
            "run.html.j2",
            record=record,
            row=row,
            tags=tags,
            environment=environment_rows(record),
            cdf=charts.latency_cdf(record),
        )

    @app.get("/runs/{run_id}/samples.csv")
    def samples(run_id: str = RUN_ID) -> PlainTextResponse:
        record = record_or_404(store, run_id)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["batch_size", "repetition", "sample", "latency_ns"])
        for m in record.measurements:
            writer.writerows([m.batch_size, m.repetition, i, ns] for i, ns in enumerate(m.samples_ns))
        return PlainTextResponse(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="honed-run-{record.id}-samples.csv"'},
        )

    @app.post("/runs/{run_id}/tags")
    async def tag(request: Request, run_id: str = RUN_ID) -> RedirectResponse:
        fields = await security.checked_form(request)
        try:
            full_id = store.tag(run_id, fields.get("name", ""))
        except HonedError as error:
            raise HTTPException(422, str(error)) from None
        return RedirectResponse(f"/runs/{full_id}", status_code=303)


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
