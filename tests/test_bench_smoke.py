"""The tracking benchmark runs end to end at quick sizes, on every path, and reports every workload.

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
BENCH_MODULES = (
    "bench_tracking",
    "bench_server",
    "store_size",
    "tracking_table",
    "tracking_workloads",
    "workloads_common",
    "workloads_mltrack",
    "workloads_mlflow",
)

ALL = {"mltrack", "mltrack-server", "mlflow", "mlflow-server"}
OURS = {"mltrack", "mltrack-server"}
WORKER_ARGS = ["--tmp", "x", "--sizes", "{}", "--result", "y"]
# Every row the table must have, by id: a phrase its label must contain, and the paths that
# must have a figure in it (MLflow has no columnar API: its log_batch figure stands in).
EXPECTED_ROWS = {
    "import": ("`import` in a fresh interpreter", {"mltrack", "mlflow"}),
    "log_metric_sustained": ("`log_metric` sustained", ALL),
    "log_metric_call": ("`log_metric` call latency", ALL),
    "log_metric_flush": ("`flush()` after", OURS),
    "log_metric_durable": ("calls until durable", ALL),
    "points_batch": ("`log_batch` of `Metric` objects", ALL),
    "points_series": ("`log_metric_series`", ALL),
    "points_loop": ("one fluent `log_metric` call each", ALL),
    "history": ("metric history", ALL),
    "runs_setup": ("setup: create", ALL),
    "runs_search": ("`search_runs` over", ALL),
    "runs_frame": ("as a DataFrame", ALL),
    "lifecycle_per_run": ("run lifecycle: fluent", ALL),
    "lifecycle_total": ("run lifecycles until durable", ALL),
    "size_first": ("store at 0 runs", OURS),
    "size_last": ("store at 300 runs", OURS),
    "size_ratio": ("per-run cost at 300 runs", OURS),
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
        spec.loader.exec_module(module)  # it puts bench/ on sys.path for its sibling modules
        yield module
    finally:
        sys.path[:] = saved_path
        for name in BENCH_MODULES:
            sys.modules.pop(name, None)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_run_prints_every_workload_on_every_path(tmp_path: Path) -> None:
    out = tmp_path / "tracking.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| workload |"))
    for column in ("mltrack embedded", "mltrack via server", "(SQLite)", "server |", "met? server"):
        assert column in header, column
    table = [line for line in lines if line.startswith("| ") and "---" not in line]
    for row_id, (phrase, _) in EXPECTED_ROWS.items():
        assert any(phrase in line for line in table), f"no table row for {row_id}: {phrase!r}"

    report = json.loads(out.read_text())
    assert report["meta"]["quick"] is True
    assert set(report["meta"]["paths"]) == ALL
    assert report["failures"] == []
    rows = {row["id"]: row for row in report["rows"]}
    assert set(rows) == set(EXPECTED_ROWS)
    for row_id, (_, paths) in EXPECTED_ROWS.items():
        values = rows[row_id]["values"]
        if row_id == "points_series" and "not in this checkout" in str(rows[row_id]["cell_notes"]):
            continue
        for path in paths:
            assert values[path] is not None and values[path] > 0, (row_id, path)
    # MLflow's scaled figures say so, on both of its paths
    for path in ("mlflow", "mlflow-server"):
        assert "extrapolated" in rows["points_batch"]["cell_notes"][path]
    # the ratios compare like with like, and the server target is its own
    assert rows["history"]["ratios"]["mltrack-server"] == pytest.approx(
        rows["history"]["values"]["mlflow-server"] / rows["history"]["values"]["mltrack-server"]
    )
    assert (rows["lifecycle_total"]["target"], rows["lifecycle_total"]["server_target"]) == (2, 3)
    # all four paths found the same 100 runs for the same filter on the same data
    raw = report["raw"]
    tops = [raw["runs"][path]["search_top"] for path in sorted(ALL)]
    assert all(top == tops[0] for top in tops) and 0 < len(tops[0]) <= 100
    # every lifecycle run was checked in the store; ours ran the full quick size
    assert raw["lifecycle"]["mltrack"]["runs"] == raw["lifecycle"]["mltrack-server"]["runs"] == 100
    # the store-size workload grew one store, measured both paths at each size, drew the plot
    levels = raw["store_size"]["levels"]
    assert [level["level"] for level in levels] == [0, 300]
    assert levels[1]["fill"]["runs"] == 300
    for level in levels:
        for path in OURS:
            assert level[path]["runs"] > 0 and level[path]["store_runs"] >= level["level"]
    assert levels[1]["mltrack"]["store_runs"] > levels[0]["mltrack-server"]["store_runs"]
    png = Path(raw["store_size"]["png"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_store_size_fill_by_copying_runs(tmp_path: Path) -> None:
    """The SQL copy that grows the store when the API would be too slow (the fill today)."""
    out = tmp_path / "tracking.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--only", "store_size", "--lib", "mltrack",
         "--fill", "clone", "--json", str(out), "--png", str(tmp_path / "size.png")],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    levels = json.loads(out.read_text())["raw"]["store_size"]["levels"]
    assert levels[1]["fill"] == {**levels[1]["fill"], "method": "clone", "runs": 300}
    # the window after the copy found its own runs, and the store held the copies
    assert levels[1]["mltrack"]["store_runs"] >= 300 and levels[1]["mltrack"]["runs"] > 0
    assert (tmp_path / "size.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--only", "nonsense"], "invalid choice"),
        (["--lib", "nonsense"], "invalid choice"),
        (["--path", "nonsense"], "invalid choice"),
        (["--lib", "mlflow", "--path", "server"], "select no path"),
        (["--mlflow-points", "1234"], "--mlflow-points must be a multiple of 1000"),
        (["--mlflow-points", "0"], "--mlflow-points must be a multiple of 1000"),
        (
            ["--worker", "mltrack", "nonsense", *WORKER_ARGS],
            "no worker for mltrack nonsense",
        ),
        (
            ["--worker", "mltrack-server", "size_fill", *WORKER_ARGS],
            "no worker for mltrack-server size_fill",
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
            "mlflow": {"median_s": 0.4, "first_s": 0.5, "points": sizes.history_points},
        },
    }
    rows = {row.id: row for row in bench.build_rows(raw, sizes)}
    assert set(rows) == {"points_batch", "history"}
    batch = rows["points_batch"]
    assert batch.values["mlflow"] == pytest.approx(20.0)  # 2 s for a tenth of the points
    assert batch.cell_notes["mlflow"] == f"extrapolated from {sizes.points // 10:,} points"
    assert batch.ratio("mltrack") == pytest.approx(20.0 / 0.3)
    assert batch.ratio("mltrack-server") is None  # neither server path ran
    assert batch.met("mltrack") is True and batch.met("mltrack-server") is None
    assert rows["history"].cell_notes.get("mlflow", "") == ""  # measured at full size
    table = bench.markdown_table(list(rows.values()), "3.17.2", ("mltrack", "mlflow"))
    assert "20.00 s (extrapolated from" in table
    assert "100\u00d7 faster" in table
    assert "via server" not in table.splitlines()[0]  # no column for a path not run


def test_lifecycle_and_store_size_rows(bench: ModuleType) -> None:
    sizes = bench.Sizes.quick()
    life = {"runs": 40, "loop_s": 0.03, "flush_s": 0.01, "durable_s": 0.04, "per_run_s": 0.001}
    window = {"runs": 30, "store_runs": 5, "per_run_s": 0.002, "loop_s": 0.05, "flush_s": 0.01}
    raw = {
        "lifecycle": {
            "mltrack": {**life, "runs": sizes.lifecycle_runs, "per_run_s": 0.0001},
            "mltrack-server": life,  # stopped at its time budget: scaled, and labelled so
            "mlflow-server": {**life, "runs": 10, "durable_s": 0.5, "per_run_s": 0.05},
        },
        "store_size": {
            "levels": [
                {"level": 0, "mltrack": window, "mltrack-server": window},
                {
                    "level": 300,
                    "fill": {"method": "clone", "runs": 300, "fill_s": 0.5},
                    "mltrack": {**window, "store_runs": 305, "per_run_s": 0.003},
                },
            ]
        },
    }
    rows = {row.id: row for row in bench.build_rows(raw, sizes)}
    total = rows["lifecycle_total"]
    assert total.values["mltrack-server"] == pytest.approx(0.001 * sizes.lifecycle_runs)
    assert total.cell_notes["mltrack-server"] == "extrapolated from 40 runs"
    assert "mltrack" not in total.cell_notes  # measured at full size
    assert total.ratio("mltrack-server") == pytest.approx(50.0)
    ratio = rows["size_ratio"]
    assert ratio.values == {"mltrack": pytest.approx(1.5), "mltrack-server": None}
    assert ratio.met("mltrack") is True and ratio.ratio("mltrack") is None
    table = bench.markdown_table(list(rows.values()), "3.17.2")
    assert "≤ 2.00 s embedded, ≤ 3.00 s via server" in table
    assert "| 1.50\u00d7 |" in table
    notes = bench.notes(list(rows.values()), raw)
    assert any("filled by clone" in line for line in notes)
