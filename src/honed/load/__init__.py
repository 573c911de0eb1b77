"""Load: traffic scenarios against a served model (``honed load``), open loop, latency from arrival."""
