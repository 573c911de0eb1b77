"""Tasks: data, how to run a model on it, and quality metrics (issue 4; metrics first)."""
