"""A human-preference arena: blind pairwise votes on model outputs a metric cannot judge."""
