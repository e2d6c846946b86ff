"""The tracking benchmark's table: rows from the workers' figures, markdown, and notes.

One row per workload, a column per path (``mltrack``, ``mltrack-server``, ``mlflow``,
``mlflow-server``), the ratios MLflow ÷ mltrack on like paths (in-process with in-process, server
with server), the target and whether each of our paths met it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracking_workloads import Sizes

LIBS = ("mltrack", "mltrack-server", "mlflow", "mlflow-server")
OURS = ("mltrack", "mltrack-server")
PAIRS = {"mltrack": "mlflow", "mltrack-server": "mlflow-server"}  # compared like for like
HEADINGS = {
    "mltrack": "mltrack embedded",
    "mltrack-server": "mltrack via server",
    "mlflow": "MLflow {v} (SQLite)",
    "mlflow-server": "MLflow {v} server",
}
TIMES = "\u00d7"  # the multiplication sign, spelled out so linters do not take it for an x
DIVIDE = "\u00f7"


@dataclass
class Row:
    """One line of the table: a figure per path (seconds, or a plain ratio for unit "x")."""

    id: str
    label: str
    values: dict[str, float | None]
    target: float | None = None  # for both of our paths …
    server_target: float | None = None  # … unless the server path has its own
    cell_notes: dict[str, str] = field(default_factory=dict)  # e.g. "extrapolated from 300 calls"
    notes: dict[str, str] = field(default_factory=dict)  # under the table
    unit: str = "s"

    def target_for(self, path: str) -> float | None:
        if path == "mltrack-server" and self.server_target is not None:
            return self.server_target
        return self.target

    def ratio(self, ours: str) -> float | None:
        """MLflow's figure over ours on the same kind of path: how many times faster we are."""
        mine, theirs = self.values.get(ours), self.values.get(PAIRS[ours])
        if self.unit == "s" and mine and theirs:
            return theirs / mine
        return None

    def met(self, ours: str) -> bool | None:
        target, value = self.target_for(ours), self.values.get(ours)
        if target is None or value is None:
            return None
        return value <= target


def _n(count: int) -> str:
    """1000000 → '1M', 100000 → '100k', 300 → '300'."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= size and count % size == 0:
            return f"{count // size}{suffix}"
    return f"{count:,}"


def _scaled(measured_s: float, measured: int, full: int, what: str) -> tuple[float, str]:
    """Scale a figure measured at a smaller size linearly to ``full``, and say so."""
    if measured >= full:
        return measured_s, ""
    return measured_s * full / measured, f"extrapolated from {measured:,} {what}"


class _Results:
    """Look-ups into the workers' results that tolerate a workload or path not run."""

    def __init__(self, raw: dict[str, dict[str, Any]]):
        self.raw = raw

    def get(self, workload: str, path: str) -> dict[str, Any] | None:
        result = self.raw.get(workload, {}).get(path)
        return None if result is None or result.get("unavailable") else result

    def time(self, workload: str, path: str, *keys: str) -> float | None:
        value: Any = self.get(workload, path)
        for part in keys:
            if value is None:
                return None
            value = value[part]
        return None if value is None else float(value)

    def values(self, workload: str, *keys: str, paths: tuple[str, ...] = LIBS) -> dict:
        return {p: self.time(workload, p, *keys) for p in paths}

    def scaled(
        self, workload: str, path: str, full: int, count: str, what: str, key: str = "durable_s"
    ) -> tuple[float | None, str]:
        result = self.get(workload, path)
        if result is None:
            return None, ""
        return _scaled(result[key], result[count], full, what)


def _split(result: dict[str, Any] | None) -> str:
    if result is None:
        return ""
    return f"log {result['log_s']:.2f} s + flush {result['flush_s']:.2f} s"


def _per_path(fn: Any, paths: tuple[str, ...] = OURS) -> dict[str, str]:
    return {p: note for p in paths if (note := fn(p))}


def build_rows(raw: dict[str, dict[str, Any]], sizes: Sizes) -> list[Row]:
    """Turn the workers' measurements into table rows (a workload not run gives no row)."""
    res = _Results(raw)
    rows: list[Row] = []
    points, steps = _n(sizes.points), _n(sizes.metric_steps)
    mlflows = ("mlflow", "mlflow-server")

    if "import" in raw:
        rows.append(
            Row(
                "import",
                f"`import` in a fresh interpreter (median of {sizes.import_repeats})",
                res.values("import", "median_s", paths=("mltrack", "mlflow")),
                0.3,
            )
        )

    if "log_metric" in raw:
        ours = [r for p in OURS if (r := res.get("log_metric", p))]
        calls = ours[0]["calls"] if ours else sizes.log_metric_calls
        rows.append(
            Row(
                "log_metric_sustained",
                f"`log_metric` sustained: per call over {_n(calls)} calls while the background "
                "flusher runs (loop time ÷ calls)",
                res.values("log_metric", "per_call_mean_s"),
                2e-6,
                cell_notes=_per_path(
                    lambda p: (
                        f"mean of {r['calls']:,} calls" if (r := res.get("log_metric", p)) else ""
                    ),
                    mlflows,
                ),
                notes=_per_path(
                    lambda p: (
                        f"{r['flushes_seen']} flushes seen during the loop"
                        if (r := res.get("log_metric", p)) and r.get("flushes_seen") is not None
                        else ""
                    )
                ),
            )
        )
        rows.append(
            Row(
                "log_metric_call",
                "`log_metric` call latency: median of 1,000-call blocks (MLflow: of single calls)",
                res.values("log_metric", "per_call_median_s"),
            )
        )
        rows.append(
            Row(
                "log_metric_flush",
                f"`flush()` after the {_n(calls)} `log_metric` calls",
                res.values("log_metric", "flush_s", paths=OURS),
                cell_notes={p: "n/a: each call writes synchronously" for p in mlflows},
            )
        )
        values = res.values("log_metric", "durable_s", paths=OURS)
        notes: dict[str, str] = {}
        for p in mlflows:
            values[p], notes[p] = res.scaled("log_metric", p, calls, "calls", "calls")
        rows.append(
            Row(
                "log_metric_durable",
                f"{_n(calls)} `log_metric` calls until durable (loop + flush)",
                values,
                cell_notes=notes,
            )
        )

    batch_values: dict[str, float | None] = {}
    batch_notes: dict[str, str] = {}
    for p in mlflows:
        batch_values[p], batch_notes[p] = res.scaled(
            "points_batch", p, sizes.points, "points", "points"
        )
    if "points_batch" in raw:
        rows.append(
            Row(
                "points_batch",
                f"{points} points ({sizes.metric_keys} keys {TIMES} {steps} steps) until durable, "
                "`log_batch` of `Metric` objects",
                {**res.values("points_batch", "durable_s", paths=OURS), **batch_values},
                1.5,
                cell_notes=batch_notes,
                notes=_per_path(
                    lambda p: (
                        f"{r['chunk']:,} points a call; {_split(r)}"
                        if (r := res.get("points_batch", p))
                        else ""
                    )
                ),
            )
        )

    if "points_series" in raw:
        unavailable = [p for p in OURS if (raw["points_series"].get(p) or {}).get("unavailable")]
        rows.append(
            Row(
                "points_series",
                f"{points} points until durable, `log_metric_series` (numpy columns)",
                {**res.values("points_series", "durable_s", paths=OURS), **batch_values},
                1.5,
                cell_notes={
                    p: "; ".join(x for x in ("no columnar API, its `log_batch` figure", n) if x)
                    for p, n in batch_notes.items()
                }
                | {p: "API not in this checkout" for p in unavailable},
                notes=_per_path(
                    lambda p: (
                        f"one call per key; {_split(r)}"
                        if (r := res.get("points_series", p))
                        else ""
                    )
                ),
            )
        )

    if "points_loop" in raw:
        values = res.values("points_loop", "durable_s", paths=OURS)
        notes = {}
        for p in mlflows:
            values[p], notes[p] = res.scaled("points_loop", p, sizes.points, "points", "points")
        rows.append(
            Row(
                "points_loop",
                f"{points} points until durable, one fluent `log_metric` call each",
                values,
                cell_notes=notes,
                notes=_per_path(lambda p: _split(res.get("points_loop", p))),
            )
        )

    if "history" in raw:
        values = res.values("history", "median_s", paths=OURS)
        notes = {}
        for p in mlflows:
            values[p], notes[p] = res.scaled(
                "history", p, sizes.history_points, "points", "points", key="median_s"
            )
        rows.append(
            Row(
                "history",
                f"read one {_n(sizes.history_points)}-point metric history (median)",
                values,
                0.05,
                cell_notes=notes,
            )
        )

    if "runs" in raw:
        n = _n(sizes.runs)
        values = res.values("runs", "setup_s", paths=OURS)
        notes = {}
        for p in mlflows:
            values[p], notes[p] = res.scaled("runs", p, sizes.runs, "api_runs", "runs", "setup_s")
        rows.append(
            Row(
                "runs_setup",
                f"setup: create {n} runs with `create_run` + `log_batch` (5 params, 3 metrics, "
                "2 tags each)",
                values,
                cell_notes=notes,
            )
        )
        rows.append(
            Row(
                "runs_search",
                f"`search_runs` over {n} runs: metric + param filter, order by metric, top 100 "
                "(median)",
                res.values("runs", "search", "median_s"),
                0.05,
            )
        )
        rows.append(
            Row(
                "runs_frame",
                f"all {n} runs as a DataFrame (`search_runs`, median)",
                res.values("runs", "frame", "median_s"),
                0.3,
            )
        )

    if "lifecycle" in raw:
        full = sizes.lifecycle_runs
        rows.append(
            Row(
                "lifecycle_per_run",
                "run lifecycle: fluent `with start_run():` + 5 params (`log_params`), 3 metrics "
                "(`log_metric`), 2 tags (`set_tags`), end; per run, amortised until durable",
                res.values("lifecycle", "per_run_s"),
                2e-4,
                # the 10k runs in 3 s through the server is 0.3 ms a run
                server_target=3e-4,
                cell_notes=_per_path(
                    lambda p: f"{r['runs']:,} runs" if (r := res.get("lifecycle", p)) else "",
                    LIBS,
                ),
                notes=_per_path(
                    lambda p: (
                        f"{r['runs']:,} runs: loop {r['loop_s']:.2f} s + flush {r['flush_s']:.2f} s"
                        if (r := res.get("lifecycle", p))
                        else ""
                    )
                ),
            )
        )
        values, notes = {}, {}
        for p in LIBS:
            values[p], notes[p] = res.scaled("lifecycle", p, full, "runs", "runs")
        rows.append(
            Row(
                "lifecycle_total",
                f"{_n(full)} run lifecycles until durable (`flush()` at the end counts)",
                values,
                2.0,
                3.0,
                cell_notes={p: n for p, n in notes.items() if n},
            )
        )

    size = raw.get("store_size", {}).get("levels") or []
    if size:
        first, last = size[0], size[-1]

        def cost(level: dict[str, Any]) -> dict[str, float | None]:
            return {p: (level.get(p) or {}).get("per_run_s") for p in OURS}

        def where(level: dict[str, Any]) -> dict[str, str]:
            return {
                p: f"{w['runs']:,} runs timed, store held {w['store_runs']:,}"
                for p in OURS
                if (w := level.get(p))
            }

        rows.append(
            Row(
                "size_first",
                f"run lifecycle per run, store at {_n(first['level'])} runs (store-size workload)",
                cost(first),
                cell_notes=where(first),
            )
        )
        rows.append(
            Row(
                "size_last",
                f"run lifecycle per run, store at {_n(last['level'])} runs",
                cost(last),
                cell_notes=where(last),
            )
        )
        a, b = cost(first), cost(last)
        rows.append(
            Row(
                "size_ratio",
                f"per-run cost at {_n(last['level'])} runs {DIVIDE} at {_n(first['level'])}",
                {p: (b[p] / a[p]) if a[p] and b[p] else None for p in OURS},
                1.5,
                unit="x",
            )
        )
    return rows


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _fmt(value: float | None, unit: str) -> str:
    if unit == "x":
        return "—" if value is None else f"{value:.2f}{TIMES}"
    return _fmt_time(value)


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    if ratio >= 100:
        return f"{ratio:,.0f}{TIMES} faster"
    if ratio >= 1:
        return f"{ratio:.1f}{TIMES} faster"
    return f"{1 / ratio:.1f}{TIMES} slower"


def _fmt_target(row: Row) -> str:
    if row.target is None:
        return "—"
    unit = row.unit
    if row.server_target is not None and row.server_target != row.target:
        return f"≤ {_fmt(row.target, unit)} embedded, ≤ {_fmt(row.server_target, unit)} via server"
    return f"≤ {_fmt(row.target, unit)}"


def markdown_table(rows: list[Row], mlflow_version: str, paths: tuple[str, ...] = LIBS) -> str:
    """The rows as a markdown table: a column per path run, the ratios, target and met?."""
    shown = [p for p in LIBS if p in paths]
    pairs = [p for p in OURS if p in shown and PAIRS[p] in shown]
    ours = [p for p in OURS if p in shown]
    header = ["workload"] + [HEADINGS[p].format(v=mlflow_version) for p in shown]
    header += [
        {
            "mltrack": f"MLflow {DIVIDE} mltrack (in-process)",
            "mltrack-server": f"MLflow server {DIVIDE} mltrack server",
        }[p]
        for p in pairs
    ]
    header += ["target"] + [
        {"mltrack": "met? embedded", "mltrack-server": "met? server"}[p] for p in ours
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        cells = [row.label]
        for p in shown:
            cell = _fmt(row.values.get(p), row.unit)
            note = row.cell_notes.get(p)
            if note:
                cell = f"{cell} ({note})" if row.values.get(p) is not None else note
            cells.append(cell)
        cells += [_fmt_ratio(row.ratio(p)) for p in pairs]
        cells.append(_fmt_target(row))
        cells += [{None: "—", True: "yes", False: "**NO**"}[row.met(p)] for p in ours]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def notes(rows: list[Row], raw: dict[str, dict[str, Any]]) -> list[str]:
    """What the table has no room for: how figures split, first calls, checks, fills."""
    out = [
        f"- {r.label}: " + "; ".join(f"{p}: {note}" for p, note in r.notes.items())
        for r in rows
        if r.notes
    ]
    res = _Results(raw)
    runs = {p: r for p in LIBS if (r := res.get("runs", p))}
    if len(runs) > 1:
        tops = [r["search_top"] for r in runs.values()]
        out.append(
            f"- `search_runs` top 100: {', '.join(runs)} return the same runs in the same order: "
            f"{all(t == tops[0] for t in tops)}"
        )
    for p in LIBS:
        run = runs.get(p)
        if run:
            out.append(
                f"- {p} first calls (not in the medians): search "
                f"{_fmt_time(run['search']['first_s'])}, DataFrame "
                f"{_fmt_time(run['frame']['first_s'])}"
            )
        history = res.get("history", p)
        if history:
            out.append(f"- {p} first history read: {_fmt_time(history['first_s'])}")
    size = raw.get("store_size", {})
    for level in size.get("levels") or []:
        parts = [
            f"{p} {_fmt_time(w['per_run_s'])}/run ({w['runs']:,} runs timed, store held "
            f"{w['store_runs']:,}; loop {_fmt_time(w['loop_s'] / w['runs'])}/run + flush "
            f"{_fmt_time(w['flush_s'])})"
            for p in OURS
            if (w := level.get(p))
        ]
        fill = level.get("fill")
        how = f"; filled by {fill['method']} in {fill['fill_s']:.1f} s" if fill else ""
        out.append(f"- store size {level['level']:,}: " + "; ".join(parts) + how)
    if size.get("png"):
        out.append(f"- per-run cost against store size drawn in {size['png']}")
    elif size.get("png_error"):
        out.append(f"- no PNG: {size['png_error']}")
    return out
