"""The measured code of the tracking benchmark: one function per (library, workload).

Each function runs in a fresh interpreter started by ``bench_tracking.py`` (``--worker LIB
WORKLOAD``), in its own temporary directory, and returns what it measured as a JSON-ready dict.
Only the standard library is imported at module level, so that each worker imports exactly one
of the two libraries and pays its import cost alone.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MLFLOW_BATCH_LIMIT = 1000  # MLflow refuses log_batch calls with more metrics than this

perf = time.perf_counter


# sizes ---------------------------------------------------------------------------------------
@dataclass
class Sizes:
    """How big each workload is. ``quick()`` gives the smoke-run sizes."""

    log_metric_calls: int = 200_000  # mltrack calls timed in the latency loop
    log_metric_block: int = 1_000  # mltrack calls per timed block (per-call = block / calls)
    mlflow_log_metric_calls: int = 300  # MLflow calls (each ~5 ms), timed one by one
    metric_keys: int = 10  # the 1M-point workload: keys times steps
    metric_steps: int = 100_000
    batch_chunk: int = 10_000  # points per MltrackClient.log_batch call
    mlflow_points: int = 1_000_000  # points MLflow logs in the batch workload (then scaled)
    mlflow_loop_points: int = 1_000  # points MLflow logs one call at a time (then scaled)
    history_points: int = 100_000
    history_repeats: int = 7
    mlflow_history_repeats: int = 3
    runs: int = 10_000
    query_repeats: int = 7
    mlflow_query_repeats: int = 5
    mlflow_frame_repeats: int = 3
    import_repeats: int = 5

    @property
    def points(self) -> int:
        return self.metric_keys * self.metric_steps

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            log_metric_calls=20_000,
            mlflow_log_metric_calls=30,
            metric_steps=5_000,
            mlflow_points=5_000,
            mlflow_loop_points=100,
            history_points=10_000,
            history_repeats=3,
            mlflow_history_repeats=2,
            runs=200,
            query_repeats=3,
            mlflow_query_repeats=2,
            mlflow_frame_repeats=2,
            import_repeats=2,
        )


# small helpers -------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    return statistics.median(values)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = perf()
    out = fn()
    return perf() - t0, out


def _repeat(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """Time ``fn`` ``repeats`` + 1 times: the first call apart, the median of the rest."""
    first, out = _timed(fn)
    times = [_timed(fn)[0] for _ in range(repeats)]
    return {"first_s": first, "median_s": _median(times), "times_s": times, "result": out}


def _check(condition: bool, message: str) -> None:
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


def _run_specs(n: int) -> list[RunSpec]:
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


def _expected_top(specs: list[RunSpec], k: int = 100) -> list[str]:
    hits = [s for s in specs if s.metrics["m0"] > 0.5 and s.params["p0"] == "a"]
    hits.sort(key=lambda s: s.metrics["m1"], reverse=True)
    return [s.name for s in hits[:k]]


# jupyter-mltrack workers ---------------------------------------------------------------------
def _mlt_fluent(tmp: Path) -> Any:
    import jupyter_mltrack as mlt

    mlt.set_store(tmp / "store")
    return mlt


def mltrack_log_metric(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """Fluent ``mlt.log_metric`` latency, then the ``flush()`` that makes it durable."""
    mlt = _mlt_fluent(tmp)
    mlt.set_experiment("bench")
    run = mlt.start_run(run_name="latency")
    for i in range(1_000):  # warm-up: first-call paths, key validation cache, store open
        mlt.log_metric("warmup", 0.5, step=i)
    mlt.flush()

    log_metric = mlt.log_metric
    block, n_blocks = sizes.log_metric_block, sizes.log_metric_calls // sizes.log_metric_block
    per_call: list[float] = []
    t_start = perf()
    for b in range(n_blocks):
        t0 = perf()
        for step in range(b * block, (b + 1) * block):
            log_metric("loss", 0.25, step=step)
        per_call.append((perf() - t0) / block)
    t_loop = perf()
    mlt.flush()
    t_durable = perf()

    calls = block * n_blocks
    _check(len(mlt.get_metric_history(run.info.run_id, "loss")) == calls, "mltrack lost points")
    mlt.end_run()
    return {
        "calls": calls,
        "block": block,
        "per_call_median_s": _median(per_call),
        "loop_s": t_loop - t_start,
        "flush_s": t_durable - t_loop,
        "durable_s": t_durable - t_start,
    }


def mltrack_points_batch(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """keys x steps points through ``MltrackClient.log_batch`` in chunks, then ``flush()``."""
    mlt = _mlt_fluent(tmp)
    from jupyter_mltrack import Metric

    client = mlt.client()
    exp = client.create_experiment("bench")
    run_id = client.create_run(exp, run_name="points").info.run_id
    keys = [f"metric_{k}" for k in range(sizes.metric_keys)]
    ts = int(time.time() * 1000)
    steps_per_chunk = max(1, sizes.batch_chunk // len(keys))

    t0 = perf()
    for start in range(0, sizes.metric_steps, steps_per_chunk):
        stop = min(start + steps_per_chunk, sizes.metric_steps)
        # building the Metric objects is part of the cost: it is what the caller has to do
        chunk = [Metric(k, s * 1e-3, ts, s) for s in range(start, stop) for k in keys]
        client.log_batch(run_id, metrics=chunk)
    t_logged = perf()
    client.flush()
    t_durable = perf()

    for key in (keys[0], keys[-1]):
        _check(len(client.get_metric_history(run_id, key)) == sizes.metric_steps, "lost points")
    return {
        "points": sizes.points,
        "chunk": steps_per_chunk * len(keys),
        "log_s": t_logged - t0,
        "flush_s": t_durable - t_logged,
        "durable_s": t_durable - t0,
    }


def mltrack_points_series(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """The columnar path: one ``log_metric_series`` call per key, from numpy arrays."""
    mlt = _mlt_fluent(tmp)
    client = mlt.client()
    if not hasattr(client, "log_metric_series"):
        return {"unavailable": True}  # the API is newer than this checkout
    import numpy as np

    exp = client.create_experiment("bench")
    run_id = client.create_run(exp, run_name="series").info.run_id
    keys = [f"metric_{k}" for k in range(sizes.metric_keys)]
    ts = int(time.time() * 1000)

    t0 = perf()
    for key in keys:
        steps = np.arange(sizes.metric_steps, dtype=np.int64)
        client.log_metric_series(
            run_id, key, steps * 1e-3, steps, np.full(sizes.metric_steps, ts, dtype=np.int64)
        )
    t_logged = perf()
    client.flush()
    t_durable = perf()

    for key in (keys[0], keys[-1]):
        _check(len(client.get_metric_history(run_id, key)) == sizes.metric_steps, "lost points")
    return {
        "points": sizes.points,
        "log_s": t_logged - t0,
        "flush_s": t_durable - t_logged,
        "durable_s": t_durable - t0,
    }


def mltrack_points_loop(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """keys x steps points, one fluent ``log_metric`` call each, then ``flush()``."""
    mlt = _mlt_fluent(tmp)
    mlt.set_experiment("bench")
    run = mlt.start_run(run_name="points-loop")
    keys = [f"metric_{k}" for k in range(sizes.metric_keys)]
    log_metric = mlt.log_metric

    t0 = perf()
    for step in range(sizes.metric_steps):
        for key in keys:
            log_metric(key, step * 1e-3, step=step)
    t_logged = perf()
    mlt.flush()
    t_durable = perf()

    _check(
        len(mlt.get_metric_history(run.info.run_id, keys[0])) == sizes.metric_steps, "lost points"
    )
    mlt.end_run()
    return {
        "points": sizes.points,
        "log_s": t_logged - t0,
        "flush_s": t_durable - t_logged,
        "durable_s": t_durable - t0,
    }


def mltrack_history(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """Write one long metric history, then time ``MltrackClient.get_metric_history``."""
    mlt = _mlt_fluent(tmp)
    from jupyter_mltrack import Metric

    client = mlt.client()
    exp = client.create_experiment("bench")
    run_id = client.create_run(exp, run_name="history").info.run_id
    ts = int(time.time() * 1000)
    for start in range(0, sizes.history_points, sizes.batch_chunk):
        stop = min(start + sizes.batch_chunk, sizes.history_points)
        chunk = [Metric("loss", s * 1e-3, ts, s) for s in range(start, stop)]
        client.log_batch(run_id, metrics=chunk)
    client.flush()

    timing = _repeat(lambda: client.get_metric_history(run_id, "loss"), sizes.history_repeats)
    history = timing.pop("result")
    _check(len(history) == sizes.history_points, "wrong history length")
    _check(history[len(history) - 1].step == sizes.history_points - 1, "history out of order")
    return {"points": sizes.history_points, **timing}


def mltrack_runs(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """Create the runs, then time a filtered search and the all-runs DataFrame."""
    mlt = _mlt_fluent(tmp)
    from jupyter_mltrack import Metric, Param, RunTag

    client = mlt.client()
    exp = client.create_experiment("bench")
    specs = _run_specs(sizes.runs)
    ts = int(time.time() * 1000)

    t0 = perf()
    for spec in specs:
        run_id = client.create_run(exp, run_name=spec.name, start_time=ts).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, 0) for k, v in spec.metrics.items()],
            params=[Param(k, v) for k, v in spec.params.items()],
            tags=[RunTag(k, v) for k, v in spec.tags.items()],
        )
    client.flush()
    setup_s = perf() - t0

    search = _repeat(
        lambda: client.search_runs([exp], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100),
        sizes.query_repeats,
    )
    top = [r.info.run_name for r in search.pop("result")]
    _check(top == _expected_top(specs), "mltrack search_runs returned the wrong runs")

    frame = _repeat(lambda: mlt.search_runs(experiment_ids=[exp]), sizes.query_repeats)
    df = frame.pop("result")
    _check(len(df) == sizes.runs, f"DataFrame has {len(df)} rows, expected {sizes.runs}")
    _check("metrics.m0" in df.columns and "params.p4" in df.columns, "DataFrame lacks columns")
    return {
        "runs": sizes.runs,
        "setup_s": setup_s,
        "search": search,
        "search_top": top,
        "frame": frame,
        "frame_columns": len(df.columns),
    }


# MLflow workers ------------------------------------------------------------------------------
def _mlflow(tmp: Path) -> tuple[Any, Any, str]:
    """MLflow on this worker's copy of the template database; returns (mlflow, client, exp)."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    client = MlflowClient()
    exp = client.create_experiment("bench", artifact_location=(tmp / "mlartifacts").as_uri())
    return mlflow, client, exp


def _mlflow_metrics(keys: list[str], start: int, stop: int, ts: int) -> list[Any]:
    from mlflow.entities import Metric

    return [Metric(k, s * 1e-3, ts, s) for s in range(start, stop) for k in keys]


def mlflow_log_metric(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """Fluent ``mlflow.log_metric`` latency; each call is durable when it returns."""
    mlflow, client, exp = _mlflow(tmp)
    run = mlflow.start_run(experiment_id=exp, run_name="latency")
    for i in range(5):  # warm-up
        mlflow.log_metric("warmup", 0.5, step=i)

    log_metric = mlflow.log_metric
    per_call: list[float] = []
    t_start = perf()
    for step in range(sizes.mlflow_log_metric_calls):
        t0 = perf()
        log_metric("loss", 0.25, step=step)
        per_call.append(perf() - t0)
    t_durable = perf()

    calls = sizes.mlflow_log_metric_calls
    _check(len(client.get_metric_history(run.info.run_id, "loss")) == calls, "MLflow lost points")
    mlflow.end_run()
    return {
        "calls": calls,
        "block": 1,
        "per_call_median_s": _median(per_call),
        "loop_s": t_durable - t_start,
        "durable_s": t_durable - t_start,
    }


def mlflow_points_batch(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """``mlflow_points`` points through ``MlflowClient.log_batch``, 1,000 per call."""
    _, client, exp = _mlflow(tmp)
    run_id = client.create_run(exp, run_name="points").info.run_id
    keys = [f"metric_{k}" for k in range(sizes.metric_keys)]
    steps = sizes.mlflow_points // len(keys)
    ts = int(time.time() * 1000)
    steps_per_call = MLFLOW_BATCH_LIMIT // len(keys)

    t0 = perf()
    for start in range(0, steps, steps_per_call):
        metrics = _mlflow_metrics(keys, start, min(start + steps_per_call, steps), ts)
        client.log_batch(run_id, metrics=metrics)
    t_durable = perf()

    _check(len(client.get_metric_history(run_id, keys[-1])) == steps, "MLflow lost points")
    return {"points": steps * len(keys), "chunk": MLFLOW_BATCH_LIMIT, "durable_s": t_durable - t0}


def mlflow_points_loop(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """``mlflow_loop_points`` points, one fluent ``mlflow.log_metric`` call each."""
    mlflow, client, exp = _mlflow(tmp)
    run = mlflow.start_run(experiment_id=exp, run_name="points-loop")
    keys = [f"metric_{k}" for k in range(sizes.metric_keys)]
    steps = max(1, sizes.mlflow_loop_points // len(keys))
    log_metric = mlflow.log_metric

    t0 = perf()
    for step in range(steps):
        for key in keys:
            log_metric(key, step * 1e-3, step=step)
    t_durable = perf()

    _check(len(client.get_metric_history(run.info.run_id, keys[0])) == steps, "lost points")
    mlflow.end_run()
    return {"points": steps * len(keys), "durable_s": t_durable - t0}


def mlflow_history(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """Write one long metric history, then time ``MlflowClient.get_metric_history``."""
    _, client, exp = _mlflow(tmp)
    run_id = client.create_run(exp, run_name="history").info.run_id
    ts = int(time.time() * 1000)
    for start in range(0, sizes.history_points, MLFLOW_BATCH_LIMIT):
        stop = min(start + MLFLOW_BATCH_LIMIT, sizes.history_points)
        client.log_batch(run_id, metrics=_mlflow_metrics(["loss"], start, stop, ts))

    timing = _repeat(
        lambda: client.get_metric_history(run_id, "loss"), sizes.mlflow_history_repeats
    )
    history = timing.pop("result")
    _check(len(history) == sizes.history_points, "wrong history length")
    return {"points": sizes.history_points, **timing}


def mlflow_runs(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """Create the runs, then time a filtered search and ``mlflow.search_runs``."""
    mlflow, client, exp = _mlflow(tmp)
    from mlflow.entities import Metric, Param, RunTag

    specs = _run_specs(sizes.runs)
    ts = int(time.time() * 1000)

    t0 = perf()
    for spec in specs:
        run_id = client.create_run(exp, run_name=spec.name, start_time=ts).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, 0) for k, v in spec.metrics.items()],
            params=[Param(k, v) for k, v in spec.params.items()],
            tags=[RunTag(k, v) for k, v in spec.tags.items()],
        )
    setup_s = perf() - t0

    search = _repeat(
        lambda: client.search_runs([exp], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100),
        sizes.mlflow_query_repeats,
    )
    top = [r.info.run_name for r in search.pop("result")]
    _check(top == _expected_top(specs), "MLflow search_runs returned unexpected runs")

    frame = _repeat(lambda: mlflow.search_runs(experiment_ids=[exp]), sizes.mlflow_frame_repeats)
    df = frame.pop("result")
    _check(len(df) == sizes.runs, f"DataFrame has {len(df)} rows, expected {sizes.runs}")
    return {
        "runs": sizes.runs,
        "setup_s": setup_s,
        "search": search,
        "search_top": top,
        "frame": frame,
        "frame_columns": len(df.columns),
    }


def mlflow_prepare(tmp: Path, sizes: Sizes) -> dict[str, Any]:
    """Create the migrated template database the MLflow workers copy."""
    from mlflow import MlflowClient

    t0 = perf()
    MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}").search_experiments()
    return {"migrate_s": perf() - t0}


WORKERS: dict[tuple[str, str], Callable[[Path, Sizes], dict[str, Any]]] = {
    ("mltrack", "log_metric"): mltrack_log_metric,
    ("mltrack", "points_batch"): mltrack_points_batch,
    ("mltrack", "points_series"): mltrack_points_series,
    ("mltrack", "points_loop"): mltrack_points_loop,
    ("mltrack", "history"): mltrack_history,
    ("mltrack", "runs"): mltrack_runs,
    ("mlflow", "log_metric"): mlflow_log_metric,
    ("mlflow", "points_batch"): mlflow_points_batch,
    ("mlflow", "points_loop"): mlflow_points_loop,
    ("mlflow", "history"): mlflow_history,
    ("mlflow", "runs"): mlflow_runs,
    ("mlflow", "prepare"): mlflow_prepare,
}
