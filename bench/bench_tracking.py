"""Tracking-core benchmark: jupyter-mltrack (embedded DuckDB) against MLflow (SQLite store).

Runs the same workloads against both libraries and prints a markdown table::

    .venv/bin/python bench/bench_tracking.py            # full sizes (several minutes: MLflow)
    .venv/bin/python bench/bench_tracking.py --quick    # small sizes, a smoke run (< 60 s)
    .venv/bin/python bench/bench_tracking.py --only history --only runs
    .venv/bin/python bench/bench_tracking.py --mlflow-points 100000   # scale MLflow's 1M run

How it measures, and why:

- Every workload runs in a fresh subprocess per library (``--worker`` mode of this script, code
  in ``tracking_workloads.py``), so neither library's imports, caches or background threads leak
  into the other's figures, and import time is paid where a user pays it.
- Each worker gets its own temporary directory: an mltrack store (``MLTRACK_STORE`` points there
  too, so ``~/.mltrack`` is never touched) or an MLflow ``sqlite:///`` database with local
  artifacts. MLflow's schema migration takes seconds, so it runs once into a template database
  that each MLflow worker copies; it is setup, not part of any figure.
- Times come from ``time.perf_counter``. Short operations are repeated and the median reported
  (the first call is kept apart, since it may include opening the database).
- "Durable" means committed to the database file: for mltrack, ``flush()`` has returned; MLflow
  writes synchronously, so its calls are durable when they return.
- Where MLflow would take many minutes at full size, it runs a smaller size and the figure is
  scaled linearly; such cells say "extrapolated" and from how many points or calls.
- Each worker checks what it wrote or read (point counts, row counts, the expected top-100 runs),
  so a fast wrong answer cannot pass for a fast right one.

Results go to stdout (the table) and to ``bench/results/tracking.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # so that tracking_workloads imports when run from anywhere

from tracking_workloads import MLFLOW_BATCH_LIMIT, WORKERS, Sizes  # noqa: E402

DEFAULT_JSON = HERE / "results" / "tracking.json"
LIBS = ("mltrack", "mlflow")
WORKLOADS = (
    "import",
    "log_metric",
    "points_batch",
    "points_series",
    "points_loop",
    "history",
    "runs",
)
IMPORT_STATEMENTS = {"mltrack": "import jupyter_mltrack", "mlflow": "import mlflow"}
WORKER_TIMEOUT_S = 3600.0
TIMES = "\u00d7"  # the multiplication sign, spelled out so linters do not take it for an x


# running workers -------------------------------------------------------------------------------
class WorkerFailed(RuntimeError):
    """A worker exited with an error; the message holds the end of its stderr."""


def _worker_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MLTRACK_STORE"] = str(tmp / "store")  # never the user's ~/.mltrack
    env.pop("MLFLOW_TRACKING_URI", None)
    # MLflow 3 sends usage telemetry over the network by default; a benchmark should not
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


def run_worker(lib: str, workload: str, sizes: Sizes, root: Path) -> dict[str, Any]:
    """Run one workload of one library in a fresh interpreter; return what it measured."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{lib}-{workload}-", dir=root))
    template = root / "mlflow-template.db"
    if lib == "mlflow" and workload != "prepare":
        shutil.copyfile(template, tmp / "mlflow.db")
    out = tmp / "result.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        lib,
        workload,
        "--tmp",
        str(tmp),
        "--sizes",
        json.dumps(asdict(sizes)),
        "--result",
        str(out),
    ]
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
        raise WorkerFailed(
            f"{lib} {workload} worker failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(out.read_text())
    if workload == "prepare":
        shutil.copyfile(tmp / "mlflow.db", template)
    shutil.rmtree(tmp, ignore_errors=True)
    return result


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


# the table -------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the table; times in seconds, None where there is no figure."""

    id: str
    label: str
    mltrack_s: float | None
    mlflow_s: float | None
    target_s: float | None = None
    mlflow_note: str = ""  # e.g. "extrapolated from 100,000 points"
    mltrack_note: str = ""

    @property
    def ratio(self) -> float | None:
        """MLflow's time over mltrack's: how many times faster mltrack is."""
        if self.mltrack_s and self.mlflow_s:
            return self.mlflow_s / self.mltrack_s
        return None

    @property
    def met(self) -> bool | None:
        if self.target_s is None or self.mltrack_s is None:
            return None
        return self.mltrack_s <= self.target_s


def _n(count: int) -> str:
    """1000000 → '1M', 100000 → '100k', 300 → '300'."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= size and count % size == 0:
            return f"{count // size}{suffix}"
    return f"{count:,}"


def _scaled(measured_s: float, measured: int, full: int, what: str) -> tuple[float, str]:
    """Scale a figure measured at a smaller size linearly to ``full``, and say so."""
    if measured >= full:
        return measured_s, ""
    return measured_s * full / measured, f"extrapolated from {measured:,} {what}"


class _Results:
    """Look-ups into the workers' results that tolerate a workload or library not run."""

    def __init__(self, raw: dict[str, dict[str, Any]]):
        self.raw = raw

    def get(self, workload: str, lib: str) -> dict[str, Any] | None:
        result = self.raw.get(workload, {}).get(lib)
        return None if result is None or result.get("unavailable") else result

    def time(self, workload: str, lib: str, *path: str) -> float | None:
        value: Any = self.get(workload, lib)
        for part in path:
            if value is None:
                return None
            value = value[part]
        return None if value is None else float(value)

    def scaled(
        self, workload: str, lib: str, full: int, count: str, what: str
    ) -> tuple[float | None, str]:
        result = self.get(workload, lib)
        if result is None:
            return None, ""
        return _scaled(result["durable_s"], result[count], full, what)


def _split(result: dict[str, Any] | None) -> str:
    if result is None:
        return ""
    return f"log {result['log_s']:.2f} s + flush {result['flush_s']:.2f} s"


def build_rows(raw: dict[str, dict[str, Any]], sizes: Sizes) -> list[Row]:
    """Turn the workers' measurements into table rows (a workload not run gives no row)."""
    res = _Results(raw)
    rows: list[Row] = []
    points, steps = _n(sizes.points), _n(sizes.metric_steps)

    if "import" in raw:
        rows.append(
            Row(
                "import",
                f"`import` in a fresh interpreter (median of {sizes.import_repeats})",
                res.time("import", "mltrack", "median_s"),
                res.time("import", "mlflow", "median_s"),
                0.3,
            )
        )

    if "log_metric" in raw:
        mt, mf = res.get("log_metric", "mltrack"), res.get("log_metric", "mlflow")
        rows.append(
            Row(
                "log_metric_call",
                "`log_metric` call latency (median per call)",
                res.time("log_metric", "mltrack", "per_call_median_s"),
                res.time("log_metric", "mlflow", "per_call_median_s"),
                2e-6,
                mltrack_note=f"{mt['calls']:,} calls timed in blocks of {mt['block']:,}"
                if mt
                else "",
                mlflow_note=f"{mf['calls']:,} calls, each timed" if mf else "",
            )
        )
        calls = mt["calls"] if mt else sizes.log_metric_calls
        rows.append(
            Row(
                "log_metric_flush",
                f"`flush()` after the {_n(calls)} `log_metric` calls",
                res.time("log_metric", "mltrack", "flush_s"),
                None,
                mlflow_note="n/a: each call writes synchronously",
            )
        )
        mf_s, note = res.scaled("log_metric", "mlflow", calls, "calls", "calls")
        rows.append(
            Row(
                "log_metric_durable",
                f"{_n(calls)} `log_metric` calls until durable (loop + flush)",
                res.time("log_metric", "mltrack", "durable_s"),
                mf_s,
                mlflow_note=note,
            )
        )

    mlflow_batch_s, mlflow_batch_note = res.scaled(
        "points_batch", "mlflow", sizes.points, "points", "points"
    )
    if "points_batch" in raw:
        mt = res.get("points_batch", "mltrack")
        rows.append(
            Row(
                "points_batch",
                f"{points} points ({sizes.metric_keys} keys {TIMES} {steps} steps) until durable, "
                "`log_batch` of `Metric` objects",
                res.time("points_batch", "mltrack", "durable_s"),
                mlflow_batch_s,
                1.5,
                mlflow_note=mlflow_batch_note,
                mltrack_note=f"{mt['chunk']:,} points a call; {_split(mt)}" if mt else "",
            )
        )

    if "points_series" in raw:
        mt = raw["points_series"].get("mltrack")
        unavailable = bool(mt and mt.get("unavailable"))
        rows.append(
            Row(
                "points_series",
                f"{points} points until durable, `log_metric_series` (numpy columns)",
                res.time("points_series", "mltrack", "durable_s"),
                mlflow_batch_s,
                1.5,
                mlflow_note="; ".join(
                    x for x in ("no columnar API, its `log_batch` figure", mlflow_batch_note) if x
                ),
                mltrack_note="API not in this checkout"
                if unavailable
                else (f"one call per key; {_split(res.get('points_series', 'mltrack'))}"),
            )
        )

    if "points_loop" in raw:
        mf_s, note = res.scaled("points_loop", "mlflow", sizes.points, "points", "points")
        rows.append(
            Row(
                "points_loop",
                f"{points} points until durable, one fluent `log_metric` call each",
                res.time("points_loop", "mltrack", "durable_s"),
                mf_s,
                mlflow_note=note,
                mltrack_note=_split(res.get("points_loop", "mltrack")),
            )
        )

    if "history" in raw:
        rows.append(
            Row(
                "history",
                f"read one {_n(sizes.history_points)}-point metric history (median)",
                res.time("history", "mltrack", "median_s"),
                res.time("history", "mlflow", "median_s"),
                0.05,
            )
        )

    if "runs" in raw:
        n = _n(sizes.runs)
        rows.append(
            Row(
                "runs_setup",
                f"setup: create {n} runs (5 params, 3 metrics, 2 tags each)",
                res.time("runs", "mltrack", "setup_s"),
                res.time("runs", "mlflow", "setup_s"),
            )
        )
        rows.append(
            Row(
                "runs_search",
                f"`search_runs` over {n} runs: metric + param filter, order by metric, top 100 "
                "(median)",
                res.time("runs", "mltrack", "search", "median_s"),
                res.time("runs", "mlflow", "search", "median_s"),
                0.05,
            )
        )
        rows.append(
            Row(
                "runs_frame",
                f"all {n} runs as a DataFrame (`search_runs`, median)",
                res.time("runs", "mltrack", "frame", "median_s"),
                res.time("runs", "mlflow", "frame", "median_s"),
                0.3,
            )
        )
    return rows


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    if ratio >= 100:
        return f"{ratio:,.0f}{TIMES} faster"
    if ratio >= 1:
        return f"{ratio:.1f}{TIMES} faster"
    return f"{1 / ratio:.1f}{TIMES} slower"


def markdown_table(rows: list[Row], mlflow_version: str) -> str:
    """The rows as a markdown table: workload | mltrack | MLflow | ratio | target | met?."""
    header = [
        "workload",
        "jupyter-mltrack",
        f"MLflow {mlflow_version}",
        f"ratio (MLflow {chr(0xF7)} mltrack)",
        "target",
        "met?",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        mlflow_cell = _fmt_time(row.mlflow_s)
        if row.mlflow_note:
            mlflow_cell = f"{mlflow_cell} ({row.mlflow_note})" if row.mlflow_s else row.mlflow_note
        cells = [
            row.label,
            _fmt_time(row.mltrack_s),
            mlflow_cell,
            _fmt_ratio(row.ratio),
            f"≤ {_fmt_time(row.target_s)}" if row.target_s is not None else "—",
            {None: "—", True: "yes", False: "**NO**"}[row.met],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def notes(rows: list[Row], raw: dict[str, dict[str, Any]]) -> list[str]:
    """What the table has no room for: how mltrack's figures split, first calls, checks."""
    out = [f"- {r.label}: mltrack {r.mltrack_note}" for r in rows if r.mltrack_note]
    res = _Results(raw)
    runs = {lib: res.get("runs", lib) for lib in LIBS}
    if runs["mltrack"] and runs["mlflow"]:
        same = runs["mltrack"]["search_top"] == runs["mlflow"]["search_top"]
        out.append(f"- `search_runs` top 100: both libraries return the same runs in order: {same}")
    for lib in LIBS:
        run = runs[lib]
        if run:
            out.append(
                f"- {lib} first calls (not in the medians): search "
                f"{_fmt_time(run['search']['first_s'])}, DataFrame "
                f"{_fmt_time(run['frame']['first_s'])}"
            )
        history = res.get("history", lib)
        if history:
            out.append(f"- {lib} first history read: {_fmt_time(history['first_s'])}")
    return out


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


def _meta(sizes: Sizes, quick: bool) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # other work on the machine inflates every figure: keep the load beside the results
        "load_average_1m": _load_average(),
        "versions": {d: _version(d) for d in ("jupyter-mltrack", "mlflow", "duckdb", "pyarrow")},
        "sizes": asdict(sizes),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; ``args.sizes`` is the :class:`Sizes` to run."""
    parser = argparse.ArgumentParser(
        description="Benchmark jupyter-mltrack's tracking core against MLflow."
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
        help="points MLflow logs in the log_batch workload (default: all); its figure is then "
        "scaled linearly to the full size and marked as extrapolated",
    )
    parser.add_argument(
        "--lib",
        action="append",
        choices=LIBS,
        metavar="LIB",
        help="run only this library (repeatable): mltrack, mlflow",
    )
    parser.add_argument("--json", type=Path, default=None, help=f"default: {DEFAULT_JSON}")
    parser.add_argument("--worker", nargs=2, metavar=("LIB", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.tmp is None or args.result is None or args.sizes is None:
            parser.error("--worker needs --tmp, --sizes and --result")
        if tuple(args.worker) not in WORKERS:
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
    args.sizes = sizes
    return args


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run_all(
    workloads: list[str], libs: list[str], sizes: Sizes
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Run every selected workload for each library, one fresh process each, in turn."""
    raw: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mltrack-bench-") as root_name:
        root = Path(root_name)
        if "mlflow" in libs and any(w != "import" for w in workloads):
            _progress("preparing the MLflow template database")
            run_worker("mlflow", "prepare", sizes, root)
        for workload in workloads:
            for lib in libs:
                if workload != "import" and (lib, workload) not in WORKERS:
                    continue  # MLflow has no columnar API to compare with log_metric_series
                _progress(f"{workload}: {lib}")
                try:
                    if workload == "import":
                        result = import_times(lib, sizes.import_repeats, root)
                    else:
                        result = run_worker(lib, workload, sizes, root)
                except (WorkerFailed, subprocess.TimeoutExpired) as exc:
                    failures.append(str(exc))
                    _progress(f"FAILED: {exc}")
                    continue
                raw.setdefault(workload, {})[lib] = result
    return raw, failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        lib, workload = args.worker
        result = WORKERS[(lib, workload)](args.tmp, args.sizes)
        args.result.write_text(json.dumps(result))
        return 0

    sizes: Sizes = args.sizes
    workloads = [w for w in WORKLOADS if not args.only or w in args.only]
    json_path: Path = args.json or (
        DEFAULT_JSON.with_name("tracking-quick.json") if args.quick else DEFAULT_JSON
    )
    meta = _meta(sizes, args.quick)
    mlflow_version = meta["versions"]["mlflow"]

    started = time.perf_counter()
    libs = [lib for lib in LIBS if not args.lib or lib in args.lib]
    raw, failures = run_all(workloads, libs, sizes)
    rows = build_rows(raw, sizes)

    print(f"\n## Tracking core: jupyter-mltrack vs MLflow {mlflow_version}\n")
    print(
        f"{meta['platform']}, {meta['cpus']} CPUs, Python {meta['python']}, "
        f"duckdb {meta['versions']['duckdb']}, MLflow on SQLite with local artifacts.\n"
    )
    if args.quick:
        print("_Quick run: reduced sizes; the targets are set for the full sizes._\n")
    print(markdown_table(rows, mlflow_version))
    extra = notes(rows, raw)
    if extra:
        print("\nNotes:\n" + "\n".join(extra))
    meta["load_average_1m_end"] = _load_average()
    print(
        f"\n(wall time {time.perf_counter() - started:.0f} s; load average "
        f"{meta['load_average_1m']} at the start, {meta['load_average_1m_end']} at the end; "
        f"JSON in {json_path})"
    )

    json_path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "meta": meta,
        "rows": [{**asdict(r), "ratio": r.ratio, "met": r.met} for r in rows],
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
