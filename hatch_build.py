"""What the build environment needs depends on where the build starts.

From the source tree, the lab extension (labextension/) is built with jlpm, which comes with
JupyterLab. An sdist carries the built extension (``artifacts`` in pyproject.toml) and nothing is
built from it, so building the wheel from an sdist, as ``python -m build`` and ``pip install``
of an sdist do, needs neither JupyterLab in the build environment nor Node.js on the machine.
Neither does a build with ``SKIP_JUPYTER_BUILDER`` set (hatch-jupyter-builder then builds no
extension), as ``make demo`` installs the package before it builds the extension itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

JUPYTERLAB = "jupyterlab>=4.6,<5"


class BuildRequirements(BuildHookInterface):
    """Asks for JupyterLab at build time when the build will build the lab extension."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        # hatchling writes PKG-INFO at the root of every sdist; a source tree has none
        from_sdist = (Path(self.root) / "PKG-INFO").is_file()
        return [] if from_sdist or os.environ.get("SKIP_JUPYTER_BUILDER") else [JUPYTERLAB]
