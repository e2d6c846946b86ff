"""The ``%mltrack`` / ``%%mltrack`` magic: one name, subcommands dispatched by :mod:`.commands`."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from .commands import Commands


@magics_class
class MltrackMagics(Magics):
    """``%mltrack SUBCOMMAND …`` and ``%%mltrack run …``; ``%mltrack help`` lists them."""

    def __init__(self, shell: Any, commands: Commands):
        super().__init__(shell)
        self.commands = commands

    @line_cell_magic
    def mltrack(self, line: str, cell: str | None = None) -> Any:
        """Track runs from the notebook: ``%mltrack help`` lists the subcommands."""
        __tracebackhide__ = True
        if cell is None:
            return self.commands.line(line)
        return self.commands.cell(line, cell)
