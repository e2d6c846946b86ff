"""The README's demo command runs end to end on a fresh store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupyter_mltrack as mlt

ROOT = Path(__file__).resolve().parent.parent


def test_demo_script_logs_and_compares_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert f"jupyter-mltrack store: {store}" in done.stdout
    assert "9 runs under grid-" in done.stdout
    assert "best:" in done.stdout
    assert "registered digits-classifier version 1 as @champion" in done.stdout
    assert "served at http://127.0.0.1:" in done.stdout
    client = mlt.MltrackClient(store)
    exp = client.get_experiment_by_name("digits-demo")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], "params.model = 'knn'")
    assert len(runs) == 2
    assert all(0.5 < r.data.metrics["accuracy"] <= 1.0 for r in runs)
    history = client.get_metric_history(runs[0].info.run_id, "cv_accuracy")
    assert len(history) == 3
    client._session.store.close()  # type: ignore[attr-defined]
