"""Runs over time: each stored run is indexed by its series and judged against the comparable
run stored before it (the statistics of `honed compare`); the dashboard's queries read the index;
runs export to MLflow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers import noisy, synthetic_record
from honed.core.protocol import Step
from honed.dashboard import queries
from honed.store.database import Store


def _series(store: Store, centres: list[float], **changes) -> list:
    records = []
    for index, centre in enumerate(centres):
        record = synthetic_record([noisy(centre, 60, seed=10 * index + r) for r in range(3)])
        record = record.model_copy(update={"created_at": record.created_at + timedelta(seconds=index), **changes})
        store.add(record)
        records.append(record)
    return records


def test_a_stored_run_is_judged_against_the_comparable_run_before_it(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    steady, same, slower = _series(store, [10.0, 10.0, 11.5])
    assert store.get_row(steady.id).previous_id is None and store.get_row(steady.id).change is None
    assert store.get_row(same.id).previous_id == steady.id
    assert store.get_row(same.id).change["regressions"] == []
    change = store.get_row(slower.id).change
    assert {(r["metric"], r["batch_size"]) for r in change["regressions"]} >= {("latency_p50", 1), ("latency_mean", 1)}
    assert store.previous(slower).id == same.id


def test_other_recipes_are_other_series_and_the_trend_marks_only_the_regression(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    base = _series(store, [10.0, 10.0, 11.5])
    quantized = _series(store, [8.0, 8.0], recipe=[Step(algorithm="dynamic-int8")])
    assert store.get_row(quantized[0].id).previous_id is None  # not compared with the base model's runs
    listed = {s.recipe: s for s in queries.series_list(store)}
    assert set(listed) == {"base", "dynamic-int8"} and listed["base"].runs == 3
    points = queries.trend(store, listed["base"].key, "p50_ms", 1)
    assert [p.run_id for p in points] == [r.id for r in base]
    assert [p.regression for p in points] == [False, False, True]
    assert all(p.low < p.value < p.high for p in points)
    assert not any(p.regression for p in queries.trend(store, listed["base"].key, "energy_j", 1))


def test_a_change_of_environment_is_named(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    first = _series(store, [10.0])[0]
    upgraded = first.fingerprint.model_copy(update={"packages": {**first.fingerprint.packages, "torch": "9.9.9"}})
    second = _series(store, [10.0], fingerprint=upgraded)[0]
    change = store.get_row(second.id).change
    assert any(line.startswith("packages.torch:") and line.endswith("-> 9.9.9") for line in change["environment"])
    points = queries.trend(store, queries.series_list(store)[0].key, "p50_ms", 1)
    assert points[-1].environment_change and not points[0].environment_change


def test_the_runs_page_query_filters_and_pages(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    _series(store, [10.0] * 3)
    _series(store, [8.0] * 2, recipe=[Step(algorithm="bf16")])
    rows, total = queries.runs_page(store, queries.RunFilter({"recipe": "bf16"}), 1)
    assert total == 2 and {row.recipe_label for row in rows} == {"bf16"}
    assert queries.facets(store)["recipe"] == ["base", "bf16"]
    rows, total = queries.runs_page(store, queries.RunFilter(), 1)
    assert total == 5 and rows[0].created_at >= rows[-1].created_at


def test_runs_export_to_a_file_based_mlflow_store(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch

    from honed.report.mlflow_export import log_runs

    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    record = _series(store, [10.0])[0]
    uri = f"file:{tmp_path / 'mlruns'}"
    [(mlflow_id, new)] = log_runs([record], uri, "honed-test", store)
    assert new
    logged = MlflowClient(tracking_uri=uri).get_run(mlflow_id)
    assert logged.data.metrics["b1.p50_ms"] == pytest.approx(record.result(1).latency_ms.p50)
    assert logged.data.params["model.source"] == "honed.zoo:sleeper" and logged.data.params["recipe"] == "base"
    assert logged.data.tags["honed.run_id"] == record.id
    assert logged.data.tags["env.packages.torch"] == record.fingerprint.packages["torch"]
    artifacts = [a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(mlflow_id)]
    assert "honed-report.html" in artifacts
    assert log_runs([record], uri, "honed-test", store) == [(mlflow_id, False)]  # not logged twice


def test_an_mlflow_uri_it_refuses_is_a_clear_error(tmp_path, monkeypatch):
    from honed.core.errors import SpecError
    from honed.report.mlflow_export import log_runs

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    record = _series(store, [10.0])[0]
    with pytest.raises(SpecError, match="MLFLOW_ALLOW_FILE_STORE") as refused:
        log_runs([record], f"file:{tmp_path / 'mlruns'}", "honed-test", store)
    assert refused.value.field == "export.mlflow"
