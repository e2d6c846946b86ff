"""What every handler of the extension shares: store access, JSON in and out, one error shape.

Handlers are adapters (parse, validate, call the store, serialise). Store calls block on DuckDB,
so they run on a worker thread (:meth:`MltrackHandler.call`) to keep the server's IOLoop free.
Every error leaves as ``{"error_code": …, "message": …}`` with the status from
:data:`jupyter_mltrack.errors.HTTP_STATUS`, which is MLflow's shape too, so MLflow clients and
the lab extension read errors the same way.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from jupyter_core.utils import ensure_async
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.base.handlers import APIHandler
from tornado import httputil, web

from ..errors import ErrorCode, MltrackError
from ..store.duckdb import connection
from ..store.duckdb.store import DuckDBStore
from ..validation import check_name

T = TypeVar("T")

STORE_SETTING = "mltrack_store"
CONFIG_SETTING = "mltrack_config"

#: the resource every route is authorized on (``Authorizer.is_authorized(…, resource)``)
AUTH_RESOURCE = "mltrack"


def _server_max_body_size(connection: Any) -> int | None:
    """The largest body the HTTP server reads on this connection (Jupyter's
    ``ServerApp.max_body_size``), if it set one."""
    value = getattr(getattr(connection, "params", None), "max_body_size", None)
    return value if isinstance(value, int) else None


def _finite_or_str(value: Any) -> Any:
    """JSON has no NaN or infinity: send them as MLflow does, as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite_or_str(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_str(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """Strict JSON (NaN and ±inf as strings)."""
    return json.dumps(_finite_or_str(data), allow_nan=False, separators=(",", ":"))


ON_BEHALF = "{identity} (on behalf of {declared})"


def authenticated_name(handler: APIHandler) -> str:
    """Who the request authenticated as, as the registry's history names them.

    Jupyter's own providers (a token or password) let in whoever holds the server's one secret
    under a random anonymous name: that is the server's owner, named by the server's login
    (or its ``$MLTRACK_USER``). Any other provider (JupyterHub, a custom one) names the user.
    """
    from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider

    if type(handler.identity_provider) in (IdentityProvider, PasswordIdentityProvider):
        from ..models.registry_api import current_user

        return current_user()
    user = handler.current_user
    return str(getattr(user, "username", None) or user)


def recorded_user(identity: str, declared: str | None) -> str:
    """The user the history records: ``identity``, and a different ``declared`` name only as
    the person it acted for (``"root (on behalf of ana)"``), so no client can write history in
    another's name."""
    if declared is None:
        return identity
    declared = check_name(declared, "user")
    if declared == identity:
        return identity
    return check_name(ON_BEHALF.format(identity=identity, declared=declared), "user")


#: JSON bodies larger than this are refused (413) before they are read; the settings
#: ``max_json_body_bytes`` and, for write batches, ``max_batch_body_bytes`` change them
DEFAULT_MAX_JSON_BODY_BYTES = 8 * 1024**2
DEFAULT_MAX_BATCH_BODY_BYTES = 64 * 1024**2


@web.stream_request_body
class MltrackHandler(APIHandler):
    """Base of every jupyter-mltrack route. Subclasses decorate each verb with
    ``@web.authenticated``; a test walks every route without credentials.

    Bodies are streamed so that one larger than the route's limit is refused (413) on its
    ``Content-Length`` before it is read: tornado would otherwise read up to Jupyter's
    ``max_body_size`` (512 MiB) into memory before any handler code runs. A chunked body has
    no length to refuse up front: past the limit it is read on without being kept, and the
    request answers 413 instead of running the route (see :meth:`data_received`). Routes that
    take a raw upload (artifact files) set :attr:`buffers_json_body` False and stream it
    themselves.

    Every authenticated request is also authorized here, in :meth:`prepare`, before a handler
    reads its body: the server's ``Authorizer`` must allow the request's action on the
    resource ``"mltrack"``. The action is Jupyter's for the HTTP method (GET/HEAD "read";
    POST/PUT/PATCH/DELETE "write") unless the handler's :attr:`auth_actions` names another,
    as reads sent as POST (MLflow's searches) and model scoring ("execute") do.
    """

    auth_resource = AUTH_RESOURCE

    #: the authorization action of a verb whose action is not its HTTP method's (e.g. a search
    #: sent as POST: ``{"POST": "read"}``); verbs not listed take the method's action
    auth_actions: ClassVar[Mapping[str, str]] = {}
    _refused_unread = False  # refused before a streamed body was read

    #: whether this route reads its body as JSON, buffered up to :meth:`body_limit`
    buffers_json_body = True
    #: the setting that holds this route's body limit, and its default
    body_limit_setting = "max_json_body_bytes"
    body_limit_default = DEFAULT_MAX_JSON_BODY_BYTES
    _chunks: list[bytes]
    _received = 0
    _body_limit = 0
    _read_limit = 0  # past it, a chunked body is answered at once and its connection dropped

    def body_limit(self) -> int:
        """The largest body this route takes, in bytes."""
        # routes mounted without the extension's settings (a bare warm-model route) use defaults
        config = self.settings.get(CONFIG_SETTING)
        value = getattr(config, self.body_limit_setting, None)
        return self.body_limit_default if value is None else int(value)

    async def prepare(self) -> None:  # type: ignore[override]
        """Authenticate (Jupyter), authorize the request's action on ``"mltrack"``, then refuse
        a body past the route's limit before it is read."""
        await self._authorize()
        if not self.buffers_json_body:
            return
        self._chunks = []
        self._body_limit = limit = self.body_limit()
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            self._refused_unread = True  # the connection cannot be reused
            raise web.HTTPError(
                413, f"request body of {declared} bytes is larger than the limit of {limit} bytes"
            )
        self._read_limit = limit
        connection: Any = self.request.connection
        if not hasattr(connection, "set_max_body_size"):  # HTTP/1: tornado's only server protocol
            return
        if declared is not None:
            connection.set_max_body_size(limit)
            return
        # A chunked body has no length to refuse up front, and at the connection's limit
        # tornado drops it with a bare 400. So tornado's limit is lifted for this request and
        # data_received keeps count: past the route's limit it reads on (keeping nothing) up
        # to the server's own max_body_size, which the server reads of any body anyway.
        self._read_limit = max(limit, _server_max_body_size(connection) or 0)
        connection.set_max_body_size(sys.maxsize)

    def data_received(self, chunk: bytes) -> None:
        """Keep the body up to the route's limit; past it, keep nothing and answer 413.

        Only a chunked body gets past the limit here (a ``Content-Length`` past it was refused
        in :meth:`prepare`). Tornado calls the verb's method by name once the body has ended,
        so the verb is replaced, for this request only, by a 413: no route runs on a body it
        did not get, and the client, having sent everything, reads the answer and may reuse
        the connection. Answering while the client still sends would be lost to the
        connection reset that follows; only past the server's ``max_body_size`` does the 413
        leave at once, after which tornado reads no more and closes the connection.
        """
        self._received += len(chunk)
        if self._received <= self._body_limit:
            self._chunks.append(chunk)
            return
        self._chunks = []  # no use for the part already kept
        if self.request.method:
            setattr(self, self.request.method.lower(), self._refuse_large_body)
        if self._received > self._read_limit and not self._finished:
            self._refused_unread = True
            error = web.HTTPError(413, self._too_large_message())
            self.send_error(413, exc_info=(web.HTTPError, error, None))

    def _too_large_message(self) -> str:
        return f"request body is larger than the limit of {self._body_limit} bytes"

    def _refuse_large_body(self, *args: Any, **kwargs: Any) -> None:
        """Stands in for the verb of a request whose body was past the limit."""
        raise web.HTTPError(413, self._too_large_message())

    def request_body(self) -> bytes:
        """The whole request body (413 past the route's limit)."""
        if not self.buffers_json_body:
            return self.request.body
        if self._received > self._body_limit:
            raise web.HTTPError(413, self._too_large_message())
        if self._chunks:
            self.request.body = b"".join(self._chunks)
            self._chunks = []
        return self.request.body

    async def _authorize(self) -> None:
        await super().prepare()
        user = self.current_user
        if not user:
            return  # unauthenticated: @web.authenticated (or Jupyter's prepare) refuses it
        method = (self.request.method or "").upper()
        action = self.auth_actions.get(method) or HTTP_METHOD_TO_AUTH_ACTION.get(method, "write")
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, user, action, AUTH_RESOURCE)
        )
        if not allowed:
            self._refused_unread = True  # every route streams its body: it was not read
            raise web.HTTPError(
                403, f"user is not authorized to {action} on resource: {AUTH_RESOURCE}"
            )

    @property
    def store(self) -> DuckDBStore:
        """The store this server owns (always the embedded store: the server is its writer)."""
        return self.settings[STORE_SETTING]

    @property
    def mltrack_config(self) -> Any:
        return self.settings[CONFIG_SETTING]

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call on a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))

    def query_deadline(self) -> float:
        """Seconds a search may hold the store (setting ``query_deadline``, else
        ``$MLTRACK_QUERY_DEADLINE``, else 30)."""
        value = getattr(self.mltrack_config, "query_deadline", None)
        return connection.default_query_deadline() if value is None else float(value)

    async def search(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a search on a worker thread, interrupted if it outlives the query deadline."""
        seconds = self.query_deadline()

        def run() -> T:
            with connection.query_deadline(seconds):
                return fn(*args, **kwargs)

        return await self.call(run)

    def acting_user(self) -> str:
        """Who the registry's history records for this request, on both faces: the
        authenticated identity, and a ``user`` query argument only as "on behalf of"."""
        return recorded_user(authenticated_name(self), self.get_query_argument("user", None))

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; 400 if it is not one, 413 if too large."""
        raw = self.request_body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MltrackError(f"request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise MltrackError("request body is nested too deeply") from None
        if not isinstance(data, dict):
            raise MltrackError("request body must be a JSON object")
        return data

    def send_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The JSON error body (tornado's hook, called by ``send_error``).

        An :class:`MltrackError` leaves with its own code and the status mapped from it (tornado
        calls ``send_error(500)`` for any exception that is not an ``HTTPError``, so the status
        is set again here); a tornado ``HTTPError`` (401/403 from authentication, 404, 405…)
        with a code for its status; anything else as a 500 INTERNAL_ERROR, its traceback in
        the server's log (see :meth:`log_exception`), never in the answer.
        """
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        if isinstance(exc, MltrackError):
            self.set_status(exc.http_status)
            body = exc.to_dict()
        else:
            code = _STATUS_CODES.get(
                status_code,
                ErrorCode.INVALID_PARAMETER_VALUE
                if status_code < 500
                else ErrorCode.INTERNAL_ERROR,
            )
            message = None
            if isinstance(exc, web.HTTPError):
                message = exc.log_message or exc.reason
            body = {
                "error_code": code.value,
                "message": message or httputil.responses.get(status_code, "Unknown"),
            }
        if self._refused_unread:
            # tornado drops the connection rather than read the rest of a streamed upload:
            # tell the client not to send its next request on it
            self.set_header("Connection", "close")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Log a failed request: expected errors are answers, not server faults, so an
        :class:`MltrackError` gets one info line without a traceback; anything else is logged
        by tornado (a warning for an ``HTTPError``, an error with its traceback otherwise)."""
        if isinstance(value, MltrackError):
            self.log.info("%s %s -> %s", self.request.method, self.request.path, value.message)
            return
        super().log_exception(typ, value, tb)


#: the error code of a tornado ``HTTPError`` by status (other 4xx: INVALID_PARAMETER_VALUE)
_STATUS_CODES = {
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.RESOURCE_DOES_NOT_EXIST,
}
