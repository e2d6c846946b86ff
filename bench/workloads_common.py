"""What the tracking benchmark's workers share: sizes, where a worker logs, checks, the data.

Only the standard library is imported at module level (see ``tracking_workloads``).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MLFLOW_BATCH_LIMIT = 1000  # MLflow refuses log_batch calls with more metrics than this
SERVER_PATHS = ("mltrack-server", "mlflow-server")

perf = time.perf_counter


# sizes ---------------------------------------------------------------------------------------
@dataclass
class Sizes:
    """How big each workload is. ``quick()`` gives the smoke-run sizes.

    MLflow takes milliseconds per call where jupyter-mltrack takes microseconds, so its cells
    run smaller sizes (``mlflow_*``) and are scaled linearly to the full size, labelled so.
    """

    log_metric_calls: int = 2_000_000  # mltrack calls in the sustained loop
    log_metric_block: int = 1_000  # mltrack calls per timed block
    mlflow_log_metric_calls: int = 300  # MLflow calls (each several ms), timed one by one
    metric_keys: int = 10  # the 1M-point workloads: keys times steps
    metric_steps: int = 100_000
    batch_chunk: int = 10_000  # points per MltrackClient.log_batch call
    mlflow_points: int = 100_000  # points MLflow logs in the log_batch workload (then scaled)
    mlflow_loop_points: int = 500  # points MLflow logs one call at a time (then scaled)
    history_points: int = 200_000
    mlflow_history_points: int = 50_000  # MLflow writes and reads a shorter history (scaled)
    history_repeats: int = 7
    mlflow_history_repeats: int = 3
    runs: int = 10_000  # runs the search workload searches
    mlflow_api_runs: int = 200  # of those, MLflow creates this many through its API (scaled)
    query_repeats: int = 7
    mlflow_query_repeats: int = 5
    mlflow_frame_repeats: int = 2
    import_repeats: int = 5
    lifecycle_runs: int = 10_000  # the run-lifecycle workload's full size
    lifecycle_budget_s: float = 20.0  # mltrack stops early past this and the figure is scaled
    lifecycle_warmup: int = 20
    mlflow_lifecycle_runs: int = 200
    mlflow_lifecycle_budget_s: float = 20.0
    size_levels: list[int] = field(default_factory=lambda: [0, 10_000, 25_000, 50_000, 100_000])
    size_window: int = 500  # runs timed at each store size
    size_window_budget_s: float = 8.0  # a window stops early past this (at least 50 runs)
    size_warmup: int = 50  # untimed runs before each window (a fresh process each window)
    fill_api_budget_s: float = 60.0  # --fill auto: the API fills a step if it takes less

    @property
    def points(self) -> int:
        return self.metric_keys * self.metric_steps

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            log_metric_calls=20_000,
            mlflow_log_metric_calls=20,
            metric_steps=5_000,
            mlflow_points=5_000,
            mlflow_loop_points=50,
            history_points=10_000,
            mlflow_history_points=5_000,
            history_repeats=3,
            mlflow_history_repeats=2,
            runs=200,
            mlflow_api_runs=50,
            query_repeats=3,
            mlflow_query_repeats=2,
            mlflow_frame_repeats=1,
            import_repeats=1,
            lifecycle_runs=100,
            lifecycle_budget_s=5.0,
            lifecycle_warmup=5,
            mlflow_lifecycle_runs=10,
            mlflow_lifecycle_budget_s=5.0,
            size_levels=[0, 300],
            size_window=30,
            size_window_budget_s=3.0,
            size_warmup=5,
            fill_api_budget_s=2.0,
        )


@dataclass
class Target:
    """Where a worker logs: its path, temporary folder, and the server it was given."""

    path: str  # mltrack, mltrack-server, mlflow or mlflow-server
    tmp: Path
    extra: dict[str, Any] = field(default_factory=dict)  # tracking_uri, mlflow_db, window …

    @property
    def server(self) -> bool:
        return self.path in SERVER_PATHS

    @property
    def store_dir(self) -> Path:
        """The worker's own store, or the one a shared server owns (``--quick``)."""
        return Path(self.extra["store"]) if "store" in self.extra else self.tmp / "store"


# small helpers -------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = perf()
    out = fn()
    return perf() - t0, out


def repeat(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """Time ``fn`` ``repeats`` + 1 times: the first call apart, the median of the rest."""
    first, out = timed(fn)
    times = [timed(fn)[0] for _ in range(repeats)]
    return {"first_s": first, "median_s": median(times), "times_s": times, "result": out}


def check(condition: bool, message: str) -> None:
    # a benchmark that measured the wrong thing must fail loudly, not print a nice number
    if not condition:
        raise SystemExit(f"benchmark sanity check failed: {message}")


@dataclass
class RunSpec:
    """One of the runs of the search workload: identical data for both libraries."""

    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def run_specs(n: int) -> list[RunSpec]:
    rng = random.Random(20240611)
    specs = []
    for i in range(n):
        specs.append(
            RunSpec(
                name=f"run-{i:05d}",
                params={
                    "p0": "abcd"[i % 4],
                    "p1": str(rng.randint(1, 100)),
                    "p2": rng.choice(["adam", "sgd", "rmsprop"]),
                    "p3": f"{rng.random():.6f}",
                    "p4": f"v{i % 7}",
                },
                metrics={"m0": rng.random(), "m1": rng.random(), "m2": rng.random()},
                tags={"team": f"team-{i % 3}", "stage": "bench"},
            )
        )
    return specs


SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
SEARCH_ORDER = ["metrics.m1 DESC"]


def expected_top(specs: list[RunSpec], k: int = 100) -> list[str]:
    hits = [s for s in specs if s.metrics["m0"] > 0.5 and s.params["p0"] == "a"]
    hits.sort(key=lambda s: s.metrics["m1"], reverse=True)
    return [s.name for s in hits[:k]]


# the run lifecycle, the same calls for both libraries ------------------------------------------
LIFECYCLE_PARAMS = {"lr": 0.01, "batch_size": 32, "optimizer": "adam", "layers": 4, "dropout": 0.1}
LIFECYCLE_METRICS = ("m0", "m1", "m2")


def lifecycles(api: Any, first: int, count: int, tags: dict[str, str]) -> None:
    """``count`` runs through a fluent API (``jupyter_mltrack`` or ``mlflow``): start, 5 params
    (``log_params``), 3 metrics (``log_metric``), 2 tags (``set_tags``), end."""
    start_run, log_params, log_metric, set_tags = (
        api.start_run,
        api.log_params,
        api.log_metric,
        api.set_tags,
    )
    for i in range(first, first + count):
        with start_run():
            log_params(LIFECYCLE_PARAMS)
            log_metric("m0", i * 1e-3)
            log_metric("m1", 0.5)
            log_metric("m2", 1.0 - i * 1e-3)
            set_tags(tags)


def budgeted_lifecycles(
    api: Any,
    limit: int,
    budget_s: float,
    tags: dict[str, str],
    flush: Callable[[], None] | None,
    least: int = 1,
) -> dict[str, Any]:
    """Up to ``limit`` lifecycles, in chunks, stopping early once ``budget_s`` has passed (and
    at least ``least`` runs are done); then ``flush()`` (mltrack's), so the time is until
    durable. MLflow's calls write synchronously: it passes None."""
    chunk = max(1, min(100, limit // 20))
    done = 0
    t0 = perf()
    while done < limit:
        count = min(chunk, limit - done)
        lifecycles(api, done, count, tags)
        done += count
        if perf() - t0 >= budget_s and done >= least:
            break
    t_loop = perf()
    if flush is not None:
        flush()
    t_durable = perf()
    return {
        "runs": done,
        "loop_s": t_loop - t0,
        "flush_s": t_durable - t_loop,
        "durable_s": t_durable - t0,
        "per_run_s": (t_durable - t0) / done,
    }


def check_lifecycle_frame(df: Any, runs: int, who: str) -> None:
    """The runs of a lifecycle loop, as a DataFrame, hold everything that was logged."""
    check(len(df) == runs, f"{who}: {len(df)} runs stored, expected {runs}")
    if not runs:
        return
    check(bool((df["status"] == "FINISHED").all()), f"{who}: not every run is FINISHED")
    columns = [f"params.{k}" for k in LIFECYCLE_PARAMS] + [
        f"metrics.{k}" for k in LIFECYCLE_METRICS
    ]
    columns += ["tags.team", "tags.stage"]
    for column in columns:
        check(column in df.columns, f"{who}: no column {column}")
        check(int(df[column].notna().sum()) == runs, f"{who}: {column} missing in some runs")
    expected = sum(i * 1e-3 for i in range(runs))
    check(math.isclose(float(df["metrics.m0"].sum()), expected, rel_tol=1e-9, abs_tol=1e-6),
           f"{who}: metric values differ from those logged")  # fmt: skip
