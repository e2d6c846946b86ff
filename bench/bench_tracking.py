"""Tracking-core benchmark: jupyter-mltrack against MLflow, in-process and through a server.

Runs the same workloads on four paths and prints a markdown table with one row per workload::

    mltrack          jupyter-mltrack embedded: the process writes the DuckDB file itself
    mltrack-server   jupyter-mltrack through a real ``jupyter server`` with the extension on the
                     store, the client logging over REST as a kernel inside JupyterLab does
    mlflow           MLflow 3.17.2 on its SQLite store, in-process
    mlflow-server    MLflow 3.17.2 through ``mlflow server`` (SQLite backend) over REST

    .venv/bin/python bench/bench_tracking.py            # full sizes (about 12 minutes)
    .venv/bin/python bench/bench_tracking.py --quick    # small sizes, a smoke run
    .venv/bin/python bench/bench_tracking.py --only lifecycle --path server
    .venv/bin/python bench/bench_tracking.py --lib mltrack --lib mltrack-server

How it measures, and why:

- Every workload runs in a fresh subprocess per path (``--worker`` mode of this script, code in
  ``tracking_workloads.py``), so neither library's imports, caches or background threads leak
  into the other's figures, and import time is paid where a user pays it. The worker scripts
  run from a copy outside any git repository, so neither library records git state (a dirty
  checkout would add a diff to every jupyter-mltrack run).
- Each worker gets its own temporary directory. ``mltrack``: a fresh store (``MLTRACK_STORE``
  points there too, so ``~/.mltrack`` is never touched). ``mltrack-server``: the bench starts a
  fresh ``jupyter server`` on that store for the worker and stops it afterwards; the worker
  finds it through the store's ``server.json`` and checks that its client is the REST one.
  ``mlflow``: a copy of a migrated template database. ``mlflow-server``: one ``mlflow server``
  (its default 4 workers) for the whole bench run, since it takes ~20 s to start; each
  workload logs to its own experiment there.
- Times come from ``time.perf_counter``. Short operations are repeated and the median reported
  (the first call is kept apart, since it may include opening the database).
- "Durable" means committed to the database: for mltrack, ``flush()`` has returned and nothing
  went to the spool; MLflow writes synchronously, so its calls are durable when they return.
- Where a path would take many minutes at full size, it runs a smaller size (or stops at a
  time budget) and the figure is scaled linearly; such cells say "extrapolated" and from how
  many points, calls or runs.
- Each worker checks what it wrote or read (point counts, run counts, every run's params,
  metrics and tags, the expected top-100 runs), so a fast wrong answer cannot pass for a fast
  right one.

Results go to stdout (the table) and to ``bench/results/tracking.json``; the store-size workload
draws ``bench/results/run_cost_vs_store_size.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # so that the sibling modules import when run from anywhere

from tracking_table import LIBS, OURS, build_rows, markdown_table, notes  # noqa: E402
from tracking_workloads import (  # noqa: E402
    MLFLOW_BATCH_LIMIT,
    SERVER_PATHS,
    Sizes,
    Target,
    library,
    worker,
)

DEFAULT_JSON = HERE / "results" / "tracking.json"
PATH_GROUPS = {"in-process": ("mltrack", "mlflow"), "server": ("mltrack-server", "mlflow-server")}
WORKLOADS = (
    "import",
    "log_metric",
    "points_batch",
    "points_series",
    "points_loop",
    "history",
    "runs",
    "lifecycle",
    "store_size",
)
IMPORT_STATEMENTS = {"mltrack": "import jupyter_mltrack", "mlflow": "import mlflow"}
WORKER_TIMEOUT_S = 3600.0
# what a worker process imports: copied out of the repository for each bench run
WORKER_FILES = (
    "bench_tracking.py",
    "tracking_table.py",
    "tracking_workloads.py",
    "workloads_common.py",
    "workloads_mltrack.py",
    "workloads_mlflow.py",
)


# running workers -------------------------------------------------------------------------------
class WorkerFailed(RuntimeError):
    """A worker exited with an error; the message holds the end of its stderr."""


def _worker_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MLTRACK_STORE"] = str(tmp / "store")  # never the user's ~/.mltrack
    # a bench started inside JupyterLab must not log to the user's own tracking server
    for name in ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    # MLflow 3 sends usage telemetry over the network by default; a benchmark should not
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


class Runner:
    """Starts workers (and the servers they log through) under one temporary root."""

    def __init__(
        self, root: Path, sizes: Sizes, stack: contextlib.ExitStack, fresh_servers: bool = True
    ):
        self.root = root
        self.sizes = sizes
        self.stack = stack
        self.fresh_servers = fresh_servers  # else one jupyter server for every plain workload
        self._mlflow_server: dict[str, Any] | None = None
        self._early: Any = None  # the thread starting mlflow server
        self._early_result: dict[str, Any] = {}
        self._shared_store: Path | None = None
        self._server_log = root / "server.log"
        # the worker scripts, copied outside any git repository (see the module docstring)
        self.scripts = root / "bench"
        self.scripts.mkdir()
        for name in WORKER_FILES:
            shutil.copyfile(HERE / name, self.scripts / name)

    def fresh(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))

    def worker(
        self, path: str, workload: str, tmp: Path, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one worker in a fresh interpreter; return what it measured."""
        out = tmp / f"result-{workload}-{path}.json"
        out.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            str(self.scripts / "bench_tracking.py"),
            "--worker", path, workload,
            "--tmp", str(tmp),
            "--sizes", json.dumps(asdict(self.sizes)),
            "--result", str(out),
            "--extra", json.dumps(extra or {}),
        ]  # fmt: skip
        proc = subprocess.run(
            cmd,
            cwd=tmp,
            env=_worker_env(tmp),
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            server_log = ""
            if path in SERVER_PATHS:
                log = self._server_log if path == "mltrack-server" else self.root / "mlflow.log"
                server_log = f"\n--- end of the server log ---\n{_tail(log)}"
            raise WorkerFailed(
                f"{path} {workload} worker failed (exit {proc.returncode}):\n"
                f"{proc.stderr[-4000:]}{server_log}"
            )
        result: dict[str, Any] = json.loads(out.read_text())
        return result

    @contextlib.contextmanager
    def jupyter_server(self, tmp: Path) -> Iterator[None]:
        """A real ``jupyter server`` with the extension, owning ``tmp/store``."""
        from bench_server import mltrack_server

        store = tmp / "store"
        store.mkdir(exist_ok=True)
        self._server_log = tmp / "server.log"
        with mltrack_server(store, self._server_log):
            # the route answers before the extension has advertised itself: wait for the file
            deadline = time.monotonic() + 60
            while not (store / "server.json").exists():
                if time.monotonic() > deadline:
                    raise WorkerFailed(f"no server.json in {store}:\n{_tail(tmp / 'server.log')}")
                time.sleep(0.05)
            yield

    def mlflow_server(self) -> dict[str, Any]:
        """The one ``mlflow server`` of this bench run (started on first use, unless
        :meth:`start_mlflow_server_early` started it already)."""
        if self._mlflow_server is None:
            if self._early is None:
                self.start_mlflow_server_early(background=False)
            assert self._early is not None
            self._early.join()
            if "error" in self._early_result:
                raise WorkerFailed(f"mlflow server: {self._early_result['error']}")
            self._mlflow_server = self._early_result["server"]
        return dict(self._mlflow_server)

    def start_mlflow_server_early(self, background: bool = True) -> None:
        """Start ``mlflow server`` (and warm it up) in a thread, so that its 20-40 s of start-up
        overlap other work (``--quick`` only: it competes for the CPUs meanwhile)."""
        import threading

        from bench_server import mlflow_server

        db = self.root / "mlflow-server.db"
        template = self.root / "mlflow-template.db"
        if template.exists():  # else (started early) the server migrates a new database itself
            shutil.copyfile(template, db)
        artifacts = self.root / "mlflow-server-artifacts"
        artifacts.mkdir()
        manager = mlflow_server(db, artifacts, self.root / "mlflow.log")
        result = self._early_result

        def start() -> None:
            t0 = time.perf_counter()
            try:
                server = manager.__enter__()
                result["manager"] = manager
                _warm_up(server.api)
            except Exception as exc:  # noqa: BLE001 - reported when a worker needs the server
                result["error"] = exc
                return
            result["server"] = {"tracking_uri": server.api, "mlflow_db": str(db)}
            _progress(f"mlflow server up (and warmed up) in {time.perf_counter() - t0:.1f} s")

        def stop() -> None:
            assert self._early is not None
            self._early.join()
            if "manager" in result:
                result["manager"].__exit__(None, None, None)

        self._early = threading.Thread(target=start, name="mlflow-server-start")
        self.stack.callback(stop)
        self._early.start()
        if not background:
            self._early.join()

    def shared_store(self) -> Path:
        """The store of the one jupyter server shared by every plain workload (started on
        first use; ``--quick`` only, where starting a server per workload would dominate)."""
        if self._shared_store is None:
            tmp = self.fresh("mltrack-server-shared")
            self.stack.enter_context(self.jupyter_server(tmp))
            self._shared_store = tmp / "store"
        return self._shared_store

    def prepare_mlflow(self) -> None:
        tmp = self.fresh("mlflow-prepare")
        self.worker("mlflow", "prepare", tmp)
        shutil.copyfile(tmp / "mlflow.db", self.root / "mlflow-template.db")

    def run(self, path: str, workload: str) -> dict[str, Any]:
        """One workload on one path, in a fresh temporary folder (and server, for mltrack)."""
        tmp = self.fresh(f"{path}-{workload}")
        try:
            if path == "mlflow":
                shutil.copyfile(self.root / "mlflow-template.db", tmp / "mlflow.db")
            if path == "mltrack-server" and self.fresh_servers:
                with self.jupyter_server(tmp):
                    return self.worker(path, workload, tmp)
            if path == "mltrack-server":
                return self.worker(path, workload, tmp, {"store": str(self.shared_store())})
            extra = self.mlflow_server() if path == "mlflow-server" else None
            return self.worker(path, workload, tmp, extra)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _warm_up(api: str, requests_n: int = 40) -> None:
    """Send ``mlflow server``'s worker processes their first requests (each opens its own
    database engine on first use), so that no timed call pays for that."""
    import threading

    import requests

    def hit() -> None:
        with requests.Session() as session:
            for _ in range(requests_n // 4):
                answer = session.get(f"{api}/api/2.0/mlflow/experiments/get?experiment_id=0")
                answer.raise_for_status()

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def import_times(lib: str, repeats: int, root: Path) -> dict[str, Any]:
    """Wall time of the import statement alone, each in a fresh interpreter (one warm-up)."""
    code = (
        "import time; t0 = time.perf_counter(); "
        f"{IMPORT_STATEMENTS[lib]}; print(time.perf_counter() - t0)"
    )
    times = []
    for i in range(repeats + 1):
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env=_worker_env(root),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            raise WorkerFailed(f"import {lib} failed:\n{proc.stderr[-4000:]}")
        if i:  # the first run may compile bytecode or warm the page cache: not counted
            times.append(float(proc.stdout.strip().splitlines()[-1]))
    return {"median_s": statistics.median(times), "times_s": times}


# the command -----------------------------------------------------------------------------------
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _meta(sizes: Sizes, quick: bool, paths: tuple[str, ...]) -> dict[str, Any]:
    dists = ("jupyter-mltrack", "mlflow", "duckdb", "pyarrow", "jupyter_server")
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "paths": list(paths),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # other work on the machine inflates every figure: keep the load beside the results
        "load_average_1m": _load_average(),
        "versions": {d: _version(d) for d in dists},
        "sizes": asdict(sizes),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; ``args.sizes`` is the :class:`Sizes` to run."""
    parser = argparse.ArgumentParser(
        description="Benchmark jupyter-mltrack's tracking core against MLflow, in-process and "
        "through a server."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=WORKLOADS,
        metavar="NAME",
        help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--mlflow-points",
        type=int,
        default=None,
        help="points MLflow logs in the log_batch workload (default: 100,000; quick: 5,000); "
        "its figure is scaled linearly to the full size and marked as extrapolated",
    )
    parser.add_argument(
        "--lib",
        action="append",
        choices=LIBS,
        metavar="PATH",
        help=f"run only this library and path (repeatable): {', '.join(LIBS)}",
    )
    parser.add_argument(
        "--path",
        action="append",
        choices=tuple(PATH_GROUPS),
        help="run only the in-process paths (mltrack, mlflow) or the server paths "
        "(mltrack-server, mlflow-server); repeatable, combines with --lib",
    )
    parser.add_argument(
        "--fill",
        choices=("auto", "api", "clone"),
        default="auto",
        help="how the store-size workload grows the store between windows: the fluent API "
        "(untimed), or copies of the runs already there written by SQL; auto: the API when it "
        "would fill a step in under a minute at the speed just measured",
    )
    parser.add_argument("--json", type=Path, default=None, help=f"default: {DEFAULT_JSON}")
    parser.add_argument(
        "--png",
        type=Path,
        default=None,
        help="the store-size plot (default: run_cost_vs_store_size.png beside the JSON)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("PATH", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--extra", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.tmp is None or args.result is None or args.sizes is None:
            parser.error("--worker needs --tmp, --sizes and --result")
        if worker(*args.worker) is None:
            parser.error(f"no worker for {' '.join(args.worker)}")
        args.sizes = Sizes(**json.loads(args.sizes))
        return args
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.mlflow_points is not None:
        step = sizes.metric_keys * (MLFLOW_BATCH_LIMIT // sizes.metric_keys)
        if not step <= args.mlflow_points <= sizes.points or args.mlflow_points % step:
            parser.error(
                f"--mlflow-points must be a multiple of {step} from {step} to {sizes.points}, "
                f"got {args.mlflow_points}"
            )
        sizes.mlflow_points = args.mlflow_points
    paths = [p for p in LIBS if not args.lib or p in args.lib]
    if args.path:
        paths = [p for p in paths if any(p in PATH_GROUPS[g] for g in args.path)]
    if not paths:
        parser.error("--lib and --path together select no path")
    args.paths = tuple(paths)
    args.sizes = sizes
    return args


_STARTED = time.perf_counter()


def _progress(message: str) -> None:
    print(f"[bench {time.perf_counter() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def _measured(path: str, workload: str) -> bool:
    if workload == "import":
        return path in IMPORT_STATEMENTS  # the client imports the same package on either path
    return worker(path, workload) is not None


def run_all(
    workloads: list[str],
    paths: tuple[str, ...],
    sizes: Sizes,
    fill: str,
    png: Path,
    quick: bool = False,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Run every selected workload on each path, one fresh process each, in turn."""
    import store_size

    raw: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="mltrack-bench-") as root_name,
        contextlib.ExitStack() as stack,
    ):
        runner = Runner(Path(root_name), sizes, stack, fresh_servers=not quick)
        if any(library(p) == "mlflow" for p in paths) and any(
            w not in ("import", "store_size") for w in workloads
        ):
            if quick and "mlflow-server" in paths:
                runner.start_mlflow_server_early()
            _progress("preparing the MLflow template database")
            runner.prepare_mlflow()
        for workload in workloads:
            if workload == "store_size":
                if not any(p in OURS for p in paths):
                    continue
                try:
                    raw[workload] = store_size.run(runner, paths, sizes, fill, png, _progress)
                except (WorkerFailed, subprocess.TimeoutExpired, RuntimeError) as exc:
                    failures.append(str(exc))
                    _progress(f"FAILED: {exc}")
                continue
            for path in paths:
                if not _measured(path, workload):
                    continue  # e.g. MLflow has no columnar API to compare with log_metric_series
                _progress(f"{workload}: {path}")
                try:
                    if workload == "import":
                        result = import_times(path, sizes.import_repeats, runner.root)
                    else:
                        result = runner.run(path, workload)
                except (WorkerFailed, subprocess.TimeoutExpired, RuntimeError) as exc:
                    failures.append(str(exc))
                    _progress(f"FAILED: {exc}")
                    continue
                raw.setdefault(workload, {})[path] = result
    return raw, failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        path, workload = args.worker
        target = Target(path, args.tmp, json.loads(args.extra))
        result = worker(path, workload)(target, args.sizes)  # type: ignore[misc]
        args.result.write_text(json.dumps(result))
        return 0

    sizes: Sizes = args.sizes
    paths: tuple[str, ...] = args.paths
    workloads = [w for w in WORKLOADS if not args.only or w in args.only]
    json_path: Path = args.json or (
        DEFAULT_JSON.with_name("tracking-quick.json") if args.quick else DEFAULT_JSON
    )
    png: Path = args.png or json_path.with_name(
        "run_cost_vs_store_size-quick.png" if args.quick else "run_cost_vs_store_size.png"
    )
    meta = _meta(sizes, args.quick, paths)
    mlflow_version = meta["versions"]["mlflow"]

    started = time.perf_counter()
    raw, failures = run_all(workloads, paths, sizes, args.fill, png, args.quick)
    rows = build_rows(raw, sizes)

    print(
        f"\n## Tracking core: jupyter-mltrack vs MLflow {mlflow_version}, "
        "in-process and via a server\n"
    )
    print(
        f"{meta['platform']}, {meta['cpus']} CPUs, Python {meta['python']}, "
        f"duckdb {meta['versions']['duckdb']}, jupyter_server "
        f"{meta['versions']['jupyter_server']}; MLflow on SQLite with local artifacts.\n"
    )
    if args.quick:
        print(
            "_Quick run: reduced sizes, one jupyter server for every workload but store_size, "
            "mlflow server started in the background meanwhile. It checks that everything runs; "
            "the targets are set for the full sizes._\n"
        )
    print(markdown_table(rows, mlflow_version, paths))
    extra = notes(rows, raw)
    if extra:
        print("\nNotes:\n" + "\n".join(extra))
    meta["load_average_1m_end"] = _load_average()
    meta["wall_s"] = time.perf_counter() - started
    print(
        f"\n(wall time {meta['wall_s']:.0f} s; load average "
        f"{meta['load_average_1m']} at the start, {meta['load_average_1m_end']} at the end; "
        f"JSON in {json_path})"
    )

    json_path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "meta": meta,
        "rows": [
            {
                **asdict(r),
                "ratios": {p: r.ratio(p) for p in OURS},
                "met": {p: r.met(p) for p in OURS},
            }
            for r in rows
        ],
        "notes": extra,
        "raw": raw,
        "failures": failures,
    }
    json_path.write_text(json.dumps(report, indent=2))
    for failure in failures:
        print(f"\nFAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
