"""What a client, a kernel widget and the scoring server no longer take on trust.

Each test fails on the code before the fix: HTML artifacts with running scripts, run names read
as HTML by Plotly, a ``server.json`` anyone could write or a reused pid keeps alive, server paths
that leave the download cache, credentials of a git remote in run tags, uploads copied into place,
a scoring server answering any Host, and a registry audit trail naming whoever ``?user=`` says.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from conftest import TrackingServer
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack.errors import MltrackError
from jupyter_mltrack.store.discovery import find_server, read_server_file
from jupyter_mltrack.store.rest.store import RestStore
from jupyter_mltrack.store.run_owner import process_start_token
from jupyter_mltrack.widgets import Artifacts, Compare, LiveMetrics

EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    monkeypatch.delenv("MLTRACK_SERVER_TOKEN", raising=False)


def _strings(value: object) -> list[str]:
    """Every string inside a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


# 8. HTML artifacts in kernel widgets ------------------------------------------------------------
def test_html_artifact_frame_runs_no_script(store: Path) -> None:
    with mlt.start_run(run_name="page") as run:
        mlt.log_text("<p>hi</p><script>parent.alert(1)</script>", "page.html")
    browser = Artifacts(run.info.run_id, "page.html")
    live = browser._preview_box.children[0].value
    saved = browser.static_html()  # what the notebook keeps
    for html in (live, saved):
        assert '<iframe sandbox=""' in html
        assert "allow-scripts" not in html and "allow-same-origin" not in html


# run names in Plotly labels ---------------------------------------------------------------------
def test_run_names_and_keys_are_escaped_in_plotly_labels(store: Path) -> None:
    ids = []
    for i in range(2):
        with mlt.start_run(run_name=EVIL) as run:
            mlt.log_param("p", EVIL if i else "plain")
            mlt.log_param("lr", str(i))
            for step in range(3):
                mlt.log_metric("loss", 1.0 / (step + 1 + i), step=step)
        ids.append(run.info.run_id)
    compare = Compare(ids, metric="loss")
    compare.scatter_x = "params.p"
    for fig in (compare.curves, compare.scatter, compare.parallel):
        texts = _strings(json.loads(fig.to_json()))
        assert not any("<img" in t for t in texts), texts
    names = [t.name for t in compare.curves.data]
    assert names and all(n.startswith(ESCAPED) for n in names)
    assert all(t.startswith(ESCAPED) for t in compare.scatter.data[0].text)
    assert EVIL not in compare.static_html()

    live = LiveMetrics(ids[0], start=False)
    texts = _strings(json.loads(live.figure.to_json()))
    assert any(ESCAPED in t for t in texts) and not any("<img" in t for t in texts)
    assert isinstance(live.figure, go.FigureWidget)


# 9. server.json -------------------------------------------------------------------------------
@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not a tracking server: it holds a pid a dead server once had."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def _advertise(store_dir: Path, pid: int, **extra: Any) -> Path:
    store_dir.mkdir(parents=True, exist_ok=True)
    path = store_dir / "server.json"
    data = {"url": "http://127.0.0.1:9/mltrack", "token": "t", "pid": pid}
    data.update(hostname=socket.gethostname(), **extra)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


def test_a_reused_pid_does_not_keep_a_dead_servers_file_alive(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    pid = other_process.pid
    token = process_start_token(pid)
    if token is None:
        pytest.skip("process start times are known on Linux only")
    _advertise(tmp_path, pid, process_start=str(int(token) - 1))  # started before this one
    assert read_server_file(tmp_path) is None and find_server(tmp_path) is None
    _advertise(tmp_path, pid, process_start=token)
    assert read_server_file(tmp_path) is not None
    _advertise(tmp_path, pid)  # an older server's file, without the token: pid only, as before
    assert read_server_file(tmp_path) is not None


def test_a_real_server_takes_a_store_whose_owner_pid_was_reused(
    tracking_server_factory: Callable[..., TrackingServer],
    tmp_path: Path,
    other_process: subprocess.Popen[bytes],
) -> None:
    token = process_start_token(other_process.pid)
    if token is None:
        pytest.skip("process start times are known on Linux only")
    store_dir = tmp_path / "crashed-store"
    _advertise(store_dir, other_process.pid, process_start=str(int(token) - 1))
    server = tracking_server_factory(store_dir=store_dir)
    assert server.api("GET", "/info").status_code == 200
    written = json.loads((store_dir / "server.json").read_text())
    assert written["pid"] == server.proc.pid  # type: ignore[union-attr]
    assert written["process_start"] == process_start_token(written["pid"])


def test_server_file_is_trusted_only_if_private_and_ours(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    path = _advertise(tmp_path, other_process.pid)
    assert find_server(tmp_path) is not None
    for mode in (0o620, 0o602, 0o666):  # anyone else who can write it can redirect us
        path.chmod(mode)
        assert read_server_file(tmp_path) is None and find_server(tmp_path) is None
    path.chmod(0o600)
    real = tmp_path / "elsewhere.json"
    path.rename(real)
    path.symlink_to(real)  # a link planted in a shared store folder
    assert read_server_file(tmp_path) is None
    path.unlink()
    real.rename(path)
    assert read_server_file(tmp_path) is not None
    if os.getuid() != 0:
        return  # giving a file to another user takes root
    os.chown(path, 65534, 65534)
    assert read_server_file(tmp_path) is None and find_server(tmp_path) is None


# downloads stay inside the cache ----------------------------------------------------------------
class _Listing(BaseHTTPRequestHandler):
    """A hostile server: lists whatever ``files`` says and serves each file's bytes."""

    files: list[str] = []

    def do_GET(self) -> None:
        if "/artifacts/file" in self.path:
            body = b"export PWNED=1\n"
        else:
            entries = [{"path": p, "is_dir": False, "file_size": 15} for p in self.files]
            body = json.dumps({"files": entries}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_server() -> Iterator[tuple[str, type[_Listing]]]:
    handler = type("Hostile", (_Listing,), {"files": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/mltrack", handler
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("folder", "listed"),
    [
        ("", "../../../../.bashrc"),
        ("", "ABSOLUTE"),  # replaced by an absolute path of this test's own
        ("models", "models/../../../../../.bashrc"),
        ("models", "other/file.txt"),
        ("models", "models"),
    ],
)
def test_a_download_never_writes_where_the_server_says_outside_the_cache(
    hostile_server: tuple[str, type[_Listing]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    folder: str,
    listed: str,
) -> None:
    url, handler = hostile_server
    outside = tmp_path / "outside" / "absolute-escape"  # never under the cache folder
    listed = str(outside) if listed == "ABSOLUTE" else listed
    handler.files = ["fine.txt" if not folder else f"{folder}/fine.txt", listed]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    client = RestStore(tmp_path / "store", url, "t")
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(MltrackError, match="refused the server's listing"):
        client.artifact_file("0" * 32, folder)
    client.close()
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    assert written == set(), written
    assert not (tmp_path / ".bashrc").exists()
    assert not outside.exists()


# the scoring server -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.linear_model import LogisticRegression

    from jupyter_mltrack.models.fluent import save_model

    path = tmp_path_factory.mktemp("model") / "model"
    save_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), path)
    return path


def test_the_scoring_server_answers_only_to_its_own_host_names(model_dir: Path) -> None:
    import requests

    cmd = [sys.executable, "-m", "jupyter_mltrack.models.serve", str(model_dir), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = line.split(" on ", 1)[1].split()[0]
        port = url.rsplit(":", 1)[1]
        ping = url + "/ping"
        for host in ("rebind.attacker.example", f"rebind.attacker.example:{port}"):
            refused = requests.get(ping, headers={"Host": host}, timeout=30)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error_code"] == "PERMISSION_DENIED"
        body = {"inputs": [[0.2]]}
        scored = requests.post(
            url + "/invocations", json=body, headers={"Host": "evil.example"}, timeout=30
        )
        assert scored.status_code == 403
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}"):
            assert requests.get(ping, headers={"Host": host}, timeout=30).status_code == 200
        assert requests.get(ping, timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_the_scoring_server_accepts_configured_names_and_times_out_idle_sockets(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    from jupyter_mltrack.models.pyfunc_model import load_model_dir
    from jupyter_mltrack.models.serve import ScoringServer

    monkeypatch.setenv("MLTRACK_SERVE_ALLOWED_HOSTS", "from-env.internal")
    model = load_model_dir(model_dir)
    server = ScoringServer(
        model, port=0, log_requests=False, allowed_hosts=["Model.Internal"], timeout=0.5
    )
    with server:
        for host in ("model.internal", f"model.internal:{server.port}", "from-env.internal"):
            ok = requests.get(server.url + "/ping", headers={"Host": host}, timeout=30)
            assert ok.status_code == 200, host
        assert (
            requests.get(server.url + "/ping", headers={"Host": "other.internal"}, timeout=30)
        ).status_code == 403
        # a client that sends half a request and stops: the server hangs up, freeing its thread
        with socket.create_connection((server.host, server.port), timeout=30) as conn:
            conn.sendall(b"POST /invocations HTTP/1.1\r\nHost: localhost\r\n")
            conn.settimeout(10)
            assert conn.recv(1024) == b""  # closed by the server well before our 10 s


# credentials in a git remote --------------------------------------------------------------------
def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=env, timeout=30
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("remote", "recorded"),
    [
        ("https://alice:ghp_SECRET@example.com/team/models.git", "https://example.com/team/models.git"),
        ("https://ghp_SECRET@example.com/team/models.git", "https://example.com/team/models.git"),
        ("https://example.com/team/models.git?private_token=SECRET", "https://example.com/team/models.git"),
        ("ssh://git:SECRET@example.com:2222/team/models.git", "ssh://git@example.com:2222/team/models.git"),
        ("git@example.com:team/models.git", "git@example.com:team/models.git"),
    ],
)  # fmt: skip
def test_a_git_remote_is_recorded_without_its_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remote: str, recorded: str
) -> None:
    from jupyter_mltrack.tracking import lineage
    from jupyter_mltrack.tracking.client import MltrackClient

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "analysis.ipynb").write_text("{}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    _git(repo, "remote", "add", "origin", remote)
    lineage.clear_cache()
    monkeypatch.setenv("JPY_SESSION_NAME", str(repo / "analysis.ipynb"))
    monkeypatch.setenv("MLTRACK_GIT_LINEAGE", "1")
    client = MltrackClient(tmp_path / "store")
    try:
        run = client.create_run(run_name="from-git")
        tags = client.get_run(run.info.run_id).data.tags
    finally:
        lineage.clear_cache()
    assert tags["mlflow.source.git.repoURL"] == recorded
    assert not any("SECRET" in v for v in tags.values())


# uploads land whole, and their leftovers go -----------------------------------------------------
def _new_run(server: TrackingServer) -> str:
    import uuid

    exp = server.api("POST", "/experiments", json={"name": f"sec-{uuid.uuid4().hex[:8]}"})
    exp_id = exp.json()["experiment"]["experiment_id"]
    run = server.api("POST", "/runs", json={"experiment_id": exp_id})
    return str(run.json()["run"]["info"]["run_id"])


def test_an_upload_replaces_an_artifact_whole_and_cleans_stale_leftovers(
    tracking_server: TrackingServer,
) -> None:
    server = tracking_server
    run_id = _new_run(server)
    url = f"/runs/{run_id}/artifacts/file"
    old = b"old version " * 50_000
    assert server.api("PUT", url, params={"path": "w/model.bin"}, data=old).status_code == 200
    [on_disk] = [p for p in server.store_dir.rglob("model.bin") if run_id in str(p)]
    uploads = server.store_dir / ".uploads"
    stale, fresh = uploads / "tmpcrashed", uploads / "tmpinflight"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "part.bin").write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    for path in (stale / "part.bin", stale):
        os.utime(path, (two_hours_ago, two_hours_ago))

    with open(on_disk, "rb") as reader:  # a reader that opened the old version
        new = b"new version " * 60_000
        assert server.api("PUT", url, params={"path": "w/model.bin"}, data=new).status_code == 200
        # the new version was renamed into place: the old file was never truncated or rewritten
        assert reader.read() == old
    assert on_disk.read_bytes() == new
    assert [p.name for p in on_disk.parent.iterdir()] == ["model.bin"]  # no temporary left
    assert not stale.exists() and (fresh / "part.bin").exists()
    listed = server.api("GET", f"/runs/{run_id}/artifacts", params={"path": "w"}).json()
    assert [f["path"] for f in listed["files"]] == ["w/model.bin"]
    shutil.rmtree(fresh)


def test_artifacts_are_written_beside_the_target_and_renamed(tmp_path: Path) -> None:
    from jupyter_mltrack.artifacts import copy_into, list_dir, write_bytes

    base = tmp_path / "run"
    src = tmp_path / "big.bin"
    src.write_bytes(b"a" * 100_000)
    copy_into(base, src, "d")
    target = base / "d" / "big.bin"
    inode = target.stat().st_ino
    with open(target, "rb") as reader:
        src.write_bytes(b"b" * 10)
        copy_into(base, src, "d")
        assert reader.read() == b"a" * 100_000  # replaced, not rewritten in place
    assert target.read_bytes() == b"b" * 10 and target.stat().st_ino != inode
    write_bytes(base, "d/big.bin", b"c")
    assert target.read_bytes() == b"c"
    assert sorted(p.name for p in target.parent.iterdir()) == ["big.bin"]
    # a crash mid-write leaves a hidden temporary, which no listing shows
    (target.parent / ".big.bin.abc123.tmp").write_bytes(b"partial")
    assert [e.path for e in list_dir(base, "d")] == ["d/big.bin"]


# who the registry's history names ---------------------------------------------------------------
def test_the_registry_records_the_authenticated_identity_and_a_claim_only_as_on_behalf_of(
    tracking_server: TrackingServer,
) -> None:
    import uuid

    from jupyter_mltrack.models.registry_api import current_user

    server = tracking_server
    name = f"audited-{uuid.uuid4().hex[:8]}"
    route = f"/registered-models/{name}"
    created = server.api("POST", "/registered-models", params={"user": "ceo"}, json={"name": name})
    assert created.status_code == 201, created.text
    tagged = server.api("PATCH", route, json={"tags": {"k": "v"}})  # no claim
    assert tagged.status_code == 200, tagged.text
    same = server.api("PATCH", route, params={"user": current_user()}, json={"tags": {"k": "w"}})
    assert same.status_code == 200, same.text
    events = server.api("GET", f"{route}/history").json()["events"]
    owner = current_user()  # Jupyter's token identifies the server's owner, not a person
    assert [e["user_id"] for e in events] == [f"{owner} (on behalf of ceo)", owner, owner]
