"""Built-in algorithms, one module per family; each registers itself on import."""
