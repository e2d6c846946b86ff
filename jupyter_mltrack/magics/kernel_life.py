"""Ending runs when the kernel goes away, so that none stays RUNNING forever.

- Shutdown or restart from the front end: ipykernel calls the kernel's ``do_shutdown``; wrapped
  here, it first ends every active run as KILLED (after flushing what was buffered).
- Any normal interpreter exit: an ``atexit`` handler does the same. It is registered after the
  tracking session module registered its own flush-and-close, and ``atexit`` runs handlers last
  in, first out, so the runs are ended while the store is still open.
- SIGKILL or a crash: nothing runs in the process. Each run records its owning process
  (``mltrack.pid``/``mltrack.host``), and the next tracking session on the store marks it KILLED
  (:mod:`jupyter_mltrack.store.duckdb.liveness`); what was logged up to the last flush is kept.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from collections.abc import Callable
from typing import Any

from ..tracking import session as _session_module  # noqa: F401 - its atexit must come first

log = logging.getLogger("jupyter_mltrack")

_handler: Callable[[str], Any] | None = None
_atexit_registered = False
# kernels whose do_shutdown is wrapped (noted here, not as an attribute on the kernel)
_wrapped: weakref.WeakSet[Any] = weakref.WeakSet()


def _at_exit() -> None:
    if _handler is not None:
        try:
            _handler("the kernel exited")
        except Exception as exc:  # noqa: BLE001 - at exit there is no one left to raise to
            log.warning("jupyter-mltrack: could not end the active runs at exit: %s", exc)


def install(shell: Any, end_all: Callable[[str], Any]) -> None:
    """End active runs as KILLED when ``shell``'s kernel shuts down or the process exits.

    Parameters
    ----------
    shell:
        The InteractiveShell; in ipykernel it has a ``kernel`` whose ``do_shutdown`` is wrapped.
    end_all:
        Called with a reason (``"kernel restart"``, …); ends every active run as KILLED.
    """
    global _handler, _atexit_registered
    _handler = end_all
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True
    kernel = getattr(shell, "kernel", None)
    if kernel is None or kernel in _wrapped:
        return
    original = kernel.do_shutdown

    def do_shutdown(restart: bool) -> Any:
        if _handler is not None:
            try:
                _handler("kernel restart" if restart else "kernel shutdown")
            except Exception as exc:  # noqa: BLE001 - the kernel must shut down regardless
                log.warning("jupyter-mltrack: could not end the active runs: %s", exc)
        return original(restart)

    kernel.do_shutdown = do_shutdown
    _wrapped.add(kernel)


def uninstall(shell: Any) -> None:
    """Undo :func:`install` (the atexit handler stays registered but does nothing)."""
    global _handler
    _handler = None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None and kernel in _wrapped:
        del kernel.do_shutdown  # the class's method shows through again
        _wrapped.discard(kernel)
