"""The scoring server: one model behind MLflow's scoring routes.

``GET /ping`` and ``GET /health`` answer 200 once the model is loaded; ``GET /version`` the
package version; ``GET /metadata`` the model's URI, version and signature; ``POST /invocations``
scores a request in any of MLflow's formats (see :mod:`.payload`).

Built on the standard library's :class:`ThreadingHTTPServer`: scoring is blocking, CPU-bound
work, so a thread per request is the natural model and an event loop would add nothing; and the
server then needs no web framework, which keeps the Docker image (see :mod:`.docker`) small and
its start fast.

``python -m jupyter_mltrack.models.serve MODEL_DIR`` serves a model directory without a store;
``jupyter mltrack serve URI`` resolves a URI against the store first.

Two guards: a request whose ``Host`` header names neither an IP address, ``localhost``, the
address the server listens on, this machine's name nor a name in ``allowed_hosts`` (or
``$MLTRACK_SERVE_ALLOWED_HOSTS``, comma-separated; ``*`` allows every name) is refused with 403,
so a web page cannot reach a local scoring server through DNS rebinding; and every connection
has a socket timeout (:data:`SOCKET_TIMEOUT_S`), so a client that stops sending frees its thread.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ErrorCode, MltrackError
from .payload import MAX_BODY_BYTES, PayloadError, predict_request
from .pyfunc_model import PyFuncModel, load_model_dir

SOCKET_TIMEOUT_S = 60.0  # a connection idle this long mid-request (or between requests) closes
ALLOWED_HOSTS_ENV = "MLTRACK_SERVE_ALLOWED_HOSTS"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def allowed_host_names(host: str, extra: Sequence[str] | None = None) -> frozenset[str] | None:
    """The host names a server listening on ``host`` answers to (lower case); None: any.

    IP addresses are always accepted (DNS rebinding needs a name), so only names are listed:
    localhost, ``host`` itself, this machine's names when listening on every address, ``extra``
    and the names in ``$MLTRACK_SERVE_ALLOWED_HOSTS``.
    """
    names = set(_LOCAL_NAMES)
    names.add(host.strip().strip("[]").lower())
    if host in ("", "0.0.0.0", "::"):
        names.update({socket.gethostname().lower(), socket.getfqdn().lower()})
    configured = [*(extra or ()), *os.environ.get(ALLOWED_HOSTS_ENV, "").split(",")]
    for name in (n.strip().lower() for n in configured):
        if name == "*":
            return None
        if name:
            names.add(name)
    return frozenset(names)


def host_allowed(header: str | None, allowed: frozenset[str] | None) -> bool:
    """Whether a request's ``Host`` header names this server (see :func:`allowed_host_names`).

    A request without one (HTTP/1.0) is accepted: browsers always send it.
    """
    if allowed is None or header is None:
        return True
    value = header.strip().lower()
    if value.startswith("["):  # [v6]:port
        name = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        name = value.rsplit(":", 1)[0]
    else:
        name = value
    name = name.rstrip(".")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name in allowed
    return True


def _metadata(model: PyFuncModel, info: dict[str, Any]) -> dict[str, Any]:
    sig = model.signature
    return {
        **info,
        "flavors": [k for k in model.flavors if k != "python_function"],
        "signature": sig.to_dict() if sig is not None else None,
        "model_id": model.model_id,
        "run_id": model.run_id,
    }


def make_handler(
    model: PyFuncModel,
    info: dict[str, Any],
    log_requests: bool = True,
    allowed_hosts: frozenset[str] | None = None,
    timeout: float = SOCKET_TIMEOUT_S,
) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one loaded model (access log on stderr if asked).

    Requests whose ``Host`` is not in ``allowed_hosts`` (see :func:`host_allowed`) get 403;
    ``timeout`` is each connection's socket timeout in seconds.
    """
    meta = _metadata(model, info)

    class ScoringHandler(BaseHTTPRequestHandler):
        server_version = f"mltrack-scoring/{__version__}"
        protocol_version = "HTTP/1.1"

        def parse_request(self) -> bool:
            if not super().parse_request():
                return False
            if host_allowed(self.headers.get("Host"), allowed_hosts):
                return True
            self.close_connection = True
            self._error(
                MltrackError(
                    f"this scoring server does not answer to the host {self.headers['Host']!r}; "
                    f"add it with --allowed-host or ${ALLOWED_HOSTS_ENV}",
                    ErrorCode.PERMISSION_DENIED,
                )
            )
            return False

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _error(self, exc: MltrackError) -> None:
            self._json(exc.http_status, exc.to_dict())

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/ping", "/health"):
                self._send(200, b"\n", "text/plain")
            elif path == "/version":
                self._send(200, __version__.encode(), "text/plain")
            elif path == "/metadata":
                self._json(200, meta)
            elif path == "/invocations":
                self._error(PayloadError("/invocations takes POST requests", 405))
            else:
                self._not_found(path)

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if path != "/invocations":
                self._drain()
                self._not_found(path)
                return
            try:
                body = self._body()
                result = predict_request(model, body, self.headers.get("Content-Type"))
            except MltrackError as exc:
                self._error(exc)
                return
            self._json(200, result)

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length")
            if length is None:
                # without a length we cannot tell where the body ends (no chunked reads here)
                self.close_connection = True
                raise PayloadError("send a Content-Length header with the request body", 411)
            try:
                size = int(length)
            except ValueError:
                self.close_connection = True
                raise PayloadError(f"Content-Length {length!r} is not a number") from None
            if size > MAX_BODY_BYTES:
                self.close_connection = True
                raise PayloadError(f"the request body is over {MAX_BODY_BYTES} bytes", 413)
            return self.rfile.read(size) if size > 0 else b""

        def _drain(self) -> None:
            try:
                self._body()
            except MltrackError:
                pass

        def _not_found(self, path: str) -> None:
            self._error(
                MltrackError(
                    f"no route {path!r}; the routes are /ping, /health, /version, /metadata "
                    "and POST /invocations",
                    ErrorCode.RESOURCE_DOES_NOT_EXIST,
                )
            )

        def log_message(self, format: str, *args: Any) -> None:
            if log_requests:
                sys.stderr.write(f"mltrack-serve: {self.address_string()} {format % args}\n")

    ScoringHandler.timeout = timeout  # StreamRequestHandler.setup sets it on each socket
    return ScoringHandler


class ScoringServer:
    """A scoring server for one loaded model.

    Parameters
    ----------
    model:
        The model to serve.
    host, port:
        Where to listen; port 0 picks a free port (see :attr:`port`).
    info:
        What ``/metadata`` reports about where the model came from (URI, name, version).
    log_requests:
        Write an access log line per request to stderr (off for a server in a notebook,
        where stderr lands in the cell's output).
    allowed_hosts:
        Host names, beyond localhost, IP addresses and the listening address, that requests
        may name in their ``Host`` header (``"*"``: any); see :func:`allowed_host_names`.
    timeout:
        Each connection's socket timeout, in seconds.
    """

    def __init__(
        self,
        model: PyFuncModel,
        host: str = "127.0.0.1",
        port: int = 5000,
        info: dict[str, Any] | None = None,
        log_requests: bool = True,
        allowed_hosts: Sequence[str] | None = None,
        timeout: float = SOCKET_TIMEOUT_S,
    ):
        if not isinstance(host, str) or not host.strip():
            raise MltrackError(f"host must be a non-empty string, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise MltrackError(f"port must be an integer from 0 to 65535, got {port!r}")
        if isinstance(allowed_hosts, str) or not all(
            isinstance(h, str) for h in allowed_hosts or ()
        ):
            raise MltrackError(f"allowed_hosts must be a list of names, got {allowed_hosts!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise MltrackError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.model = model
        self.info = dict(info or {})
        self.allowed_hosts = allowed_host_names(host, allowed_hosts)
        try:
            handler = make_handler(
                model, self.info, log_requests, self.allowed_hosts, float(timeout)
            )
            self.httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise MltrackError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or SIGTERM/SIGINT, in :func:`run_server`)."""
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def shutdown(self) -> None:
        """Stop serving (call from another thread than the one serving)."""
        self.httpd.shutdown()

    def start(self) -> ScoringServer:
        """Serve on a background thread (a notebook keeps working); :meth:`stop` ends it."""
        if self._thread is not None:
            raise MltrackError("this server is already running", ErrorCode.INVALID_STATE)
        self._thread = threading.Thread(
            target=self.serve_forever, name="mltrack-scoring", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop a server started with :meth:`start` and wait for it."""
        if self._thread is None:
            return
        self.shutdown()
        self._thread.join()
        self._thread = None

    def __enter__(self) -> ScoringServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        what = self.info.get("uri") or str(self.model.model_dir)
        return f"ScoringServer({what!r}, {self.url}, {state})"


def run_server(
    model: PyFuncModel,
    host: str,
    port: int,
    info: dict[str, Any] | None = None,
    announce: Callable[[str], None] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> None:
    """Serve until SIGTERM or Ctrl-C; ``announce`` gets the line saying where it listens.

    ``allowed_hosts``: see :class:`ScoringServer`.
    """
    server = ScoringServer(model, host, port, info, allowed_hosts=allowed_hosts)

    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever to return: call it from another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, stop)
    what = (info or {}).get("uri") or str(model.model_dir)
    line = f"mltrack: serving {what} on {server.url} (POST /invocations)"
    (announce or (lambda text: print(text, flush=True)))(line)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jupyter_mltrack.models.serve MODEL_DIR``: serve a model directory."""
    parser = argparse.ArgumentParser(
        prog="python -m jupyter_mltrack.models.serve",
        description="Serve a model directory over HTTP (MLflow's scoring protocol).",
    )
    parser.add_argument("model_dir", help="a directory with an MLmodel file")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port (0: any free port)")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a host name clients may use (repeat; '*': any; also ${ALLOWED_HOSTS_ENV})",
    )
    args = parser.parse_args(argv)
    try:
        model = load_model_dir(Path(args.model_dir))
        info = {"uri": str(model.model_dir)}
        run_server(model, args.host, args.port, info, allowed_hosts=args.allowed_host)
    except MltrackError as exc:
        print(f"mltrack: error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
