"""Which notebook cell is executing, so that every logged item can point at it.

The notebook magics set :data:`current` around each cell; outside notebooks it stays None.
"""

from __future__ import annotations


class CellContext:
    """The cell now executing (``cell_id``: the front end's id, or ``exec-<count>``)."""

    __slots__ = ("cell_id",)

    def __init__(self) -> None:
        self.cell_id: str | None = None


current = CellContext()
