"""The jupyter-mltrack workers of the tracking benchmark, for both of its paths.

Each takes a :class:`Target`: ``mltrack`` (embedded, the worker opens the DuckDB file) or
``mltrack-server`` (a Jupyter server the bench started owns the store; the worker's client finds
it through ``server.json``). :func:`_mlt_fluent` checks that the client took the path asked for.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from workloads_common import (
    LIFECYCLE_METRICS,
    LIFECYCLE_PARAMS,
    SEARCH_FILTER,
    SEARCH_ORDER,
    Sizes,
    Target,
    budgeted_lifecycles,
    check,
    check_lifecycle_frame,
    expected_top,
    lifecycles,
    median,
    perf,
    repeat,
    run_specs,
)


def _mlt_fluent(target: Target) -> Any:
    """The fluent API on the worker's store, checked to be on the path the worker is for."""
    import jupyter_mltrack as mlt

    mlt.set_store(target.store_dir)
    store = mlt.client().store
    rest = type(store).__module__.startswith("jupyter_mltrack.store.rest")
    check(
        rest == target.server,
        f"{target.path}: the client opened {type(store).__module__}.{type(store).__name__}",
    )
    return mlt


def _check_not_spooled(target: Target) -> None:
    """``flush()`` also returns when a batch went to the spool because the store could not take
    it: that is not "durable in the store", so a figure measured that way must not count."""
    spool = target.store_dir / "spool"
    pending = sorted(spool.glob("*.json")) if spool.is_dir() else []
    check(not pending, f"{len(pending)} batch(es) were spooled, not written to the store")


def _buffer(mlt: Any) -> Any:
    """The client's log buffer, only to count the flushes seen during a loop (None if hidden)."""
    try:
        return mlt.client().session.buffer
    except AttributeError:
        return None


def mltrack_log_metric(target: Target, sizes: Sizes) -> dict[str, Any]:
    """A sustained loop of fluent ``mlt.log_metric`` calls while the background flusher ships
    batches beside it; then the ``flush()`` that makes the rest durable."""
    mlt = _mlt_fluent(target)
    mlt.set_experiment("bench-log_metric")
    run = mlt.start_run(run_name="latency")
    for i in range(1_000):  # warm-up: first-call paths, key validation cache, store open
        mlt.log_metric("warmup", 0.5, step=i)
    mlt.flush()

    buffer = _buffer(mlt)
    log_metric = mlt.log_metric
    block, n_blocks = sizes.log_metric_block, sizes.log_metric_calls // sizes.log_metric_block
    per_call: list[float] = []
    flushes, buffered = 0, 0
    t_start = perf()
    for b in range(n_blocks):
        t0 = perf()
        for step in range(b * block, (b + 1) * block):
            log_metric("loss", 0.25, step=step)
        per_call.append((perf() - t0) / block)
        if buffer is not None:  # fewer points buffered than were added: a flush took them
            now = len(buffer)
            flushes += now < buffered + block
            buffered = now
    t_loop = perf()
    mlt.flush()
    t_durable = perf()

    calls = block * n_blocks
    _check_not_spooled(target)
    check(len(mlt.get_metric_history(run.info.run_id, "loss")) == calls, "mltrack lost points")
    mlt.end_run()
    return {
        "calls": calls,
        "block": block,
        "per_call_median_s": median(per_call),
        "per_call_mean_s": (t_loop - t_start) / calls,
        "flushes_seen": flushes if buffer is not None else None,
        "loop_s": t_loop - t_start,
        "flush_s": t_durable - t_loop,
        "durable_s": t_durable - t_start,
    }


def mltrack_points_batch(target: Target, sizes: Sizes) -> dict[str, Any]:
    """keys x steps points through ``MltrackClient.log_batch`` in chunks, then ``flush()``."""
    mlt = _mlt_fluent(target)
    from jupyter_mltrack import Metric

    client = mlt.client()
    exp = client.create_experiment("bench-points_batch")
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

    _check_not_spooled(target)
    for key in (keys[0], keys[-1]):
        check(len(client.get_metric_history(run_id, key)) == sizes.metric_steps, "lost points")
    return {
        "points": sizes.points,
        "chunk": steps_per_chunk * len(keys),
        "log_s": t_logged - t0,
        "flush_s": t_durable - t_logged,
        "durable_s": t_durable - t0,
    }


def mltrack_points_series(target: Target, sizes: Sizes) -> dict[str, Any]:
    """The columnar path: one ``log_metric_series`` call per key, from numpy arrays."""
    mlt = _mlt_fluent(target)
    client = mlt.client()
    if not hasattr(client, "log_metric_series"):
        return {"unavailable": True}  # the API is newer than this checkout
    import numpy as np

    exp = client.create_experiment("bench-points_series")
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

    _check_not_spooled(target)
    for key in (keys[0], keys[-1]):
        check(len(client.get_metric_history(run_id, key)) == sizes.metric_steps, "lost points")
    return {
        "points": sizes.points,
        "log_s": t_logged - t0,
        "flush_s": t_durable - t_logged,
        "durable_s": t_durable - t0,
    }


def mltrack_points_loop(target: Target, sizes: Sizes) -> dict[str, Any]:
    """keys x steps points, one fluent ``log_metric`` call each, then ``flush()``."""
    mlt = _mlt_fluent(target)
    mlt.set_experiment("bench-points_loop")
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

    _check_not_spooled(target)
    check(
        len(mlt.get_metric_history(run.info.run_id, keys[0])) == sizes.metric_steps, "lost points"
    )
    mlt.end_run()
    return {
        "points": sizes.points,
        "log_s": t_logged - t0,
        "flush_s": t_durable - t_logged,
        "durable_s": t_durable - t0,
    }


def mltrack_history(target: Target, sizes: Sizes) -> dict[str, Any]:
    """Write one long metric history, then time ``MltrackClient.get_metric_history``."""
    mlt = _mlt_fluent(target)
    from jupyter_mltrack import Metric

    client = mlt.client()
    exp = client.create_experiment("bench-history")
    run_id = client.create_run(exp, run_name="history").info.run_id
    ts = int(time.time() * 1000)
    for start in range(0, sizes.history_points, sizes.batch_chunk):
        stop = min(start + sizes.batch_chunk, sizes.history_points)
        chunk = [Metric("loss", s * 1e-3, ts, s) for s in range(start, stop)]
        client.log_batch(run_id, metrics=chunk)
    client.flush()
    _check_not_spooled(target)

    timing = repeat(lambda: client.get_metric_history(run_id, "loss"), sizes.history_repeats)
    history = timing.pop("result")
    check(len(history) == sizes.history_points, "wrong history length")
    check(history[len(history) - 1].step == sizes.history_points - 1, "history out of order")
    return {"points": sizes.history_points, **timing}


def mltrack_runs(target: Target, sizes: Sizes) -> dict[str, Any]:
    """Create the runs, then time a filtered search and the all-runs DataFrame."""
    mlt = _mlt_fluent(target)
    from jupyter_mltrack import Metric, Param, RunTag

    client = mlt.client()
    exp = client.create_experiment("bench-runs")
    specs = run_specs(sizes.runs)
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
    _check_not_spooled(target)

    search = repeat(
        lambda: client.search_runs([exp], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100),
        sizes.query_repeats,
    )
    top = [r.info.run_name for r in search.pop("result")]
    check(top == expected_top(specs), "mltrack search_runs returned the wrong runs")

    frame = repeat(lambda: mlt.search_runs(experiment_ids=[exp]), sizes.query_repeats)
    df = frame.pop("result")
    check(len(df) == sizes.runs, f"DataFrame has {len(df)} rows, expected {sizes.runs}")
    check("metrics.m0" in df.columns and "params.p4" in df.columns, "DataFrame lacks columns")
    return {
        "runs": sizes.runs,
        "api_runs": sizes.runs,
        "setup_s": setup_s,
        "search": search,
        "search_top": top,
        "frame": frame,
        "frame_columns": len(df.columns),
    }


def _store_runs(mlt: Any) -> int:
    """How many runs the store holds (the store's own count, on either path)."""
    return int(mlt.client().store.info()["counts"]["runs"])


def mltrack_lifecycle(target: Target, sizes: Sizes) -> dict[str, Any]:
    """Fluent ``with mlt.start_run():`` + 5 params + 3 metrics + 2 tags, run after run, then
    ``mlt.flush()``; stops early past the time budget (the figure is then scaled)."""
    mlt = _mlt_fluent(target)
    before = _store_runs(mlt)
    mlt.set_experiment("bench-lifecycle-warm-up")
    lifecycles(mlt, 0, sizes.lifecycle_warmup, {"team": "bench", "stage": "warm-up"})
    mlt.flush()
    exp = mlt.set_experiment("bench-lifecycle").experiment_id

    result = budgeted_lifecycles(
        mlt,
        sizes.lifecycle_runs,
        sizes.lifecycle_budget_s,
        {"team": "bench", "stage": "timed"},
        mlt.flush,
    )
    _check_not_spooled(target)
    check_lifecycle_frame(mlt.search_runs(experiment_ids=[exp]), result["runs"], "mltrack")
    added = _store_runs(mlt) - before
    check(added == sizes.lifecycle_warmup + result["runs"], f"the store gained {added} runs")
    return result


def mltrack_size_window(target: Target, sizes: Sizes) -> dict[str, Any]:
    """One window of the store-size workload: the run lifecycle on a store that already holds
    many runs (all in the experiment the window logs to), in a fresh process."""
    mlt = _mlt_fluent(target)
    label = target.extra["label"]
    exp = mlt.set_experiment("bench").experiment_id
    lifecycles(mlt, 0, sizes.size_warmup, {"team": "bench", "stage": f"{label}-warm-up"})
    mlt.flush()
    before = _store_runs(mlt)

    tags = {"team": "bench", "stage": label}
    result = budgeted_lifecycles(
        mlt,
        sizes.size_window,
        sizes.size_window_budget_s,
        tags,
        mlt.flush,
        min(50, sizes.size_window),
    )
    _check_not_spooled(target)
    client = mlt.client()
    found: list[Any] = []
    token = None
    while True:
        page = client.search_runs([exp], f"tags.stage = '{label}'", page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            break
    check(len(found) == result["runs"], f"window {label}: {len(found)} runs found")
    for run in found:
        check(run.info.status == "FINISHED", f"window {label}: a run is {run.info.status}")
        check(set(LIFECYCLE_PARAMS) <= set(run.data.params), f"window {label}: params lost")
        check(set(LIFECYCLE_METRICS) <= set(run.data.metrics), f"window {label}: metrics lost")
        check(run.data.tags.get("team") == "bench", f"window {label}: tags lost")
    after = _store_runs(mlt)
    check(after == before + result["runs"], f"window {label}: store grew to {after}")
    info = client.store.info()
    return {**result, "store_runs": before, "database": info.get("database")}


def mltrack_size_fill(target: Target, sizes: Sizes) -> dict[str, Any]:
    """Grow the store to ``target_runs`` runs between windows (setup, not a figure).

    ``api``: the same fluent lifecycle, untimed. ``clone``: copies of the runs already in the
    store (made by the windows through the API), written straight into the DuckDB file by
    SQL: every table with a ``run_id`` column gets the rows of the copied runs under new ids.
    The bench picks ``clone`` when the API would take too long at today's speed.
    """
    want = int(target.extra["target_runs"])
    method = target.extra["method"]
    t0 = perf()
    if method == "api":
        mlt = _mlt_fluent(target)
        mlt.set_experiment("bench")
        have = _store_runs(mlt)
        lifecycles(mlt, 0, max(0, want - have), {"team": "bench", "stage": "fill"})
        mlt.flush()
        _check_not_spooled(target)
        got = _store_runs(mlt)
    else:
        _clone_runs(Path(target.extra["database"]), want)
        import jupyter_mltrack as mlt

        mlt.set_store(target.store_dir)
        got = _store_runs(mlt)
    check(got == want, f"fill ({method}) left {got} runs, expected {want}")
    return {"method": method, "runs": got, "fill_s": perf() - t0}


def _clone_runs(database: Path, want: int) -> None:
    """Copy runs (with their params, tags, metrics …) until the store holds ``want`` runs."""
    import duckdb

    con = duckdb.connect(str(database))
    try:
        have = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        need = want - have
        if need <= 0:
            return
        tables = [
            t
            for (t,) in con.execute(
                "SELECT DISTINCT table_name FROM information_schema.columns "
                "WHERE column_name = 'run_id' AND table_schema = 'main' "
                "AND table_name IN (SELECT table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE')"
            ).fetchall()
        ]
        pool = con.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'").fetchone()[0]
        check(pool > 0, "no finished runs to copy")
        con.execute("BEGIN")
        salt = uuid.uuid4().hex
        con.execute(
            "CREATE TEMP TABLE clone_map AS SELECT run_id AS old_id, "
            "md5(run_id || ? || copy::VARCHAR) AS new_id FROM "
            "(SELECT run_id FROM runs WHERE status = 'FINISHED') "
            "CROSS JOIN range(?) AS r(copy) LIMIT ?",
            [salt, -(-need // pool), need],
        )
        copied = con.execute("SELECT count(*) FROM clone_map").fetchone()[0]
        check(copied == need, f"only {copied} runs to copy, {need} needed")
        for table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND table_schema = 'main' ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            ]
            select = []
            for c in columns:
                if c == "run_id":
                    select.append("m.new_id")
                elif c.startswith("artifact"):
                    select.append(f"replace(t.{c}, m.old_id, m.new_id)")
                else:
                    select.append(f"t.{c}")
            names = ", ".join(columns)
            con.execute(
                f"INSERT INTO {table} ({names}) SELECT {', '.join(select)} "
                f"FROM {table} t JOIN clone_map m ON t.run_id = m.old_id"
            )
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
