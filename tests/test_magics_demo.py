"""The demo notebook runs headless in a real kernel and leaves the runs it promises."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mltrack.store.duckdb.store import DuckDBStore

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.ipynb"


@pytest.mark.slow
def test_demo_notebook_runs_and_tracks_the_grid(tmp_path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv("MLTRACK_STORE", str(store))
    for name in ("JPY_SESSION_NAME", "MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    notebook = nbformat.read(DEMO, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()

    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    raw = DuckDBStore(store)
    try:
        experiment = raw.get_experiment_by_name("digits-notebook")
        assert experiment is not None
        runs, _ = raw.search_runs([experiment.experiment_id], max_results=100)
        by_name = {r.info.run_name: r for r in runs}
        parent = by_name.pop("grid-search")
        assert parent.info.status == "FINISHED"
        assert len(by_name) == 7  # six grid points and the refit
        assert all(r.info.parent_run_id == parent.info.run_id for r in by_name.values())
        assert all(r.info.status == "FINISHED" for r in by_name.values())
        assert parent.data.params == {"test_size": "0.25"}
        assert parent.data.metrics["best_accuracy"] > 0.9

        cells = raw.get_cells(parent.info.run_id)
        assert cells[0].source.startswith("%mltrack start_run")
        assert cells[-1].source == "%mltrack end_run"
        snapshot = raw.list_artifacts(parent.info.run_id, "notebook")
        assert {a.path for a in snapshot} == {"notebook/snapshot.py", "notebook/snapshot.ipynb"}

        refit = by_name["refit-best"]
        (figure,) = raw.list_artifacts(refit.info.run_id, "outputs")
        assert figure.path.endswith(".png")
        (refit_cell,) = raw.get_cells(refit.info.run_id)
        assert figure.cell_id == refit_cell.cell_id
        assert refit.data.params["best_kind"] in ("svc", "knn")
    finally:
        raw.close()
