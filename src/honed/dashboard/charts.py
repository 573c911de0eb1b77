"""Plotly figures as plain JSON-able dicts (plotly.js, served from the installed plotly package,
draws them in the page): a run's latency CDF, a comparison's changes with their CIs, a trend."""

from __future__ import annotations

from typing import Any

import numpy as np

from honed.dashboard.queries import TrendPoint
from honed.records.comparison import Comparison
from honed.records.record import RunRecord

CDF_POINTS = 400  # a CDF drawn from this many quantiles looks the same as from 100,000 samples
RED, BLUE, GREY = "#c44e52", "#4c72b0", "#8c8c8c"


def _layout(x: str, y: str, **more: Any) -> dict[str, Any]:
    return {
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
        "margin": {"t": 30, "r": 20},
        "height": 360,
        "hovermode": "closest",
        **more,
    }


def latency_cdf(record: RunRecord) -> dict[str, Any]:
    """One line per batch size: every timed sample of every worker process, pooled."""
    traces = []
    for result in record.results:
        samples = np.concatenate(
            [
                np.asarray(m.samples_ns, dtype=float) / 1e6
                for m in record.measurements
                if m.batch_size == result.batch_size and m.status == "ok" and m.samples_ns
            ]
            or [np.empty(0)]
        )
        if samples.size:
            fractions = np.linspace(0, 1, min(CDF_POINTS, samples.size))
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"batch {result.batch_size}",
                    "x": np.quantile(samples, fractions).round(4).tolist(),
                    "y": fractions.round(4).tolist(),
                }
            )
    return {"data": traces, "layout": _layout("latency (ms)", "fraction of calls")}


def comparison_changes(comparison: Comparison) -> dict[str, Any]:
    """Each metric's relative change with its CI as an error bar; called changes in colour."""
    verdicts = comparison.verdicts
    labels = [f"{v.metric} b{v.batch_size}" for v in verdicts]
    changes = [v.change * 100 for v in verdicts]
    colours = [GREY if not v.significant else (RED if v in comparison.regressions else BLUE) for v in verdicts]
    trace = {
        "type": "scatter",
        "mode": "markers",
        "y": labels,
        "x": changes,
        "marker": {"color": colours, "size": 10},
        "error_x": {
            "type": "data",
            "symmetric": False,
            "array": [(v.ci.high - v.change) * 100 for v in verdicts],
            "arrayminus": [(v.change - v.ci.low) * 100 for v in verdicts],
        },
        "text": [v.verdict for v in verdicts],
        "hovertemplate": "%{y}: %{x:.1f} %% (%{text})<extra></extra>",
    }
    layout = _layout(
        "change, after vs before (%), with its confidence interval",
        "",
        height=max(240, 28 * len(verdicts) + 80),
        shapes=[
            {
                "type": "line",
                "x0": 0,
                "x1": 0,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": GREY, "dash": "dot"},
            }
        ],
    )
    return {"data": [trace], "layout": layout}


def trend(points: list[TrendPoint], label: str) -> dict[str, Any]:
    """The metric over time, CIs as error bars, regressions as red crosses, each environment
    change as a dashed line on the time axis; ``customdata`` is the run id (a click opens it)."""
    times = [p.created_at.isoformat() for p in points]
    values = [p.value for p in points]
    main: dict[str, Any] = {
        "type": "scattergl" if len(points) > 500 else "scatter",
        "mode": "lines+markers",
        "name": label,
        "x": times,
        "y": values,
        "customdata": [p.run_id for p in points],
        "marker": {"color": BLUE, "size": 6},
        "line": {"color": BLUE},
    }
    if any(p.low is not None for p in points):
        main["error_y"] = {
            "type": "data",
            "symmetric": False,
            "color": GREY,
            "array": [(p.high - p.value) if p.high is not None else 0 for p in points],
            "arrayminus": [(p.value - p.low) if p.low is not None else 0 for p in points],
        }
    flagged = [p for p in points if p.regression]
    regressions = {
        "type": "scatter",
        "mode": "markers",
        "name": "regression (significantly worse than the run before)",
        "x": [p.created_at.isoformat() for p in flagged],
        "y": [p.value for p in flagged],
        "customdata": [p.run_id for p in flagged],
        "marker": {"color": RED, "size": 14, "symbol": "x"},
    }
    shapes = [
        {
            "type": "line",
            "x0": p.created_at.isoformat(),
            "x1": p.created_at.isoformat(),
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": GREY, "dash": "dash", "width": 1},
        }
        for p in points
        if p.environment_change
    ]
    return {"data": [main, regressions], "layout": _layout("run time", label, shapes=shapes, height=420)}
