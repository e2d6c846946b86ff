"""Server benchmark: the jupyter-mltrack server against ``mlflow server`` 3.17.2 on SQLite.

Both servers run as subprocesses on loopback and are driven over HTTP by the same client code,
so every figure includes request parsing, the store, and serialisation::

    .venv/bin/python bench/bench_server.py            # full sizes (setup takes a few minutes)
    .venv/bin/python bench/bench_server.py --quick    # small sizes, a smoke run

Workloads (targets from issue 4):

- ``runs/log-batch`` of 1,000 metrics through MLflow's REST API, one client sending one request
  after another, and 8 clients at once: requests and points per second.
- ``runs/search`` over 10,000 runs through MLflow's REST API, filter + order, top 100 (target
  <= 100 ms for jupyter-mltrack).
- One 1M-point metric downsampled to 1,000 points (target <= 150 ms): the native history route
  against MLflow's own sampling route, ``metrics/get-history-bulk-interval``.
- Listing 10,000 runs for the UI, one page of 100 with 10 columns (target <= 100 ms): the native
  runs route against ``runs/search`` with ``max_results=100``, which is what MLflow's UI pages
  with.

How it measures: the stores are filled before the servers start (setup, not timed; MLflow's
1M-point history goes straight into its SQLite tables because its own API would take many
minutes). Request bodies are encoded before the clock starts. Each read is repeated and the median
reported, after one warm-up request. Every answer is checked (point counts, the expected top-100
runs, page sizes) so that a fast wrong answer cannot pass for a fast right one. MLflow runs with
its defaults (4 worker processes); jupyter-mltrack is one Jupyter server process.

Results: a markdown table on stdout, and ``bench/results/server.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import requests
from workloads_common import RunSpec, expected_top, run_specs  # one definition for both benches

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "server.json"
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_S = 120.0
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
SEARCH_ORDER = ["metrics.m1 DESC"]
BATCH_POINTS = 1000
CONCURRENT_CLIENTS = 8
TS0 = 1_700_000_000_000
perf = time.perf_counter


@dataclass
class Sizes:
    runs: int = 10_000
    history_points: int = 1_000_000
    downsample_to: int = 1_000
    page: int = 100
    columns: int = 10
    batch_requests: int = 300
    mlflow_batch_requests: int = 60
    concurrent_requests: int = 40  # per client
    mlflow_concurrent_requests: int = 8  # per client
    repeats: int = 9

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            runs=300,
            history_points=50_000,
            batch_requests=20,
            mlflow_batch_requests=5,
            concurrent_requests=4,
            mlflow_concurrent_requests=2,
            repeats=3,
        )


# data ------------------------------------------------------------------------------------------
@dataclass
class Fixture:
    """Ids of what the setup created in one server's store."""

    search_experiment: str
    history_run: str
    batch_runs: list[str] = field(default_factory=list)


def fill_mltrack(store_dir: Path, specs: list[RunSpec], sizes: Sizes) -> Fixture:
    """Fill a jupyter-mltrack store directly (setup, not timed)."""
    import numpy as np

    from jupyter_mltrack.store.batch import MetricRow, ParamRow, TagRow, WriteBatch
    from jupyter_mltrack.store.duckdb.store import DuckDBStore

    store = DuckDBStore(store_dir, linger=None)
    try:
        exp = store.create_experiment("bench-search")
        experiment = store.get_experiment(exp)
        batch = WriteBatch()
        for spec in specs:
            # the runs go into the same batch as their data: one transaction for all of them
            created, run = store.new_run(experiment, spec.name, "bench", TS0, {})
            batch.extend(created)
            run_id = run.info.run_id
            batch.metrics += [
                MetricRow(run_id, k, v, 0, TS0, None) for k, v in spec.metrics.items()
            ]
            batch.params += [ParamRow(run_id, k, v, None) for k, v in spec.params.items()]
            batch.tags += [TagRow(run_id, k, v, None) for k, v in spec.tags.items()]
        store.write_batch(batch)
        history_run = store.create_run("0", "history", "bench", TS0, {}).info.run_id
        steps = np.arange(sizes.history_points)
        values = np.sin(steps / 5000.0) + (steps % 97) / 97.0
        for start in range(0, sizes.history_points, 200_000):
            stop = min(start + 200_000, sizes.history_points)
            rows = list(
                map(
                    MetricRow,
                    [history_run] * (stop - start),
                    ["m"] * (stop - start),
                    values[start:stop].tolist(),
                    steps[start:stop].tolist(),
                    (TS0 + steps[start:stop]).tolist(),
                    [None] * (stop - start),
                )
            )
            store.write_batch(WriteBatch(metrics=rows))
        batch_runs = [
            store.create_run("0", f"batch-{i}", "bench", TS0, {}).info.run_id
            for i in range(1 + CONCURRENT_CLIENTS)
        ]
        return Fixture(exp, history_run, batch_runs)
    finally:
        store.close()


def fill_mlflow(db_path: Path, artifacts: Path, specs: list[RunSpec], sizes: Sizes) -> Fixture:
    """Fill an MLflow SQLite store: schema, experiment and a template run through MLflow's own
    store class; the bulk (runs, their data, the long history) straight into its tables, since
    its API would take many minutes for 10,000 runs (setup, not timed; the search check below
    confirms MLflow reads the rows back as runs)."""
    import uuid

    from mlflow.entities import Metric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db_path}", artifacts.as_uri())
    exp = store.create_experiment("bench-search")
    history_run = store.create_run("0", "bench", TS0, [], "history").info.run_id
    # the first point through the store (so latest_metrics is right), the rest straight in
    store.log_batch(history_run, [Metric("m", _wave(0), TS0, 0)], [], [])
    batch_runs = [
        store.create_run("0", "bench", TS0, [], f"batch-{i}").info.run_id
        for i in range(1 + CONCURRENT_CLIENTS)
    ]
    store.engine.dispose()
    con = sqlite3.connect(db_path)
    try:
        runs, tags, params, metrics = [], [], [], []
        for spec in specs:
            run_id = uuid.uuid4().hex
            runs.append((
                run_id, spec.name, "LOCAL", "bench", "", "bench", "FINISHED", TS0, TS0 + 1, "",
                "active", f"{artifacts.as_uri()}/{exp}/{run_id}/artifacts", int(exp),
            ))  # fmt: skip
            tags += [(k, v, run_id) for k, v in {**spec.tags, "mlflow.runName": spec.name}.items()]
            params += [(k, v, run_id) for k, v in spec.params.items()]
            metrics += [(k, v, TS0, run_id, 0, 0) for k, v in spec.metrics.items()]
        con.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            runs,
        )
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
        for table in ("metrics", "latest_metrics"):
            con.executemany(
                f"INSERT INTO {table} (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                metrics,
            )
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (("m", _wave(s), TS0 + s, history_run, s, 0) for s in range(1, sizes.history_points)),
        )
        last = sizes.history_points - 1
        con.execute(
            "UPDATE latest_metrics SET value = ?, timestamp = ?, step = ? "
            "WHERE run_uuid = ? AND key = 'm'",
            [_wave(last), TS0 + last, last, history_run],
        )
        con.commit()
    finally:
        con.close()
    return Fixture(exp, history_run, batch_runs)


def _wave(step: int) -> float:
    import math

    return math.sin(step / 5000.0) + (step % 97) / 97.0


# servers ---------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Used until the package's own server extension is importable: a stock ServerApp with the MLflow
# routes mounted exactly as the extension mounts them.
_LAUNCHER = r"""
import sys
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import url_path_join
from jupyter_mltrack.server.base import STORE_SETTING
from jupyter_mltrack.server.mlflow_api import mlflow_handlers
from jupyter_mltrack.store.duckdb.store import DuckDBStore

app = ServerApp()
app.initialize(argv=sys.argv[2:], find_extensions=False)
store = DuckDBStore(sys.argv[1], linger=None)
app.web_app.settings[STORE_SETTING] = store
prefix = url_path_join(app.base_url, "mltrack")
app.web_app.add_handlers(".*$", [(url_path_join(prefix, p), h) for p, h in mlflow_handlers()])
try:
    app.start()
finally:
    store.close()
"""


@dataclass
class Server:
    name: str
    api: str  # the MLflow tracking URI
    headers: dict[str, str]
    proc: subprocess.Popen
    native: str | None = None  # the native API root, when the server has one


def _extension_available() -> bool:
    """Whether the package registers its server extension (then the bench runs the real one)."""
    import jupyter_mltrack

    return hasattr(jupyter_mltrack, "_jupyter_server_extension_points")


@contextmanager
def mltrack_server(store_dir: Path, log: Path) -> Iterator[Server]:
    """The tracking server: ``jupyter server`` with the extension enabled by a config file, as
    an installed package enables it (its own config folder, so no user config leaks in)."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "MLTRACK_STORE": str(store_dir), "JUPYTER_PLATFORM_DIRS": "1"}
    for name in ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        env.pop(name, None)
    common = [
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True", f"--ServerApp.root_dir={store_dir.parent}",
    ]  # fmt: skip
    extension = _extension_available()
    if extension:
        config = log.parent / "jupyter-config"
        (config / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
        (config / "jupyter_server_config.d" / "jupyter_mltrack.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_mltrack": True}}})
        )
        env.update(
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTER_DATA_DIR=str(log.parent / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(log.parent / "jupyter-runtime"),
        )
        cmd = [sys.executable, "-m", "jupyter_server", *common]
    else:
        cmd = [sys.executable, "-c", _LAUNCHER, str(store_dir), *common]
    base = f"http://127.0.0.1:{port}/mltrack"
    server = Server(
        "jupyter-mltrack",
        base,
        {"Authorization": f"Bearer {token}"},
        _spawn(cmd, env, log),
        native=f"{base}/api" if extension else None,
    )
    try:
        _wait(server, f"{base}/api/3.0/mlflow/server-info")
        yield server
    finally:
        _stop(server.proc)


@contextmanager
def mlflow_server(db_path: Path, artifacts: Path, log: Path) -> Iterator[Server]:
    port = _free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    cmd = [
        str(VENV_BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db_path}",
        "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    server = Server("MLflow", base, {}, _spawn(cmd, env, log))
    try:
        _wait(server, f"{base}/api/2.0/mlflow/experiments/get?experiment_id=0")
        yield server
    finally:
        _stop(server.proc)


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _wait(server: Server, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}")
        try:
            if requests.get(url, headers=server.headers, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or still opening its store
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not start within {START_TIMEOUT_S:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    # the whole session: mlflow server runs its workers as child processes
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


# workloads -------------------------------------------------------------------------------------
def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"benchmark sanity check failed: {message}")


def _timed_repeats(fn: Callable[[], Any], repeats: int) -> tuple[dict[str, Any], Any]:
    """One warm-up call, then ``repeats`` timed calls; the median and all times."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = perf()
        result = fn()
        times.append(perf() - t0)
    return {"median_s": statistics.median(times), "times_s": times}, result


def _batch_bodies(run_id: str, first_step: int, count: int) -> list[bytes]:
    bodies = []
    for r in range(count):
        base = first_step + r * BATCH_POINTS
        metrics = [
            {"key": "loss", "value": s * 1e-3, "timestamp": TS0 + s, "step": s}
            for s in range(base, base + BATCH_POINTS)
        ]
        bodies.append(json.dumps({"run_id": run_id, "metrics": metrics}).encode())
    return bodies


def _history_length(server: Server, run_id: str, key: str) -> int:
    """Points in a metric's history, read page by page (a server may cap one page)."""
    total, token = 0, None
    while True:
        params = {"run_id": run_id, "metric_key": key}
        if token:
            params["page_token"] = token
        answer = requests.get(
            f"{server.api}/api/2.0/mlflow/metrics/get-history",
            params=params,
            headers=server.headers,
            timeout=600,
        )
        answer.raise_for_status()
        data = answer.json()
        total += len(data.get("metrics", []))
        token = data.get("next_page_token")
        if not token:
            return total


def _send_batches(server: Server, bodies: list[bytes], latencies: list[float]) -> None:
    session = requests.Session()
    headers = {**server.headers, "Content-Type": "application/json"}
    url = f"{server.api}/api/2.0/mlflow/runs/log-batch"
    try:
        for body in bodies:
            t0 = perf()
            answer = session.post(url, data=body, headers=headers, timeout=600)
            latencies.append(perf() - t0)
            _check(answer.status_code == 200, f"{server.name} log-batch: {answer.text[:300]}")
    finally:
        session.close()


def log_batch_sequential(server: Server, run_id: str, requests_n: int) -> dict[str, Any]:
    bodies = _batch_bodies(run_id, 0, requests_n + 1)
    latencies: list[float] = []
    _send_batches(server, bodies[:1], [])  # warm-up
    t0 = perf()
    _send_batches(server, bodies[1:], latencies)
    elapsed = perf() - t0
    _check(
        _history_length(server, run_id, "loss") == (requests_n + 1) * BATCH_POINTS,
        f"{server.name} lost points",
    )
    return {
        "requests": requests_n,
        "elapsed_s": elapsed,
        "requests_per_s": requests_n / elapsed,
        "points_per_s": requests_n * BATCH_POINTS / elapsed,
        "median_latency_s": statistics.median(latencies),
    }


def log_batch_concurrent(server: Server, run_ids: list[str], per_client: int) -> dict[str, Any]:
    plans = [_batch_bodies(r, 0, per_client) for r in run_ids]
    latencies: list[float] = []
    errors: list[BaseException] = []

    def client(bodies: list[bytes]) -> None:
        try:
            _send_batches(server, bodies, latencies)
        except BaseException as exc:  # noqa: BLE001 - reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(p,)) for p in plans]
    t0 = perf()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = perf() - t0
    _check(not errors, f"{server.name} concurrent log-batch failed: {errors[:1]}")
    for run_id in run_ids:
        _check(
            _history_length(server, run_id, "loss") == per_client * BATCH_POINTS,
            f"{server.name} lost points under concurrency",
        )
    total = per_client * len(run_ids)
    return {
        "clients": len(run_ids),
        "requests": total,
        "elapsed_s": elapsed,
        "requests_per_s": total / elapsed,
        "points_per_s": total * BATCH_POINTS / elapsed,
        "median_latency_s": statistics.median(latencies),
    }


def search(server: Server, fx: Fixture, specs: list[RunSpec], repeats: int) -> dict[str, Any]:
    session = requests.Session()
    body = {
        "experiment_ids": [fx.search_experiment],
        "filter": SEARCH_FILTER,
        "order_by": SEARCH_ORDER,
        "max_results": 100,
        "run_view_type": "ACTIVE_ONLY",
    }
    url = f"{server.api}/api/2.0/mlflow/runs/search"

    def call() -> Any:
        answer = session.post(url, json=body, headers=server.headers, timeout=600)
        _check(answer.status_code == 200, f"{server.name} search: {answer.text[:300]}")
        return answer.json()

    timing, result = _timed_repeats(call, repeats)
    names = [r["info"]["run_name"] for r in result.get("runs", [])]
    _check(names == expected_top(specs), f"{server.name} search returned the wrong runs")
    return timing


def mlflow_downsample(server: Server, fx: Fixture, sizes: Sizes) -> dict[str, Any]:
    session = requests.Session()
    params = {
        "run_ids": fx.history_run,
        "metric_key": "m",
        "max_results": sizes.downsample_to,
    }
    url = f"{server.api}/api/2.0/mlflow/metrics/get-history-bulk-interval"

    def call() -> Any:
        answer = session.get(url, params=params, headers=server.headers, timeout=600)
        _check(answer.status_code == 200, f"{server.name} downsample: {answer.text[:300]}")
        return answer.json()

    timing, result = _timed_repeats(call, sizes.repeats)
    points = len(result.get("metrics", []))
    _check(0 < points <= sizes.downsample_to + 10, f"MLflow sampled {points} points")
    return {**timing, "points": points}


def mlflow_listing(server: Server, fx: Fixture, sizes: Sizes) -> dict[str, Any]:
    session = requests.Session()
    body = {"experiment_ids": [fx.search_experiment], "max_results": sizes.page}
    url = f"{server.api}/api/2.0/mlflow/runs/search"

    def call() -> Any:
        answer = session.post(url, json=body, headers=server.headers, timeout=600)
        _check(answer.status_code == 200, f"{server.name} listing: {answer.text[:300]}")
        return answer.json()

    timing, result = _timed_repeats(call, sizes.repeats)
    _check(len(result["runs"]) == sizes.page, "MLflow listed the wrong number of runs")
    return timing


def native_downsample(server: Server, fx: Fixture, sizes: Sizes) -> dict[str, Any] | None:
    """The native ``metric-histories`` route: server-side min/max downsampling."""
    if server.native is None:
        return None
    session = requests.Session()
    url = f"{server.native}/metric-histories"
    params = {"run_id": fx.history_run, "key": "m", "points": sizes.downsample_to, "x": "step"}

    def call() -> Any:
        answer = session.get(url, params=params, headers=server.headers, timeout=600)
        _check(answer.status_code == 200, f"native downsample: {answer.text[:300]}")
        return answer.json()

    timing, result = _timed_repeats(call, sizes.repeats)
    return {**timing, "answer_keys": sorted(result)}


def native_listing(server: Server, fx: Fixture, sizes: Sizes) -> dict[str, Any] | None:
    """The native ``runs`` route: one page of 100 runs with 10 metric/param/tag columns."""
    if server.native is None:
        return None
    session = requests.Session()
    params: dict[str, Any] = {
        "experiment_id": fx.search_experiment,
        "max_results": sizes.page,
        # 10 columns: 3 metrics, 5 params, 2 tags
        "metric": ["m0", "m1", "m2"],
        "param": ["p0", "p1", "p2", "p3", "p4"],
        "tag": ["team", "stage"],
    }
    url = f"{server.native}/runs"

    def call() -> Any:
        answer = session.get(url, params=params, headers=server.headers, timeout=600)
        _check(answer.status_code == 200, f"native listing: {answer.text[:300]}")
        return answer.json()

    timing, result = _timed_repeats(call, sizes.repeats)
    return {**timing, "answer_keys": sorted(result)}


# the table -------------------------------------------------------------------------------------
def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:,.1f} ms"


def _speed(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "n/a"
    if theirs >= ours:
        return f"{theirs / ours:,.1f}x faster"
    return f"{ours / theirs:,.1f}x slower"


def _rate(result: dict[str, Any]) -> str:
    return (
        f"{result['requests_per_s']:,.1f} req/s, {result['points_per_s'] / 1000:,.0f}k points/s "
        f"({result['median_latency_s'] * 1000:,.1f} ms/request)"
    )


def table(results: dict[str, Any], sizes: Sizes) -> str:
    ours, theirs = results["mltrack"], results["mlflow"]
    lines = [
        "| workload | jupyter-mltrack | MLflow 3.17.2 (SQLite) | mltrack vs MLflow | target |",
        "|---|---|---|---|---|",
    ]
    for key, label in (
        ("log_batch", "`runs/log-batch`, 1,000 metrics a request, 1 client"),
        ("log_batch_concurrent", f"`runs/log-batch`, {CONCURRENT_CLIENTS} clients at once"),
    ):
        a, b = ours[key], theirs[key]
        ratio = a["points_per_s"] / b["points_per_s"]
        lines.append(f"| {label} | {_rate(a)} | {_rate(b)} | {ratio:,.1f}x the throughput | |")
    for key, label, target in (
        ("search", f"`runs/search` over {sizes.runs:,} runs, filter + order, top 100", 0.100),
        (
            "downsample",
            f"{sizes.history_points:,}-point metric downsampled to {sizes.downsample_to:,}",
            0.150,
        ),
        (
            "listing",
            f"UI listing of {sizes.runs:,} runs: page of {sizes.page}, {sizes.columns} columns",
            0.100,
        ),
    ):
        a_s = (ours.get(key) or {}).get("median_s")
        b_s = (theirs.get(key) or {}).get("median_s")
        ratio = _speed(a_s, b_s)
        met = "" if a_s is None else (" met" if a_s <= target else " **missed**")
        lines.append(
            f"| {label} | {_ms(a_s)} | {_ms(b_s)} | {ratio} | <= {target * 1000:.0f} ms{met} |"
        )
    notes = results.get("notes", [])
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else []))


# main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--runs", type=int, help="runs to search and list (default 10,000)")
    parser.add_argument("--points", type=int, help="points of the long history (default 1M)")
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.runs:
        sizes.runs = args.runs
    if args.points:
        sizes.history_points = args.points
    specs = run_specs(sizes.runs)
    root = Path(tempfile.mkdtemp(prefix="bench-server-"))
    results: dict[str, Any] = {
        "sizes": asdict(sizes),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "mlflow": metadata.version("mlflow"),
            "duckdb": metadata.version("duckdb"),
        },
        "notes": [],
    }
    try:
        print(f"setup: filling both stores ({sizes.runs:,} runs, "
              f"{sizes.history_points:,}-point history)...", file=sys.stderr)  # fmt: skip
        t0 = perf()
        mlt_fx = fill_mltrack(root / "mltrack" / "store", specs, sizes)  # ~20 ms a run
        mlt_setup = perf() - t0
        (root / "mlflow-artifacts").mkdir()
        t0 = perf()
        mlf_fx = fill_mlflow(root / "mlflow.db", root / "mlflow-artifacts", specs, sizes)
        mlf_setup = perf() - t0
        print(f"setup: mltrack {mlt_setup:.1f} s, MLflow {mlf_setup:.1f} s", file=sys.stderr)

        with mltrack_server(root / "mltrack" / "store", root / "mltrack.log") as server:
            ours = {
                "setup_s": mlt_setup,
                "log_batch": log_batch_sequential(
                    server, mlt_fx.batch_runs[0], sizes.batch_requests
                ),
                "log_batch_concurrent": log_batch_concurrent(
                    server, mlt_fx.batch_runs[1:], sizes.concurrent_requests
                ),
                "search": search(server, mlt_fx, specs, sizes.repeats),
                "downsample": native_downsample(server, mlt_fx, sizes),
                "listing": native_listing(server, mlt_fx, sizes),
            }
            if server.native is None:
                results["notes"].append(
                    "the native API (downsampling, UI listing) was not available in this build"
                )
        with mlflow_server(
            root / "mlflow.db", root / "mlflow-artifacts", root / "mlflow.log"
        ) as server:
            theirs = {
                "setup_s": mlf_setup,
                "log_batch": log_batch_sequential(
                    server, mlf_fx.batch_runs[0], sizes.mlflow_batch_requests
                ),
                "log_batch_concurrent": log_batch_concurrent(
                    server, mlf_fx.batch_runs[1:], sizes.mlflow_concurrent_requests
                ),
                "search": search(server, mlf_fx, specs, sizes.repeats),
                "downsample": mlflow_downsample(server, mlf_fx, sizes),
                "listing": mlflow_listing(server, mlf_fx, sizes),
            }
        results["mltrack"], results["mlflow"] = ours, theirs
        results["notes"].append(
            "MLflow's downsampling is `metrics/get-history-bulk-interval`; its UI listing is "
            "`runs/search` with max_results=100 (all params, metrics and tags of each run)"
        )
        results["notes"].append(
            f"MLflow runs its default 4 worker processes; jupyter-mltrack one server process; "
            f"{os.cpu_count()} CPUs"
        )
        print(table(results, sizes))
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nresults written to {args.json}", file=sys.stderr)
        return 0
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
