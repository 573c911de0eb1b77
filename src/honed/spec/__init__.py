"""A run or a sweep written down: TOML spec files and command-line values as config objects."""

from honed.spec.build import EvaluationSpec, build_spec, load_spec, parse_shape, tune_settings

__all__ = ["EvaluationSpec", "build_spec", "load_spec", "parse_shape", "tune_settings"]
