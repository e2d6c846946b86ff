"""The tracking benchmark runs end to end at quick sizes and reports every workload.

No timing assertions: timings belong to the benchmark's own output, not to the test suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "bench_tracking.py"

# Every row the table must have, by id, with a phrase its label must contain.
EXPECTED_ROWS = {
    "import": "`import` in a fresh interpreter",
    "log_metric_call": "`log_metric` call latency",
    "log_metric_flush": "`flush()` after",
    "log_metric_durable": "calls until durable",
    "points_batch": "`log_batch` of `Metric` objects",
    "points_series": "`log_metric_series`",
    "points_loop": "one fluent `log_metric` call each",
    "history": "metric history",
    "runs_setup": "setup: create",
    "runs_search": "`search_runs` over",
    "runs_frame": "as a DataFrame",
}


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MLTRACK_STORE"] = str(tmp_path / "store")  # the workers set their own; belt and braces
    return env


@pytest.fixture
def bench() -> Iterator[ModuleType]:
    """bench_tracking.py imported in this process, removed again afterwards."""
    saved_path = list(sys.path)
    spec = importlib.util.spec_from_file_location("bench_tracking", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)  # it puts bench/ on sys.path for its sibling module
        yield module
    finally:
        sys.path[:] = saved_path
        sys.modules.pop("bench_tracking", None)
        sys.modules.pop("tracking_workloads", None)


@pytest.mark.slow
def test_quick_run_prints_every_workload(tmp_path: Path) -> None:
    out = tmp_path / "tracking.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("| workload | jupyter-mltrack | MLflow ") for line in lines)
    table = [line for line in lines if line.startswith("| ") and "---" not in line]
    for row_id, phrase in EXPECTED_ROWS.items():
        assert any(phrase in line for line in table), f"no table row for {row_id}: {phrase!r}"

    report = json.loads(out.read_text())
    assert report["meta"]["quick"] is True
    assert report["failures"] == []
    rows = {row["id"]: row for row in report["rows"]}
    assert set(rows) == set(EXPECTED_ROWS)
    for row_id, row in rows.items():
        if row_id == "points_series" and row["mltrack_s"] is None:
            assert "not in this checkout" in row["mltrack_note"]
            continue
        assert row["mltrack_s"] is not None and row["mltrack_s"] > 0, row_id
    # MLflow ran too, and its quick-size figures that were scaled say so
    assert rows["history"]["mlflow_s"] is not None
    assert "extrapolated" in rows["points_batch"]["mlflow_note"]
    # both libraries found the same 100 runs for the same filter on the same data
    assert (
        report["raw"]["runs"]["mltrack"]["search_top"]
        == report["raw"]["runs"]["mlflow"]["search_top"]
    )
    assert 0 < len(report["raw"]["runs"]["mltrack"]["search_top"]) <= 100


@pytest.mark.parametrize(
    "args, message",
    [
        (["--only", "nonsense"], "invalid choice"),
        (["--mlflow-points", "1234"], "--mlflow-points must be a multiple of 1000"),
        (["--mlflow-points", "0"], "--mlflow-points must be a multiple of 1000"),
        (
            ["--worker", "mltrack", "nonsense", "--tmp", "x", "--sizes", "{}", "--result", "y"],
            "no worker for mltrack nonsense",
        ),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert message in proc.stderr


def test_scaled_figures_are_labelled_extrapolated(bench: ModuleType) -> None:
    sizes = bench.Sizes.quick()
    raw = {
        "points_batch": {
            "mltrack": {
                "points": sizes.points,
                "chunk": 1000,
                "log_s": 0.1,
                "flush_s": 0.2,
                "durable_s": 0.3,
            },
            "mlflow": {"points": sizes.points // 10, "chunk": 1000, "durable_s": 2.0},
        },
        "history": {
            "mltrack": {"median_s": 0.004, "first_s": 0.01},
            "mlflow": {"median_s": 0.4, "first_s": 0.5},
        },
    }
    rows = {row.id: row for row in bench.build_rows(raw, sizes)}
    assert set(rows) == {"points_batch", "history"}
    batch = rows["points_batch"]
    assert batch.mlflow_s == pytest.approx(20.0)  # 2 s for a tenth of the points, scaled
    assert batch.mlflow_note == f"extrapolated from {sizes.points // 10:,} points"
    assert batch.ratio == pytest.approx(20.0 / 0.3)
    assert batch.met is True
    assert rows["history"].mlflow_note == ""  # measured at full size: no label
    table = bench.markdown_table(list(rows.values()), "3.17.2")
    assert "20.00 s (extrapolated from" in table
    assert f"100{bench.TIMES} faster" in table
