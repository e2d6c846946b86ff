"""Calling the public API from a magic: its errors become one-line UsageErrors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from ..entities import Run
from ..errors import MltrackError
from ..tracking import fluent


def api(what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the API; an MltrackError becomes a UsageError naming the subcommand."""
    try:
        return call(*args, **kwargs)
    except MltrackError as exc:
        raise UsageError(f"%mltrack {what}: {exc.message}") from None


def experiment_id_for(name: str) -> str:
    """The id of the experiment called ``name``, created if it does not exist."""
    found = fluent.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return fluent.create_experiment(name)
    except MltrackError:
        found = fluent.get_experiment_by_name(name)  # created meanwhile by another process
        if found is None:
            raise
        return found.experiment_id


def describe(run: Run) -> str:
    """``name (id)`` of a run, for messages."""
    return f"{run.info.run_name} ({run.info.run_id})"
