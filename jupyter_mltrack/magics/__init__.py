"""IPython integration: the ``%mltrack`` magics, per-cell capture, and ending runs with the kernel.

Load it in a notebook with ``%load_ext jupyter_mltrack``. To load it in every IPython session
and kernel, add it to the IPython profile's configuration (``ipython_config.py``; IPython has no
entry point for extensions)::

    c.InteractiveShellApp.extensions = ["jupyter_mltrack"]

Loading registers the magic, starts recording cells (see :mod:`.capture`) and arranges for active
runs to end as KILLED when the kernel shuts down or restarts (see :mod:`.kernel_life`).
Unloading undoes all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..entities import RunStatus
from . import kernel_life
from .capture import CellRecorder
from .commands import Commands
from .magic import MltrackMagics
from .outputs import OutputCapture

__all__ = ["Extension", "load_ipython_extension", "loaded", "unload_ipython_extension"]


@dataclass
class Extension:
    """What the extension installed in one shell."""

    shell: Any
    recorder: CellRecorder
    outputs: OutputCapture
    commands: Commands
    magics: MltrackMagics

    def end_all(self, reason: str) -> list[str]:
        """End every active run as KILLED (the kernel is going away)."""
        return self.recorder.end_all(RunStatus.KILLED, reason)


_loaded: dict[int, Extension] = {}


def loaded(shell: Any) -> Extension | None:
    """The extension as installed in ``shell``, or None."""
    return _loaded.get(id(shell))


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%mltrack``, start recording cells, end runs with the kernel."""
    if id(ipython) in _loaded:
        return
    recorder = CellRecorder(ipython)
    outputs = OutputCapture(ipython, recorder)
    commands = Commands(ipython, recorder, outputs)
    magics = MltrackMagics(ipython, commands)
    ext = Extension(ipython, recorder, outputs, commands, magics)
    ipython.register_magics(magics)
    recorder.register()
    kernel_life.install(ipython, ext.end_all)
    _loaded[id(ipython)] = ext


def unload_ipython_extension(ipython: Any) -> None:
    """Undo :func:`load_ipython_extension` (active runs stay active)."""
    ext = _loaded.pop(id(ipython), None)
    if ext is None:
        return
    ext.outputs.disable()
    ext.recorder.unregister()
    kernel_life.uninstall(ipython)
    registry = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        bound = registry[kind].get("mltrack")
        if getattr(bound, "__self__", None) is ext.magics:
            del registry[kind]["mltrack"]
