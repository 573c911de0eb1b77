"""Value types: the run record, a load run's result, and comparing two records."""
