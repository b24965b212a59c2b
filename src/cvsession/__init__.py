"""cvsession: durable, resumable sessions for a nine-step CV-building workflow."""

__version__ = "0.1.0"
