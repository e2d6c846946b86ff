"""Fixtures for tests of the Python tracking API: a fresh store per test, fluent state reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_mltrack as mlt
from jupyter_mltrack.tracking import fluent


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A new store directory, set for the fluent API; any run left active is ended."""
    for name in ("MLTRACK_SERVER_URL", "MLTRACK_EXPERIMENT_ID", "MLTRACK_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    store_dir = tmp_path / "store"
    mlt.set_store(store_dir)
    yield store_dir
    while fluent.active_run() is not None:
        mlt.end_run()
    mlt.set_store(None)
