"""The one clock of the package: milliseconds since the epoch, as MLflow stores times."""

from __future__ import annotations

import time


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return int(time.time() * 1000)
