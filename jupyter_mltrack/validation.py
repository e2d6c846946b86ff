"""Input checks shared by every face of the API.

Every check raises :class:`MltrackError` with INVALID_PARAMETER_VALUE before anything is written.
Keys that passed once are remembered, so the hot logging path pays for a set lookup only.
"""

from __future__ import annotations

import numbers
import posixpath
import re

from .errors import MltrackError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 500

# MLflow's rule: letters, digits, underscores, dashes, periods, spaces, slashes. Anything else
# (quotes, newlines, control characters) would make filters and file names ambiguous.
_KEY_RE = re.compile(r"^[\w\-. /]+$")
_valid_keys: set[str] = set()


def check_key(key: object, what: str = "key") -> str:
    """Check a metric, param or tag key; return it."""
    if isinstance(key, str) and key in _valid_keys:
        return key
    if not isinstance(key, str):
        raise MltrackError(f"{what} must be a string, got {type(key).__name__}: {key!r}")
    if not key or not key.strip():
        raise MltrackError(f"{what} must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise MltrackError(
            f"{what} {key[:40]!r}... is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"
        )
    if not _KEY_RE.match(key):
        raise MltrackError(
            f"{what} {key!r} holds characters a key cannot hold; use letters, digits, "
            "underscores, dashes, periods, spaces and slashes"
        )
    if key.startswith("/") or ".." in key.split("/"):
        raise MltrackError(f"{what} {key!r} must not start with '/' or contain a '..' segment")
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def check_metric_value(key: str, value: object) -> float:
    """Turn a metric value into a float; NaN and ±inf are valid, strings and None are not."""
    if type(value) is float:
        return value  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # numpy scalars register as numbers.Real; anything else (str, None, arrays) is refused
        raise MltrackError(
            f"metric {key!r} must be a number, got {type(value).__name__}: {value!r}"
        )
    return float(value)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_step(step: object) -> int:
    """Check a metric step: a 64-bit integer (numpy integers accepted)."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise MltrackError(f"step must be an integer, got {type(step).__name__}: {step!r}")
    value = int(step)
    if not INT64_MIN <= value <= INT64_MAX:
        raise MltrackError(f"step must fit in 64 bits (±9.2e18), got {value}")
    return value


def check_timestamp(timestamp: object) -> int:
    """Check a timestamp in milliseconds since the epoch."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Integral):
        raise MltrackError(f"timestamp must be an integer (ms since the epoch), got {timestamp!r}")
    value = int(timestamp)
    if value < 0:
        raise MltrackError(f"timestamp must not be negative, got {value}")
    if value > INT64_MAX:
        raise MltrackError(f"timestamp must fit in 64 bits, got {value}")
    return value


def param_value_to_str(key: str, value: object) -> str:
    """Params are stored as strings, as in MLflow; check the length."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise MltrackError(
            f"param {key!r} value is {len(text)} characters; the limit is {MAX_PARAM_VALUE_LENGTH}"
        )
    return text


def tag_value_to_str(key: str, value: object) -> str:
    """Tags are stored as strings; check the length."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise MltrackError(
            f"tag {key!r} value is {len(text)} characters; the limit is {MAX_TAG_VALUE_LENGTH}"
        )
    return text


def check_name(name: object, what: str) -> str:
    """Check an experiment or run name: a non-empty string of printable characters."""
    if not isinstance(name, str):
        raise MltrackError(f"{what} must be a string, got {type(name).__name__}: {name!r}")
    if not name.strip():
        raise MltrackError(f"{what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise MltrackError(f"{what} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    if any(ord(c) < 32 for c in name):
        raise MltrackError(f"{what} {name!r} must not contain control characters")
    return name


def check_artifact_path(path: object, what: str = "artifact path") -> str:
    """Check a relative artifact path and normalise it; refuse absolute paths and escapes.

    Returns the normalised POSIX path ('' for the run's root folder).
    """
    if path is None:
        return ""
    if not isinstance(path, str):
        raise MltrackError(f"{what} must be a string, got {type(path).__name__}: {path!r}")
    if "\x00" in path or "\\" in path:
        raise MltrackError(f"{what} {path!r} must not contain NUL characters or backslashes")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise MltrackError(f"{what} {path!r} must be relative to the run's artifact folder")
    if ".." in path.split("/"):
        raise MltrackError(f"{what} {path!r} must not leave the run's artifact folder ('..')")
    norm = posixpath.normpath(path) if path else ""
    return "" if norm == "." else norm


def check_max_results(value: object, limit: int) -> int:
    """A page size: an integer from 1 to ``limit``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MltrackError(f"max_results must be a positive integer, got {value!r}")
    if value > limit:
        raise MltrackError(f"max_results must be at most {limit}, got {value}")
    return value
