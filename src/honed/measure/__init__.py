"""Measurement: statistics, meters, target peaks and the worker that times a model."""
