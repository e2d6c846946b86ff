"""Request bodies sent with ``Transfer-Encoding: chunked`` obey the route's limit like any other.

A chunked body has no ``Content-Length`` to refuse up front. Past the route's limit, the server
stops keeping it, reads on to its end (up to the server's own ``max_body_size``) and answers 413
in the package's error shape, without running the route: nothing is written, and the
connection stays usable. Past the server's ``max_body_size`` it answers the same 413 at once
and closes the connection. Everything goes through a real ``jupyter server`` over raw HTTP.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TrackingServer, start_tracking_server

JSON_LIMIT = 256 * 1024
BATCH_LIMIT = 512 * 1024
SERVER_MAX_BODY = 2 * 1024**2  # Jupyter's own cap on any body (ServerApp.max_body_size)
PIECE = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    base = tmp_path_factory.mktemp("chunked")
    tracking = start_tracking_server(
        base / "store",
        base / "server",
        extra_args=(
            f"--MltrackApp.max_json_body_bytes={JSON_LIMIT}",
            f"--MltrackApp.max_batch_body_bytes={BATCH_LIMIT}",
            f"--ServerApp.max_body_size={SERVER_MAX_BODY}",
        ),
    )
    yield tracking
    tracking.stop()
    assert tracking.server_errors() == [], tracking.log()[-4000:]


def _port(server: TrackingServer) -> int:
    return int(server.url.split(":")[2].split("/")[0])


def _padded(document: dict[str, Any], size: int) -> Iterator[bytes]:
    """``document`` as JSON, padded with whitespace to ``size`` bytes, in pieces."""
    text = json.dumps(document).encode()
    assert len(text) < size
    yield text[:-1]
    left = size - len(text)
    while left > 0:
        yield b" " * min(PIECE, left)
        left -= PIECE
    yield b"}"


def _send_chunked(
    conn: http.client.HTTPConnection,
    server: TrackingServer,
    method: str,
    path: str,
    pieces: Iterator[bytes],
) -> tuple[int, dict[str, str], Any]:
    """One chunked request on ``conn``; the status, headers and JSON body of the answer."""
    conn.request(
        method,
        f"/mltrack/api{path}",
        body=pieces,
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
        encode_chunked=True,
    )
    answer = conn.getresponse()
    raw = answer.read()
    return answer.status, dict(answer.getheaders()), json.loads(raw) if raw else None


def _assert_too_large(status: int, body: Any, limit: int) -> None:
    assert status == 413, body
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert f"limit of {limit} bytes" in body["message"], body


def _experiment(server: TrackingServer, name: str) -> Any:
    answer = server.api("GET", "/experiment-by-name", params={"name": name})
    return answer.json()["experiment"] if answer.status_code == 200 else None


def test_a_chunked_body_under_the_limit_is_read(server: TrackingServer) -> None:
    name = f"chunked-{uuid.uuid4().hex}"
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=60)
    try:
        status, _, body = _send_chunked(
            conn, server, "POST", "/experiments", _padded({"name": name}, JSON_LIMIT - 1)
        )
        assert status == 201, body
        assert body["experiment"]["name"] == name
        # the batch route takes its own, larger limit
        run = server.api(
            "POST", "/runs", json={"experiment_id": body["experiment"]["experiment_id"]}
        )
        run_id = run.json()["run"]["info"]["run_id"]
        batch = {"metrics": [[run_id, "m", 1.5, 0, 1, None]]}
        status, _, body = _send_chunked(
            conn, server, "POST", "/batches", _padded(batch, BATCH_LIMIT - 1)
        )
        assert status == 200, body
    finally:
        conn.close()
    assert _experiment(server, name) is not None
    history = server.api("GET", f"/runs/{run_id}/metric-history", params={"key": "m"})
    assert history.status_code == 200, history.text
    assert "1.5" in history.text
    assert not server.server_errors()


def test_a_chunked_body_past_the_limit_gets_413_and_writes_nothing(
    server: TrackingServer,
) -> None:
    name = f"chunked-{uuid.uuid4().hex}"
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=60)
    try:
        status, headers, body = _send_chunked(
            conn, server, "POST", "/experiments", _padded({"name": name}, JSON_LIMIT + 1)
        )
        _assert_too_large(status, body, JSON_LIMIT)
        assert headers.get("Content-Type", "").startswith("application/json")
        # the body was read to its end: the same connection takes the next request
        status, _, body = _send_chunked(
            conn, server, "POST", "/experiments", iter([json.dumps({"name": name}).encode()])
        )
        assert status == 201, body
        experiment_id = body["experiment"]["experiment_id"]
        # a route that ignores its body is not run either (here: it would delete)
        status, _, body = _send_chunked(
            conn, server, "DELETE", f"/experiments/{experiment_id}",
            iter([b"x" * PIECE] * (JSON_LIMIT // PIECE + 1)),
        )  # fmt: skip
        _assert_too_large(status, body, JSON_LIMIT)
        # the batch route refuses past its own limit, and stores none of the batch
        run = server.api("POST", "/runs", json={"experiment_id": experiment_id})
        run_id = run.json()["run"]["info"]["run_id"]
        batch = {"metrics": [[run_id, "m", 1.5, 0, 1, None]]}
        status, _, body = _send_chunked(
            conn, server, "POST", "/batches", _padded(batch, BATCH_LIMIT + 1)
        )
        _assert_too_large(status, body, BATCH_LIMIT)
    finally:
        conn.close()
    assert _experiment(server, name)["lifecycle_stage"] == "active"
    history = server.api("GET", f"/runs/{run_id}/metric-history", params={"key": "m"})
    assert history.status_code == 200, history.text
    assert "1.5" not in history.text
    assert not server.server_errors()


def test_a_chunked_body_past_the_limit_on_the_mlflow_face(server: TrackingServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=60)
    try:
        name = f"chunked-{uuid.uuid4().hex}"
        conn.request(
            "POST",
            "/mltrack/api/2.0/mlflow/experiments/create",
            body=_padded({"name": name}, JSON_LIMIT + PIECE),
            headers={"Authorization": f"Bearer {server.token}"},
            encode_chunked=True,
        )
        answer = conn.getresponse()
        _assert_too_large(answer.status, json.loads(answer.read()), JSON_LIMIT)
    finally:
        conn.close()
    assert _experiment(server, name) is None
    assert not server.server_errors()


def test_a_chunked_body_past_the_servers_own_cap_is_answered_and_closed(
    server: TrackingServer,
) -> None:
    """Past Jupyter's ``max_body_size`` the server reads no further: it answers 413 at once
    (``Connection: close``) and drops the connection. The client here sends slowly and reads
    the answer as soon as one comes."""
    port = _port(server)
    sent = 0
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            (
                "POST /mltrack/api/experiments HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nAuthorization: token {server.token}\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        piece = b"%x\r\n" % PIECE + b" " * PIECE + b"\r\n"
        while sent < 4 * SERVER_MAX_BODY:
            readable, _, _ = select.select([sock], [], [], 0.02 if sent > SERVER_MAX_BODY else 0)
            if readable:
                break
            try:
                sock.sendall(piece)
            except OSError:
                break
            sent += PIECE
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    assert SERVER_MAX_BODY <= sent < 4 * SERVER_MAX_BODY, sent
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), reply[:300]
    assert b"\r\nConnection: close" in head, head
    _assert_too_large(413, json.loads(body), JSON_LIMIT)
    assert _experiment(server, "never") is None  # the server goes on
    assert not server.server_errors()
