"""Stores: the only code that speaks SQL. Everything above talks to :class:`AbstractStore`."""

from __future__ import annotations

from pathlib import Path

from .contract import AbstractStore, WriteBatch

__all__ = ["AbstractStore", "WriteBatch", "open_store"]


def open_store(store_dir: Path) -> AbstractStore:
    """The store for a directory: through its tracking server if one owns it, else embedded.

    One writer per store (DESIGN.md): while a tracking server runs, it holds the DuckDB file
    and every other process logs through its REST API. The server is found, in order, from
    ``MLTRACK_SERVER_URL`` (+ ``MLTRACK_SERVER_TOKEN``), which a server sets for the kernels it
    starts and which names the server of the default store (``$MLTRACK_STORE``); then from
    ``<store>/server.json`` when the process that wrote it is alive on this host. Otherwise
    the process opens the DuckDB file itself. The server process never takes this path for
    its own store: it builds its store directly.
    """
    from .discovery import find_server

    address = find_server(Path(store_dir))
    if address is not None:
        from .rest.store import RestStore

        return RestStore(store_dir, address.url, address.token)
    from .duckdb.store import DuckDBStore

    return DuckDBStore(store_dir)
