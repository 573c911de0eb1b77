from pathlib import Path

import pytest

from honed.core.errors import SpecError
from honed.core.protocol import Protocol
from honed.spec.build import build_spec, load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_specs_load():
    spec = load_spec(EXAMPLES / "sleeper.toml")
    assert spec.model.source == "honed.zoo:sleeper" and spec.protocol.batch_sizes == (1, 4)


def test_unknown_field_names_the_field_and_suggests(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n[protocol]\nbatch_size = [1]\n')
    with pytest.raises(SpecError, match=r"protocol\.batch_size.*did you mean 'batch_sizes'"):
        load_spec(path)


def test_bad_value_names_field_value_and_what_is_allowed(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n[protocol]\nscope = "e2e"\n')
    with pytest.raises(SpecError, match=r"protocol\.scope: got 'e2e'; allowed: 'model', 'pipeline' or 'generate'$"):
        load_spec(path)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"batch_sizes": ()}, "at least one batch size"),
        ({"batch_sizes": (1, 1)}, "must not repeat"),
        ({"min_samples": 50, "max_samples": 10}, "below min_samples"),
        ({"repetitions": 0}, "greater than or equal to 1"),
    ],
)
def test_protocol_rejects_impossible_settings(fields, message):
    with pytest.raises(ValueError, match=message):
        Protocol(**fields)


def test_command_line_values_override_the_file_and_relative_paths_resolve(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"")
    (tmp_path / "s.toml").write_text('[model]\nkind = "onnx"\nsource = "m.onnx"\n[protocol]\nrepetitions = 5\n')
    spec = build_spec(tmp_path / "s.toml", batch_sizes=[2, 4], threads=1, shape="3x8")
    assert spec.model.source == str((tmp_path / "m.onnx").resolve())
    assert spec.protocol.batch_sizes == (2, 4) and spec.protocol.repetitions == 5 and spec.protocol.threads == 1
    assert spec.inputs.shape == (3, 8)


def test_missing_model_and_bad_shape_are_named():
    with pytest.raises(SpecError, match="--model"):
        build_spec(None, kind="onnx")
    with pytest.raises(SpecError, match="--shape"):
        build_spec(None, model="x.onnx", kind="onnx", shape="3xbig")


def test_a_spec_can_carry_a_recipe(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n'
        '[[recipe]]\nalgorithm = "magnitude-prune"\nparams = { amount = 0.3 }\n'
    )
    spec = load_spec(path)
    assert spec.recipe[0].algorithm == "magnitude-prune" and spec.recipe[0].params == {"amount": 0.3}
    assert [s.algorithm for s in build_spec(path, recipe=["bf16"]).recipe] == ["bf16"]
    # The command line's form carries parameters too.
    steps = build_spec(path, recipe=["svd-lowrank:rank=16", "openvino:precision=bf16"]).recipe
    assert [(s.algorithm, s.params) for s in steps] == [
        ("svd-lowrank", {"rank": 16}),
        ("openvino", {"precision": "bf16"}),
    ]


def test_tune_candidates_come_from_the_spec_as_names_or_steps(tmp_path):
    from honed.optimization.recipe import Step
    from honed.spec.build import tune_settings

    path = tmp_path / "s.toml"
    path.write_text(
        '[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n'
        '[tune]\ncandidates = ["bf16", {algorithm = "openvino", params = {precision = "bf16"}}]\n'
    )
    settings = tune_settings(load_spec(path))
    assert settings.candidates == ("bf16", Step(algorithm="openvino", params={"precision": "bf16"}))
    assert tune_settings(load_spec(path), candidates=[Step.parse("dynamic-int8")]).candidates == (
        Step(algorithm="dynamic-int8"),
    )


def test_a_load_spec_names_the_option_its_value_and_what_it_takes(tmp_path):
    from honed.spec.load_file import read_load_spec

    path = tmp_path / "load.toml"
    path.write_text('[load]\nurl = "http://127.0.0.1:9/x"\nqps = "fast"\n')
    with pytest.raises(SpecError, match=r"load\.qps: got 'fast'; allowed: a valid number"):
        read_load_spec(path)
    path.write_text('[load]\nqps = 5\nbody = { inputs = [1, 2] }\ntrace = "arrivals.txt"\n[model]\n')
    with pytest.raises(SpecError, match=r"one \[load\] table"):
        read_load_spec(path)
    path.write_text('[load]\nqps = 5\nbody = { inputs = [1, 2] }\ntrace = "arrivals.txt"\n')
    # A table body is the request template as JSON; a path is relative to the file.
    assert read_load_spec(path) == {"qps": 5.0, "body": '{"inputs": [1, 2]}', "trace": tmp_path / "arrivals.txt"}


def test_a_spec_file_over_a_mebibyte_is_refused(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * (1 << 20) + '\n[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n')
    with pytest.raises(SpecError, match=r"spec: got .*big\.toml.*a TOML file under 1024 KiB"):
        load_spec(path)


def test_evaluate_and_tune_say_in_their_signatures_what_they_take():
    import inspect

    from honed.run.evaluation import evaluate
    from honed.tuning import tune

    for function, positional in ((evaluate, ["model", "spec"]), (tune, ["model", "spec", "settings"])):
        parameters = inspect.signature(function).parameters.values()
        assert [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD] == positional
        assert not [p for p in parameters if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)], function.__name__
