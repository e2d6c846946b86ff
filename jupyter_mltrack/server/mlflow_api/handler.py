"""The base of every MLflow route: request fields, artifact root, empty answers, MLflow's
error texts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import MltrackError
from ..base import MltrackHandler
from . import messages
from .fields import Fields


class MlflowHandler(MltrackHandler):
    """An MLflow REST route. Errors leave in MLflow's shape (see :class:`MltrackHandler`) and
    with MLflow's texts: an error the store raised in its own words is translated here, at the
    one place every failed request passes (see :mod:`.messages`)."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], MltrackError):
            translated = messages.translate(exc_info[1])
            kwargs["exc_info"] = (type(translated), translated, exc_info[2])
        super().write_error(status_code, **kwargs)

    def fields(self) -> Fields:
        """The request's fields: the query string for GET, the JSON body otherwise.

        A body-less non-GET request (e.g. ``DELETE …?name=x`` from curl) falls back to its query
        string, which MLflow's own server accepts too.
        """
        body = self.request_body()
        if self.request.method == "GET" or (not body and self.request.query_arguments):
            return Fields.from_query_arguments(self.request.query_arguments)
        try:
            return Fields(self.json_body())
        except RecursionError:
            # json.loads gives up on deeply nested input with RecursionError, not ValueError
            raise MltrackError("request body is nested too deeply") from None

    @property
    def artifact_root(self) -> Path:
        """The folder that ``mlflow-artifacts:/`` URIs are relative to."""
        store: Any = self.store
        return Path(store.artifact_root)

    def send_json(self, data: Any, status: int = 200) -> None:
        """Answer JSON. The serialisers already spell non-finite metric values as MLflow does
        ("NaN", "Infinity"), so the answer dumps directly; walking every value of a 100-run
        search answer to look for them cost more than the search. Anything else non-finite
        falls back to the base handler's walk."""
        try:
            text = json.dumps(data, allow_nan=False, separators=(",", ":"))
        except ValueError:
            super().send_json(data, status)
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(text)

    def ok(self, data: dict[str, Any] | None = None) -> None:
        """Answer 200 with ``data`` (MLflow answers ``{}`` for calls that return nothing)."""
        self.send_json(data if data is not None else {})
