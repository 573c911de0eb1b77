"""``honed runs export --mlflow URI``: a run as an MLflow run, for teams whose tracking lives
there. Params are what was run (model, recipe, protocol, inputs, target), metrics the headline
numbers per batch size and quality, tags the environment, and the run's HTML report an artifact.
A run already logged (tag ``honed.run_id``) is not logged twice."""

from __future__ import annotations

from typing import Any

from honed.core.errors import SpecError
from honed.records.record import RunRecord
from honed.store.database import Store
from honed.store.run_index import index_of

MAX_PARAM = 500  # MLflow refuses longer parameter values


def _params(record: RunRecord) -> dict[str, str]:
    index = index_of(record)
    protocol, inputs = record.protocol, record.inputs
    values: dict[str, Any] = {
        "model.source": record.model.source,
        "model.kind": record.model.kind,
        "recipe": index.recipe_label,
        "task": record.task,
        "target": index.target,
        "scenario": index.scenario,
        "device": record.device,
        "protocol.scope": protocol.scope,
        "protocol.batch_sizes": list(protocol.batch_sizes),
        "protocol.repetitions": protocol.repetitions,
        "protocol.threads": protocol.threads,
        "protocol.concurrency": protocol.concurrency,
        "inputs.shape": inputs.shape,
        "inputs.seq_len": inputs.seq_len,
        "inputs.dtype": inputs.dtype,
    }
    return {key: str(value)[:MAX_PARAM] for key, value in values.items() if value is not None}


def _metrics(record: RunRecord) -> dict[str, float]:
    summary = index_of(record).summary
    metrics = {
        f"b{size}.{name}": float(value)
        for size, values in summary["batches"].items()
        for name, value in values.items()
        if isinstance(value, (int, float))
    }
    if record.quality is not None and record.quality.status == "ok":
        metrics |= {f"quality.{name}": float(value) for name, value in record.quality.values.items()}
    if "load" in summary:
        metrics |= {
            f"load.{name}": float(value)
            for name, value in summary["load"].items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
    return metrics


def _tags(record: RunRecord) -> dict[str, str]:
    fingerprint = record.fingerprint
    tags = {
        "honed.run_id": record.id,
        "honed.status": record.status,
        "honed.series_key": index_of(record).series_key,
        "env.python": fingerprint.python,
        "env.cpu": str(fingerprint.cpu.get("model")),
        "env.os": fingerprint.os,
        "env.gpus": ", ".join(g.get("name", "?") for g in fingerprint.gpus) or "none",
    }
    tags |= {f"env.packages.{name}": version for name, version in fingerprint.packages.items() if version}
    if record.stability is not None:
        tags["honed.stability"] = record.stability.verdict
    return tags


def log_runs(records: list[RunRecord], uri: str, experiment: str, store: Store | None = None) -> list[tuple[str, bool]]:
    """(MLflow run id, whether it was logged now) per record."""
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise SpecError("export.mlflow", uri, "an installed MLflow client: pip install 'honed[mlflow]'") from None
    from mlflow.exceptions import MlflowException

    try:
        return _log(MlflowClient(tracking_uri=uri), records, experiment, store, (Metric, Param, RunTag))
    except MlflowException as error:
        raise SpecError(
            "export.mlflow",
            uri,
            "a tracking URI MLflow accepts (http://host:5000, sqlite:///mlflow.db, "
            "or file:./mlruns with MLFLOW_ALLOW_FILE_STORE=true)",
            hint=" ".join(str(error).split())[:300],
        ) from None


def _log(
    client: Any, records: list[RunRecord], experiment: str, store: Store | None, entities: tuple[Any, Any, Any]
) -> list[tuple[str, bool]]:
    from honed.report import render_report

    Metric, Param, RunTag = entities  # noqa: N806 - MLflow's classes
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    done = []
    for record in records:
        earlier = client.search_runs(
            [experiment_id], filter_string=f"tags.`honed.run_id` = '{record.id}'", max_results=1
        )
        if earlier:
            done.append((earlier[0].info.run_id, False))
            continue
        millis = int(record.created_at.timestamp() * 1000)
        run = client.create_run(
            experiment_id, start_time=millis, run_name=record.name or f"{record.model.display_name} {record.id[:8]}"
        )
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, millis, 0) for k, v in _metrics(record).items()],
            params=[Param(k, v) for k, v in _params(record).items()],
            tags=[RunTag(k, v) for k, v in _tags(record).items()],
        )
        client.log_text(run_id, render_report(record, store), "honed-report.html")
        client.set_terminated(run_id, status="FINISHED" if record.status == "ok" else "FAILED", end_time=millis)
        done.append((run_id, True))
    return done
