"""Out-of-order execution: did a run's cells run top to bottom?

Two signs that they did not, checked as each cell finishes:

- a cell that already ran to completion in this run runs again (its effects now count twice, or
  state it depends on has changed since); a cell is identified by the front end's cell id, or by
  its source when the front end sends none;
- when the kernel knows its notebook file (Jupyter's ``JPY_SESSION_NAME``), a cell that sits
  above a cell the run already executed.

Cells made only of ``%mltrack`` lines are bookkeeping (``%mltrack status`` run twice changes
nothing) and are not counted.
"""

from __future__ import annotations

import json
import os

_BOOKKEEPING_PREFIXES = ("%mltrack", "#")


def is_bookkeeping(source: str) -> bool:
    """Whether a cell holds only ``%mltrack`` lines, comments and blank lines."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    return bool(lines) and all(line.startswith(_BOOKKEEPING_PREFIXES) for line in lines)


class NotebookPositions:
    """Cell id → position in the saved notebook file, re-read when the file changes.

    The file is the one Jupyter names in ``JPY_SESSION_NAME``, looked up on each call.
    """

    def __init__(self) -> None:
        self._key: tuple[str, int] | None = None
        self._positions: dict[str, int] = {}

    def position(self, cell_id: str | None) -> int | None:
        """The cell's index in the saved notebook, or None when unknown."""
        path = os.environ.get("JPY_SESSION_NAME")
        if not path or not cell_id:
            return None
        try:
            key = (path, os.stat(path).st_mtime_ns)
        except OSError:
            return None
        if key != self._key:
            self._key = key
            self._positions = self._read(path)
        return self._positions.get(cell_id)

    @staticmethod
    def _read(path: str) -> dict[str, int]:
        try:
            with open(path, encoding="utf-8") as fh:
                notebook = json.load(fh)
            cells = notebook.get("cells", [])
        except (OSError, ValueError, AttributeError):
            return {}
        return {c["id"]: i for i, c in enumerate(cells) if isinstance(c, dict) and "id" in c}


class OrderTracker:
    """One run's execution order so far; :attr:`reason` says why it is out of order, if it is."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._completed: dict[str, int | None] = {}
        self._furthest: tuple[int, str] | None = None

    def observe(
        self,
        cell_id: str | None,
        source: str,
        execution_count: int | None,
        ok: bool,
        position: int | None,
    ) -> str | None:
        """Account for one executed cell; return the reason when this cell broke the order.

        Parameters
        ----------
        cell_id:
            The front end's id for the cell (None when it sent none).
        source, execution_count, ok:
            The cell's source, its execution count and whether it ran without error.
        position:
            Its index in the saved notebook, when known.
        """
        if is_bookkeeping(source):
            return None
        found: str | None = None
        label = f"[{execution_count}]" if execution_count is not None else "a cell"
        identity = cell_id or source
        if identity in self._completed:
            before = self._completed[identity]
            when = f" (first as [{before}])" if before is not None else ""
            found = f"cell {label} ran again after it had completed{when}"
        if position is not None and self._furthest is not None and position < self._furthest[0]:
            found = found or (
                f"cell {label} at position {position + 1} ran after {self._furthest[1]} "
                f"at position {self._furthest[0] + 1}"
            )
        if position is not None and (self._furthest is None or position > self._furthest[0]):
            self._furthest = (position, label)
        if ok:
            self._completed.setdefault(identity, execution_count)
        if found and self.reason is None:
            self.reason = found
            return found
        return None
