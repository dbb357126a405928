"""German document assistant for innovation clusters: hybrid search with cited answers."""

__version__ = "0.1.0"
