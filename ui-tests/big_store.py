"""A store with many runs, made fast, for the sidebar's scale test and the UI benchmark.

``DuckDBStore.create_run`` is one transaction per run (about 36 ms each here: ten thousand take
six minutes), and the store has no bulk way to create runs yet. So the runs rows go in with one
``INSERT … SELECT`` over DuckDB's ``range``, laid out exactly as ``store.runs.create`` lays
them out (same columns, same artifact path), and everything else a run carries (params,
metrics, tags) goes through the store's own write path, ``write_batch``. When the store gains a
bulk ``create_runs``, this should call it instead.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from jupyter_mltrack.store.batch import MetricRow, ParamRow, TagRow, WriteBatch
from jupyter_mltrack.store.duckdb import runs
from jupyter_mltrack.store.duckdb.store import DuckDBStore

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, in ms
MODELS = ("random_forest", "svm", "knn", "logistic_regression")


def make_big_store(store_dir: Path, n_runs: int = 10_000, experiment: str = "big-sweep") -> str:
    """Fill ``store_dir`` with one experiment of ``n_runs`` finished runs; returns its id.

    Each run has params ``lr``, ``model``, ``depth``, metrics ``loss``, ``accuracy``, ``f1`` (one
    point each) and a tag ``stage``; every tenth run is the child of the run before it, so the
    tree has something to show.
    """
    store = DuckDBStore(store_dir, linger=None)
    try:
        experiment_id = store.create_experiment(experiment)
        exp = store.get_experiment(experiment_id)
        ids = [uuid.uuid4().hex for _ in range(n_runs)]
        parents: list[str | None] = [ids[i - 1] if i % 10 == 9 else None for i in range(n_runs)]
        with store.connector.transaction() as con:
            con.execute(
                f"INSERT INTO runs ({runs.RUN_COLUMNS}) "
                "SELECT ids[i + 1], ?, printf('run-%05d', i), 'bench', 'FINISHED', ? + i * 1000, "
                "? + i * 1000 + 500 + (i % 97) * 37, 'active', "
                "? || '/' || ids[i + 1] || '/artifacts', parents[i + 1] "
                "FROM (SELECT ? AS ids, ? AS parents), range(?) t(i)",
                [int(experiment_id), T0, T0, exp.artifact_location, ids, parents, n_runs],
            )
        batch = WriteBatch()
        for i, run_id in enumerate(ids):
            model = MODELS[i % len(MODELS)]
            batch.params += [
                ParamRow(run_id, "lr", str(round(0.001 * (1 + i % 10), 3)), None),
                ParamRow(run_id, "model", model, None),
                ParamRow(run_id, "depth", str(2 + i % 7), None),
            ]
            ts = T0 + i * 1000 + 400
            batch.metrics += [
                MetricRow(run_id, "loss", 1.0 / (1 + (i % 500)), 0, ts, None),
                MetricRow(run_id, "accuracy", 0.5 + (i % 450) / 1000, 0, ts, None),
                MetricRow(run_id, "f1", 0.45 + (i % 470) / 1000, 0, ts, None),
            ]
            batch.tags.append(TagRow(run_id, "stage", "sweep" if i % 3 else "baseline", None))
        store.write_batch(batch)
        return experiment_id
    finally:
        store.close()
