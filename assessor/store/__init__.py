"""The store: assessments, targets, content-addressed evidence, results (SQLite or PostgreSQL)."""

from assessor.store.db import HEAD, Store, default_url, open_store

__all__ = ["HEAD", "Store", "default_url", "open_store"]
