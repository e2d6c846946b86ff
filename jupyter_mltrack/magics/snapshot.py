"""A run's notebook snapshot: the cells it executed, in execution order, as ``.py`` and ``.ipynb``.

A notebook as saved shows cells in page order with whatever was last run in each; the snapshot
shows what actually ran, in the order it ran, which is what reproduces the run. The ``.py`` is
plain Python (IPython-only lines such as ``%magic`` and ``!cmd`` are kept as comments) in the
``# %%`` cell format that editors and jupytext understand; the ``.ipynb`` is an nbformat 4.5
notebook built directly as JSON (no nbformat import needed), with each failed cell's error.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Sequence

from ..clock import now_ms
from ..entities import Cell
from ..errors import MltrackError
from ..tracking.session import TrackingSession
from .artifact_io import write_artifact

PY_ARTIFACT = "notebook/snapshot.py"
IPYNB_ARTIFACT = "notebook/snapshot.ipynb"

# Cell magics whose body is Python code run in the user namespace: the body stays runnable.
_PYTHON_BODY_CELL_MAGICS = ("mltrack", "time", "timeit", "capture", "prun")
# %magic, !shell, x = !shell, x = %magic, obj?, ?obj
_IPYTHON_LINE = re.compile(r"^\s*([%!]|\w[\w.]*\s*=\s*[%!]|\?{1,2}[\w.]+\s*$|[\w.]+\?{1,2}\s*$)")


def _is_plain_python(source: str) -> bool:
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        transformed = TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - a cell IPython cannot parse is left to the line rules
        return False
    return transformed.rstrip("\n") == source.rstrip("\n")


def _comment_line(line: str) -> str:
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    # inside a block a bare comment could leave it empty: keep a statement there
    return f"{indent}pass  # {stripped}" if indent else f"# {stripped}"


def python_source(source: str) -> str:
    """A cell's source as plain Python: IPython-only syntax becomes comments.

    Cell magics that run their body as Python (``%%time``, ``%%mltrack run`` …) keep the body;
    other cell magics (``%%bash``, ``%%html`` …) are commented out whole.
    """
    if not isinstance(source, str):
        raise MltrackError(f"a cell's source must be a str, got {type(source).__name__}")
    if not source.strip() or _is_plain_python(source):
        return source
    lines = source.splitlines()
    first = lines[0].lstrip()
    if first.startswith("%%"):
        name = first[2:].split(None, 1)[0] if len(first) > 2 else ""
        if name not in _PYTHON_BODY_CELL_MAGICS:
            return "\n".join(f"# {line}" if line else "#" for line in lines)
        return "\n".join([f"# {first}", python_source("\n".join(lines[1:]))])
    return "\n".join(_comment_line(line) if _IPYTHON_LINE.search(line) else line for line in lines)


def _outcome_note(cell: Cell) -> str:
    if cell.outcome == "ok":
        return "ok"
    message = (cell.error_message or "").splitlines()[0][:120] if cell.error_message else ""
    return f"{cell.outcome}: {cell.error_type or 'error'}" + (f": {message}" if message else "")


def to_py(cells: Sequence[Cell], run_id: str, run_name: str | None = None) -> str:
    """The cells as a runnable Python script, in execution order."""
    head = [
        f"# Notebook snapshot of run {run_name or run_id} ({run_id}), made by jupyter-mltrack.",
        "# The cells the run executed, in the order they were executed.",
        "",
    ]
    body: list[str] = []
    for cell in cells:
        label = f"[{cell.execution_count}]" if cell.execution_count is not None else "[ ]"
        body.append(f"# %% {label} cell {cell.cell_id or '-'} ({_outcome_note(cell)})")
        body.append(python_source(cell.source or "").rstrip("\n"))
        body.append("")
    return "\n".join(head + body)


_CELL_ID_BAD = re.compile(r"[^A-Za-z0-9_-]")


def _unique_ids(cells: Sequence[Cell]) -> list[str]:
    """nbformat cell ids: 1-64 characters of [A-Za-z0-9_-], unique in the notebook."""
    seen: set[str] = set()
    out: list[str] = []
    for index, cell in enumerate(cells):
        base = _CELL_ID_BAD.sub("-", cell.cell_id or f"cell-{index}")[:56] or f"cell-{index}"
        candidate, n = base, 1
        while candidate in seen:  # a cell executed again appears again, under a new id
            n += 1
            candidate = f"{base}-{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def to_ipynb(
    cells: Sequence[Cell], run_id: str, run_name: str | None = None, notebook: str | None = None
) -> str:
    """The cells as an nbformat 4.5 notebook (JSON text), in execution order."""
    nb_cells = []
    for cell, cell_id in zip(cells, _unique_ids(cells)):
        outputs = []
        if cell.outcome != "ok":
            outputs.append(
                {
                    "output_type": "error",
                    "ename": cell.error_type or "Error",
                    "evalue": cell.error_message or "",
                    "traceback": [],
                }
            )
        nb_cells.append(
            {
                "cell_type": "code",
                "id": cell_id,
                "execution_count": cell.execution_count,
                "metadata": {
                    "mltrack": {
                        "cell_id": cell.cell_id,
                        "seq": cell.seq,
                        "start_time": cell.start_time,
                        "duration_ms": cell.duration_ms,
                        "outcome": cell.outcome,
                    }
                },
                "outputs": outputs,
                "source": (cell.source or "").splitlines(keepends=True),
            }
        )
    notebook_json = {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python", "version": platform.python_version()},
            "mltrack": {
                "run_id": run_id,
                "run_name": run_name,
                "notebook": notebook,
                "snapshot_time": now_ms(),
            },
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook_json, indent=1, ensure_ascii=False) + "\n"


def write_snapshot(
    session: TrackingSession,
    run_id: str,
    cells: Sequence[Cell],
    run_name: str | None = None,
    notebook: str | None = None,
) -> list[str]:
    """Store the snapshot of a run's cells as its artifacts ``notebook/snapshot.{py,ipynb}``.

    Returns the artifact paths written (none when the run executed no cell).
    """
    if not isinstance(run_id, str) or not run_id:
        raise MltrackError(f"run id must be a non-empty string, got {run_id!r}")
    ordered = sorted(cells, key=lambda c: c.seq)
    if not ordered:
        return []
    return [
        write_artifact(
            session, run_id, PY_ARTIFACT, to_py(ordered, run_id, run_name).encode(), None
        ),
        write_artifact(
            session,
            run_id,
            IPYNB_ARTIFACT,
            to_ipynb(ordered, run_id, run_name, notebook).encode(),
            None,
        ),
    ]
