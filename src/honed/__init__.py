"""honed."""
