"""Where data goes: the one rule that finds the store directory.

1. an explicit argument (``mlt.set_store(path)``, ``MltrackClient(store=path)``, ``--store``);
2. else the ``MLTRACK_STORE`` environment variable;
3. else ``~/.mltrack``.
"""

from __future__ import annotations

import os
from pathlib import Path

STORE_ENV = "MLTRACK_STORE"
DEFAULT_STORE = Path("~/.mltrack")


def resolve_store_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The store directory by the rule above, as an absolute path."""
    if explicit is not None and str(explicit).strip():
        chosen: str | os.PathLike[str] = explicit
    elif os.environ.get(STORE_ENV, "").strip():
        chosen = os.environ[STORE_ENV]
    else:
        chosen = DEFAULT_STORE
    return Path(chosen).expanduser().resolve()
