"""Artifacts over HTTP: upload limits, streamed downloads with Range, previews, path checks.

The server here is configured on its command line with small limits (traitlets settings of
the extension), so the limits can be crossed cheaply.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator

import pytest
import requests
from conftest import TrackingServer, start_tracking_server

UPLOAD_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    base = tmp_path_factory.mktemp("artifact-server")
    started = start_tracking_server(
        base / "store",
        base / "server",
        extra_args=(
            f"--MltrackApp.max_upload_bytes={UPLOAD_LIMIT}",
            "--MltrackApp.preview_max_bytes=40",
            "--MltrackApp.preview_max_rows=2",
        ),
    )
    yield started
    started.stop()
    assert started.server_errors() == [], started.log()[-4000:]


@pytest.fixture
def run_id(server: TrackingServer) -> str:
    exp = server.api("POST", "/experiments", json={"name": f"art-{uuid.uuid4().hex[:8]}"})
    exp_id = exp.json()["experiment"]["experiment_id"]
    return str(
        server.api("POST", "/runs", json={"experiment_id": exp_id}).json()["run"]["info"]["run_id"]
    )


def _put(server: TrackingServer, run_id: str, path: str, data: object) -> requests.Response:
    return server.api("PUT", f"/runs/{run_id}/artifacts/file", params={"path": path}, data=data)


def _files(server: TrackingServer, run_id: str) -> list[str]:
    answer = server.api("GET", f"/runs/{run_id}/artifacts", params={"recursive": "true"})
    assert answer.status_code == 200, answer.text
    return [f["path"] for f in answer.json()["files"]]


def test_upload_list_and_download_with_ranges(server: TrackingServer, run_id: str) -> None:
    payload = bytes(range(256)) * 100  # 25,600 bytes
    answer = _put(server, run_id, "model/weights.bin", payload)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "path": "model/weights.bin",
        "size": len(payload),
        "media_type": "application/octet-stream",
    }
    _put(server, run_id, "notes.txt", b"hello artifacts")
    top = server.api("GET", f"/runs/{run_id}/artifacts").json()
    assert [(f["path"], f["is_dir"]) for f in top["files"]] == [
        ("model", True),
        ("notes.txt", False),
    ]
    assert _files(server, run_id) == ["model/weights.bin", "notes.txt"]

    url = f"/runs/{run_id}/artifacts/file"
    whole = server.api("GET", url, params={"path": "model/weights.bin"})
    assert whole.status_code == 200 and whole.content == payload
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in whole.headers["Content-Security-Policy"]
    for header, first, last in (("bytes=0-9", 0, 9), ("bytes=25590-", 25590, 25599),
                                ("bytes=-6", 25594, 25599)):  # fmt: skip
        part = server.api("GET", url, params={"path": "model/weights.bin"},
                          headers={"Range": header})  # fmt: skip
        assert part.status_code == 206, header
        assert part.content == payload[first : last + 1]
        assert part.headers["Content-Range"] == f"bytes {first}-{last}/{len(payload)}"
    outside = server.api("GET", url, params={"path": "notes.txt"}, headers={"Range": "bytes=99-"})
    assert outside.status_code == 416 and outside.headers["Content-Range"] == "bytes */15"
    several = server.api("GET", url, params={"path": "notes.txt"},
                         headers={"Range": "bytes=0-1,3-4"})  # fmt: skip
    assert several.status_code == 200 and several.content == b"hello artifacts"
    head = server.api("HEAD", url, params={"path": "model/weights.bin"})
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(payload))
    assert head.content == b""
    folder = server.api("GET", url, params={"path": "model"})
    assert folder.status_code == 400 and "is a folder" in folder.json()["message"]


def test_oversized_uploads_are_refused_and_leave_nothing(
    server: TrackingServer, run_id: str
) -> None:
    declared = _put(server, run_id, "big.bin", b"x" * (UPLOAD_LIMIT + 1))
    assert declared.status_code == 413
    assert declared.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "limit" in declared.json()["message"]

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to check up front
        for _ in range(3):
            yield b"y" * (UPLOAD_LIMIT // 2)

    try:
        streamed = _put(server, run_id, "big2.bin", chunks())
        assert streamed.status_code in (400, 413)
    except requests.ConnectionError:
        pass  # the server may close the connection on a body past its size limit
    assert _files(server, run_id) == []
    exact = _put(server, run_id, "exact.bin", b"z" * UPLOAD_LIMIT)
    assert exact.status_code == 200
    assert _files(server, run_id) == ["exact.bin"]
    assert list((server.store_dir / ".uploads").iterdir()) == []


@pytest.mark.parametrize(
    "bad_path", ["../escape.txt", "/etc/passwd", "a/../../b.txt", "x\\y.txt", "", "C:/x.txt"]
)
def test_bad_artifact_paths_are_refused(server: TrackingServer, run_id: str, bad_path: str) -> None:
    for method, route in (("PUT", "file"), ("GET", "file"), ("GET", "preview")):
        answer = server.api(
            method, f"/runs/{run_id}/artifacts/{route}", params={"path": bad_path}, data=b"x"
        )
        assert answer.status_code == 400, (method, route, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    if bad_path:
        listing = server.api("GET", f"/runs/{run_id}/artifacts", params={"path": bad_path})
        assert listing.status_code == 400
    assert _files(server, run_id) == []


def test_uploads_to_missing_or_deleted_runs(server: TrackingServer, run_id: str) -> None:
    missing = _put(server, "no-such-run", "a.txt", b"x")
    assert missing.status_code == 404
    # refused before its body was read: the server closes the connection and says so
    assert missing.headers.get("Connection") == "close"
    server.api("DELETE", f"/runs/{run_id}")
    deleted = _put(server, run_id, "a.txt", b"x")
    assert deleted.status_code == 400 and deleted.json()["error_code"] == "INVALID_STATE"
    server.api("POST", f"/runs/{run_id}/restore")
    assert _files(server, run_id) == []
    gone = server.api("GET", f"/runs/{run_id}/artifacts/file", params={"path": "a.txt"})
    assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_previews_respect_the_configured_limits(server: TrackingServer, run_id: str) -> None:
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (2, 2), "blue").save(png, format="PNG")
    uploads = {
        "log.txt": b"line\n" * 20,
        "table.csv": b"a,b\n1,2\n3,4\n5,6\n",
        "conf.json": json.dumps({"lr": 0.1}).encode(),
        "page.html": b"<script>alert(1)</script>",
        "plot.png": png.getvalue(),
        "blob.bin": bytes(range(256)),
    }
    for name, data in uploads.items():
        assert _put(server, run_id, name, data).status_code == 200

    def preview(name: str) -> dict:
        answer = server.api("GET", f"/runs/{run_id}/artifacts/preview", params={"path": name})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    text = preview("log.txt")
    assert text["kind"] == "text" and len(text["text"]) == 40 and text["truncated"]
    table = preview("table.csv")
    assert table["rows"] == [["1", "2"], ["3", "4"]] and table["truncated"]
    assert preview("conf.json")["data"] == {"lr": 0.1}
    html = preview("page.html")
    assert html["kind"] == "html" and html["text"] == "<script>alert(1)</script>"
    assert preview("plot.png")["kind"] == "image"
    assert preview("blob.bin")["kind"] == "binary"
    missing = server.api("GET", f"/runs/{run_id}/artifacts/preview", params={"path": "no.txt"})
    assert missing.status_code == 404
    # the HTML artifact downloads as a sandboxed attachment, never as a page of this origin
    raw = server.api("GET", f"/runs/{run_id}/artifacts/file", params={"path": "page.html"})
    assert raw.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in raw.headers["Content-Security-Policy"]
    assert raw.headers["X-Content-Type-Options"] == "nosniff"
