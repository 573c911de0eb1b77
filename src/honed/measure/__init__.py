"""Measurement in processes: the worker that times a model, the executor that runs it, the loops,
summaries and stability verdicts; whether the machine is fit to time on."""
