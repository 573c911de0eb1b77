"""Rich renderings for the terminal: runs, comparisons, tunes, and catalogues."""

from honed.console.catalog import algorithms_table, doctor_table, runs_list_table, sweeps_table, tasks_table
from honed.console.comparison import comparison_table
from honed.console.load import load_lines, load_table
from honed.console.runs import (
    coverage_warnings,
    generation_table,
    quality_table,
    run_details,
    run_tables,
    stability_warning,
)
from honed.console.tune import recommendation_text, tune_summary, tune_table, tune_trial_line

__all__ = [
    "algorithms_table",
    "comparison_table",
    "coverage_warnings",
    "doctor_table",
    "generation_table",
    "load_lines",
    "load_table",
    "quality_table",
    "recommendation_text",
    "run_details",
    "run_tables",
    "runs_list_table",
    "stability_warning",
    "sweeps_table",
    "tasks_table",
    "tune_summary",
    "tune_table",
    "tune_trial_line",
]
