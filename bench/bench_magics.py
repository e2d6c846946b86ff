"""Per-cell capture overhead: what ``%load_ext jupyter_mltrack`` adds to each executed cell.

Runs the same small cells in a real IPython ``InteractiveShell`` under four conditions and prints
a markdown table of the median time per cell::

    .venv/bin/python bench/bench_magics.py           # 5 rounds of 2,000 cells per condition
    .venv/bin/python bench/bench_magics.py --quick   # a smoke run (a few seconds)

Conditions:

- ``baseline``: a run active but the extension not loaded (no cell is recorded);
- ``loaded, no run``: loaded, no run active (the hooks only note the cell);
- ``recording``: loaded and a run active: every cell is recorded as one of the run's cells (the
  issue's budget: at most 1 ms more than baseline);
- ``… + log_metric``: the cell also logs one metric (attributed to the cell when recording).

How it measures, and why: every condition runs in the same process and shell, in interleaved
rounds (baseline, loaded, recording, … then again), so drift of a noisy machine spreads over all
conditions instead of landing on one; each cell is timed with ``time.perf_counter`` around
``run_cell`` (what a front end waits for), and the median over all cells of all rounds is
reported, with the 95th percentile. The background flusher runs as it would in a kernel, so its
share of the interpreter lock is part of the figure. The store is a temporary directory
(``MLTRACK_STORE`` points there, so ``~/.mltrack`` is never touched). Results also go to
``bench/results/magics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "magics.json"
BUDGET_MS = 1.0
PLAIN = "x = x + 1"
LOGGING = "x = x + 1\nmlt.log_metric('x', x, step=x)"
# (condition, cell, the baseline condition it is compared with)
CONDITIONS = (
    ("baseline", PLAIN, "baseline"),
    ("baseline + log_metric", LOGGING, "baseline + log_metric"),
    ("loaded, no run", PLAIN, "baseline"),
    ("recording", PLAIN, "baseline"),
    ("recording + log_metric", LOGGING, "baseline + log_metric"),
)


def make_shell(workdir: Path) -> Any:
    os.environ["IPYTHONDIR"] = str(workdir / "ipython")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    return InteractiveShell.instance(config=config)


def time_cells(shell: Any, source: str, n: int) -> list[float]:
    """Run ``source`` as ``n`` cells; the wall time of each, in milliseconds."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        shell.run_cell(source, store_history=True)
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def run_round(shell: Any, n: int, samples: dict[str, list[float]]) -> None:
    """One round of every condition; checks that recording recorded every cell."""
    import jupyter_mltrack as mlt

    manager = shell.extension_manager
    manager.unload_extension("jupyter_mltrack")
    # baseline: a run is active (logging works) but the extension is not loaded
    mlt.start_run(run_name="bench-baseline")
    samples["baseline"] += time_cells(shell, PLAIN, n)
    samples["baseline + log_metric"] += time_cells(shell, LOGGING, n)
    mlt.end_run()
    manager.load_extension("jupyter_mltrack")
    samples["loaded, no run"] += time_cells(shell, PLAIN, n)
    run = mlt.start_run(run_name="bench-recording")
    samples["recording"] += time_cells(shell, PLAIN, n)
    samples["recording + log_metric"] += time_cells(shell, LOGGING, n)
    shell.run_cell("mlt.end_run()", store_history=True)
    cells = mlt.get_cells(run.info.run_id)
    assert len(cells) == 2 * n + 1, (len(cells), n)  # every cell, and the one that ended it


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 200")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cells", type=int, default=2000, help="cells per condition per round")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    rounds, n = (2, 200) if args.quick else (args.rounds, args.cells)

    with tempfile.TemporaryDirectory(prefix="mltrack-bench-magics-") as tmp:
        workdir = Path(tmp)
        os.environ["MLTRACK_STORE"] = str(workdir / "store")
        shell = make_shell(workdir)
        shell.run_cell("import jupyter_mltrack as mlt\nx = 0", store_history=True)
        shell.extension_manager.load_extension("jupyter_mltrack")
        names = [c[0] for c in CONDITIONS]
        samples: dict[str, list[float]] = {c: [] for c in names}
        run_round(shell, max(50, n // 10), {c: [] for c in names})  # warm up
        for _ in range(rounds):
            run_round(shell, n, samples)

    rows = []
    for condition, cell, baseline in CONDITIONS:
        median = statistics.median(samples[condition])
        rows.append(
            {
                "condition": condition,
                "cell": cell,
                "median_ms": median,
                "p95_ms": percentile(samples[condition], 0.95),
                "compared_with": baseline,
                "overhead_ms": median - statistics.median(samples[baseline]),
                "cells": len(samples[condition]),
            }
        )
    print(f"Per-cell capture overhead ({rounds} rounds x {n} cells per condition, "
          f"Python {platform.python_version()}, {platform.machine()})\n")  # fmt: skip
    print("| condition | cell | median per cell | p95 | overhead (vs) |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        cell = row["cell"].replace("\n", "; ")
        print(
            f"| {row['condition']} | `{cell}` | {row['median_ms'] * 1000:.0f} µs | "
            f"{row['p95_ms'] * 1000:.0f} µs | {row['overhead_ms'] * 1000:+.0f} µs "
            f"({row['compared_with']}) |"
        )
    recording = max(r["overhead_ms"] for r in rows if r["condition"].startswith("recording"))
    verdict = "within" if recording <= BUDGET_MS else "OVER"
    print(
        f"\nCapture adds {recording * 1000:.0f} µs to a cell: {verdict} the {BUDGET_MS:.0f} ms "
        "budget."
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "rounds": rounds,
                "cells_per_round": n,
                "python": platform.python_version(),
                "platform": platform.platform(),
                "budget_ms": BUDGET_MS,
                "rows": rows,
            },
            indent=2,
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
