"""Driving the magics in a real IPython shell, for tests (this package's and users').

:func:`test_shell` gives the process's InteractiveShell with history kept in memory and the
extension loaded; :func:`run` executes one cell the way a front end does (stored in history,
with a cell id) and returns IPython's ExecutionResult; :func:`reset` ends every run and puts
the fluent API on a fresh store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..tracking import fluent


def test_shell(ipython_dir: str | os.PathLike[str]) -> Any:
    """The process's InteractiveShell (created on first call) with the extension loaded.

    ``ipython_dir`` keeps IPython's profile files out of the user's home directory.
    """
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    if not InteractiveShell.initialized():
        os.environ["IPYTHONDIR"] = str(ipython_dir)
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        InteractiveShell.instance(config=config, ipython_dir=str(ipython_dir))
    shell: Any = InteractiveShell.instance()
    shell.extension_manager.load_extension("jupyter_mltrack")
    return shell


test_shell.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def run(shell: Any, source: str, cell_id: str | None = None) -> Any:
    """Execute ``source`` as one notebook cell; return the ExecutionResult."""
    return shell.run_cell(source, store_history=True, cell_id=cell_id)


def reset(shell: Any, store: str | os.PathLike[str] | None) -> Path:
    """End every active run, forget recorded state and point the fluent API at ``store``."""
    from . import loaded

    while fluent.active_run() is not None:
        fluent.end_run()
    ext = loaded(shell)
    if ext is not None:
        ext.recorder.runs.clear()
        ext.outputs.disable()
    return fluent.set_store(store)
