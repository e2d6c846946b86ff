"""Compact text tables for ``%mltrack runs``, ``compare`` and ``cells``.

Plain text works in every front end and in a terminal; the inline widgets replace these tables
where they are available.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence

from ..clock import now_ms
from ..entities import Cell, Run

MAX_CELL_WIDTH = 28


def clip(text: str, width: int = MAX_CELL_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest entry; long entries are clipped."""
    head = [clip(h) for h in headers]
    body = [[clip(str(v)) for v in row] for row in rows]
    widths = [max([len(head[i])] + [len(r[i]) for r in body]) for i in range(len(head))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in body)])


def number(value: float | None) -> str:
    """A metric value in 4 significant digits."""
    if value is None:
        return ""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.4g}"


def when(ms: int | None) -> str:
    """A start time as local ``YYYY-MM-DD HH:MM:SS``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else ""


def duration(start: int | None, end: int | None) -> str:
    """How long a run ran (up to now if it still runs)."""
    if not start:
        return ""
    seconds = ((end or now_ms()) - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / 3600:.1f}h"


def _common_keys(dicts: Sequence[Mapping[str, object]], limit: int) -> list[str]:
    counts: Counter[str] = Counter(k for d in dicts for k in d)
    return [k for k, _ in counts.most_common(limit)]


def runs_table(runs: Sequence[Run], max_keys: int = 4) -> str:
    """One line per run: short id, name, status, start, duration, main metrics and params."""
    metrics = _common_keys([r.data.metrics for r in runs], max_keys)
    params = _common_keys([r.data.params for r in runs], max_keys)
    headers = ["run", "name", "status", "started", "duration"]
    headers += [f"m:{k}" for k in metrics] + [f"p:{k}" for k in params]
    rows = []
    for r in runs:
        rows.append(
            [
                r.info.run_id[:8],
                r.info.run_name,
                r.info.status,
                when(r.info.start_time),
                duration(r.info.start_time, r.info.end_time),
                *(number(r.data.metrics.get(k)) for k in metrics),
                *(r.data.params.get(k, "") for k in params),
            ]
        )
    return text_table(headers, rows)


def compare_table(runs: Sequence[Run]) -> str:
    """Runs side by side: params and latest metrics as rows; ``*`` marks rows that differ."""
    headers = ["", "", *(r.info.run_id[:8] for r in runs)]
    rows: list[list[str]] = [
        ["", "name", *(r.info.run_name for r in runs)],
        ["", "status", *(r.info.status for r in runs)],
        ["", "duration", *(duration(r.info.start_time, r.info.end_time) for r in runs)],
    ]
    param_keys = sorted({k for r in runs for k in r.data.params})
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    for key in param_keys:
        values = [r.data.params.get(key, "") for r in runs]
        rows.append(["*" if len(set(values)) > 1 else "", f"param {key}", *values])
    for key in metric_keys:
        values = [number(r.data.metrics.get(key)) for r in runs]
        rows.append(["*" if len(set(values)) > 1 else "", f"metric {key}", *values])
    return text_table(headers, rows)


def cells_table(cells: Sequence[Cell]) -> str:
    """One line per executed cell: order, execution count, id, duration, outcome, first line."""
    rows = []
    for c in cells:
        first = next((line for line in (c.source or "").splitlines() if line.strip()), "")
        outcome = c.outcome if c.outcome == "ok" else f"{c.outcome}: {c.error_type}"
        rows.append(
            [
                str(c.seq),
                f"[{c.execution_count}]" if c.execution_count is not None else "[ ]",
                c.cell_id or "",
                f"{c.duration_ms:.0f} ms" if c.duration_ms is not None else "",
                outcome,
                first.strip(),
            ]
        )
    return text_table(["seq", "count", "cell", "duration", "outcome", "source"], rows)
