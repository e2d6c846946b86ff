"""The registry's rules, written once: names, versions, stages, aliases, tags, reviews.

:class:`~.registry_contract.AbstractRegistryStore` applies them before it calls a backend, so
the embedded store, the REST client and (through the store) both server APIs refuse the same
input with the same message and code. Each function raises INVALID_PARAMETER_VALUE and returns
the value normalised, as a backend receives it.

Pure functions: kernels import this module through the REST client (no duckdb, no tornado).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..entities import Approval, ModelStage
from ..errors import MltrackError
from ..validation import check_key, check_name, param_value_to_str, tag_value_to_str

MAX_DESCRIPTION_LENGTH = 65_000
LOGGED_MODEL_STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")


def model_name(name: object, what: str = "registered model name") -> str:
    """A name to look up: any non-empty string.

    Looser than :func:`~jupyter_mltrack.validation.check_name`, which new names pass: a name
    stored under an older rule stays reachable.
    """
    if not isinstance(name, str) or not name:
        raise MltrackError(f"{what} must be a non-empty string, got {name!r}")
    return name


def model_id(value: object) -> str:
    """A logged model's id: a non-empty string."""
    return model_name(value, "model id")


def optional_string(value: object, what: str) -> str | None:
    """None or a string (a run id, a model type, a link)."""
    if value is not None and not isinstance(value, str):
        raise MltrackError(f"{what} must be a string, got {type(value).__name__}: {value!r}")
    return value


def parse_version(version: object) -> int:
    """A version number from an int or a decimal string (``"3"``)."""
    try:
        number = int(str(version))
    except (TypeError, ValueError):
        raise MltrackError(f"model version must be a positive integer, got {version!r}") from None
    if number < 1:
        raise MltrackError(f"model version must be a positive integer, got {version!r}")
    return number


def canonical_stage(stage: object) -> str:
    """A stage name in MLflow's spelling; matched case-insensitively."""
    if isinstance(stage, str):
        for known in ModelStage.ALL:
            if stage.strip().lower() == known.lower():
                return known
    raise MltrackError(f"stage must be one of {', '.join(ModelStage.ALL)}, got {stage!r}")


def alias_name(alias: object) -> str:
    """An alias to read or delete: any name, so one set under an older rule can be removed."""
    return check_name(alias, "alias")


def description(text: object, what: str = "description") -> str | None:
    """None or a string of at most :data:`MAX_DESCRIPTION_LENGTH` characters."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise MltrackError(f"{what} must be a string, got {type(text).__name__}")
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise MltrackError(
            f"{what} is {len(text)} characters; the limit is {MAX_DESCRIPTION_LENGTH}"
        )
    return text


def tags(values: object) -> dict[str, str]:
    """Tags as stored: checked keys, values as strings (None means no tags)."""
    return {check_key(k, "tag key"): tag_value_to_str(k, v) for k, v in _mapping(values, "tags")}


def params(values: object) -> dict[str, str]:
    """A logged model's params as stored: checked keys, values as strings."""
    return {
        check_key(k, "param key"): param_value_to_str(k, v) for k, v in _mapping(values, "params")
    }


def tag(key: object, value: object) -> tuple[str, str]:
    """One tag, as :func:`tags` checks it."""
    key = check_key(key, "tag key")
    return key, tag_value_to_str(key, value)


def string_list(values: object, what: str) -> list[str] | None:
    """None, or a list (or tuple) of values as strings; a lone string is refused."""
    if values is None:
        return None
    if not isinstance(values, (list, tuple)):
        raise MltrackError(f"{what} must be a list, got {values!r}")
    return [str(v) for v in values]


def logged_model_status(status: object) -> str:
    """One of :data:`LOGGED_MODEL_STATUSES`."""
    if status not in LOGGED_MODEL_STATUSES:
        raise MltrackError(
            f"logged model status must be one of {', '.join(LOGGED_MODEL_STATUSES)}, got {status!r}"
        )
    return str(status)


def outputs(values: object) -> list[tuple[str, int]]:
    """A run's outputs: ``[(model id, step)]`` with a non-empty id and an integer step."""
    if not isinstance(values, (list, tuple)):
        raise MltrackError(f"outputs must be a list of (model id, step), got {values!r}")
    out = []
    for item in values:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise MltrackError(f"each output must be a (model id, step) pair, got {item!r}")
        step = item[1]
        try:
            if isinstance(step, bool):
                raise TypeError
            number = int(step)
        except (TypeError, ValueError):
            raise MltrackError(f"output step must be an integer, got {step!r}") from None
        out.append((model_id(item[0]), number))
    return out


def approval(value: object) -> str | None:
    """None (no decision) or one of :attr:`Approval.ALL`."""
    if value is not None and value not in Approval.ALL:
        raise MltrackError(f"approval must be one of {', '.join(Approval.ALL)}, got {value!r}")
    return value  # type: ignore[return-value]


def _mapping(values: object, what: str) -> list[tuple[Any, Any]]:
    if values is None:
        return []
    if not isinstance(values, Mapping):
        raise MltrackError(f"{what} must be a dict, got {type(values).__name__}")
    return list(values.items())
