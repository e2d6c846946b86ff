"""The store-size workload of the tracking benchmark: per-run cost as the store grows.

One store, grown in steps (``Sizes.size_levels``: 0, 10k, 25k, 50k, 100k runs). At each step a
window of run lifecycles (``Sizes.size_window`` runs, after ``Sizes.size_warmup`` untimed ones,
in a fresh process) is timed embedded, then through a ``jupyter server`` started on the same
store for that window and stopped after it. Between steps the store is filled with no server
running (setup, not a figure), by the fluent API itself when that is fast enough, else by
copying the runs already there in SQL (see ``tracking_workloads.mltrack_size_fill``). All runs,
filled and timed, are in one experiment, so a cost that grows with the experiment shows too.
The result is drawn as a PNG: per-run cost against the number of runs in the store.

``python bench/store_size.py REPORT.json [OUT.png]`` draws it again from a saved report.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracking_workloads import Sizes

OURS = ("mltrack", "mltrack-server")
TIMES = "\u00d7"
LABELS = {"mltrack": "embedded", "mltrack-server": "through the server (REST)"}


def run(
    runner: Any,
    paths: tuple[str, ...],
    sizes: Sizes,
    fill: str,
    png: Path,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Measure every step on the selected paths of ours; draw the PNG; return the raw figures."""
    ours = [p for p in OURS if p in paths]
    tmp = runner.fresh("store-size")
    levels: list[dict[str, Any]] = []
    have, per_run, database = 0, None, None
    for level in sizes.size_levels:
        entry: dict[str, Any] = {"level": level}
        if level > have:
            method = fill
            if method == "auto":
                api_s = per_run * (level - have) if per_run else float("inf")
                method = "api" if api_s <= sizes.fill_api_budget_s else "clone"
            progress(f"store_size: filling the store to {level:,} runs ({method})")
            entry["fill"] = runner.worker(
                "mltrack",
                "size_fill",
                tmp,
                {"target_runs": level, "method": method, "database": database},
            )
            have = level
        for path in ours:
            progress(f"store_size: {path} at {have:,} runs")
            extra = {"label": f"w{level}-{path}"}
            if path == "mltrack-server":
                with runner.jupyter_server(tmp):
                    window = runner.worker(path, "size_window", tmp, extra)
            else:
                window = runner.worker(path, "size_window", tmp, extra)
            entry[path] = window
            have = window["store_runs"] + window["runs"]
            database = window.get("database") or database
            if path == "mltrack" or per_run is None:
                per_run = window["per_run_s"]  # the API fill runs embedded
        levels.append(entry)

    result: dict[str, Any] = {"levels": levels}
    for path in ours:
        first, last = levels[0].get(path), levels[-1].get(path)
        if first and last:
            result[f"ratio_{path}"] = last["per_run_s"] / first["per_run_s"]
    try:
        plot(levels, ours, png, sizes)
        result["png"] = str(png)
    except ImportError as exc:
        result["png_error"] = f"matplotlib is not installed ({exc})"
    return result


def plot(levels: list[dict[str, Any]], paths: list[str], png: Path, sizes: Sizes) -> None:
    """Per-run cost (ms) against runs in the store, a line per path, with the 0.2 ms target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for path in paths:
        points = [
            (lv[path]["store_runs"], lv[path]["per_run_s"] * 1e3) for lv in levels if path in lv
        ]
        if points:
            xs, ys = zip(*points)
            (line,) = ax.plot(xs, ys, marker="o", label=LABELS[path])
            # the target for growth: within 1.5x of the cost on the smallest store
            ax.axhline(1.5 * ys[0], color=line.get_color(), linestyle=":", linewidth=1,
                       label=f"1.5{TIMES} its first cost")  # fmt: skip
    ax.axhline(0.2, color="grey", linestyle="--", linewidth=1, label="target: 0.2 ms a run")
    ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:.0f}k" if x else "0")
    ax.set_xlabel("runs already in the store")
    ax.set_ylabel("ms per run (amortised, until durable)")
    ax.set_title(
        f"jupyter-mltrack run lifecycle cost against store size "
        f"(windows of up to {sizes.size_window:,} runs)",
        fontsize=10,
    )
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


if __name__ == "__main__":
    report = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(report["raw"]["store_size"]["png"])
    sizes = Sizes(**report["meta"]["sizes"])
    plot(report["raw"]["store_size"]["levels"], list(OURS), out, sizes)
    print(out)
