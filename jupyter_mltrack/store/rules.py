"""The rules every store applies, written once.

A backend implements storage; it does not re-decide what may be written. Each rule below is the
only copy: :class:`~.contract.AbstractStore` applies it before calling a backend's ``_x`` method,
the DuckDB write path applies it inside its transaction, and the tracking client's run cache
calls the same function on what it remembers (so a kernel is refused with the same error and
code before anything is buffered).

Field-level checks (keys, names, values, artifact paths) live in :mod:`jupyter_mltrack.validation`;
the rules here are about the store's objects: runs, params, names, aliases, page sizes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from ..entities import RunStatus
from ..errors import ErrorCode, MltrackError
from ..validation import (
    INT64_MAX,
    INT64_MIN,
    check_key,
    check_metric_value,
    check_name,
    check_step,
    check_timestamp,
    tag_value_to_str,
)
from .batch import MetricRow

RUN_NAME_TAG = "mlflow.runName"

# Page-size limits, per kind of search (MLflow's limits where it has one).
RUNS_MAX_RESULTS = 50_000
RUN_FRAME_MAX_RESULTS = 1_000_000
RUN_TABLE_MAX_RESULTS = 10_000  # the lab's runs table, a page at a time
EXPERIMENTS_MAX_RESULTS = 50_000
LOGGED_MODELS_MAX_RESULTS = 1_000
REGISTERED_MODELS_MAX_RESULTS = 1_000
MODEL_VERSIONS_MAX_RESULTS = 200_000


# metric points -------------------------------------------------------------------------------
def check_metric_point(
    key: object, value: object, step: object, timestamp: object
) -> tuple[str, float, int, int]:
    """One metric point's ``(key, value, step, timestamp)``, checked.

    The common case (a key seen before, a float, int step and timestamp) costs a few type
    tests; anything else goes through the full checks, which raise INVALID_PARAMETER_VALUE
    naming the field. Every face that takes single points (the Python client's ``log_metric``,
    MLflow's routes) calls this; it returns a plain tuple because ``log_metric`` must stay near
    a microsecond and a named tuple costs ten times a tuple to build.
    """
    checked_key = check_key(key, "metric key")  # a set lookup for a key seen before
    if type(value) is not float:
        value = check_metric_value(checked_key, value)
    # range tests too: a step past 64 bits would fail the whole flush it travels in
    if type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
        step = check_step(step)
    if type(timestamp) is not int or not 0 <= timestamp <= INT64_MAX:  # type: ignore[operator]
        timestamp = check_timestamp(timestamp)
    return checked_key, value, step, timestamp  # type: ignore[return-value]


def metric_row(
    run_id: str, key: object, value: object, step: object, timestamp: object, cell_id: str | None
) -> MetricRow:
    """One checked metric point as a write-batch row (see :func:`check_metric_point`)."""
    return MetricRow(run_id, *check_metric_point(key, value, step, timestamp), cell_id)


# runs ----------------------------------------------------------------------------------------
def check_run_writable(run_id: str, lifecycle_stage: str | None, status: str | None = None) -> None:
    """Refuse to write to a run that is missing, deleted or (when ``status`` is given) ended.

    The store checks the lifecycle only (MLflow lets a client keep logging to a FINISHED run);
    the Python API also passes the status, because ``log_*`` on an ended run is a mistake there.

    Raises
    ------
    MltrackError
        RESOURCE_DOES_NOT_EXIST for a missing run (``lifecycle_stage`` None); INVALID_STATE for
        a deleted run or a run that is not RUNNING.
    """
    if lifecycle_stage is None:
        raise MltrackError(f"no run with id {run_id!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST)
    if lifecycle_stage != "active":
        raise deleted_run_error(run_id, "logging to it")
    if status is not None and status != RunStatus.RUNNING:
        raise MltrackError(
            f"run {run_id!r} is {status}; resume it with start_run(run_id=...) "
            "before logging to it",
            ErrorCode.INVALID_STATE,
        )


# A run id names the run's folder inside its experiment's artifact folder, next to folders the
# store keeps there itself (``models/``: the experiment's logged models). A run may not take one
# of those names: its folder would lie over other objects' files (and ``gc`` of the run would
# erase them). Compared case-insensitively, for case-insensitive file systems.
RESERVED_RUN_IDS = frozenset({"models"})
RUN_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # whole string: fullmatch, never match + $


def check_run_id(run_id: object) -> str:
    """A client-made run id: 1-64 letters, digits, '_' or '-', and not a reserved folder name."""
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise MltrackError(f"run id {run_id!r} must be 1-64 letters, digits, '_' or '-'")
    if run_id.lower() in RESERVED_RUN_IDS:
        raise MltrackError(
            f"run id {run_id!r} is reserved (the name of a folder the store keeps next to runs)"
        )
    return run_id


def deleted_run_error(run_id: str, before: str) -> MltrackError:
    """The one error for acting on a deleted run: INVALID_STATE, whichever path found it."""
    return MltrackError(
        f"run {run_id!r} is deleted; restore it before {before}", ErrorCode.INVALID_STATE
    )


def deleted_experiment_error(name: str) -> MltrackError:
    """The one error for starting a run in a deleted experiment: INVALID_STATE."""
    return MltrackError(
        f"experiment {name!r} is deleted; restore it before starting runs in it",
        ErrorCode.INVALID_STATE,
    )


def check_experiment_id(value: object) -> str:
    """An experiment id: a non-empty string, or a number (MLflow's ids are numeric strings)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise MltrackError(f"experiment id must be a non-empty string, got {value!r}")
    return value


def missing_experiment_error(experiment_id: str) -> MltrackError:
    """The one error for an experiment id the store does not have: RESOURCE_DOES_NOT_EXIST."""
    return MltrackError(
        f"no experiment with id {experiment_id!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST
    )


def check_param_unchanged(run_id: str, key: str, old: str | None, new: str) -> None:
    """MLflow's rule: a param keeps its first value; logging the same value again is a no-op."""
    if old is not None and old != new:
        raise MltrackError(param_conflict(run_id, key, old, new))


def param_conflict(run_id: str, key: str, old: str, new: str) -> str:
    """The message for a changed param (also used for the flusher's warnings)."""
    return (
        f"param {key!r} of run {run_id!r} is {old!r}; cannot change it to {new!r} "
        "(params are immutable: log a new key instead)"
    )


def run_name_and_tags(
    run_name: str | None, tags: Mapping[str, str] | None
) -> tuple[str, dict[str, str]]:
    """The name of a new run and its tags, ``mlflow.runName`` included.

    One rule whichever API creates the run: the name given, else the ``mlflow.runName`` tag,
    else a generated one (``brisk-otter-417``, as MLflow names runs); a name and a tag that
    differ are refused.
    """
    checked = {check_key(k, "tag key"): tag_value_to_str(k, v) for k, v in (tags or {}).items()}
    tag_name = checked.get(RUN_NAME_TAG) or None
    if run_name is not None and tag_name is not None and run_name != tag_name:
        raise MltrackError(
            f"run_name {run_name!r} and the {RUN_NAME_TAG} tag {tag_name!r} differ; "
            "send one of them, or the same value in both"
        )
    name = check_name(run_name or tag_name or generate_name(), "run name")
    checked[RUN_NAME_TAG] = name
    return name, checked


def generate_name() -> str:
    """A readable name for a run or a logged model, as MLflow gives (``brisk-otter-417``)."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(100, 999)}"


# registry ------------------------------------------------------------------------------------
MAX_ALIAS_LENGTH = 255
_ALIAS_RE = re.compile(r"^[\w\-]+$")
_RESERVED_ALIAS_RE = re.compile(r"^(v?\d+|latest)$", re.IGNORECASE)


def check_alias(alias: object) -> str:
    """MLflow's rule for alias names, on every face.

    Letters, digits, ``_`` and ``-``, at most 255 characters; ``latest`` and ``v<number>`` are
    reserved (``models:/name/latest`` and ``models:/name@v2`` would be ambiguous), and so is a
    bare number, stricter than MLflow: ``version_for_reference(name, "3")`` (the registry API,
    ``mlt.load_model``) reads it as a version, so an alias ``3`` could never be reached.
    """
    if not isinstance(alias, str) or not alias:
        raise MltrackError(f"alias must be a non-empty string, got {alias!r}")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise MltrackError(
            f"alias {alias[:40]!r}... is {len(alias)} characters long; "
            f"the limit is {MAX_ALIAS_LENGTH}"
        )
    if not _ALIAS_RE.match(alias):
        raise MltrackError(f"alias {alias!r} may hold only letters, digits, underscores and dashes")
    if _RESERVED_ALIAS_RE.match(alias):
        raise MltrackError(
            f"alias {alias!r} is reserved: 'latest', 'v<number>' and numbers name versions"
        )
    return alias


# cell lineage --------------------------------------------------------------------------------
ITEM_KINDS = ("param", "tag", "metric", "artifact", "input")
# the fields of one row of logged_items, in order (the names the REST API uses)
ITEM_FIELDS = ("kind", "key", "cell_id", "value", "first_step", "last_step", "points")


def check_kind(kind: object) -> str:
    """Check the kind of a logged item: one of :data:`ITEM_KINDS`."""
    if kind not in ITEM_KINDS:
        raise MltrackError(f"item kind must be one of {', '.join(ITEM_KINDS)}, got {kind!r}")
    return kind  # type: ignore[return-value]


def check_cell_id(cell_id: object) -> str | None:
    """Check a cell id to filter by: a non-empty string, or None for every cell."""
    if cell_id is not None and (not isinstance(cell_id, str) or not cell_id):
        raise MltrackError(f"cell id must be a non-empty string or None, got {cell_id!r}")
    return cell_id


def check_item(kind: object, key: object, step: object = None) -> tuple[str, str, int | None]:
    """Check what names one logged item: its kind, a non-empty key, and a step for metrics only.

    Shared by the embedded store, the REST client and the server, so that a mistake is the same
    INVALID_PARAMETER_VALUE whichever side notices it first.
    """
    checked_kind = check_kind(kind)
    if not isinstance(key, str) or not key:
        raise MltrackError(f"key must be a non-empty string, got {key!r}")
    if step is None:
        return checked_kind, key, None
    if checked_kind != "metric":
        raise MltrackError(f"step only applies to metrics, not to a {checked_kind}")
    return checked_kind, key, check_step(step)


_ADJECTIVES = (
    "amber",
    "brisk",
    "calm",
    "deft",
    "eager",
    "fond",
    "glad",
    "keen",
    "lucid",
    "merry",
    "nimble",
    "proud",
    "quick",
    "sunny",
    "tidy",
    "vivid",
    "witty",
    "zesty",
)
_NOUNS = (
    "badger",
    "crane",
    "dingo",
    "egret",
    "ferret",
    "gecko",
    "heron",
    "ibis",
    "koala",
    "lemur",
    "marten",
    "newt",
    "otter",
    "panda",
    "quail",
    "raven",
    "stoat",
    "tapir",
)
