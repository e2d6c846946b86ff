"""Stores: the only code that speaks SQL. Everything above talks to :class:`AbstractStore`."""

from __future__ import annotations

from pathlib import Path

from .base import AbstractStore, WriteBatch

__all__ = ["AbstractStore", "WriteBatch", "open_store"]


def open_store(store_dir: Path) -> AbstractStore:
    """The store for a directory: embedded DuckDB (a server owning it comes with the server)."""
    from .duckdb_store import DuckDBStore

    return DuckDBStore(store_dir)
