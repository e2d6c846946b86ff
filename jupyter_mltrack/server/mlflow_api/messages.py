"""MLflow's error texts, for the MLflow routes only.

Tools and tests built on MLflow match on its messages ("Run with id=… not found", "Missing value
for required parameter 'run_id'"), so the MLflow face answers with MLflow 3.17's templates, read
off its server handlers (``mlflow/server/handlers.py``), its request validation
(``mlflow/utils/validation.py``) and its SQL stores. The native API and the Python API keep the
store's own wording: this module is the one place that translates, in two ways:

- the builders (:func:`missing`, :func:`invalid`, :func:`run_not_found`, …) make MLflow's error
  where a route checks a request itself;
- :func:`translate` rewrites an error the store raised, recognised by the store's own message
  templates (``store/rules.py``, ``store/duckdb/…``); an error it does not recognise leaves as
  it is. ``tests/test_mlflow_letter.py`` checks each template against a live ``mlflow server``.
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
from collections.abc import Callable
from typing import Any

from ...errors import ErrorCode, MltrackError
from ...validation import MAX_KEY_LENGTH, check_key

_DOCS_HINT = " See the API docs for more information about request parameters."
#: an echoed value longer than this is cut: MLflow echoes it whole, whatever its size, but an
#: error message must not carry a field of megabytes back to the client
MAX_ECHO = 1000

#: MLflow's message for a key with characters outside its rule. MLflow 3.17 also allows ':' on
#: POSIX (and says so); our keys never hold one, so the text is the one MLflow gives where it
#: refuses ':' too (on Windows), rather than a message that names a character we refuse.
BAD_KEY_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.),"
    " spaces ( ) and slashes (/)."
)
#: the characters MLflow 3.17 refuses in a logged model's name (``_validate_logged_model_name``)
LOGGED_MODEL_NAME_BAD_CHARS = ("/", ":", ".", "%", '"', "'")
#: the characters MLflow refuses in a registered model's name (``_validate_model_name``)
MODEL_NAME_BAD_CHARS = ("/", ":")


def error(message: str, code: ErrorCode = ErrorCode.INVALID_PARAMETER_VALUE) -> MltrackError:
    """An error with MLflow's text (INVALID_PARAMETER_VALUE unless told)."""
    return MltrackError(message, code)


def cut(text: str) -> str:
    """``text`` to echo in a message, cut past :data:`MAX_ECHO` characters."""
    return text if len(text) <= MAX_ECHO else f"{text[:MAX_ECHO]}… ({len(text)} characters)"


def echo(value: Any) -> str:
    """A value as MLflow's ``invalid_value`` writes it (compact, sorted JSON), cut short."""
    try:
        return cut(json.dumps(value, sort_keys=True, separators=(",", ":")))
    except (TypeError, ValueError):
        return cut(json.dumps(str(value)))


def invalid_value(path: str, value: Any, detail: str | None = None) -> str:
    """MLflow's ``invalid_value``: ``Invalid value 123 for parameter 'name' supplied[: detail]``."""
    if detail:
        return f"Invalid value {echo(value)} for parameter '{path}' supplied: {detail}"
    return f"Invalid value {echo(value)} for parameter '{path}' supplied."


# request validation (MLflow's handler schemas) ---------------------------------------------------
def missing(path: str) -> MltrackError:
    """A required field that is absent, null or empty."""
    return error(f"Missing value for required parameter '{path}'.{_DOCS_HINT}")


def invalid(path: str, value: Any) -> MltrackError:
    """A field of the wrong type (or out of the route's range), as the handler schemas say it."""
    hint = f" Hint: Value was of type '{type(value).__name__}'."
    return error(invalid_value(path, value, hint) + _DOCS_HINT)


def invalid_boolean(value: str) -> MltrackError:
    """A query-string boolean that is neither true nor false."""
    return error(f"Invalid boolean value: {value}, must be 'true' or 'false'.")


def not_positive(value: int, period: bool = False) -> MltrackError:
    """A page size below 1 (the tracking store's text; get-history ends it with a period)."""
    end = "." if period else ""
    return error(
        f"Invalid value {value} for parameter 'max_results' supplied. "
        f"It must be a positive integer{end}"
    )


def too_many(value: int, limit: int) -> MltrackError:
    """A page size above the tracking store's limit."""
    return error(
        f"Invalid value {value} for parameter 'max_results' supplied. It must be at most {limit}"
    )


def exceeds_length(path: str, limit: int) -> MltrackError:
    return error(f"'{path}' exceeds the maximum length of {limit} characters")


def batch_limit(what: str, limit: int, count: int) -> MltrackError:
    """A log-batch over one of MLflow's per-request limits."""
    return error(
        f"A batch logging request can contain at most {limit} {what}. Got {count} {what}. "
        f"Please split up {what} across multiple requests and try again."
    )


def duplicate_params(keys: list[str]) -> MltrackError:
    return error(
        f"Duplicate parameter keys have been submitted: {keys}. Please ensure the request "
        "contains only one param value per param key."
    )


def path_not_unique(name: str) -> bool:
    """Whether a name, taken as a path, resolves to another (MLflow refuses those names)."""
    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


def bad_path(path: str, name: str) -> MltrackError:
    """MLflow's error for a name that :func:`path_not_unique` refuses."""
    detail = (
        "Names may be treated as files in certain cases, and must not resolve to other "
        f"names when treated as such. This name would resolve to {posixpath.normpath(name)!r}"
    )
    return error(invalid_value(path, name, detail))


_checked_keys: set[str] = set()


def key(value: Any, path: str, length_path: str | None = None) -> str:
    """A metric, param or tag key, checked in MLflow's order with MLflow's messages.

    ``path`` names the key in the messages (``key``, ``name`` for a metric, ``tags[0].key``);
    ``length_path`` the key in the length message (MLflow says ``'Param key'`` there). MLflow's
    rule also refuses keys that ours would take (``a/``, ``a//b``: names that normalise to
    another); the store's own check runs last, for the few it refuses and MLflow takes
    (a key of spaces only). Keys that passed once are remembered, as the store's are.
    """
    if type(value) is str and value in _checked_keys:
        return value
    if value is None or value == "":
        raise missing(path)
    if not isinstance(value, str):
        raise invalid(path, value)
    if not re.match(r"^[\w\-. /]*$", value):
        raise error(invalid_value(path, value, BAD_KEY_CHARACTERS))
    if path_not_unique(value):
        raise bad_path(path, value)
    if len(value) > MAX_KEY_LENGTH:
        raise exceeds_length(length_path or path, MAX_KEY_LENGTH)
    check_key(value, path)
    if len(_checked_keys) < 100_000:
        _checked_keys.add(value)
    return value


# resources and their states --------------------------------------------------------------------
def run_not_found(run_id: str) -> MltrackError:
    return error(f"Run with id={run_id} not found", ErrorCode.RESOURCE_DOES_NOT_EXIST)


def run_not_active(run_id: str, stage: str = "deleted") -> MltrackError:
    return error(f"The run {run_id} must be in the 'active' state. Current state is {stage}.")


def no_run_tag(key: str, run_id: str) -> MltrackError:
    return error(
        f"No tag with name: {key} in run with id {run_id}", ErrorCode.RESOURCE_DOES_NOT_EXIST
    )


def experiment_not_found(experiment_id: str) -> MltrackError:
    return error(f"No Experiment with id={experiment_id} exists", ErrorCode.RESOURCE_DOES_NOT_EXIST)


def experiment_name_not_found(name: str) -> MltrackError:
    return error(f"Could not find experiment with name '{name}'", ErrorCode.RESOURCE_DOES_NOT_EXIST)


def experiment_not_active(experiment_id: str, stage: str = "deleted") -> MltrackError:
    return error(
        f"The experiment {experiment_id} must be in the 'active' state. Current state is {stage}."
    )


def no_experiment_tag(key: str, experiment_id: str) -> MltrackError:
    return error(
        f"No tag with name: {key} in experiment with id {experiment_id}",
        ErrorCode.RESOURCE_DOES_NOT_EXIST,
    )


PARAM_CHANGED = "Changing param values is not allowed."


def param_changed(run_id: str, key: str, old: str, new: str) -> MltrackError:
    """``runs/log-parameter`` with a value other than the one logged."""
    return error(
        f"{PARAM_CHANGED} Param with key='{key}' was already logged "
        f"with value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'."
    )


def params_changed(run_id: str, changes: list[tuple[str, str, str]]) -> MltrackError:
    """``runs/log-batch`` with params whose values differ from the logged ones."""
    listed = [{"key": k, "old_value": old, "new_value": new} for k, old, new in changes]
    return error(f"{PARAM_CHANGED} Params were already logged='{listed}' for run ID='{run_id}'.")


def model_version_not_found(name: str, version: str) -> MltrackError:
    return error(
        f"Model Version (name={name}, version={version}) not found",
        ErrorCode.RESOURCE_DOES_NOT_EXIST,
    )


def no_artifact(path: str) -> MltrackError:
    """A file the artifact proxy does not have."""
    return error(f"No such artifact: '{path}'", ErrorCode.RESOURCE_DOES_NOT_EXIST)


def version_not_integer(version: str) -> MltrackError:
    return error(f"Parameter 'version' must be an integer, got '{version}'.")


def logged_model_name(name: str) -> str:
    """A logged model's name as MLflow 3.17 takes it (``_validate_logged_model_name``)."""
    if not name or any(c in name for c in LOGGED_MODEL_NAME_BAD_CHARS):
        raise error(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {LOGGED_MODEL_NAME_BAD_CHARS}"
        )
    return name


def registered_model_name(name: str) -> str:
    """A new (or renamed) registered model's name as MLflow takes it (``_validate_model_name``):
    no '/' or ':', and not a path that resolves to another name."""
    if any(c in name for c in MODEL_NAME_BAD_CHARS):
        raise error(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if path_not_unique(name):
        raise bad_path("name", name)
    return name


# the store's errors, in MLflow's words ----------------------------------------------------------
_REPR = r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"


def _text(literal: str) -> str:
    """The string a ``{value!r}`` in a store message stands for."""
    value = ast.literal_eval(literal)
    return value if isinstance(value, str) else str(value)


def _reserved_alias(alias: str) -> MltrackError:
    if alias.lower() == "latest":
        return error("'latest' alias name (case insensitive) is reserved.")
    return error(f"Version alias name '{alias}' is reserved.")


#: (store message pattern, MLflow's error from the pattern's string groups); the patterns are
#: the store's templates, so a change of wording there shows up in the tests, not in production
_TRANSLATIONS: list[tuple[re.Pattern[str], Callable[..., MltrackError]]] = [
    (re.compile(rf"no run with id {_REPR}"), run_not_found),
    # a request's artifact path that leaves its folder (validation.check_artifact_path)
    (re.compile(rf"artifact path {_REPR} must "), lambda _path: error("Invalid path")),
    (
        re.compile(r"experiment name is \d+ characters long; the limit is (\d+)"),
        lambda limit: exceeds_length("name", int(limit)),
    ),
    (re.compile(rf"run {_REPR} is deleted; restore it before "), run_not_active),
    (re.compile(rf"no experiment with id {_REPR}"), experiment_not_found),
    (
        re.compile(rf"an experiment named {_REPR} already exists"),
        lambda name: error(
            f"Experiment(name={name}) already exists.", ErrorCode.RESOURCE_ALREADY_EXISTS
        ),
    ),
    (
        re.compile(rf"experiment id must be a number, got {_REPR}"),
        lambda value: error(
            f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer."
        ),
    ),
    (
        re.compile(rf"param {_REPR} of run {_REPR} is {_REPR}; cannot change it to {_REPR}"),
        lambda key, run_id, old, new: param_changed(run_id, key, old, new),
    ),
    (
        re.compile(rf"no registered model named {_REPR}"),
        lambda name: error(
            f"Registered Model with name={name} not found", ErrorCode.RESOURCE_DOES_NOT_EXIST
        ),
    ),
    (
        re.compile(rf"a registered model named {_REPR} already exists"),
        lambda name: error(
            f"Registered Model (name={name}) already exists.", ErrorCode.RESOURCE_ALREADY_EXISTS
        ),
    ),
    (
        re.compile(rf"registered model {_REPR} has no version (\d+)$"),
        lambda name, version: model_version_not_found(name, version),
    ),
    (
        re.compile(rf"registered model {_REPR} has no alias {_REPR}"),
        lambda _name, alias: error(f"Registered model alias {alias} not found."),
    ),
    (re.compile(rf"alias {_REPR} is reserved"), _reserved_alias),
    (
        re.compile(rf"alias {_REPR}\.\.\. is \d+ characters long; the limit is (\d+)"),
        lambda _alias, limit: exceeds_length("Registered model alias name", int(limit)),
    ),
    (
        re.compile(rf"alias {_REPR} may hold only letters, digits, underscores and dashes"),
        lambda alias: error(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        ),
    ),
    (
        re.compile(rf"no logged model with id {_REPR}"),
        lambda model_id: error(
            f"Logged model with ID '{model_id}' not found.", ErrorCode.RESOURCE_DOES_NOT_EXIST
        ),
    ),
]


_DELETED_EXPERIMENT = re.compile(rf"experiment {_REPR} is deleted; restore it before ")


def is_deleted_experiment(exc: MltrackError) -> bool:
    """Whether the store refused a new run because its experiment is deleted (the store names
    the experiment by name, MLflow by id: the route that knows the id translates it)."""
    return bool(_DELETED_EXPERIMENT.match(exc.message))


def is_param_change(exc: MltrackError) -> bool:
    """Whether the store refused a write because a param's value would change."""
    return translate(exc).message.startswith(PARAM_CHANGED)


def translate(exc: MltrackError) -> MltrackError:
    """The error MLflow gives for what ``exc`` (raised by the store) says; ``exc`` itself when
    it matches no template (a message of our own, or one MLflow has no counterpart for)."""
    for pattern, build in _TRANSLATIONS:
        found = pattern.match(exc.message)
        if found is None:
            continue
        args = [_text(g) if g and g[0] in "'\"" else g for g in found.groups()]
        return build(*args)
    return exc
